"""``--gpu-db``: the GPU report from a project's database.

Two sources are shown: the ``gpu/<metric>`` (first GPU) and ``gpu<N>/<metric>``
keys logged with each step in ``metrics`` (the report documented in
docs/viewer.md, line for line), and Trackio's ``system_metrics`` table (what ``Run.log_system`` and
Trackio's own GPU logging write: ``gpu/<i>/<metric>``, ``gpu<N>/<metric>``
or ``gpu/<metric>`` keys, timestamps, no step; a multi-node job's
``gpu/<node>/<i>/<metric>``, shown per node).  Every key is read through
the GPU field table's parser (:func:`gpu.fields.parse_key`), so that other
tools' spellings show as the report's fields.  Energy per GPU
(``gpu/energy_wh``, ``gpu<N>/energy_wh``, under any group prefix) is looked
up in the metrics rows, the run's config and its summary.  All counting and
min/max/avg happen in SQLite (``rundata.store``).
"""
from __future__ import annotations

from typing import Any

from gpu.fields import FIELDS, by_gpu, parse_key, value
from gpu.render import SYSTEM_FIELDS, db_report
from ktrack.numbers import number
from viewer.energy import energy_data
from viewer.model import NoMetric
from rundata.store import Project, RunInfo

REPORT_ORDER = {f.key: i for i, f in enumerate(FIELDS)}  # the metrics list: ktrack's keys in the table's order


def _order(key: str) -> tuple:
    prefix, _, name = key.partition("/")
    return (prefix != "gpu", prefix, REPORT_ORDER.get(name, 99), name)


def _number(v: Any) -> float | None:
    """A finite value a GPU can report (1e300 is a corrupt reading, not a value)."""
    out = number(v, finite=True)
    return out if out is not None and abs(out) < 1e300 else None


STATUS_FIELDS = ("utilization", "memory_used_gb", "memory_percent", "temperature_c", "power_w",
                 "clock_graphics_mhz", "clock_memory_mhz", "clock_fclk_mhz", "clock_socclk_mhz")


def _fields(latest: dict, gpu: tuple[str, int]) -> dict[str, float | None]:
    """The status fields of one GPU in a row."""
    mine = by_gpu(latest).get(gpu, {})
    return {f: _number(value(mine[f], latest[mine[f]])) if f in mine else None for f in STATUS_FIELDS}


def _step_key(key: str) -> bool:
    """A GPU key logged with steps (``gpu/<field>``, ``gpu<N>/<field>``), not an energy."""
    k = parse_key(key)
    return k is not None and k.form == "step" and "energy" not in key


def _step_data(project: Project, run: RunInfo, gkeys: list[str]) -> dict[str, Any] | None:
    """Latest status per GPU, history, data range and key counts from ``metrics``."""
    first = by_gpu(gkeys).get(("", 0), {})
    hist = {f: first.get(f) for f in ("utilization", "temperature_c", "power_w")}
    wanted = gkeys + [k for k in hist.values() if k and k not in gkeys]
    stats, lo_step, hi_step, last_id = project.key_stats(run.run_id, wanted)
    latest = project.row(last_id) if last_id is not None else None
    if latest is None:
        return None
    gpus = [{"gpu": 0, "step": latest.step, **_fields(latest.metrics, ("", 0))}]
    groups: dict[int, list[str]] = {}
    for k in gkeys:
        index = parse_key(k).gpu  # type: ignore[union-attr]  # gkeys are GPU keys
        if index:
            groups.setdefault(index, []).append(k)
    for index, mine in groups.items():
        row = project.latest_row_with(run.run_id, mine)
        if row is not None:
            gpus.append({"gpu": index, "step": row.step, **_fields(row.metrics, ("", index))})
    history = {f: {"min": stats[k][1], "max": stats[k][2], "avg": stats[k][3]}
               for f, k in hist.items() if k and stats[k][1] is not None}
    return {"latest": gpus, "entries": max(stats[k][0] for k in gkeys), "history": history,
            "first_step": lo_step, "last_step": hi_step,
            "metrics": {(k[4:] if k.startswith("gpu/") else k): stats[k][0] for k in gkeys}}


def _system_data(project: Project, run: RunInfo) -> dict[str, Any] | None:
    """Key counts and latest values from Trackio's ``system_metrics`` table."""
    gpu_of = {k: (p.node or "", p.gpu or 0) for k in project.system_keys(run)
              if (p := parse_key(k)) is not None and p.form != "wandb"}
    groups = by_gpu(gpu_of)
    skeys = sorted(gpu_of, key=lambda k: (gpu_of[k], k))
    if not skeys:
        return None
    n, t0, t1, stats = project.system_stats(run, skeys)
    nodes_seen = {gpu_of[k][0] for k in skeys}
    last: dict[str, Any] = {}
    for _, values in project.system_rows(run, last=4 * len(nodes_seen)):  # each node's rows come on their own
        last.update(values)
    ids = sorted(groups)
    gpus = []
    for idx in ids:
        mine = groups[idx]
        values = {field: _number(value(mine[field], last.get(mine[field]))) if field in mine else None
                  for field, _ in SYSTEM_FIELDS}
        if any(v is not None for v in values.values()) or any(f in mine for f in STATUS_FIELDS):
            gpus.append({"gpu": idx[1], "node": idx[0] or None, **values})
    nodes = {node: sum(1 for n, _ in ids if n == node) for node, _ in ids if node}
    return {"entries": n, "first_time": t0, "last_time": t1, "nodes": nodes, "latest": gpus,
            "metrics": {k: stats[k][0] for k in skeys}}


def _why_none(project: Project, run: RunInfo) -> str:
    """What to do about a run without GPU values: turn GPU logging on, unless the run's
    recorded config says it was on (then the machine that ran it had no GPU it could read)."""
    cfg = project.run_config(run)
    on = next((cfg[k] for k in ("TRACKER_LOG_GPU", "CONFIG_TRACKER_LOG_GPU") if k in cfg), None)
    if on is True or on == "y":
        return ("TRACKER_LOG_GPU=y was set for this run, but no GPU was found (or could be read) "
                "where it ran; its console.log says why")
    return "log them with TRACKER_LOG_GPU=y"


def data(project: Project, run: RunInfo) -> dict[str, Any]:
    """What the ``--gpu-db`` report shows, as the ``--gpu-db --once --json`` project entry
    (keys in docs/viewer.md); raises NoMetric when no source has GPU data."""
    gkeys = sorted((k for k in project.metric_keys(run.run_id) if _step_key(k)),
                   key=_order)
    system = _system_data(project, run)
    energy = energy_data(project, run)
    if not gkeys and system is None and energy is None:
        raise NoMetric(f"project '{project.name}' run '{run.name}' has no GPU metrics "
                       "(no gpu/* keys in metrics, none in system_metrics); " + _why_none(project, run))
    return {"project": project.name, "run": run.name, "run_id": run.run_id, "has_step_keys": bool(gkeys),
            "steps": _step_data(project, run, gkeys) if gkeys else None, "system": system, "energy": energy}


def report(project: Project, run: RunInfo, first_node: int = 0) -> str:
    """The full ``--gpu-db`` report (:func:`gpu.render.db_report`, its grid from node ``first_node`` on);
    raises NoMetric when no source has GPU data."""
    return db_report(data(project, run), first_node)
