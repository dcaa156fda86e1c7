"""Re-send a run's journal to a tracker, skipping what the tracker already has.

A replay is idempotent for every tracker: replaying again sends nothing, and
when there is nothing to send the tracker is not even started (no new run).

* Trackio: rows whose (step, metric names) are in its database for this run
  are skipped; the summary when one row already holds all its keys.
* TensorBoard: (tag, step) pairs already in the run's event files are
  skipped, a row sending only its missing tags; the summary when every key
  has a tag.
* W&B: the run id comes from ``config.json`` (the run's own W&B run), else it
  is derived from the project, run name and start time, so every replay goes
  to the same W&B run. Steps, series points and summary keys found in any
  local folder of that id (``offline-run-*-<id>[-N]``, ``run-*-<id>[-N]``) are skipped.

System-metrics rows and alerts are re-sent only to a tracker that holds none
for the run yet, and only to one that has such a channel. Values the tracker
cannot store (its ``limits``: an integer beyond 64 bits, text that is not
UTF-8) are left out, as the run left them out, and counted.
"""

from __future__ import annotations

import os
from pathlib import Path
from dataclasses import dataclass, field
from typing import Any, Callable

from kconf.trackerspec import TENSORBOARD, TRACKIO, WANDB
from trackers import backends as _backends
from trackers.backends import Alert, Context, Row, SystemRow
from trackers.backends.tensorboard_backend import log_dir
from ktrack.names import check_project, check_run
from ktrack.runfolder import CONFIG_JSON, JOURNAL, RunFolder
from rundata.journal import ALERT, LOG, ROW_TYPES, SERIES, SUMMARY, SYSTEM, history, read_config, read_records
from trackers.record import wandb_run_id
from trackers.values import storable

_HIDDEN = ("_step", "_runtime", "_timestamp", "trackers/step")
_EXTRAS = (SYSTEM, ALERT)


@dataclass
class _Plan:
    """What a tracker already holds of a run: row values it lacks, whether it has the summary,
    and which extra record types ("system", "alert") it has."""

    missing: Callable[[dict], dict]
    has_summary: Callable[[dict], bool]
    extras: set[str] = field(default_factory=set)


def _trackio_plan(project: str, name: str) -> _Plan:
    from trackio.fragments import local_inbox_dir
    from trackio.utils import get_storage_mode

    from trackers import readback
    from trackers.backends.trackio_backend import import_fragments, network_safe, trackio_dir

    network_safe(trackio_dir())
    if get_storage_mode() == "jsonl":  # rows a killed run left as fragments are held: not sent again
        try:
            import_fragments()
        except Exception as exc:  # noqa: BLE001 - one line for the caller; nothing was sent
            raise RuntimeError(f"trackio cannot be used: its fragments in {local_inbox_dir()} could not be "
                               f"imported ({exc})") from None
    db = readback.trackio_db(project)
    rows = readback.trackio_rows(db, name) if db.exists() else []
    have = {(s, frozenset(k for k in m if not k.startswith("_"))) for s, m in rows}
    config = readback.trackio_config(db, name) if db.exists() else {}

    def missing(rec: dict) -> dict:
        return {} if (rec["step"], frozenset(rec["metrics"])) in have else rec["metrics"]

    def has_summary(summary: dict) -> bool:  # the summary lives in the run's config as summary/<key>
        return all(f"summary/{k}" in config for k in summary)

    extras = set()
    if db.exists():
        extras |= {"system"} if readback.trackio_system_rows(db, name) else set()
        extras |= {"alert"} if readback.trackio_alerts(db, name) else set()
    return _Plan(missing, has_summary, extras)


