"""Reading back what the trackers wrote (for replay, the self-test and tests).

* Trackio: ``<TRACKIO_DIR>/<project>.db`` (SQLite, opened read-only).
* W&B: an offline run's ``run-<id>.wandb`` transaction log (LevelDB-log
  framing of ``wandb_internal_pb2.Record`` protobufs).
* TensorBoard: event files, via tensorboard's EventAccumulator.
"""

from __future__ import annotations

import json
import sqlite3
import struct
from pathlib import Path
from typing import Any, Iterator

_BLOCK = 32768
_HEADER = 7  # crc32 (4), length (2), type (1)
_FULL, _FIRST, _MIDDLE, _LAST = 1, 2, 3, 4


def _trackio_query(db_path: str | Path, sql: str, args: tuple) -> list[tuple]:
    """Rows of a read-only query on a Trackio database ([] when the file or table is not there yet)."""
    if not Path(db_path).exists():
        return []
    con = sqlite3.connect(f"file:{Path(db_path)}?mode=ro", uri=True, timeout=10)
    try:
        return con.execute(sql, args).fetchall()
    except sqlite3.OperationalError as exc:
        if "no such table" not in str(exc):
            raise
        return []  # trackio has created the file but not yet written a batch
    finally:
        con.close()


def _json(blob: Any) -> Any:
    return json.loads(blob.decode() if isinstance(blob, bytes) else blob)


def trackio_rows(db_path: str | Path, run_name: str) -> list[tuple[int, dict[str, Any]]]:
    """Every (step, metrics) row of ``run_name`` in a Trackio database, in insertion order."""
    rows = _trackio_query(db_path, "SELECT step, metrics FROM metrics WHERE run_name = ? ORDER BY id", (run_name,))
    return [(int(step), _json(blob)) for step, blob in rows]


def trackio_system_rows(db_path: str | Path, run_name: str) -> list[tuple[str, dict[str, Any]]]:
    """Every (timestamp, metrics) row of ``run_name`` in Trackio's ``system_metrics`` table."""
    rows = _trackio_query(db_path, "SELECT timestamp, metrics FROM system_metrics WHERE run_name = ? ORDER BY id",
                          (run_name,))
    return [(str(ts), _json(blob)) for ts, blob in rows]


def trackio_alerts(db_path: str | Path, run_name: str) -> list[dict[str, Any]]:
    """Every alert of ``run_name`` in Trackio's ``alerts`` table (title, text, level, step)."""
    rows = _trackio_query(db_path, "SELECT title, text, level, step FROM alerts WHERE run_name = ? ORDER BY id",
                          (run_name,))
    return [{"title": t, "text": x, "level": lv, "step": st} for t, x, lv, st in rows]


def trackio_config(db_path: str | Path, run_name: str) -> dict[str, Any]:
    """The run's config in Trackio's ``configs`` table ({} when none)."""
    rows = _trackio_query(db_path, "SELECT config FROM configs WHERE run_name = ? ORDER BY id DESC LIMIT 1",
                          (run_name,))
    return _json(rows[0][0]) if rows else {}


def trackio_db(project: str) -> Path:
    """Path of ``project``'s Trackio database."""
    from trackio.sqlite_storage import SQLiteStorage

    return Path(SQLiteStorage.get_project_db_path(project))


def _wandb_payloads(path: Path) -> Iterator[bytes]:
    data = path.read_bytes()
    if data[:4] != b":W&B":
        raise ValueError(f"{path} is not a W&B transaction log")
    pos, pending = 7, b""
    while pos + _HEADER <= len(data):
        room = _BLOCK - pos % _BLOCK
        if room < _HEADER:
            pos += room
            continue
        _crc, length, kind = struct.unpack("<IHB", data[pos:pos + _HEADER])
        chunk = data[pos + _HEADER:pos + _HEADER + length]
        pos += _HEADER + length
        if kind == 0 and length == 0:
            pos += _BLOCK - pos % _BLOCK if pos % _BLOCK else 0
            continue
        if kind == _FULL:
            yield chunk
        elif kind == _FIRST:
            pending = chunk
        elif kind == _MIDDLE:
            pending += chunk
        elif kind == _LAST:
            yield pending + chunk
            pending = b""


def wandb_records(path: str | Path) -> Iterator[Any]:
    """Yield every ``Record`` protobuf of a ``.wandb`` file."""
    from wandb.proto import wandb_internal_pb2

    record_type: Any = wandb_internal_pb2.Record  # type: ignore[attr-defined]  # generated, no stubs
    for payload in _wandb_payloads(Path(path)):
        rec = record_type()
        rec.ParseFromString(payload)
        yield rec


def _item_key(item: Any) -> str:
    return item.key or "/".join(item.nested_key)


def wandb_run(run_dir: str | Path) -> dict[str, Any]:
    """Summarise an offline W&B run directory: project, name, id, history rows, summary, config,
    system-metrics records (``stats``) and alerts."""
    run_dir = Path(run_dir)
    files = sorted(run_dir.glob("run-*.wandb"))
    if not files:
        raise FileNotFoundError(f"no run-*.wandb file in {run_dir}")
    out: dict[str, Any] = {"history": [], "summary": {}, "config": {}, "project": None, "name": None,
                           "stats": [], "alerts": []}
    for rec in wandb_records(files[0]):
        kind = rec.WhichOneof("record_type")
        if kind == "run":
            out["project"], out["name"], out["id"] = rec.run.project, rec.run.display_name, rec.run.run_id
            for i in rec.run.config.update:
                out["config"][_item_key(i)] = json.loads(i.value_json)
        elif kind == "history":
            row = {_item_key(i): json.loads(i.value_json) for i in rec.history.item}
            out["history"].append(row)
        elif kind == "summary":
            for i in rec.summary.update:
                out["summary"][_item_key(i)] = json.loads(i.value_json)
        elif kind == "config":
            for i in rec.config.update:
                out["config"][_item_key(i)] = json.loads(i.value_json)
        elif kind == "stats":
            out["stats"].append({i.key: json.loads(i.value_json) for i in rec.stats.item})
        elif kind == "alert":
            out["alerts"].append({"title": rec.alert.title, "text": rec.alert.text, "level": rec.alert.level})
    return out


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
