"""One-line warnings on stderr, each shown once per process."""

from __future__ import annotations

import sys
import threading

_seen: set[str] = set()
_lock = threading.Lock()


def warn(message: str) -> None:
    """Print ``trackers: <message>`` on stderr (goes to console.log too)."""
    try:
        print(f"trackers: {message}", file=sys.stderr, flush=True)
    except Exception:
        pass


def warn_once(key: str, message: str) -> bool:
    """Like :func:`warn`, but only the first time ``key`` is seen; True if shown."""
    with _lock:
        if key in _seen:
            return False
        _seen.add(key)
    warn(message)
    return True


def _reset() -> None:
    """Forget what was shown (tests)."""
    with _lock:
        _seen.clear()
