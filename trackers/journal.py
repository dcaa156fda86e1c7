"""The run directory's always-on journal: metrics.jsonl, config.json, summary.json.

``metrics.jsonl`` holds one JSON object per line:

* ``{"type": "log", "step": 12, "time": 1732560000.1, "metrics": {...}}``
* ``{"type": "series", "step": 3, "time": ..., "metrics": {"loss/train": 0.5}}``
  (``run["loss/train"].log(v)``: ``step`` is that series' own counter)
* ``{"type": "summary", "time": ..., "summary": {...}}``

Non-finite floats are written as ``"NaN"``, ``"Infinity"``, ``"-Infinity"``.
Lines are buffered and flushed at most ``flush_interval`` seconds apart and on
close; a reader must tolerate a partial last line after a hard kill.
"""

from __future__ import annotations

import json
import os
import threading
import time
from pathlib import Path
from typing import Any, Iterator

from trackers.values import from_json, to_json

METRICS = "metrics.jsonl"
CONFIG = "config.json"
SUMMARY = "summary.json"


def _dump(obj: Any) -> str:
    return json.dumps(obj, default=str, separators=(",", ":"), allow_nan=False)


def _clean(d: dict[str, Any]) -> dict[str, Any]:
    return {k: to_json(v) for k, v in d.items()}


def write_json(path: Path, data: Any) -> None:
    """Write ``data`` to ``path`` atomically (temp file + rename)."""
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(data, default=str, indent=2, sort_keys=True) + "\n")
    os.replace(tmp, path)


class Journal:
    """Append-only JSON-lines journal in ``run_dir`` (thread-safe)."""

    def __init__(self, run_dir: Path, flush_interval: float = 1.0) -> None:
        self.dir = Path(run_dir)
        self.dir.mkdir(parents=True, exist_ok=True)
        self.flush_interval = flush_interval
        self._lock = threading.RLock()
        self._file = open(self.dir / METRICS, "a", encoding="utf-8", buffering=1 << 16)
        self._last_flush = time.monotonic()
        self.rows = 0

    def write(self, kind: str, step: int | None, t: float, metrics: dict[str, Any]) -> None:
        """Append one ``log`` or ``series`` record."""
        line = _dump({"type": kind, "step": step, "time": round(t, 6), "metrics": _clean(metrics)})
        with self._lock:
            if self._file is None:
                return
            self._file.write(line + "\n")
            self.rows += 1
            self._maybe_flush()

    def write_summary(self, summary: dict[str, Any], t: float) -> None:
        """Append one ``summary`` record."""
        with self._lock:
            if self._file is not None:
                self._file.write(_dump({"type": "summary", "time": round(t, 6), "summary": _clean(summary)}) + "\n")
                self._maybe_flush()

    def _maybe_flush(self) -> None:
        if time.monotonic() - self._last_flush >= self.flush_interval:
            self.flush()

    def flush(self, sync: bool = False) -> None:
        """Push buffered lines to the OS (and to disk when ``sync``)."""
        with self._lock:
            if self._file is None:
                return
            self._file.flush()
            if sync:
                os.fsync(self._file.fileno())
            self._last_flush = time.monotonic()

    def close(self) -> None:
        """Flush, fsync and close; further writes are ignored."""
        with self._lock:
            if self._file is not None:
                self.flush(sync=True)
                self._file.close()
                self._file = None


def read_records(run_dir: str | os.PathLike[str]) -> Iterator[dict[str, Any]]:
    """Yield every complete record of ``run_dir/metrics.jsonl`` (values decoded)."""
    path = Path(run_dir) / METRICS
    if not path.exists():
        return
    with open(path, encoding="utf-8") as f:
        for line in f:
            if not line.endswith("\n"):
                break  # partial last line after a hard kill
            try:
                rec = json.loads(line)
            except json.JSONDecodeError:
                continue
            for field in ("metrics", "summary"):
                if field in rec:
                    rec[field] = {k: from_json(v) for k, v in rec[field].items()}
            yield rec


def read_config(run_dir: str | os.PathLike[str]) -> dict[str, Any]:
    """Return ``run_dir/config.json`` as a dict ({} if missing)."""
    path = Path(run_dir) / CONFIG
    return json.loads(path.read_text()) if path.exists() else {}
