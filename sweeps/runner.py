"""Running a sweep: validate every point, then run them, resumably.

``run(path)`` validates every point's overrides and names with kconfiglib and
:mod:`ktrack.names` (nothing is written or run if one is wrong), writes
each point's ``.config``, ``defconfig`` and ``params.yaml`` just before it
starts, runs the command with ``KCONFIG_CONFIG`` pointing at that file, and
records each point's status in the state file. A rerun skips points whose
run trained to the end (even when the state still said "running"), follows
Slurm jobs an earlier run left queued and local processes an earlier runner
left running (``kill -9`` of the runner) instead of starting them again, and
passes ``--resume <run dir>`` to interrupted points that left a checkpoint.
Ctrl+C (or SIGTERM) stops every running point at once, and prints the
command that resumes, even when the output goes to a closed pipe.
"""

from __future__ import annotations

import collections
import contextlib
import os
import signal
import sys
import threading
import time
from pathlib import Path
from typing import Any, Callable, Iterator

import kconf
from kconf.tree import REPO_ROOT
from ktrack.runfolder import RunFolder
from sweeps import results
from sweeps.commands import command_argv, local_threads, point_env, resume_hint
from sweeps.errors import SweepError
from sweeps.executors import Executor, LocalExecutor, Task, process_start
from sweeps.points import Configurator, Point, materialize, plan
from sweeps.slurm import SlurmExecutor, slurm_parameters
from sweeps.spec import Sweep, expand, load
from sweeps.state import DONE, FAILED, INTERRUPTED, RUNNING, State, state_path

LOG_NAME = "sweep.log"
SLURM_SYMBOLS = ("SLURM_TIME_MIN", "SLURM_GPUS_PER_NODE", "SLURM_CPUS_PER_TASK", "SLURM_MEM_GB",
                 "SLURM_PARTITION", "SLURM_ACCOUNT", "SLURM_QOS")


def safe_print(line: str) -> None:
    """``print``, but a closed pipe (``make sweep | tee`` after Ctrl+C) silences the output instead of raising."""
    try:
        print(line, flush=True)
    except (BrokenPipeError, ValueError, OSError):
        with contextlib.suppress(OSError, ValueError):
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())


def _has_checkpoint(run_dir: Path) -> bool:
    return RunFolder(run_dir).checkpoint().is_file()


