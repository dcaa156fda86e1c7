"""Reading back what the trackers wrote (for replay, the self-test and tests).

* Trackio: ``<TRACKIO_DIR>/<project>.db``, through ``rundata.store`` (the one Trackio reader).
* W&B: a run folder's ``run-<id>.wandb`` transaction log, through
  :mod:`trackers.wandb_file` (the one parser of that format).
* TensorBoard: event files, via tensorboard's EventAccumulator.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any, Iterator

from trackers import wandb_file


def trackio_rows(db_path: str | Path, run_name: str | None) -> list[tuple[int, dict[str, Any]]]:
    """Every (step, metrics) row of ``run_name`` (None: of every run) in a Trackio database, in insertion order."""
    from rundata.store import read_rows

    return [(row.step, row.metrics) for row in read_rows(db_path, run_name)]


def _of_run(db_path: str | Path, run_name: str, fn: Any, empty: Any) -> Any:
    """``fn(project, run)`` for the newest run named ``run_name`` in a Trackio database (``empty`` without)."""
    from rundata.store import read_project

    def read(pr: Any) -> Any:
        run = pr.pick_run(run_name)
        return fn(pr, run) if run is not None else empty

    return read_project(db_path, read, empty)


def trackio_system_rows(db_path: str | Path, run_name: str) -> list[tuple[str, dict[str, Any]]]:
    """Every (timestamp, metrics) row of ``run_name`` in Trackio's ``system_metrics`` table."""
    return _of_run(db_path, run_name, lambda pr, run: pr.system_rows(run), [])


def trackio_alerts(db_path: str | Path, run_name: str) -> list[dict[str, Any]]:
    """Every alert of ``run_name`` in Trackio's ``alerts`` table (title, text, level, step)."""
    return _of_run(db_path, run_name, lambda pr, run: pr.alerts(run), [])


def trackio_config(db_path: str | Path, run_name: str) -> dict[str, Any]:
    """The run's config in Trackio's ``configs`` table ({} when none)."""
    return _of_run(db_path, run_name, lambda pr, run: pr.run_config(run), {})


def trackio_db(project: str) -> Path:
    """Path of ``project``'s Trackio database: where an imported trackio writes it (trackio
    reads its directory once, at import), else where it would for this environment."""
    from rundata.store import db_path

    loaded = getattr(sys.modules.get("trackio.utils"), "TRACKIO_DIR", None)
    return db_path(project, Path(loaded) if loaded is not None else None)


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


def tensorboard_data(log_dir: str | Path) -> dict[str, Any]:
    """Histograms, texts and hparams of ``log_dir``'s event files.

    ``{"histograms": {tag: [(step, counts, right_edges)]}, "texts": {tag: [(step, text)]},
    "hparams": {name: value}}`` (hparams from the session start record).
    """
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
    from tensorboard.plugins.hparams import metadata as hp_metadata
    from tensorboard.util import tensor_util

    acc = EventAccumulator(str(log_dir), size_guidance={"histograms": 0, "tensors": 0})
    acc.Reload()
    out: dict[str, Any] = {"histograms": {}, "texts": {}, "hparams": {}}
    for tag in acc.Tags().get("histograms", []):
        out["histograms"][tag] = [(e.step, list(e.histogram_value.bucket), list(e.histogram_value.bucket_limit))
                                  for e in acc.Histograms(tag)]
    for tag in acc.Tags().get("tensors", []):
        if acc.SummaryMetadata(tag).plugin_data.plugin_name == "text":
            out["texts"][tag.removesuffix("/text_summary")] = [
                (e.step, tensor_util.make_ndarray(e.tensor_proto).item().decode()) for e in acc.Tensors(tag)]
    content = acc.PluginTagToContent(hp_metadata.PLUGIN_NAME)
    if hp_metadata.SESSION_START_INFO_TAG in content:
        info = hp_metadata.parse_session_start_info_plugin_data(content[hp_metadata.SESSION_START_INFO_TAG])
        for name, value in info.hparams.items():
            out["hparams"][name] = getattr(value, value.WhichOneof("kind"))
    out["session_ended"] = hp_metadata.SESSION_END_INFO_TAG in content
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
