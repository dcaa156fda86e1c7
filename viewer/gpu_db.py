"""``--gpu-db``: the GPU report from a project's database.

Two sources are shown: the ``gpu/<metric>`` (first GPU) and ``gpu<N>/<metric>``
keys logged with each step in ``metrics`` (the report documented in
docs/viewer.md, line for line), and Trackio's ``system_metrics`` table (what ``Run.log_system`` and
Trackio's own GPU logging write: ``gpu/<i>/<metric>``, ``gpu<N>/<metric>``
or ``gpu/<metric>`` keys, timestamps, no step).  Logged spellings map to the
report's fields through ``viewer.keys.GPU_FIELDS``.  Energy per GPU
(``gpu/energy_wh``, ``gpu<N>/energy_wh``, under any group prefix) is looked
up in the metrics rows, the run's config and its summary.  All counting and
min/max/avg happen in SQLite (``rundata.store``).
"""
from __future__ import annotations

import re
from typing import Any

from ktrack.numbers import number
from viewer import keys
from viewer.energy import energy_lines
from viewer.model import NoMetric
from rundata.store import Project, RunInfo

RULE = "=" * 80
REPORT_ORDER = ("utilization", "memory_used_gb", "memory_percent", "temperature_c", "power_w",
              "clock_graphics_mhz", "clock_memory_mhz", "clock_fclk_mhz", "clock_socclk_mhz",
              "fan_speed", "fan_rpm", "perf_state")
STEP_KEY = re.compile(r"^gpu\d*/[^/]+$")
SYS_KEYS = (re.compile(r"^gpu/(\d+)/(.+)$"), re.compile(r"^gpu(\d+)/(.+)$"), re.compile(r"^gpu/()([^/]+)$"))
DEG = "\u00b0C"


def _order(key: str) -> tuple:
    prefix, _, name = key.partition("/")
    return (prefix != "gpu", prefix, REPORT_ORDER.index(name) if name in REPORT_ORDER else 99, name)


def _number(v: Any) -> float | None:
    """A finite value a GPU can report (1e300 is a corrupt reading, not a value)."""
    out = number(v, finite=True)
    return out if out is not None and abs(out) < 1e300 else None


def _status(title: str, latest: dict, prefix: str, util_label: str) -> list[str]:
    """The latest-status lines of one GPU (keys ``<prefix><spelling>``).

    The first GPU keeps the documented labels; further GPUs say ``Utilization:``
    so that a script's ``grep "GPU Utilization:"`` still finds one line.
    """
    def g(field: str) -> float | None:
        key = keys.gpu_field(field, prefix, latest)
        return _number(latest.get(key)) if key else None

    out = [title]
    util, used, pct = g("utilization"), g("memory_used_gb"), g("memory_percent")
    if util is not None:
        out.append(f"  {util_label}: {util:.1f}%")
    if used is not None:
        out.append(f"  Memory Usage: {used:.1f} GB" + (f" ({pct:.1f}%)" if pct is not None else ""))
    if (temp := g("temperature_c")) is not None:
        out.append(f"  Temperature: {temp:.0f}{DEG}")
    if (power := g("power_w")) is not None:
        out.append(f"  Power: {power:.0f}W")
    clocks = [(lbl, g(f"clock_{k}_mhz")) for lbl, k in
              (("Graphics", "graphics"), ("Memory", "memory"), ("Fclk", "fclk"), ("Socclk", "socclk"))]
    if any(v is not None for _, v in clocks):
        out.append("  Clock Frequencies:")
        out += [f"    {lbl}: {v:.0f} MHz" for lbl, v in clocks if v is not None]
    return out


