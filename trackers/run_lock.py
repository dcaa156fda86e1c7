"""One process per run folder: an exclusive lock on ``runs/<project>/<run>/.lock``.

Two processes logging the same run name into one project would interleave
their rows in one journal. The lock is an ``flock`` held for the run's
lifetime; the kernel drops it when the process ends, however it ends, so a
crashed run never leaves a stale lock behind.
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path
from typing import IO

LOCK = ".lock"


class RunInUse(ValueError):
    """Another live process is logging to the same run folder."""


class RunLock:
    """Held from :meth:`acquire` until :meth:`release`."""

    def __init__(self, handle: IO[str]) -> None:
        self._handle: IO[str] | None = handle

    @classmethod
    def acquire(cls, run_dir: Path, what: str) -> "RunLock | None":
        """Lock ``run_dir``; raise :class:`RunInUse` when another process holds it.

        ``what`` names the run in the message. Returns None (no lock) when the
        folder cannot hold a lock file: the journal then reports the folder.
        """
        try:
            handle = open(Path(run_dir) / LOCK, "a+", encoding="utf-8")
        except OSError:
            return None
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            pid = handle.read().strip()
            handle.close()
            holder = f"process {pid}" if pid.isdigit() else "another process"
            raise RunInUse(f"{what} is being logged by {holder} ({run_dir}); give this run another name "
                           "(--tracker-run-name) or wait until that one finishes") from None
        except OSError:  # a file system without locks
            handle.close()
            return None
        try:
            handle.seek(0)
            handle.truncate()
            handle.write(f"{os.getpid()}\n")
            handle.flush()
        except OSError:
            pass
        return cls(handle)

    def release(self) -> None:
        """Drop the lock (idempotent)."""
        if self._handle is not None:
            handle, self._handle = self._handle, None
            try:
                fcntl.flock(handle.fileno(), fcntl.LOCK_UN)
            except OSError:
                pass
            try:
                handle.close()
            except OSError:
                pass
