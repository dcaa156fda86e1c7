"""Sweep points as Slurm jobs: submitted with submitit, watched with ``squeue``.

submitit writes each job's script and runs :func:`sweeps.executors.run_command`
on the node. Its own state check needs Slurm's accounting (``sacct``), which
many clusters, and every one-node cluster, do not run; so the jobs are
watched with one ``squeue`` call for all of them instead: a job that ends
without a result (cancelled while pending, killed by its time limit) is seen
as ended, each pending job's reason is shown, and a request Slurm can never
meet (more CPUs than a node has) stops the sweep with one line.
"""

from __future__ import annotations

import contextlib
import io
import shutil
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

from sweeps.errors import SweepError
from sweeps.executors import Task, run_command

#: States after which a job never runs again (``squeue -t all`` keeps them for MinJobAge).
TERMINAL = frozenset({"BOOT_FAIL", "CANCELLED", "COMPLETED", "DEADLINE", "FAILED", "NODE_FAIL", "OUT_OF_MEMORY",
                      "PREEMPTED", "REVOKED", "SPECIAL_EXIT", "TIMEOUT"})
#: Pending reasons that mean the request does not fit the partition, the account or the QoS.
NEVER_STARTS = frozenset({"PartitionConfig", "PartitionNodeLimit", "PartitionTimeLimit", "BadConstraints",
                          "InvalidAccount", "InvalidQOS", "AccountNotAllowed", "QOSNotAllowed"})
#: Seconds a job may be missing from squeue (just submitted) or sit ended before its result file is read.
_GRACE_S = 5.0


def never_starts(reason: str) -> bool:
    """True when a pending job with this ``squeue`` reason can never start as it was asked."""
    return reason in NEVER_STARTS or "PerJob" in reason


class SlurmRequestError(SweepError):
    """Slurm says a point's job can never start as requested."""


def slurm_parameters(values: Mapping[str, Any]) -> dict[str, Any]:
    """submitit parameters from the Kconfig ``SLURM_*`` values (None or 0/"" leaves Slurm's default)."""
    def get(name: str, default: Any = None) -> Any:
        value = values.get(name)
        return default if value is None else value

    params: dict[str, Any] = {"timeout_min": int(get("SLURM_TIME_MIN", 240)), "nodes": 1, "tasks_per_node": 1,
                              "cpus_per_task": int(get("SLURM_CPUS_PER_TASK", 1))}
    if int(get("SLURM_GPUS_PER_NODE", 0)):
        params["gpus_per_node"] = int(get("SLURM_GPUS_PER_NODE", 0))
    if int(get("SLURM_MEM_GB", 0)):
        params["mem_gb"] = int(get("SLURM_MEM_GB", 0))
    for symbol, key in (("SLURM_PARTITION", "slurm_partition"), ("SLURM_ACCOUNT", "slurm_account"),
                        ("SLURM_QOS", "slurm_qos")):
        if get(symbol, ""):
            params[key] = str(get(symbol, ""))
    return params


def describe_request(params: Mapping[str, Any]) -> str:
    """``2 CPUs, 1 GPU, 8 GB, 240 min, partition gpu`` for messages."""
    parts = [f"{params.get('cpus_per_task', 1)} CPU(s)", f"{params.get('gpus_per_node', 0)} GPU(s)"]
    if params.get("mem_gb"):
        parts.append(f"{params['mem_gb']} GB")
    parts.append(f"{params.get('timeout_min')} min")
    if params.get("slurm_partition"):
        parts.append(f"partition {params['slurm_partition']}")
    return ", ".join(parts)


@dataclass
class JobState:
    """One job as ``squeue`` shows it."""

    state: str
    reason: str


def queue_states(job_ids: list[str]) -> dict[str, JobState]:
    """``{job id: JobState}`` of the jobs Slurm still knows (one ``squeue`` call); {} when it cannot say."""
    if not job_ids:
        return {}
    # --array: each task of a job array on a line of its own (``1234_5``), pending ones included
    cmd = ["squeue", "--noheader", "--array", "--states=all", "--format=%i|%T|%r", f"--jobs={','.join(job_ids)}"]
    try:
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.TimeoutExpired):
        return {}
    states = {}
    for line in out.stdout.splitlines():
        job_id, _, rest = line.strip().partition("|")
        state, _, reason = rest.partition("|")
        if job_id:
            states[job_id] = JobState(state.strip(), reason.strip())
    return states


