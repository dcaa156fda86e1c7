"""Tee of ``sys.stdout``/``sys.stderr`` into ``<run_dir>/console.log``.

Python-level only: text written through ``sys.stdout``/``sys.stderr`` is
captured; output of C code or subprocesses writing to fd 1/2 directly is not.

The file is the training program's own output, readable as plain text: ANSI
escape sequences (colours, cursor moves) are removed, and what the trackers
print from their worker threads (Trackio's "* Trackio project initialized",
"* Run finished. Uploading logs..." and its coloured hints) is kept off it;
ktrack's own warnings printed there (``trackers: warning: ...``) stay. The
terminal still gets everything as it was written.
"""

from __future__ import annotations

import re
import sys
import threading
from pathlib import Path
from typing import Any, TextIO

#: CSI sequences (colours, cursor), OSC sequences (titles, links) and the two-character escapes.
ANSI = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)|\x1b[@-Z\\-_]")
#: A ktrack message (:mod:`ktrack.messages`): kept even when a tracker thread prints it.
_MESSAGE = re.compile(r"^[\w.\- ]+: (?:warning|error): ")

_threads = threading.local()


def tracker_thread() -> None:
    """Mark the calling thread as a tracker's: its output stays on the terminal, off ``console.log``
    (except ktrack's own messages)."""
    _threads.chatter = ""


def strip_ansi(text: str) -> str:
    """``text`` without ANSI escape sequences, nor a stray ESC that begins none (removing one sequence
    could otherwise join an ESC left before it with the text after it into a new one)."""
    return ANSI.sub("", text).replace("\x1b", "") if "\x1b" in text else text


def _kept(text: str) -> str:
    """What of ``text``, written by the calling thread, goes to the file."""
    pending = getattr(_threads, "chatter", None)
    if pending is None:
        return strip_ansi(text)
    lines = (pending + text).split("\n")
    _threads.chatter = lines.pop()  # a line is judged once it is complete (print writes its "\n" apart)
    return "".join(strip_ansi(line) + "\n" for line in lines if _MESSAGE.match(strip_ansi(line)))


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
        text = _kept(text)
        if not text:
            return
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
