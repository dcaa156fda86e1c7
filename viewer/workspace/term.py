"""The terminal side of every live screen: keys in, changed screen rows out, and the one loop (:func:`drive`).

:class:`Terminal` puts stdin in cbreak mode (Ctrl+C still interrupts) and
switches to the alternate screen with the cursor hidden and line wrapping
off; leaving the ``with`` block -- normally, on Ctrl+C, SIGTERM or an
exception -- puts every setting back.
"""
from __future__ import annotations

import os
import select
import shutil
import signal
import sys
import termios
import time
import tty
from typing import Any, Callable

from viewer.workspace.canvas import Canvas, fit

ENTER, LEAVE = "\x1b[?1049h\x1b[?25l\x1b[?7l\x1b[2J", "\x1b[0m\x1b[?7h\x1b[?25h\x1b[?1049l"
SEQUENCES = {"[A": "up", "[B": "down", "[C": "right", "[D": "left", "OA": "up", "OB": "down", "OC": "right",
             "OD": "left", "[5~": "pgup", "[6~": "pgdn", "[Z": "tab", "[H": "home", "[F": "end"}
SINGLE = {"\t": "tab", "\r": "enter", "\n": "enter", "\x7f": "backspace", "\x08": "backspace", " ": " "}


def parse(data: str) -> list[str]:
    """Key names from the bytes read (see ``viewer.workspace.state``)."""
    out, i = [], 0
    while i < len(data):
        ch = data[i]
        if ch == "\x1b" and i + 1 < len(data) and data[i + 1] in "[O":
            j = i + 2
            while j < len(data) and not ("@" <= data[j] <= "~"):
                j += 1
            out.append(SEQUENCES.get(data[i + 1:j + 1], ""))
            i = j + 1
            continue
        out.append("esc" if ch == "\x1b" else SINGLE.get(ch, ch))
        i += 1
    return [k for k in out if k]


class Terminal:
    """Context manager around the workspace's terminal."""

    def __init__(self) -> None:
        self.fd = sys.stdin.fileno() if sys.stdin and sys.stdin.isatty() else None
        self.out = sys.stdout.fileno()
        self.saved: list | None = None
        self.prev: list[str] = []
        self.last_size = (0, 0)
        self._old_term: Any = None

    def __enter__(self) -> "Terminal":
        if self.fd is not None:
            self.saved = termios.tcgetattr(self.fd)
            tty.setcbreak(self.fd)
        self._old_term = signal.signal(signal.SIGTERM, self._on_term)
        self._write(ENTER)
        return self

    def __exit__(self, *exc: object) -> bool:
        try:
            self._write(LEAVE)
        finally:
            if self.fd is not None and self.saved is not None:
                termios.tcsetattr(self.fd, termios.TCSADRAIN, self.saved)
            signal.signal(signal.SIGTERM, self._old_term or signal.SIG_DFL)
        return exc[0] is KeyboardInterrupt

    @staticmethod
    def _on_term(*_: object) -> None:
        raise KeyboardInterrupt

    def _write(self, text: str) -> None:
        data = text.encode("utf-8", errors="replace")
        while data:
            try:
                data = data[os.write(self.out, data):]
            except InterruptedError:
                continue
            except OSError:
                return

    def size(self) -> tuple[int, int]:
        """Columns and rows of the terminal."""
        for fd in (self.out, self.fd):
            if fd is None:
                continue
            try:
                sz = os.get_terminal_size(fd)
                return sz.columns, sz.lines
            except OSError:
                continue
        sz = shutil.get_terminal_size((80, 24))
        return sz.columns, sz.lines

    def resized(self) -> bool:
        """True when the size changed since the last :meth:`show`."""
        return self.size() != self.last_size

    def show(self, canvas: Canvas) -> None:
        """Write the rows that differ from the screen shown last."""
        size = (canvas.width, canvas.height)
        lines = canvas.ansi_lines()
        if size != self.last_size:
            self.prev, self.last_size = [], size
            out = ["\x1b[0m\x1b[2J"]
        else:
            out = []
        for y, line in enumerate(lines):
            if y >= len(self.prev) or self.prev[y] != line:
                out.append(f"\x1b[{y + 1};1H{line}")
        self.prev = lines
        if out:
            self._write("".join(out))

    def keys(self, timeout: float) -> list[str]:
        """The keys pressed within ``timeout`` seconds (waits for the first one)."""
        if self.fd is None:
            time.sleep(timeout)
            return []
        ready, _, _ = select.select([self.fd], [], [], max(0.0, timeout))
        if not ready:
            return []
        data = os.read(self.fd, 1024)
        if data.endswith(b"\x1b") and select.select([self.fd], [], [], 0.03)[0]:
            data += os.read(self.fd, 1024)
        return parse(data.decode("utf-8", errors="ignore"))


def drive(frame: Callable[[int, int], Canvas], key: Callable[[str], bool], tick: Callable[[], bool],
          interval: float, start: Callable[[int, int], None] | None = None) -> int:
    """The one loop of every live screen (the workspace, ``--gpu``, ``--gpu-db``, ``--log``).

    ``frame(width, height)`` draws the screen; ``key(name)`` applies a key and
    returns False to quit; ``tick()`` reads new data every ``interval``
    seconds and returns True when the screen may have changed; ``start``
    sizes the screen before the first tick.  Returns 0 on quit and on
    Ctrl+C or SIGTERM, the terminal restored (:class:`Terminal`).
    """
    with Terminal() as term:
        if start is not None:
            start(*term.size())
        tick()
        term.show(frame(*term.size()))
        while True:
            deadline = time.monotonic() + interval
            while (left := deadline - time.monotonic()) > 0:
                keys = term.keys(min(left, 0.25))
                for k in keys:
                    if not key(k):
                        return 0
                if keys or term.resized():
                    term.show(frame(*term.size()))
            if tick():
                term.show(frame(*term.size()))
    return 0


def text_frame(lines: list[tuple[str, str]], width: int, height: int) -> Canvas:
    """A screen of text lines, each ``(text, style)``, cut to the screen (the ``--gpu-db`` and
    ``--log`` screens)."""
    cv = Canvas(width, height)
    for y, (text, style) in enumerate(lines[:height]):
        cv.put(0, y, fit(text, width), style)
    return cv
