"""The writer of the run directory's always-on journal, ``metrics.jsonl``, and of its JSON files.

The record format and the one reader are in ``rundata.journal``; the writer
builds each line with its ``row_record``, ``rewind_record`` and
``summary_record``.

The journal is the write-ahead record of a run: the run's writer thread hands
each batch of lines to the OS (:meth:`Journal.flush`, one ``write``; no fsync)
before any backend gets those rows, so after ``kill -9`` the file holds every
step any tracker holds.
"""

from __future__ import annotations

import json
import os
import threading
import time
from pathlib import Path
from typing import Any, Callable

from ktrack.runfolder import RunFolder
from rundata.journal import rewind_record, row_record, summary_record


def _dump(obj: Any) -> str:
    return json.dumps(obj, default=str, separators=(",", ":"), allow_nan=False)


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
        self._add(_dump(row_record(kind, step, t, metrics)), step)

    def write_rewind(self, step: int, t: float) -> None:
        """Append one ``rewind`` record: the rows after ``step`` before it are not part of the run's history."""
        self._add(_dump(rewind_record(step, t)), step)

    def write_summary(self, summary: dict[str, Any], t: float) -> None:
        """Append one ``summary`` record."""
        self._add(_dump(summary_record(summary, t)), None)

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
