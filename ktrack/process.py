"""Processes that never outlive the one that started them, and stops that reach them.

Stops come from a terminal (SIGINT, SIGHUP when it closes), from ``kill`` or
a cluster (SIGTERM; Slurm's ``--signal`` warnings are SIGUSR1/SIGUSR2). A
launcher forwards each of them to its child and waits for it
(:func:`forward_stops`); the child dies with the launcher even when the
launcher is killed outright (:func:`die_with_parent`, Linux'
``PR_SET_PDEATHSIG``).
"""

from __future__ import annotations

import ctypes
import os
import signal
import sys
from collections.abc import Callable
from typing import Any

#: Every signal that means "stop" and whose default action ends a process without exit hooks or handlers.
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGUSR1, signal.SIGUSR2)

_PR_SET_PDEATHSIG = 1


def die_with_parent(sig: int = signal.SIGTERM) -> None:
    """Have the kernel send ``sig`` to this process when its parent ends (Linux; elsewhere nothing).

    Safe in a ``preexec_fn`` (between fork and exec; it survives the exec).
    When the parent is already gone (re-parented to init or a subreaper), ``sig`` is sent at once.
    """
    if not sys.platform.startswith("linux"):
        return
    parent = os.getppid()
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        if libc.prctl(_PR_SET_PDEATHSIG, int(sig), 0, 0, 0) != 0:
            return
    except (OSError, AttributeError):
        return
    if os.getppid() != parent:  # the parent ended before the request was in place
        os.kill(os.getpid(), sig)


def forward_stops(pid: int) -> Callable[[], None]:
    """Send every stop signal this process gets to process ``pid`` instead; returns the undo.

    The receiver decides what the stop means (the trainer finishes its run);
    the caller keeps waiting for it, so it never leaves it behind. A signal
    ignored here (``nohup``, ``trap '' HUP``) stays ignored: call this after
    starting the child, which inherited it ignored.
    """
    previous: dict[int, Any] = {}

    def forward(signum: int, frame: Any) -> None:
        try:
            os.kill(pid, signum)
        except ProcessLookupError:
            pass

    for sig in STOP_SIGNALS:
        try:
            if signal.getsignal(sig) != signal.SIG_IGN:
                previous[sig] = signal.signal(sig, forward)
        except (ValueError, OSError):  # not the main thread
            pass

    def undo() -> None:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    return undo
