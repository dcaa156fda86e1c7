"""Stopping for a requeue: Slurm's warning before a time limit or a preemption.

A Slurm training job (``make train SLURM=1`` with ``SLURM_REQUEUE``) asks
Slurm to send ``SIGUSR1`` some time before its limit and names it in
``KTRACK_STOP_SIGNAL``. The trainer then, at the end of the iteration it is
in (every rank at the same one), saves ``checkpoints/last.pt``, finishes the
tracked run and exits with :data:`REQUEUE_EXIT`; the job script requeues
the job, which resumes from that checkpoint as the same run::

    stop = StopSignal(enabled=settings["TRAIN_CHECKPOINT"])
    for it in ...:
        ...
        if stop.requested(d):
            checkpoint("last", it)
            stop.exit(run, d, it)

Without ``KTRACK_STOP_SIGNAL`` (every run outside such a job) nothing is
installed and :meth:`StopSignal.requested` is always False.
"""

from __future__ import annotations

import os
import signal
import sys
import threading
from typing import Any, NoReturn

#: Exit status meaning "checkpoint saved, requeue me" (EX_TEMPFAIL).
REQUEUE_EXIT = 75
ENV = "KTRACK_STOP_SIGNAL"


def stop_signal() -> int | None:
    """The signal named in ``KTRACK_STOP_SIGNAL`` (``USR1`` or ``SIGUSR1``), None when unset or unknown."""
    name = os.environ.get(ENV, "").strip().upper()
    if not name:
        return None
    value = getattr(signal, name if name.startswith("SIG") else f"SIG{name}", None)
    return int(value) if isinstance(value, signal.Signals) else None


class StopSignal:
    """Notes the stop signal; the training loop asks :meth:`requested` once per iteration."""

    def __init__(self, enabled: bool = True) -> None:
        self.signum = stop_signal() if enabled else None
        self._flag = False
        if self.signum is not None and threading.current_thread() is threading.main_thread():
            signal.signal(self.signum, self._on_signal)
        else:
            self.signum = None

    def _on_signal(self, signum: int, frame: Any) -> None:
        self._flag = True

    def requested(self, d: Any) -> bool:
        """True on every rank once any rank got the signal (one all-reduce per call when distributed)."""
        if self.signum is None:
            return False
        if getattr(d, "enabled", False):
            from training.runtime import mean_across

            return mean_across(d, 1.0 if self._flag else 0.0) > 0.0
        return self._flag

    def exit(self, run: Any, d: Any, it: int) -> NoReturn:
        """Finish the tracked run and the process group, then exit with :data:`REQUEUE_EXIT`."""
        from training.runtime import barrier, cleanup

        if getattr(d, "main", True):
            from training.slurm_job import requeue_mark

            if getattr(run, "dir", None) is not None:
                requeue_mark(run.dir)  # a node's torchrun reports this exit as a failure: the mark says requeue
            print(f"{signal.Signals(self.signum or signal.SIGUSR1).name} received: checkpoint saved at iteration "
                  f"{it}; stopping so that Slurm requeues the job", file=sys.stderr, flush=True)
        run.finish()
        if getattr(d, "enabled", False):
            barrier(d)  # every rank leaves together, after rank 0 delivered its rows
        cleanup(d)
        raise SystemExit(REQUEUE_EXIT)
