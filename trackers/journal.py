"""The run directory's always-on journal: metrics.jsonl, config.json, summary.json.

``metrics.jsonl`` holds one JSON object per line:

* ``{"type": "log", "step": 12, "time": 1732560000.1, "metrics": {...}}``
* ``{"type": "series", "step": 3, "time": ..., "metrics": {"loss/train": 0.5}}``
  (``run["loss/train"].log(v)``: ``step`` is that series' own counter)
* ``{"type": "summary", "time": ..., "summary": {...}}``
* ``{"type": "rewind", "step": 40, "time": ...}``: the run resumed from its
  checkpoint at step 40; the ``log`` rows after step 40 written before this
  record belong to a trajectory thrown away (:func:`history` drops them)

Non-finite floats are written as ``"NaN"``, ``"Infinity"``, ``"-Infinity"``.
The journal is the write-ahead record of a run: the run's writer thread hands
each batch of lines to the OS (:meth:`Journal.flush`, one ``write``; no fsync)
before any backend gets those rows, so after ``kill -9`` the file holds every
step any tracker holds. A reader must tolerate a partial last line.
"""

from __future__ import annotations

import json
import os
import threading
import time
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator

from ktrack.numbers import number
from ktrack.runfolder import RunFolder
from trackers.values import MAX_STEP, from_json, shown, to_json

#: Record types whose fields the reader checks; others are passed through as they are.
ROW_TYPES = ("log", "series")


class JournalError(ValueError):
    """A journal line that is JSON but not a valid record (strict reading)."""


def _dump(obj: Any) -> str:
    return json.dumps(obj, default=str, separators=(",", ":"), allow_nan=False)


def _clean(d: dict[str, Any]) -> dict[str, Any]:
    return {k: to_json(v) for k, v in d.items()}


def write_json(path: Path, data: Any) -> None:
    """Write ``data`` to ``path`` atomically (temp file + rename); raises OSError."""
    tmp = path.with_name(path.name + ".tmp")
    try:
        tmp.write_text(json.dumps(data, default=str, indent=2, sort_keys=True) + "\n")
        os.replace(tmp, path)
    except OSError:
        try:
            tmp.unlink()
        except OSError:
            pass
        raise


class Journal:
    """Append-only JSON-lines journal ``run_dir/metrics.jsonl`` (thread-safe).

    :meth:`write` keeps lines in memory; :meth:`flush` hands them to the OS in
    one write (the run's writer calls it before giving rows to any backend;
    :meth:`write` itself flushes at most ``flush_interval`` seconds apart).
    Nothing here raises ``OSError``: the first failed write (full disk, I/O
    error, unwritable folder) stops the journal for the rest of the run, and
    ``on_error(exc, lost_from)`` is called once, ``lost_from`` being the step of
    the first record not written (None when not known). ``error`` keeps the
    exception and ``lost`` counts the records not written.
    """

    def __init__(self, run_dir: Path, flush_interval: float = 1.0,
                 on_error: Callable[[OSError, int | None], None] | None = None) -> None:
        self.dir = Path(run_dir)
        self.path = RunFolder(self.dir).journal
        self.flush_interval = flush_interval
        self.rows = 0
        self.lost = 0
        self.error: OSError | None = None
        self._on_error = on_error
        self._lock = threading.RLock()
        self._lines: list[str] = []
        self._steps: list[int | None] = []
        self._last_flush = time.monotonic()
        self._fd: int | None = self._open()

    def _open(self) -> int | None:
        try:
            fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o644)
        except OSError as exc:
            self._fail(exc, None)
            return None
        try:  # a partial last line from a hard kill: end it, so the next record starts a line of its own
            size = os.fstat(fd).st_size
            if size:
                with open(self.path, "rb") as f:
                    f.seek(size - 1)
                    if f.read(1) != b"\n":
                        os.write(fd, b"\n")
        except OSError as exc:
            os.close(fd)
            self._fail(exc, None)
            return None
        return fd

    @property
    def ok(self) -> bool:
        """False once a write has failed."""
        return self.error is None

    def write(self, kind: str, step: int | None, t: float, metrics: dict[str, Any]) -> None:
        """Append one ``log`` or ``series`` record (or another channel's ``kind``)."""
        self._add(_dump({"type": kind, "step": step, "time": round(t, 6), "metrics": _clean(metrics)}), step)

    def write_rewind(self, step: int, t: float) -> None:
        """Append one ``rewind`` record: the rows after ``step`` before it are not part of the run's history."""
        self._add(_dump({"type": "rewind", "step": step, "time": round(t, 6)}), step)

    def write_summary(self, summary: dict[str, Any], t: float) -> None:
        """Append one ``summary`` record."""
        self._add(_dump({"type": "summary", "time": round(t, 6), "summary": _clean(summary)}), None)

    def _add(self, line: str, step: int | None) -> None:
        with self._lock:
            self.rows += 1
            if self._fd is None:
                self.lost += 1
                return
            self._lines.append(line + "\n")
            self._steps.append(step)
            if time.monotonic() - self._last_flush >= self.flush_interval:
                self.flush()

    def flush(self, sync: bool = False) -> None:
        """Hand every buffered line to the OS (and to the disk when ``sync``)."""
        with self._lock:
            self._last_flush = time.monotonic()
            if self._fd is None:
                return
            data = "".join(self._lines).encode()
            steps, self._lines, self._steps = self._steps, [], []
            done = 0
            try:
                while done < len(data):
                    done += os.write(self._fd, data[done:])
                if sync:
                    os.fsync(self._fd)
            except OSError as exc:
                written = data[:done].count(b"\n") if done < len(data) else len(steps)
                self.lost += len(steps) - written
                first = next((s for s in steps[written:] if s is not None), None) if written < len(steps) else None
                self._stop()
                self._fail(exc, first)

    def _stop(self) -> None:
        if self._fd is not None:
            try:
                os.close(self._fd)
            except OSError:
                pass
            self._fd = None

    def _fail(self, exc: OSError, lost_from: int | None) -> None:
        if self.error is not None:
            return
        self.error = exc
        if self._on_error is not None:
            self._on_error(exc, lost_from)

    def close(self) -> None:
        """Flush, fsync and close; further records are counted as lost."""
        with self._lock:
            self.flush(sync=True)
            self._stop()