class Runner:
    """Schedules points on an executor, at most ``jobs`` at a time, and records their state.

    ``array``: the points started together go to Slurm as one job array (the
    executor's ``array_parallelism`` throttles it), not a job each.
    """

    def __init__(self, sweep: Sweep, configurator: Configurator, state: State, executor: Executor, jobs: int,
                 root: Path, cwd: Path, out: Callable[[str], None] = safe_print, poll: float = 0.05,
                 threads: int | None = None, array: bool = False) -> None:
        self.sweep, self.conf, self.state, self.executor = sweep, configurator, state, executor
        self.jobs, self.root, self.cwd, self.out, self.poll = max(1, jobs), root, cwd, out, poll
        self.threads, self.array = threads, array
        self.running: dict[str, tuple[Any, Point, float]] = {}
        self.counts: collections.Counter[str] = collections.Counter()
        self._waiting: dict[str, str | None] = {}
        self._deferred = False  # a signal arrived while a job was being submitted
        self._critical = False

    # -- signals: never leave a job submitted but unrecorded
    def _on_stop(self, signum: int, frame: Any) -> None:
        if self._critical:
            self._deferred = True
            return
        raise KeyboardInterrupt

    @contextlib.contextmanager
    def _critical_section(self) -> Iterator[None]:
        self._critical = True
        try:
            yield
        finally:
            self._critical = False
        if self._deferred:
            raise KeyboardInterrupt

    # -- one point
    def _task(self, point: Point, resume: bool) -> Task:
        return Task(point.name, command_argv(self.sweep.command, point, resume),
                    point_env(point, self.sweep, self.root, resume, self.threads), str(self.cwd),
                    str(point.run_dir / LOG_NAME))

    def _outcome(self, point: Point) -> Callable[[], int]:
        """The exit status of a followed point, from its run folder: 0 when it trained to the end."""
        return lambda: 0 if results.completed(point.run_dir, point.max_iters) else 1

    def _follow(self, point: Point, record: dict[str, Any]) -> Any:
        """The handle of the point's process an earlier runner left running, else None."""
        if record.get("status") != RUNNING or not isinstance(self.executor, LocalExecutor) \
                or not isinstance(record.get("pid"), int) or not isinstance(record.get("ticks"), int):
            return None
        return self.executor.follow(record["pid"], record["ticks"], record.get("started"),
                                    self._task(point, bool(record.get("resumed"))), self._outcome(point))

    def _attach(self, point: Point, total: int) -> bool:
        """Follow the point's process or Slurm job when an earlier run of the sweep left it running or
        queued; True when it did."""
        record = self.state.points.get(point.name, {})
        job_id = record.get("job_id")
        followed = self._follow(point, record)
        if followed is not None:
            self.running[point.name] = (followed, point, time.time())
            self.out(f"  {'follow':<7} [{point.index + 1}/{total}] {point.name} (process {followed.pid}, "
                     f"started by an earlier run of the sweep, still running)")
            return True
        if record.get("status") == RUNNING and job_id and isinstance(self.executor, SlurmExecutor) \
                and self.executor.alive(str(job_id)):
            handle = self.executor.attach(str(job_id), self._task(point, bool(record.get("resumed"))))
            self.running[point.name] = (handle, point, time.time())
            self.out(f"  {'attach':<7} [{point.index + 1}/{total}] {point.name} (Slurm job {job_id}, still queued)")
            return True
        return False

    def _start(self, batch: list[Point], total: int) -> None:
        """Start the points: one job array on Slurm when there are several, else one job (process) each."""
        if not batch:
            return
        resumes = [self.state.status(p.name) in (RUNNING, INTERRUPTED, FAILED) and _has_checkpoint(p.run_dir)
                   for p in batch]
        for point in batch:
            materialize(self.conf, point)
        tasks = [self._task(point, resume) for point, resume in zip(batch, resumes, strict=True)]
        with self._critical_section():
            handles: list[Any]
            if isinstance(self.executor, SlurmExecutor) and self.array and len(batch) > 1:
                handles = list(self.executor.start_array(tasks, self.sweep.name))
            else:
                handles = [self.executor.start(task) for task in tasks]
            for point, resume, handle in zip(batch, resumes, handles, strict=True):
                fields: dict[str, Any] = dict(index=point.index, varied=point.varied, run_dir=str(point.run_dir),
                                              status=RUNNING, started=time.time(), resumed=resume, returncode=None)
                if isinstance(self.executor, SlurmExecutor):
                    fields["job_id"] = self.executor.job_id(handle)
                else:  # a rerun after this runner died follows the process instead of starting it again
                    fields.update(pid=handle.pid, ticks=getattr(handle, "ticks", None))
                self.state.update(point.name, **fields)
                self.running[point.name] = (handle, point, time.time())
                verb = "resume" if resume else "start"
                job = f" (Slurm job {fields['job_id']})" if "job_id" in fields else ""
                self.out(f"  {verb:<7} [{point.index + 1}/{total}] {point.name}{job}")

    def _elapsed(self, name: str, handle: Any, t0: float) -> float:
        """This attempt's running time added to the point's earlier attempts."""
        began = self.executor.started_at(handle) or t0
        before = float(self.state.points.get(name, {}).get("elapsed_s") or 0.0)
        return before + max(0.0, time.time() - began)

    def _finish(self, name: str, rc: int, total: int) -> Point:
        handle, point, t0 = self.running.pop(name)
        self._waiting.pop(name, None)
        status = DONE if rc == 0 else FAILED
        self.counts[status] += 1
        elapsed = self._elapsed(name, handle, t0)
        self.state.update(name, status=status, returncode=rc, ended=time.time(), elapsed_s=elapsed)
        metric = results.metric_value(point.run_dir, self.sweep.metric)
        shown = f"{self.sweep.metric} {metric:.4f}" if metric is not None and rc == 0 else \
            f"exit {rc}, {self.executor.describe(handle)}"
        self.out(f"  {status:<7} [{point.index + 1}/{total}] {name}  {shown}  ({elapsed:.1f}s)")
        return point

    def _skip_done(self, point: Point, total: int) -> bool:
        """True (and counted as skipped) when the point's run already trained to the end."""
        status = self.state.status(point.name)
        record = self.state.points.get(point.name, {})
        if status == RUNNING and record.get("job_id") and isinstance(self.executor, SlurmExecutor) \
                and self.executor.alive(str(record["job_id"])):
            return False
        if status == RUNNING and isinstance(record.get("pid"), int) \
                and process_start(record["pid"]) == record.get("ticks"):
            return False  # still running: followed by _attach
        if not results.completed(point.run_dir, point.max_iters):
            return False
        if status != DONE:
            self.state.update(point.name, index=point.index, varied=point.varied, run_dir=str(point.run_dir),
                              status=DONE, returncode=0, note=f"found finished (state said {status})")
        self.counts["skipped"] += 1
        self.out(f"  {'skip':<7} [{point.index + 1}/{total}] {point.name} (done)")
        return True

    def _show_waiting(self, total: int) -> None:
        waiting = getattr(self.executor, "waiting", None)
        if waiting is None:
            return
        for name, (handle, point, _t0) in self.running.items():
            reason = waiting(handle)
            if reason != self._waiting.get(name) and reason:
                self.out(f"  {'pending':<7} [{point.index + 1}/{total}] {name}: {reason}")
            self._waiting[name] = reason

    # -- the loop
    def run(self, next_points: Callable[[int], list[Point]], total: int,
            on_done: Callable[[Point, int], None] | None = None) -> int:
        """Run points from ``next_points(free_slots)`` until it returns none and all finished.

        Returns 0 when every point succeeded, 1 when one failed, 130 on Ctrl+C.
        Raises SweepError, after stopping every point, when Slurm refuses a job or can never run one.
        """
        main = threading.current_thread() is threading.main_thread()
        old = {sig: signal.signal(sig, self._on_stop) for sig in (signal.SIGINT, signal.SIGTERM)} if main else {}
        queue: collections.deque[Point] = collections.deque()
        try:
            while True:
                batch: list[Point] = []
                while len(self.running) + len(batch) < self.jobs:
                    if not queue:
                        queue.extend(next_points(self.jobs - len(self.running) - len(batch)))
                    if not queue:
                        break
                    point = queue.popleft()
                    if self._skip_done(point, total):
                        if on_done:
                            on_done(point, 0)
                        continue
                    if not self._attach(point, total):
                        batch.append(point)
                self._start(batch, total)
                if not self.running and not queue:
                    break
                for name, (handle, _point, _t0) in list(self.running.items()):
                    rc = self.executor.poll(handle)
                    if rc is not None:
                        finished = self._finish(name, rc, total)
                        if on_done:
                            on_done(finished, rc)
                self._show_waiting(total)
                time.sleep(self.poll)
        except KeyboardInterrupt:
            self._stop_all(INTERRUPTED)
            self.out(f"sweep: interrupted; resume with: {resume_hint(self.sweep.path)}")
            return 130
        except SweepError:  # Slurm refused or can never run a point: the error line says it all
            self._stop_all(FAILED, quiet=True)
            raise
        finally:
            for sig, handler in old.items():
                signal.signal(sig, handler)
        return 1 if self.counts[FAILED] else 0

    def _stop_all(self, status: str, quiet: bool = False) -> None:
        """Stop every running point at once (a second Ctrl+C cannot cut this short) and record ``status``."""
        out = (lambda line: None) if quiet else self.out
        ignored = {sig: signal.signal(sig, signal.SIG_IGN) for sig in (signal.SIGINT, signal.SIGTERM)} \
            if threading.current_thread() is threading.main_thread() else {}
        try:
            out(f"sweep: stopping {len(self.running)} running point(s)...")
            self.executor.stop_all([handle for handle, _p, _t in self.running.values()])
            for name, (handle, _point, t0) in list(self.running.items()):
                self.state.update(name, status=status, ended=time.time(), elapsed_s=self._elapsed(name, handle, t0))
                out(f"  {'stopped':<7} {name}")
            self.running.clear()
        finally:
            for sig, handler in ignored.items():
                signal.signal(sig, handler)


