"""Finishing a run on a stop signal only when the process is really going to stop.

The stop signals are those a terminal or a cluster sends (SIGINT, SIGTERM,
SIGHUP when a terminal closes, SIGUSR1/SIGUSR2 when Slurm warns of a limit:
:data:`ktrack.process.STOP_SIGNALS`).

The handler installed by :class:`FinishOnSignal` first looks at what the
signal did before the run started:

* a Python handler (the script's own graceful stop, or Python's default
  ``KeyboardInterrupt``): that handler runs and decides. If the process then
  exits, the run is finished by the exit hook; if the script goes on, so does
  the run, and its later ``log()``/``summary()`` calls are kept.
* ignored (``trap '' INT`` in the parent shell): nothing is installed; the
  signal stays ignored and the run goes on.
* the default action (SIGTERM, SIGHUP, SIGUSR1/2, or a signal reset to
  ``SIG_DFL``): the process would die without running exit hooks, so the run
  is finished first, marked stopped by that signal, then the default action is
  taken. Python's own SIGINT handler (``KeyboardInterrupt``) marks it too.
  Another stop arriving while the run finishes (the same signal sent to the
  process and to its group) waits for that finish instead of cutting it short.
"""

from __future__ import annotations

import os
import signal
import threading
from typing import Any, Callable

from ktrack.process import STOP_SIGNALS


class FinishOnSignal:
    """Install with :meth:`install`, undo with :meth:`restore` (main thread only; both idempotent)."""

    def __init__(self, finish: Callable[[], None], stopped: Callable[[int], None]) -> None:
        """``finish`` ends the run; ``stopped(signum)`` notes that a signal is stopping the process."""
        self._finish = finish
        self._stopped = stopped
        self._previous: dict[int, Any] = {}
        self._finishing = False

    def install(self) -> None:
        """Put the handler in front of the current handlers of the stop signals."""
        if threading.current_thread() is not threading.main_thread():
            return
        for sig in STOP_SIGNALS:
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
        if self._finishing:  # a second stop during the finish below: that finish ends the process
            return
        previous = self._previous.get(signum, signal.SIG_DFL)
        if callable(previous):
            if previous is signal.default_int_handler:
                self._stopped(signum)
            previous(signum, frame)  # it decides; an exit from there finishes the run through the exit hook
            return
        if previous == signal.SIG_IGN:
            return
        self._finishing = True
        self._stopped(signum)
        self._finish()  # the default action ends the process without exit hooks
        signal.signal(signum, signal.SIG_DFL)
        os.kill(os.getpid(), signum)