def parse_record(line: bytes) -> dict[str, Any] | None:
    """One journal line as a record with values decoded.

    Returns None for a line that is not JSON (cut short by a crash, or
    binary garbage); raises :class:`JournalError` for JSON that is not a
    valid record (a missing type, a bad step, metrics that are not a mapping).
    """
    try:
        rec = json.loads(line.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        return None
    if not isinstance(rec, dict) or not isinstance(rec.get("type"), str):
        raise JournalError("a record needs a \"type\"")
    kind = rec["type"]
    if "time" in rec and number(rec["time"], finite=True) is None:
        raise JournalError(f"time {rec['time']!r} is not a number")
    if kind in ROW_TYPES or kind == "rewind":
        step = rec.get("step")
        if isinstance(step, bool) or not isinstance(step, int) or not 0 <= step <= MAX_STEP:
            raise JournalError(f"step {shown(step)} is not an integer from 0 to 2**63-1")
        if kind != "rewind" and not isinstance(rec.get("metrics"), dict):
            raise JournalError("\"metrics\" is not a mapping")
        rec.setdefault("time", 0.0)
    elif kind == "summary":
        if not isinstance(rec.get("summary"), dict):
            raise JournalError("\"summary\" is not a mapping")
        rec.setdefault("time", 0.0)
    for field in ("metrics", "summary"):
        if isinstance(rec.get(field), dict):
            rec[field] = {k: from_json(v) for k, v in rec[field].items()}
    return rec


def read_records(run_dir: str | os.PathLike[str], *, strict: bool = False) -> Iterator[dict[str, Any]]:
    """Yield every complete, valid record of ``run_dir/metrics.jsonl`` (values decoded).

    A partial last line (a hard kill) ends the reading; lines that are not
    JSON are skipped. A JSON line that is not a valid record is skipped too,
    or, with ``strict``, raises :class:`JournalError` naming the file and line.
    Raises OSError when the file exists but cannot be read.
    """
    path = RunFolder(run_dir).journal
    if not path.is_file():
        return
    with open(path, "rb") as f:
        for lineno, line in enumerate(f, 1):
            if not line.endswith(b"\n"):
                break
            try:
                rec = parse_record(line)
            except JournalError as exc:
                if strict:
                    raise JournalError(f"{path} line {lineno}: {exc}; fix or delete that line") from None
                continue
            if rec is not None:
                yield rec


def history(records: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """The records of the run's final history: a ``rewind`` record (a resume from the checkpoint at its
    step) removes the ``log`` rows after that step written before it; the rewind itself stays.
    (``series`` rows count their own steps, not training's, and are kept.)"""
    out: list[dict[str, Any]] = []
    for rec in records:
        if rec["type"] == "rewind":
            out = [r for r in out if r["type"] != "log" or r["step"] <= rec["step"]]
        out.append(rec)
    return out


def logged_keys(run_dir: str | os.PathLike[str]) -> dict[tuple[str, int], set[str]]:
    """``{(type, step): metric names}`` of every log and series row of the journal's final history."""
    out: dict[tuple[str, int], set[str]] = {}
    for rec in history(read_records(run_dir)):
        if rec["type"] in ROW_TYPES:
            out.setdefault((rec["type"], rec["step"]), set()).update(rec["metrics"])
    return out


def read_config(run_dir: str | os.PathLike[str]) -> dict[str, Any]:
    """Return ``run_dir/config.json`` as a dict ({} if missing); ValueError if it is not a JSON object."""
    path = RunFolder(run_dir).config_json
    if not path.exists():
        return {}
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise ValueError(f"{path} is not valid JSON ({exc}); restore it or delete the run folder") from None
    if not isinstance(data, dict):
        raise ValueError(f"{path} does not hold a JSON object; restore it or delete the run folder")
    return data