def _sbatch_error(exc: BaseException) -> str:
    lines = [line.split("error:", 1)[1].strip() for line in str(exc).splitlines() if "sbatch: error:" in line]
    return "; ".join(dict.fromkeys(lines)) or str(exc).strip().splitlines()[-1]


@dataclass
class SlurmPoint:
    """A submitted point: its submitit job and what was last seen of it."""

    job: Any
    task: Task
    submitted: float = field(default_factory=time.time)
    started: float | None = None
    state: str = "PENDING"
    reason: str = ""
    ended_at: float | None = None
    missing_since: float | None = None


class SlurmExecutor:
    """Each point is one Slurm job, or one task of a job array (:meth:`start_array`);
    ``cluster="local"``: submitit's local stand-in, for tests.

    ``array_parallelism`` is the array's throttle (``--array=0-N%JOBS``): how
    many of its tasks Slurm runs at once.
    """

    name = "slurm"

    def __init__(self, folder: Path, parameters: dict[str, Any], cluster: str | None = None,
                 refresh_s: float = 1.0, array_parallelism: int | None = None) -> None:
        import submitit

        self.cluster = cluster or "slurm"
        if self.cluster == "slurm" and shutil.which("sbatch") is None:
            raise SweepError("SWEEP_EXECUTOR=slurm needs Slurm's sbatch on PATH; on one machine: "
                             "sudo scripts/slurm-local.sh up (see docs/sweeps.md)")
        self.folder = Path(folder)
        self.parameters = dict(parameters)
        if self.cluster == "local":  # submitit's local stand-in knows no Slurm or GPU settings
            parameters = {k: v for k, v in parameters.items() if k in ("timeout_min", "cpus_per_task", "nodes",
                                                                    "tasks_per_node")}
        self.executor = submitit.AutoExecutor(folder=str(self.folder / "%j"), cluster=self.cluster)
        self.executor.update_parameters(**parameters)
        self.refresh_s = refresh_s
        self.array_parallelism = array_parallelism
        self._states: dict[str, JobState] = {}
        self._checked = 0.0
        self._points: dict[str, SlurmPoint] = {}

    # -- submitting and attaching
    def start(self, task: Task) -> SlurmPoint:
        """Submit the point's job (``sbatch``); SweepError with sbatch's own reason when it refuses."""
        self.executor.update_parameters(name=f"sweep-{task.name}"[:100])
        try:
            with contextlib.redirect_stderr(io.StringIO()):  # submitit prints sbatch's errors: they go in the one line
                job = self.executor.submit(run_command, task)
        except Exception as exc:  # noqa: BLE001 - submitit raises its own or subprocess errors; all mean "refused"
            raise SweepError(f"Slurm refused the job of point {task.name} ({describe_request(self.parameters)}): "
                             f"{_sbatch_error(exc)}; change the SLURM_* options (make menuconfig, SET=)") from None
        point = SlurmPoint(job, task)
        self._points[job.job_id] = point
        return point

    def start_array(self, tasks: list[Task], name: str) -> list[SlurmPoint]:
        """Submit the points as ONE job array (one ``sbatch``, ``--array=0-N%JOBS``); its tasks in order.

        SweepError with sbatch's own reason when it refuses.
        """
        params: dict[str, Any] = {"name": f"sweep-{name}"[:100]}
        if self.cluster == "slurm":
            params["slurm_array_parallelism"] = self.array_parallelism or len(tasks)
        self.executor.update_parameters(**params)
        try:
            with contextlib.redirect_stderr(io.StringIO()), self.executor.batch():
                jobs = [self.executor.submit(run_command, task) for task in tasks]
        except Exception as exc:  # noqa: BLE001 - submitit raises its own or subprocess errors; all mean "refused"
            raise SweepError(f"Slurm refused the job array of {len(tasks)} point(s) "
                             f"({describe_request(self.parameters)}): {_sbatch_error(exc)}; "
                             "change the SLURM_* options (make menuconfig, SET=)") from None
        points = [SlurmPoint(job, task) for job, task in zip(jobs, tasks, strict=True)]
        for point in points:
            self._points[str(point.job.job_id)] = point
        return points

    def alive(self, job_id: str) -> bool:
        """True when Slurm still has job ``job_id`` queued or running."""
        if self.cluster != "slurm":
            return False
        state = queue_states([job_id]).get(job_id)
        return state is not None and state.state not in TERMINAL

    def attach(self, job_id: str, task: Task) -> SlurmPoint:
        """Follow a job submitted by an earlier run of the sweep instead of submitting it again."""
        from submitit.slurm.slurm import SlurmJob

        point = SlurmPoint(SlurmJob(folder=self.folder / "%j", job_id=job_id), task)
        self._points[job_id] = point
        return point

    def job_id(self, handle: SlurmPoint) -> str:
        """Slurm's id of the point's job."""
        return str(handle.job.job_id)

    # -- watching
    def _refresh(self) -> None:
        now = time.monotonic()
        if now - self._checked < self.refresh_s:
            return
        self._checked = now
        self._states = queue_states([jid for jid, p in self._points.items() if p.ended_at is None])

    def poll(self, handle: SlurmPoint) -> int | None:
        """Exit status once the job ended (1 when it ended without a result), else None.

        Raises SlurmRequestError when Slurm says the job can never start.
        """
        job = handle.job
        if self.cluster != "slurm":
            return _result(handle) if job.done() else None
        if job.paths.result_pickle.exists():
            return self._ended(handle, _result(handle))
        self._refresh()
        seen = self._states.get(job.job_id)
        now = time.time()
        if seen is None:
            handle.missing_since = handle.missing_since or now
            if now - handle.missing_since < _GRACE_S:
                return None
            handle.state = handle.state if handle.state in TERMINAL else "GONE"
            return self._ended(handle, 1)
        handle.missing_since = None
        handle.state, handle.reason = seen.state, seen.reason
        if seen.state in ("RUNNING", "COMPLETING") and handle.started is None:
            handle.started = now
        if seen.state in TERMINAL:
            handle.ended_at = handle.ended_at or now
            return self._ended(handle, 1) if now - handle.ended_at >= _GRACE_S else None
        if seen.state == "PENDING" and never_starts(seen.reason):
            raise SlurmRequestError(
                f"Slurm can never start point {handle.task.name} "
                f"(job {job.job_id}, {describe_request(self.parameters)}): "
                f"pending with reason {seen.reason}; lower SLURM_CPUS_PER_TASK, SLURM_GPUS_PER_NODE, SLURM_MEM_GB or "
                "SLURM_TIME_MIN, or pick another SLURM_PARTITION (sinfo shows what there is)")
        return None

    def _ended(self, handle: SlurmPoint, rc: int) -> int:
        handle.ended_at = handle.ended_at or time.time()
        self._points.pop(handle.job.job_id, None)
        return rc

    def waiting(self, handle: SlurmPoint) -> str | None:
        """Why the job is still pending (``Resources``, ``Priority``, ...), None once it runs."""
        if handle.state != "PENDING" or handle.reason in ("", "None"):
            return None
        return handle.reason

    def started_at(self, handle: SlurmPoint) -> float | None:
        """When the job was first seen running."""
        return handle.started

    def describe(self, handle: SlurmPoint) -> str:
        """The job's end state and the log files that exist."""
        logs = [p for p in (Path(handle.task.log), Path(handle.job.paths.stderr)) if p.is_file()]
        what = f"Slurm job {handle.job.job_id}"
        if handle.state in TERMINAL or handle.state == "GONE":
            what += f" {'left the queue' if handle.state == 'GONE' else handle.state}"
            what += " before it started" if handle.started is None and not Path(handle.task.log).is_file() else ""
        return what + (f", log: {', '.join(map(str, logs))}" if logs else ", no log written")

    # -- stopping
    def stop_all(self, handles: list[SlurmPoint], grace: float = 15.0) -> None:
        """Cancel every job with one ``scancel`` and wait (at most ``grace`` s in all) for them to go."""
        if not handles:
            return
        if self.cluster != "slurm":
            for handle in handles:
                handle.job.cancel(check=False)
            return
        ids = [str(h.job.job_id) for h in handles]
        try:  # an array's id cancels all its tasks, the pending ones included
            subprocess.run(["scancel", *dict.fromkeys(i.split("_")[0] for i in ids)], capture_output=True,
                           timeout=60)
        except (OSError, subprocess.TimeoutExpired):
            return
        deadline = time.monotonic() + grace
        while time.monotonic() < deadline:
            states = queue_states(ids)
            if all(s.state in TERMINAL for s in states.values()):
                return
            time.sleep(0.5)


def _result(handle: SlurmPoint) -> int:
    try:
        return int(handle.job.result())
    except Exception:  # noqa: BLE001 - the job raised or was killed: submitit re-raises whatever it was
        return 1
