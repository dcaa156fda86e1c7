"""Where a point's command runs: a local process, or a Slurm job through submitit.

Both executors share one small interface so the runner's scheduling loop
does not care: ``start(task) -> handle``, ``poll(handle) -> returncode |
None``, ``stop(handle)``. A :class:`Task` is everything needed to run one
point: argv, environment, working directory and log file.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any


@dataclass
class Task:
    """One point's command, ready to run anywhere the paths are visible."""

    name: str
    argv: list[str]
    env: dict[str, str]
    cwd: str
    log: str


def run_command(task: Task) -> int:
    """Run ``task`` to completion, output appended to its log; return the exit status.

    This is what a submitit job executes on the cluster node.
    """
    Path(task.log).parent.mkdir(parents=True, exist_ok=True)
    with open(task.log, "ab") as log:
        return subprocess.call(task.argv, env=task.env, cwd=task.cwd, stdout=log, stderr=subprocess.STDOUT)


class LocalExecutor:
    """Each point is a child process in its own session (so Ctrl+C reaches only the sweep)."""

    name = "local"

    def start(self, task: Task) -> subprocess.Popen:
        """Start the command; output goes to ``task.log``."""
        Path(task.log).parent.mkdir(parents=True, exist_ok=True)
        with open(task.log, "ab") as log:
            return subprocess.Popen(task.argv, env=task.env, cwd=task.cwd, stdout=log, stderr=subprocess.STDOUT,
                                    start_new_session=True)

    def poll(self, handle: subprocess.Popen) -> int | None:
        """Exit status, or None while running."""
        return handle.poll()

    def stop(self, handle: subprocess.Popen, grace: float = 15.0) -> None:
        """SIGTERM the point's process group (the trainer saves and finishes), SIGKILL after ``grace`` s."""
        if handle.poll() is not None:
            return
        try:
            os.killpg(handle.pid, signal.SIGTERM)
        except (ProcessLookupError, PermissionError):
            handle.terminate()
        try:
            handle.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            try:
                os.killpg(handle.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                handle.kill()
            handle.wait()


def slurm_parameters(cfg: Any) -> dict[str, Any]:
    """submitit parameters from the Kconfig ``SLURM_*`` symbols (missing ones use defaults)."""
    g = lambda name, default: getattr(cfg, name, default)  # noqa: E731
    params: dict[str, Any] = {
        "timeout_min": int(g("SLURM_TIME_MIN", 240)),
        "gpus_per_node": int(g("SLURM_GPUS_PER_JOB", 1)),
        "cpus_per_task": int(g("SLURM_CPUS_PER_TASK", 8)),
        "nodes": 1,
        "tasks_per_node": 1,
    }
    if int(g("SLURM_MEM_GB", 0)):
        params["mem_gb"] = int(g("SLURM_MEM_GB", 0))
    if g("SLURM_PARTITION", ""):
        params["slurm_partition"] = str(g("SLURM_PARTITION", ""))
    if g("SLURM_ACCOUNT", ""):
        params["slurm_account"] = str(g("SLURM_ACCOUNT", ""))
    return params


class SubmititExecutor:
    """Each point is a submitit job: Slurm (``cluster=None`` auto-detects) or ``"local"`` for tests."""

    name = "slurm"

    def __init__(self, folder: Path, parameters: dict[str, Any], cluster: str | None = None) -> None:
        import submitit

        self.executor = submitit.AutoExecutor(folder=str(folder), cluster=cluster)
        if cluster == "local":  # the local executor knows no Slurm or GPU settings
            parameters = {k: v for k, v in parameters.items() if k in ("timeout_min", "cpus_per_task", "nodes",
                                                                    "tasks_per_node")}
        self.executor.update_parameters(**parameters)

    def start(self, task: Task) -> Any:
        """Submit the job (``sbatch`` on Slurm)."""
        self.executor.update_parameters(name=f"sweep-{task.name}"[:100])
        return self.executor.submit(run_command, task)

    def poll(self, handle: Any) -> int | None:
        """Exit status once done (1 when the job itself failed), else None."""
        if not handle.done():
            return None
        try:
            return int(handle.result())
        except Exception:  # noqa: BLE001 - a job killed by Slurm or by its time limit
            return 1

    def stop(self, handle: Any, grace: float = 15.0) -> None:
        """Cancel the job (``scancel``) and wait briefly for it to go."""
        try:
            handle.cancel(check=False)
        except Exception:  # noqa: BLE001
            return
        deadline = time.monotonic() + grace
        while time.monotonic() < deadline and not handle.done():
            time.sleep(0.1)
