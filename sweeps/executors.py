"""Where a point's command runs: a local process (here), or a Slurm job (:mod:`sweeps.slurm`).

Every executor has the small interface of :class:`Executor`, so the runner's
scheduling loop does not care where points run. A :class:`Task` is
everything needed to run one point: argv, environment, working directory
and log file.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Protocol

#: Variables a job's node sets for the processes it runs (GPUs it was given, Slurm's own).
_NODE_VARIABLES = ("CUDA_VISIBLE_DEVICES", "ROCR_VISIBLE_DEVICES", "HIP_VISIBLE_DEVICES", "GPU_DEVICE_ORDINAL",
                   "TMPDIR")


@dataclass
class Task:
    """One point's command, ready to run anywhere the paths are visible."""

    name: str
    argv: list[str]
    env: dict[str, str]
    cwd: str
    log: str


class Executor(Protocol):
    """What the runner needs from an executor; a handle is whatever ``start`` returned."""

    name: str

    def start(self, task: Task) -> Any:
        """Start ``task``; raises SweepError (one line) when it cannot be started."""

    def poll(self, handle: Any) -> int | None:
        """Exit status of a finished point, else None."""

    def stop_all(self, handles: list[Any], grace: float = 15.0) -> None:
        """Stop every running point at once, waiting at most ``grace`` seconds in all."""

    def started_at(self, handle: Any) -> float | None:
        """When the point began to run (epoch seconds), None while it waits in a queue."""

    def describe(self, handle: Any) -> str:
        """Where to look when the point failed (its log or the job's state)."""


def run_command(task: Task) -> int:
    """Run ``task`` to completion, output appended to its log; return the exit status.

    This is what a Slurm job executes on its node: the environment is the
    sweep's, plus what the node set for this job (``SLURM_*``, the GPUs it
    was given).
    """
    env = dict(task.env)
    env.update({k: v for k, v in os.environ.items() if k.startswith("SLURM_") or k in _NODE_VARIABLES})
    Path(task.log).parent.mkdir(parents=True, exist_ok=True)
    with open(task.log, "ab") as log:
        return subprocess.call(task.argv, env=env, cwd=task.cwd, stdout=log, stderr=subprocess.STDOUT)


def process_start(pid: int) -> int | None:
    """When process ``pid`` started (clock ticks since boot, ``/proc/<pid>/stat``); None when it is gone
    or a zombie. With the pid it names one process, even after the pid is reused."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None
    return None if fields[0] in ("Z", "X") else int(fields[19])


class Followed:
    """A point's process that an earlier sweep runner started, followed until it ends.

    It is not this runner's child, so its exit status is not known: ``outcome``
    reads it from the point's run folder when the process is gone.
    """

    def __init__(self, pid: int, ticks: int, started_at: float | None, log: str, outcome: Callable[[], int]) -> None:
        self.pid, self.ticks, self.started_at, self.log, self._outcome = pid, ticks, started_at, log, outcome
        self.returncode: int | None = None

    def poll(self) -> int | None:
        if self.returncode is None and process_start(self.pid) != self.ticks:
            self.returncode = self._outcome()
        return self.returncode

    def wait(self, timeout: float | None = None) -> int:
        deadline = None if timeout is None else time.monotonic() + timeout
        while self.poll() is None:
            if deadline is not None and time.monotonic() >= deadline:
                raise subprocess.TimeoutExpired(str(self.pid), timeout or 0.0)
            time.sleep(0.05)
        return self.returncode if self.returncode is not None else 1

    def send_signal(self, signum: int) -> None:
        if process_start(self.pid) == self.ticks:
            os.kill(self.pid, signum)


class LocalExecutor:
    """Each point is a child process in its own session (so Ctrl+C reaches only the sweep)."""

    name = "local"

    def follow(self, pid: int, ticks: int, started_at: float | None, task: Task,
               outcome: Callable[[], int]) -> Followed | None:
        """The point process ``pid`` (started at ``ticks``) an earlier runner left, when it still runs."""
        if process_start(pid) != ticks:
            return None
        return Followed(pid, ticks, started_at, task.log, outcome)

    def start(self, task: Task) -> subprocess.Popen:
        """Start the command; output goes to ``task.log``."""
        Path(task.log).parent.mkdir(parents=True, exist_ok=True)
        with open(task.log, "ab") as log:
            proc = subprocess.Popen(task.argv, env=task.env, cwd=task.cwd, stdout=log, stderr=subprocess.STDOUT,
                                    start_new_session=True)
        proc.started_at = time.time()  # type: ignore[attr-defined]
        proc.log = task.log  # type: ignore[attr-defined]
        proc.ticks = process_start(proc.pid)  # type: ignore[attr-defined]
        return proc

    def poll(self, handle: subprocess.Popen) -> int | None:
        """Exit status, or None while running."""
        return handle.poll()

    def started_at(self, handle: subprocess.Popen) -> float | None:
        """When the process was started."""
        return getattr(handle, "started_at", None)

    def describe(self, handle: subprocess.Popen) -> str:
        """The point's log file."""
        return f"log: {getattr(handle, 'log', '?')}"

    def stop_all(self, handles: list[Any], grace: float = 15.0) -> None:
        """SIGTERM every point's process group (trainers save and finish), SIGKILL what is left after ``grace``."""
        live = [h for h in handles if h.poll() is None]
        for handle in live:
            _signal_group(handle, signal.SIGTERM)
        deadline = time.monotonic() + grace
        for handle in live:
            try:
                handle.wait(timeout=max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                _signal_group(handle, signal.SIGKILL)
                handle.wait()


def _signal_group(handle: subprocess.Popen, signum: int) -> None:
    try:
        os.killpg(handle.pid, signum)
    except (ProcessLookupError, PermissionError):
        try:
            handle.send_signal(signum)
        except ProcessLookupError:
            pass