def _step_section(project: Project, run: RunInfo, gkeys: list[str]) -> list[str]:
    """Latest status, history, data range and key counts from ``metrics``."""
    hist = {f: keys.gpu_field(f, "gpu/", gkeys) for f in ("utilization", "temperature_c", "power_w")}
    wanted = gkeys + [k for k in hist.values() if k and k not in gkeys]
    stats, lo_step, hi_step, last_id = project.key_stats(run.run_id, wanted)
    latest = project.row(last_id) if last_id is not None else None
    if latest is None:
        return ["No gpu/* values logged with steps in the metrics table."]
    out = _status(f"Latest GPU Status (Step {latest.step}):", latest.metrics, "gpu/", "GPU Utilization")
    for prefix in dict.fromkeys(k.split("/")[0] + "/" for k in gkeys if not k.startswith("gpu/")):
        mine = [k for k in gkeys if k.startswith(prefix)]
        row = project.latest_row_with(run.run_id, mine)
        if row is not None:
            out += [""] + _status(f"Latest GPU {prefix[3:-1]} Status (Step {row.step}):", row.metrics, prefix,
                                  "Utilization")
    out += ["", f"Historical Data ({max(stats[k][0] for k in gkeys)} logged entries):"]
    fmt = (("utilization", "Utilization", "{:.1f}%"), ("temperature_c", "Temperature", "{:.0f}" + DEG),
           ("power_w", "Power", "{:.0f}W"))
    for field, label, f in fmt:
        key = hist[field]
        if key and stats[key][1] is not None:
            _, lo, hi, avg = stats[key]
            out.append(f"  {label}: {f.format(lo)} - {f.format(hi)} (avg: {f.format(avg)})")
    out += ["", f"Data Range: Steps {lo_step} - {hi_step}", "", "Available GPU Metrics:"]
    for k in gkeys:
        shown = k[4:] if k.startswith("gpu/") else k
        out.append(f"  - {shown} ({stats[k][0]} data points)")
    return out


def _sys_key(key: str) -> tuple[int, str] | None:
    for pattern in SYS_KEYS:
        m = pattern.match(key)
        if m:
            return int(m.group(1) or 0), m.group(2)
    return None


def _system_section(project: Project, run: RunInfo) -> list[str]:
    """Key counts and latest values from Trackio's ``system_metrics`` table."""
    parsed = {k: p for k in project.system_keys(run) if (p := _sys_key(k)) is not None}
    skeys = sorted(parsed, key=lambda k: (parsed[k][0], k))
    if not skeys:
        return []
    n, t0, t1, stats = project.system_stats(run, skeys)
    rows = project.system_rows(run, last=1)
    last = rows[-1][1] if rows else {}
    out = ["", f"Trackio System Metrics (system_metrics table, {n} logged entries):",
           f"  Time Range: {(t0 or '')[:19].replace('T', ' ')} - {(t1 or '')[:19].replace('T', ' ')}"]
    for idx in sorted({parsed[k][0] for k in skeys}):
        mine = {parsed[k][1]: last.get(k) for k in skeys if parsed[k][0] == idx}
        parts = []
        for field, f in (("utilization", "util {:.1f}%"), ("memory_used_gb", "mem {:.1f} GB"),
                         ("temperature_c", "temp {:.0f}" + DEG), ("power_w", "power {:.0f}W")):
            name = keys.gpu_field(field, "", mine)
            v = _number(mine.get(name)) if name else None
            if v is not None:
                parts.append(f.format(v))
        if parts or any(keys.gpu_field(f, "", mine) for f in keys.GPU_FIELDS):
            out.append(f"  GPU {idx} latest: " + (", ".join(parts) or "no numeric values"))
    out.append("  Available System Metrics:")
    out += [f"  - {k} ({stats[k][0]} data points)" for k in skeys]
    return out


def _why_none(project: Project, run: RunInfo) -> str:
    """What to do about a run without GPU values: turn GPU logging on, unless the run's
    recorded config says it was on (then the machine that ran it had no GPU it could read)."""
    cfg = project.run_config(run)
    on = next((cfg[k] for k in ("TRACKER_LOG_GPU", "CONFIG_TRACKER_LOG_GPU") if k in cfg), None)
    if on is True or on == "y":
        return ("TRACKER_LOG_GPU=y was set for this run, but no GPU was found (or could be read) "
                "where it ran; its console.log says why")
    return "log them with TRACKER_LOG_GPU=y"


def report(project: Project, run: RunInfo) -> str:
    """The full ``--gpu-db`` report; raises NoMetric when no source has GPU data."""
    gkeys = sorted((k for k in project.metric_keys(run.run_id) if STEP_KEY.match(k) and "energy" not in k),
                   key=_order)
    system = _system_section(project, run)
    energy = energy_lines(project, run)
    if not gkeys and not system and not energy:
        raise NoMetric(f"project '{project.name}' run '{run.name}' has no GPU metrics "
                       f"(no gpu/* keys in metrics, none in system_metrics); " + _why_none(project, run))
    lines = [RULE, f"GPU Metrics from Database - Project: {project.name}", RULE, ""]
    if gkeys:
        lines += _step_section(project, run, gkeys)
    else:
        lines.append("No gpu/* keys logged with steps in the metrics table.")
    return "\n".join(lines + system + energy)
