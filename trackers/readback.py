"""Reading back what the trackers wrote (for replay, the self-test and tests).

* Trackio: ``<TRACKIO_DIR>/<project>.db`` (SQLite, opened read-only).
* W&B: a run folder's ``run-<id>.wandb`` transaction log, through
  :mod:`trackers.wandb_file` (the one parser of that format).
* TensorBoard: event files, via tensorboard's EventAccumulator.
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any, Iterator

from trackers import wandb_file


def trackio_rows(db_path: str | Path, run_name: str) -> list[tuple[int, dict[str, Any]]]:
    """Every (step, metrics) row of ``run_name`` in a Trackio database, in insertion order."""
    if not Path(db_path).exists():
        return []
    uri = f"file:{Path(db_path)}?mode=ro"
    con = sqlite3.connect(uri, uri=True, timeout=10)
    try:
        rows = con.execute("SELECT step, metrics FROM metrics WHERE run_name = ? ORDER BY id", (run_name,)).fetchall()
    except sqlite3.OperationalError as exc:
        if "no such table" not in str(exc):
            raise
        rows = []  # trackio has created the file but not yet written a batch
    finally:
        con.close()
    out = []
    for step, blob in rows:
        text = blob.decode() if isinstance(blob, bytes) else blob
        out.append((int(step), json.loads(text)))
    return out


def trackio_db(project: str) -> Path:
    """Path of ``project``'s Trackio database."""
    from trackio.sqlite_storage import SQLiteStorage

    return Path(SQLiteStorage.get_project_db_path(project))


def wandb_records(path: str | Path) -> Iterator[Any]:
    """Yield every ``Record`` protobuf of a ``.wandb`` file (:func:`trackers.wandb_file.records`)."""
    return wandb_file.records(path)


def wandb_run(run_dir: str | Path) -> dict[str, Any]:
    """Summarise a W&B run folder: project, name, id, history rows, summary, config
    (:func:`trackers.wandb_file.read_run`)."""
    return wandb_file.read_run(run_dir)


def tensorboard_scalars(log_dir: str | Path) -> dict[str, list[tuple[int, float]]]:
    """``{tag: [(step, value), ...]}`` of every scalar in ``log_dir``'s event files."""
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    acc = EventAccumulator(str(log_dir), size_guidance={"scalars": 0, "tensors": 0})
    acc.Reload()
    out: dict[str, list[tuple[int, float]]] = {}
    for tag in acc.Tags().get("scalars", []):
        out[tag] = [(e.step, e.value) for e in acc.Scalars(tag)]
    for tag in acc.Tags().get("tensors", []):
        import numpy as np
        from tensorboard.util import tensor_util

        vals = []
        for e in acc.Tensors(tag):
            arr = tensor_util.make_ndarray(e.tensor_proto)
            if arr.size == 1 and np.issubdtype(arr.dtype, np.number):
                vals.append((e.step, float(arr.reshape(()))))
        if vals:
            out[tag] = vals
    return out


def tensorboard_points(log_dir: str | Path) -> set[tuple[str, int]]:
    """Every (tag, step) of ``log_dir``'s event files, text and other tensors included
    (a text value of key ``k`` has the tag ``k/text_summary``)."""
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    acc = EventAccumulator(str(log_dir), size_guidance={"scalars": 0, "tensors": 0})
    acc.Reload()
    tags = acc.Tags()
    points = {(tag, e.step) for tag in tags.get("scalars", []) for e in acc.Scalars(tag)}
    return points | {(tag, e.step) for tag in tags.get("tensors", []) for e in acc.Tensors(tag)}
