"""The trackers library's warnings: ``trackers: warning: ...`` on stderr (see :mod:`ktrack.messages`)."""

from __future__ import annotations

from ktrack import messages

PROG = "trackers"


def warn(message: str, key: str | None = None) -> bool:
    """Print ``trackers: warning: <message>`` (also into console.log while a run captures it).

    With ``key``, only the first time that cause is seen in this process. True when printed.
    """
    return messages.warn(PROG, message, key=key)


def _reset() -> None:
    """Forget what was shown (tests)."""
    messages.reset_warnings()
