"""Re-send a run's journal to a tracker, skipping what the tracker already has.

Trackio: rows whose (step, metric names) are already in its SQLite for this
run are skipped. TensorBoard: (tag, step) pairs already in the run's event
files are skipped. W&B: when the run was offline, its ``.wandb`` file is read
and steps already there are skipped; an online run cannot be checked, so
rows go to a new run unless W&B's own step check drops them. System-metrics
rows and alerts are re-sent only to a tracker that has none for the run yet
(Trackio and W&B offline are checked; TensorBoard by its ``system/`` tags).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from trackers import backends as _backends
from trackers.backends import Alert, Context, Row, SystemRow
from trackers.backends.tensorboard_backend import log_dir
from trackers.journal import read_config, read_records


def _existing_trackio(project: str, name: str) -> set[tuple[int, frozenset[str]]]:
    from trackers.readback import trackio_db, trackio_rows

    db = trackio_db(project)
    if not db.exists():
        return set()
    return {(s, frozenset(k for k in m if not k.startswith("_"))) for s, m in trackio_rows(db, name)}


def _existing_tensorboard(run_dir: Path) -> set[tuple[str, int]]:
    from trackers.readback import tensorboard_scalars

    directory = log_dir(run_dir)
    if not directory.exists():
        return set()
    return {(tag, step) for tag, vals in tensorboard_scalars(directory).items() for step, _ in vals}


def _existing_wandb(info: dict[str, Any]) -> set[int]:
    from trackers.readback import wandb_run

    if info.get("mode") != "offline" or not info.get("dir") or not Path(info["dir"]).exists():
        return set()
    return {int(r["_step"]) for r in wandb_run(info["dir"])["history"] if "_step" in r}


def _existing_extras(to: str, project: str, name: str, run_dir: Path, info: dict[str, Any]) -> set[str]:
    """Which of "system"/"alert" the tracker already holds for this run."""
    from trackers import readback

    have: set[str] = set()
    if to == "trackio":
        db = readback.trackio_db(project)
        have |= {"system"} if readback.trackio_system_rows(db, name) else set()
        have |= {"alert"} if readback.trackio_alerts(db, name) else set()
    elif to == "tensorboard" and log_dir(run_dir).exists():
        have |= {"system"} if any(t.startswith("system/") for t in readback.tensorboard_scalars(log_dir(run_dir))) \
            else set()
    elif to == "wandb" and info.get("mode") == "offline" and info.get("dir") and Path(info["dir"]).exists():
        data = readback.wandb_run(info["dir"])
        have |= {"system"} if data["stats"] else set()
        have |= {"alert"} if data["alerts"] else set()
    return have


def _send_extra(backend: Any, rec: dict[str, Any]) -> bool:
    """Send a journaled system row or alert; False when the backend has no such channel."""
    if rec["type"] == "system" and hasattr(backend, "log_system"):
        backend.log_system(SystemRow(rec["time"], rec["step"] or 0, rec["metrics"]))
        return True
    if rec["type"] == "alert" and hasattr(backend, "alert"):
        m = rec["metrics"]
        backend.alert(Alert(m["title"], m.get("text", ""), m.get("level", "WARN"), rec["step"], rec["time"]))
        return True
    return False


def replay(run_dir: str | Path, to: str) -> dict[str, int]:
    """Send the journal of ``run_dir`` to tracker ``to``; return {"sent": n, "skipped": m}.

    Raises ValueError when ``run_dir`` has no journal or ``to`` is unknown,
    RuntimeError when the tracker cannot be used.
    """
    run_dir = Path(run_dir)
    meta = read_config(run_dir)
    if not meta or not (run_dir / "metrics.jsonl").exists():
        raise ValueError(f"{run_dir} has no config.json/metrics.jsonl; give a run directory runs/<project>/<run>")
    if to not in _backends.REGISTRY:
        raise ValueError(f"unknown tracker {to!r}; use trackio, wandb or tensorboard")
    project, name = meta["project"], meta["run"]
    backend = _backends.create(to)
    if backend is None:
        raise RuntimeError(f"{to} cannot be used here")
    info = (meta.get("backends") or {}).get(to) or {}
    ctx = Context(project=project, name=name, config=meta.get("config", {}), run_dir=run_dir, resume="allow",
                  provenance=meta.get("provenance") or {})
    skip_row = lambda rec: False  # noqa: E731
    if to == "trackio":
        have = _existing_trackio(project, name)
        skip_row = lambda rec: (rec["step"], frozenset(rec["metrics"])) in have  # noqa: E731
    elif to == "tensorboard":
        have_tb = _existing_tensorboard(run_dir)
        skip_row = lambda rec: all((k, rec["step"]) in have_tb for k in rec["metrics"])  # noqa: E731
    elif to == "wandb":
        have_steps = _existing_wandb(info)
        if info.get("id"):
            ctx.info["wandb"] = info
        skip_row = lambda rec: rec["type"] == "log" and rec["step"] in have_steps  # noqa: E731
    have_extra = _existing_extras(to, project, name, run_dir, info)
    sent = skipped = 0
    summary: dict[str, Any] = {}
    backend.start(ctx)
    try:
        for rec in read_records(run_dir):
            if rec["type"] == "summary":
                summary.update(rec["summary"])
                continue
            if rec["type"] in ("system", "alert"):
                done = rec["type"] not in have_extra and _send_extra(backend, rec)
                sent, skipped = sent + done, skipped + (not done)
                continue
            if skip_row(rec):
                skipped += 1
                continue
            backend.log(Row(rec["type"], rec["step"], rec["time"], rec["metrics"]))
            sent += 1
        if summary:
            backend.summary(summary)
    finally:
        backend.finish()
    return {"sent": sent, "skipped": skipped}