def _tensorboard_plan(run_dir: Path) -> _Plan:
    from trackers.readback import tensorboard_points
    from trackers.values import is_number

    directory = log_dir(run_dir)
    points = tensorboard_points(directory) if directory.exists() else set()
    tags = {tag for tag, _ in points}

    def there(key: str, step: int) -> bool:
        return (key, step) in points or (f"{key}/text_summary", step) in points

    def missing(rec: dict) -> dict:
        return {k: v for k, v in rec["metrics"].items() if not there(k, rec["step"])}

    def has_summary(summary: dict) -> bool:  # numbers as summary/<key> scalars, the rest in the text table
        numbers = [k for k, v in summary.items() if is_number(v)]
        text = len(numbers) == len(summary) or "summary/text_summary" in tags
        return text and all(f"summary/{k}" in tags for k in numbers)

    return _Plan(missing, has_summary, {"system"} if any(t.startswith("system/") for t in tags) else set())


def _wandb_folders(run_dir: Path, meta: dict[str, Any], run_id: str) -> list[Path]:
    info = (meta.get("backends") or {}).get(WANDB) or {}
    roots = {Path(os.environ.get("WANDB_DIR") or run_dir) / "wandb"}
    if isinstance(info, dict) and isinstance(info.get("dir"), str) and info["dir"]:
        roots.add(Path(info["dir"]).parent)
    patterns = (f"offline-run-*-{run_id}", f"offline-run-*-{run_id}-*", f"run-*-{run_id}", f"run-*-{run_id}-*")
    found = {p for root in roots if root.is_dir() for pattern in patterns for p in root.glob(pattern)}
    return sorted(found)  # W&B adds "-1", "-2" to a folder started in the same second as another of the id


def _wandb_plan(run_dir: Path, meta: dict[str, Any], run_id: str) -> _Plan:
    from trackers.wandb_file import read_run, wait_finished

    steps: set[int] = set()
    series: set[tuple[str, int]] = set()
    summary_keys: set[str] = set()
    extras: set[str] = set()
    for folder in _wandb_folders(run_dir, meta, run_id):
        wait_finished(folder, timeout=30.0)  # a run that just ended: W&B's helper may still be writing
        try:
            data = read_run(folder)
        except (OSError, ValueError):
            continue
        summary_keys.update(data["summary"])
        extras |= {"system"} if data["stats"] else set()
        extras |= {"alert"} if data["alerts"] else set()
        for row in data["history"]:
            paired = {k for k in row if f"{k}/step" in row}
            series.update((k, row[f"{k}/step"]) for k in paired)
            plain = [k for k in row if k not in _HIDDEN and k not in paired and not k.endswith("/step")]
            if plain:
                steps.add(row.get("trackers/step", row.get("_step")))

    def missing(rec: dict) -> dict:
        if rec["type"] == SERIES:
            return {k: v for k, v in rec["metrics"].items() if (k, rec["step"]) not in series}
        return {} if rec["step"] in steps else rec["metrics"]

    return _Plan(missing, lambda summary: set(summary) <= summary_keys, extras)


def _extra(rec: dict[str, Any]) -> tuple[str, Any]:
    """A journaled system row or alert as the backend operation that sends it."""
    if rec["type"] == SYSTEM:
        return "log_system", SystemRow(rec["time"], rec["step"] or 0, rec["metrics"])
    m = rec["metrics"]
    return "alert", Alert(m["title"], m.get("text", ""), m.get("level", "WARN"), rec["step"], rec["time"])


def _start(backend: Any, to: str, ctx: Context) -> None:
    try:
        backend.start(ctx)
    except KeyboardInterrupt:
        raise
    except BaseException as exc:  # noqa: BLE001 - a broken tracker install may even call sys.exit
        raise RuntimeError(f"{to} cannot be used: {type(exc).__name__}: {exc}") from None


