"""Tee of ``sys.stdout``/``sys.stderr`` into ``<run_dir>/console.log``.

Python-level only: text written through ``sys.stdout``/``sys.stderr`` is
captured; output of C code or subprocesses writing to fd 1/2 directly is not.
"""

from __future__ import annotations

import sys
import threading
from pathlib import Path
from typing import Any, TextIO


class _Tee:
    """Writes to the original stream and to the shared log file."""

    def __init__(self, stream: TextIO, capture: "Capture") -> None:
        self._stream = stream
        self._capture = capture

    def write(self, text: str) -> int:
        self._capture._write(text)
        return self._stream.write(text)

    def flush(self) -> None:
        self._stream.flush()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)


class Capture:
    """Start with :meth:`start`, undo with :meth:`stop` (both idempotent)."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._file: TextIO | None = None
        self._lock = threading.Lock()
        self._saved: tuple[Any, Any] | None = None

    def start(self) -> None:
        """Replace sys.stdout/sys.stderr with tees."""
        if self._saved is not None:
            return
        try:
            self._file = open(self.path, "a", encoding="utf-8", errors="replace")
        except OSError:  # an unwritable run folder: the run's storage warning says so
            return
        self._saved = (sys.stdout, sys.stderr)
        sys.stdout = _Tee(sys.stdout, self)
        sys.stderr = _Tee(sys.stderr, self)

    def _write(self, text: str) -> None:
        with self._lock:
            if self._file is not None:
                try:
                    self._file.write(text)
                    if "\n" in text:
                        self._file.flush()
                except (OSError, ValueError):
                    pass

    def stop(self) -> None:
        """Restore the streams that were there at :meth:`start` and close the file."""
        if self._saved is None:
            return
        out, err = self._saved
        if isinstance(sys.stdout, _Tee) and sys.stdout._capture is self:
            sys.stdout = out
        if isinstance(sys.stderr, _Tee) and sys.stderr._capture is self:
            sys.stderr = err
        self._saved = None
        with self._lock:
            if self._file is not None:
                try:
                    self._file.close()
                except OSError:  # a full disk: what could not be written is lost, the run goes on
                    pass
                self._file = None