def make_executor(name: str, conf: Configurator, state_dir: Path, cluster: str | None = None) -> Executor:
    """``local`` or ``slurm`` (submitit; ``cluster="local"`` runs its jobs locally, for tests)."""
    if name == "local":
        return LocalExecutor()
    if name == "slurm":
        try:
            import submitit  # noqa: F401
        except ImportError:
            raise SweepError("SWEEP_EXECUTOR=slurm needs submitit: pip install 'submitit==1.5.4'") from None
        params = slurm_parameters({sym: conf.value(sym) for sym in SLURM_SYMBOLS})
        return SlurmExecutor(state_dir / "submitit", params, cluster=cluster)
    raise SweepError(f"unknown SWEEP_EXECUTOR {name!r}: use local or slurm")


def configured_trackers() -> tuple[str, str] | None:
    """``(TRACKER value, where from)`` of the current ``.config``, or None without one: a sweep file that
    names no ``tracker:`` tracks its points where the user's own experiment is tracked."""
    try:
        cfg = kconf.load()
    except kconf.ConfigError as exc:
        raise SweepError(f"{exc} (a sweep without tracker: uses the trackers of the current .config)") from None
    if not cfg.recorded():
        return None
    names = [name for name, symbol in kconf.TRACKER_SYMBOLS.items() if getattr(cfg, symbol)]
    return ",".join(names) or "none", ".config"


def choose_trackers(tracker: str | None, sweep: Sweep) -> tuple[str | None, str]:
    """The TRACKER value of every point and where it came from: ``TRACKER=`` (or ``--tracker``), then the
    sweep file's ``tracker:``, then the current ``.config``; else the defconfig's own choice (None)."""
    if tracker:
        return tracker, "TRACKER="
    if sweep.tracker:
        return str(sweep.tracker), "tracker: in the sweep file"
    return configured_trackers() or (None, f"defconfig {sweep.defconfig}")


