"""The one style of user-facing messages, for every ktrack program and library.

* ``prog: error: what was wrong; what to do`` on stderr, then exit 1 (:func:`fail`),
  or exit 2 for a command-line usage mistake (:func:`usage`);
* ``prog: warning: what happened; what it means`` on stderr, once per cause
  (:func:`warn` with a ``key``), while the program goes on.

Libraries raise exceptions with plain messages (no program prefix); the thin
command-line entry points turn them into one line with :func:`fail`. Messages
are made printable first (:func:`printable`), so a run name holding escape
sequences cannot drive the terminal; a value quoted in one is cut short
(:func:`shown`).
"""

from __future__ import annotations

import sys
import threading
from typing import Any, NoReturn

EXIT_ERROR = 1
EXIT_USAGE = 2

_seen: set[tuple[str, str]] = set()
_lock = threading.Lock()


def printable(text: object) -> str:
    """``text`` with control characters (ESC, CR, BEL, ...) shown as escapes; newlines become spaces."""
    s = str(text).replace("\r\n", " ").replace("\n", " ")
    if s.isprintable():
        return s
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in s)


def shown(value: Any, width: int = 40) -> str:
    """``repr(value)`` cut to ``width`` characters (a value quoted in a message); an integer too long
    for ``repr`` by its size."""
    try:
        text = repr(value)
    except ValueError:  # more digits than Python converts to text (sys.get_int_max_str_digits)
        return f"an integer of {value.bit_length()} bits"
    return text if len(text) <= width else text[:width - 3] + "..."


def error_line(prog: str, message: object) -> str:
    """``prog: error: message`` (one line)."""
    return f"{prog}: error: {printable(message)}"


def _emit(line: str) -> None:
    try:
        print(line, file=sys.stderr, flush=True)
    except (OSError, ValueError):  # stderr closed or a broken pipe: nothing left to tell
        pass


def fail(prog: str, message: object, code: int = EXIT_ERROR) -> NoReturn:
    """Print ``prog: error: message`` on stderr and exit with ``code`` (1 by default)."""
    _emit(error_line(prog, message))
    raise SystemExit(code)


def usage(prog: str, message: object) -> NoReturn:
    """A command-line mistake: ``prog: error: message`` and exit 2, like argparse."""
    fail(prog, message, EXIT_USAGE)


def warn(prog: str, message: object, key: str | None = None) -> bool:
    """Print ``prog: warning: message`` on stderr; with ``key``, only the first time
    that cause is seen in this process. Returns True when printed."""
    if key is not None:
        with _lock:
            if (prog, key) in _seen:
                return False
            _seen.add((prog, key))
    _emit(f"{prog}: warning: {printable(message)}")
    return True


def mark_shown(prog: str, key: str) -> None:
    """Treat the warning ``key`` of ``prog`` as shown already: for a caller that tells the user the same
    thing in its own words (the self-test's W&B run lives in a scratch folder, so "sync it later" is wrong)."""
    with _lock:
        _seen.add((prog, key))


def reset_warnings() -> None:
    """Forget which warnings were shown (for tests)."""
    with _lock:
        _seen.clear()