def replay(run_dir: str | Path, to: str) -> dict[str, int]:
    """Send the journal of ``run_dir`` to tracker ``to``; return {"sent": n, "skipped": m} (rows) and
    "unstorable" (values the tracker cannot store, left out).

    Raises ValueError when ``run_dir`` is not a run folder, its config.json or
    journal is malformed, or ``to`` is unknown; RuntimeError when the tracker
    cannot be used or did not store what it was given.
    """
    run_dir = Path(run_dir)
    meta = read_config(run_dir)
    if not meta or not RunFolder(run_dir).journal.is_file():
        raise ValueError(f"{run_dir} has no {CONFIG_JSON}/{JOURNAL}; give a run directory runs/<project>/<run>")
    for what in ("project", "run"):
        if not isinstance(meta.get(what), str):
            raise ValueError(f"{RunFolder(run_dir).config_json} has no {what!r} name; "
                             f"restore it from the run's trackers or add \"{what}\": \"<name>\"")
    project, name = check_project(meta["project"], [to]), check_run(meta["run"])
    if to not in _backends.REGISTRY:
        raise ValueError(f"unknown tracker {to!r}; use {', '.join(sorted(_backends.REGISTRY))}")
    factory, package = _backends.REGISTRY[to]
    if package and not _backends.package_available(package):
        raise RuntimeError(f"{to} is not installed (pip install {package})")
    records = history(read_records(run_dir, strict=True))  # rows a resume threw away are not sent
    config: dict[str, Any] = meta["config"] if isinstance(meta.get("config"), dict) else {}
    origin = meta["provenance"] if isinstance(meta.get("provenance"), dict) else {}
    ctx = Context(project=project, name=name, config=config, run_dir=run_dir, resume="allow", provenance=origin)
    if to == TRACKIO:
        plan = _trackio_plan(project, name)
    elif to == TENSORBOARD:
        plan = _tensorboard_plan(run_dir)
    elif to == WANDB:
        run_id = wandb_run_id(meta)
        ctx.info[WANDB] = {"id": run_id}
        plan = _wandb_plan(run_dir, meta, run_id)
    else:
        plan = _Plan(lambda rec: rec["metrics"], lambda summary: False)
    backend = factory()  # not started until there is something to send
    has_channel = {op: hasattr(backend, op) for op in ("log_system", "alert")}
    limits = getattr(backend, "limits", None)
    rows: list[Row] = []
    extras: list[tuple[str, Any]] = []
    summary: dict[str, Any] = {}
    skipped = last_step = unstorable = 0
    for rec in records:
        if rec["type"] == SUMMARY:
            kept, left = storable(rec["summary"], limits)
            summary.update(kept)
            unstorable += len(left)
        elif rec["type"] in ROW_TYPES:
            last_step = max(last_step, rec["step"]) if rec["type"] == LOG else last_step
            kept, left = storable(rec["metrics"], limits)
            unstorable += len(left)
            if not kept:
                continue
            values = plan.missing({**rec, "metrics": kept})
            if values:
                rows.append(Row(rec["type"], rec["step"], rec["time"], values))
            else:
                skipped += 1
        elif rec["type"] in _EXTRAS:
            op, payload = _extra(rec)
            if rec["type"] in plan.extras or not has_channel[op]:
                skipped += 1
            else:
                extras.append((op, payload))
    if summary and plan.has_summary(summary):
        summary = {}
    if not rows and not extras and not summary:
        return {"sent": 0, "skipped": skipped, "unstorable": unstorable}
    _start(backend, to, ctx)
    try:
        for row in rows:
            backend.log(row)
        for op, payload in extras:
            getattr(backend, op)(payload)
        if summary:
            if hasattr(backend, "last_step"):  # the summary goes at the run's last step, as in the run itself
                backend.last_step = max(backend.last_step, last_step)
            backend.summary(summary)
    finally:
        backend.finish()
    lost = backend.lost_rows() if hasattr(backend, "lost_rows") else 0
    if lost:
        raise RuntimeError(f"{to} did not store {lost} of the {len(rows) + bool(summary)} rows sent; "
                           f"check that its storage is writable, then replay again")
    return {"sent": len(rows) + len(extras), "skipped": skipped, "unstorable": unstorable}
