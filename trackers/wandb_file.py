"""The one reader of W&B's local transaction log, ``run-<id>.wandb``.

Every W&B run folder (``offline-run-<time>-<id>/`` or ``run-<time>-<id>/``)
holds one. Its framing is LevelDB's log format: a 7-byte file header
(``:W&B``, version), then 32 KiB blocks of chunks, each chunk a 7-byte header
(crc32, length, type: full/first/middle/last) and data; the reassembled
records are ``wandb_internal_pb2.Record`` protobufs. A file cut short (a
killed run, a run still writing) ends at the last complete record.

    from trackers.wandb_file import run_header, read_run
    run_header(run_dir)   # {"project": ..., "name": ..., "id": ...} or None; reads only the start
    read_run(run_dir)     # project, name, id, history rows, summary, config
"""

from __future__ import annotations

import json
import struct
import time
from pathlib import Path
from typing import Any, BinaryIO, Iterator

MAGIC = b":W&B"
FILE_HEADER = 7  # magic (4), version (3)
BLOCK = 32768
CHUNK_HEADER = 7  # crc32 (4), length (2), type (1)
FULL, FIRST, MIDDLE, LAST = 1, 2, 3, 4


def _payloads(f: BinaryIO, name: str) -> Iterator[bytes]:
    if f.read(FILE_HEADER)[:4] != MAGIC:
        raise ValueError(f"{name} is not a W&B transaction log")
    pos, pending = FILE_HEADER, b""
    block = f.read(BLOCK - FILE_HEADER)
    offset = FILE_HEADER  # file position of block[0]
    while block:
        while True:
            at = pos - offset
            if BLOCK - pos % BLOCK < CHUNK_HEADER or at + CHUNK_HEADER > len(block):
                break  # the rest of the block is padding, or the file ends here
            _crc, length, kind = struct.unpack("<IHB", block[at:at + CHUNK_HEADER])
            chunk = block[at + CHUNK_HEADER:at + CHUNK_HEADER + length]
            if len(chunk) < length:
                return  # cut short
            pos += CHUNK_HEADER + length
            if kind == FULL:
                yield chunk
            elif kind == FIRST:
                pending = chunk
            elif kind == MIDDLE:
                pending += chunk
            elif kind == LAST:
                yield pending + chunk
                pending = b""
            elif kind == 0 and length == 0:
                break  # zero padding to the end of the block
        offset += len(block)
        pos = offset
        block = f.read(BLOCK)


def records(path: str | Path) -> Iterator[Any]:
    """Yield every complete ``Record`` protobuf of a ``.wandb`` file.

    Raises ValueError when the file is not a W&B transaction log; a damaged
    or cut-short tail ends the iteration.
    """
    from google.protobuf.message import DecodeError
    from wandb.proto import wandb_internal_pb2 as pb

    with open(path, "rb") as f:
        for payload in _payloads(f, str(path)):
            rec = pb.Record()  # type: ignore[attr-defined]
            try:
                rec.ParseFromString(payload)
            except DecodeError:
                return
            yield rec


def log_file(run_dir: str | Path) -> Path:
    """The ``run-*.wandb`` file of a W&B run folder; FileNotFoundError when there is none."""
    files = sorted(Path(run_dir).glob("run-*.wandb"))
    if not files:
        raise FileNotFoundError(f"no run-*.wandb file in {run_dir}")
    return files[0]


def _key(item: Any) -> str:
    return item.key or "/".join(item.nested_key)


def _value(item: Any) -> Any:
    try:
        return json.loads(item.value_json)
    except ValueError:
        return item.value_json


def run_header(run_dir: str | Path) -> dict[str, str] | None:
    """``{"project", "name", "id"}`` of the run in ``run_dir``, read from the log's first records;
    None when the folder has no readable log or the log has no run record yet."""
    try:
        for rec in records(log_file(run_dir)):
            if rec.WhichOneof("record_type") == "run":
                return {"project": rec.run.project, "name": rec.run.display_name, "id": rec.run.run_id}
    except (OSError, ValueError):
        return None
    return None


def finished(run_dir: str | Path) -> bool:
    """True when the log holds the run's exit record (W&B has written everything)."""
    try:
        return any(rec.WhichOneof("record_type") == "exit" for rec in records(log_file(run_dir)))
    except (OSError, ValueError):
        return False


def wait_finished(run_dir: str | Path, timeout: float, recent: float = 30.0) -> bool:
    """Wait up to ``timeout`` s for :func:`finished`, but only while the log was written in the
    last ``recent`` seconds (W&B's helper process still writing it after ``run.finish()``)."""
    deadline = time.monotonic() + timeout
    while not finished(run_dir):
        try:
            written = max(p.stat().st_mtime for p in [Path(run_dir), *Path(run_dir).glob("run-*.wandb")])
        except OSError:
            return False
        idle = time.time() - written
        if idle > recent or time.monotonic() > deadline:
            return False
        time.sleep(0.1)
    return True


def read_run(run_dir: str | Path) -> dict[str, Any]:
    """Project, name, id, history rows (``_step`` included), summary, config, system-metrics records
    (``stats``) and alerts of the run in ``run_dir``.

    Raises FileNotFoundError without a ``run-*.wandb`` file, ValueError when it is not a W&B log.
    """
    out: dict[str, Any] = {"history": [], "summary": {}, "config": {}, "project": None, "name": None, "id": None,
                           "stats": [], "alerts": []}
    for rec in records(log_file(run_dir)):
        kind = rec.WhichOneof("record_type")
        if kind == "run":
            out["project"], out["name"], out["id"] = rec.run.project, rec.run.display_name, rec.run.run_id
            for i in rec.run.config.update:
                out["config"][_key(i)] = _value(i)
        elif kind == "history":
            out["history"].append({_key(i): _value(i) for i in rec.history.item})
        elif kind == "summary":
            for i in rec.summary.update:
                out["summary"][_key(i)] = _value(i)
        elif kind == "config":
            for i in rec.config.update:
                out["config"][_key(i)] = _value(i)
        elif kind == "stats":
            out["stats"].append({i.key: _value(i) for i in rec.stats.item})
        elif kind == "alert":
            out["alerts"].append({"title": rec.alert.title, "text": rec.alert.text, "level": rec.alert.level})
    return out