def run(path: str | os.PathLike[str], *, root: str | os.PathLike[str] | None = None, jobs: int | None = None,
        executor: str | None = None, extra: list[tuple[str, str]] | None = None, tracker: str | None = None,
        cluster: str | None = None, cwd: str | os.PathLike[str] | None = None,
        out: Callable[[str], None] = safe_print) -> int:
    """Run the sweep file at ``path``; returns the exit status (0, 1 if a point failed, 130 on Ctrl+C).

    ``jobs`` and ``executor`` override ``SWEEP_JOBS`` / ``SWEEP_EXECUTOR`` of
    the sweep's configuration; ``extra`` are ``SET=`` pairs for every point;
    ``cluster`` is passed to submitit (``"local"`` in tests). Raises
    SweepError, before anything is written, when a symbol, value or name is invalid.
    """
    sweep = load(path)
    root = Path(root or REPO_ROOT)
    cwd = Path(cwd or os.getcwd())
    tracker, tracker_source = choose_trackers(tracker, sweep)
    conf = Configurator(sweep, root, extra, tracker)
    if sweep.optuna is not None:
        from sweeps import guided

        planner = guided.Planner(sweep, conf, cwd)  # validates the whole search space
        points: list[Point] = []
        total = planner.trials
    else:
        points = plan(conf, expand(sweep), cwd)
        total = len(points)
        if not points:
            raise SweepError(f"{sweep.path}: no points: add symbols under vary:")
    conf.apply(points[0].varied if points else {}, points[0].name if points else "base")
    runs_dir, project = conf.runs_dir(cwd), conf.project
    name = executor or str(conf.value("SWEEP_EXECUTOR") or "local")
    ex = make_executor(name, conf, state_path(runs_dir, project, sweep.name).parent / sweep.name, cluster)
    state = State(state_path(runs_dir, project, sweep.name), sweep.name, project)
    state.data.update(file=str(sweep.path), metric=sweep.metric)
    state.save()
    threads: int | None
    array = name == "slurm" and sweep.optuna is None
    if array:  # every point at once as one array; Slurm runs JOBS= of its tasks at a time (--array=0-N%JOBS)
        n_jobs = 1 << 20
        if isinstance(ex, SlurmExecutor):
            ex.array_parallelism = jobs
        threads = int(conf.value("SLURM_CPUS_PER_TASK") or 1)
    elif name == "slurm":
        n_jobs = jobs or 1 << 20  # Slurm queues them: submit every point at once unless JOBS= caps it
        threads = int(conf.value("SLURM_CPUS_PER_TASK") or 1)
    else:
        n_jobs = jobs or int(conf.value("SWEEP_JOBS") or 1)
        threads = local_threads(n_jobs)
    enabled = [n for n, symbol in kconf.TRACKER_SYMBOLS.items() if conf.value(symbol)]
    out(f"sweep {sweep.name}: {total} point(s), project {project}, "
        f"trackers {','.join(enabled) or 'none'} (from {tracker_source}), executor {name}"
        + (f", {n_jobs} at a time" if name == "local" else "")
        + (f", one job array{f' ({jobs} at a time)' if jobs else ''}" if array else "") + f", state {state.path}")
    runner = Runner(sweep, conf, state, ex, n_jobs, root, cwd, out, threads=threads, array=array)
    if sweep.optuna is not None:
        rc = runner.run(lambda free: planner.next_points(free, state), total, planner.tell)
    else:
        pending = collections.deque(points)
        rc = runner.run(lambda free: [pending.popleft() for _ in range(min(free, len(pending)))], total)
    if rc != 130:
        c = runner.counts
        out(f"sweep {sweep.name}: {c[DONE]} done, {c['skipped']} skipped, {c[FAILED]} failed; "
            f"table: make sweep-summary SWEEP={sweep.path}")
    return rc


def open_state(path: str | os.PathLike[str], *, root: str | os.PathLike[str] | None = None,
               extra: list[tuple[str, str]] | None = None, tracker: str | None = None,
               cwd: str | os.PathLike[str] | None = None) -> tuple[Sweep, State]:
    """The sweep file at ``path`` and its state (found the way :func:`run` stores it)."""
    sweep = load(path)
    conf = Configurator(sweep, Path(root or REPO_ROOT), extra, tracker)
    points = expand(sweep) if sweep.optuna is None else []
    conf.apply(points[0] if points else {}, "base")
    cwd = Path(cwd or os.getcwd())
    state = State(state_path(conf.runs_dir(cwd), conf.project, sweep.name), sweep.name, conf.project)
    return sweep, state
