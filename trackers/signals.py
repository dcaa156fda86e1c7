"""Finishing a run on SIGINT/SIGTERM only when the process is really going to stop.

The handler installed by :class:`FinishOnSignal` first looks at what the
signal did before the run started:

* a Python handler (the script's own graceful stop, or Python's default
  ``KeyboardInterrupt``): that handler runs and decides. If the process then
  exits, the run is finished by the exit hook; if the script goes on, so does
  the run, and its later ``log()``/``summary()`` calls are kept.
* ignored (``trap '' INT`` in the parent shell): nothing is installed; the
  signal stays ignored and the run goes on.
* the default action (SIGTERM, or a signal reset to ``SIG_DFL``): the process
  would die without running exit hooks, so the run is finished first, then the
  default action is taken.
"""

from __future__ import annotations

import os
import signal
import threading
from typing import Any, Callable

SIGNALS = (signal.SIGINT, signal.SIGTERM)


class FinishOnSignal:
    """Install with :meth:`install`, undo with :meth:`restore` (main thread only; both idempotent)."""

    def __init__(self, finish: Callable[[], None]) -> None:
        self._finish = finish
        self._previous: dict[int, Any] = {}

    def install(self) -> None:
        """Put the handler in front of the current SIGINT and SIGTERM handlers."""
        if threading.current_thread() is not threading.main_thread():
            return
        for sig in SIGNALS:
            try:
                previous = signal.getsignal(sig)
                if previous == signal.SIG_IGN or previous is None:  # ignored, or a handler not set from Python
                    continue
                signal.signal(sig, self._handle)
                self._previous[sig] = previous
            except (ValueError, OSError):
                pass

    def restore(self) -> None:
        """Put back the handlers found by :meth:`install` where ours is still in place."""
        if threading.current_thread() is not threading.main_thread():
            return
        for sig, previous in self._previous.items():
            try:
                if signal.getsignal(sig) == self._handle:
                    signal.signal(sig, previous)
            except (ValueError, OSError, TypeError):
                pass
        self._previous.clear()

    def _handle(self, signum: int, frame: Any) -> None:
        previous = self._previous.get(signum, signal.SIG_DFL)
        if callable(previous):
            previous(signum, frame)  # it decides; an exit from there finishes the run through the exit hook
            return
        if previous == signal.SIG_IGN:
            return
        self._finish()  # the default action ends the process without exit hooks
        signal.signal(signum, signal.SIG_DFL)
        os.kill(os.getpid(), signum)
