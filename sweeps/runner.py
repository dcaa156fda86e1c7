"""Running a sweep: validate every point, then run them, resumably.

``run(path)`` validates every point's overrides with kconfiglib (nothing runs
if one is wrong), writes each point's ``.config`` and ``params.yaml`` just
before it starts, runs the command with ``KCONFIG_CONFIG`` pointing at that
file, and records each point's status in the state file. A rerun skips
finished points and passes ``--resume <run dir>`` to interrupted ones that
left a checkpoint. Ctrl+C (or SIGTERM) stops the running points cleanly and
prints the command that resumes.
"""

from __future__ import annotations

import collections
import os
import shlex
import signal
import sys
import time
from pathlib import Path
from typing import Any, Callable

from kconf.tree import REPO_ROOT
from sweeps import results
from sweeps.errors import SweepError
from sweeps.executors import LocalExecutor, SubmititExecutor, Task, slurm_parameters
from sweeps.points import Configurator, Point, materialize, plan
from sweeps.spec import Sweep, expand, load
from sweeps.state import DONE, FAILED, INTERRUPTED, RUNNING, State, state_path

LOG_NAME = "sweep.log"


def command_argv(command: str, point: Point, resume: bool) -> list[str]:
    """The argv of ``command`` for ``point``.

    ``make train [TRAIN_ARGS=...]`` runs what it runs, ``python -m
    training.launch``, so parallel points never race regenerating the checkout's
    ``config.py``. ``python`` is this interpreter. ``{run_dir}``,
    ``{config}``, ``{params}`` are substituted; ``{resume}`` becomes
    ``--resume <run dir>`` when resuming (nothing otherwise); trainers
    started through ``training.launch`` get ``--resume`` without the placeholder.
    """
    try:
        words = shlex.split(command)
    except ValueError as exc:
        raise SweepError(f"cannot parse command {command!r}: {exc}") from None
    if not words:
        raise SweepError("the sweep command is empty; leave it out for 'make train'")
    resume_args = ["--resume", str(point.run_dir)] if resume else []
    if words[:2] == ["make", "train"]:
        extra: list[str] = []
        for word in words[2:]:
            key, _, value = word.partition("=")
            if key != "TRAIN_ARGS":
                raise SweepError(f"'make train' in a sweep takes only TRAIN_ARGS=..., not {word!r}")
            extra += shlex.split(value)
        return [sys.executable, "-m", "training.launch", *extra, *resume_args]
    if words[0] in ("python", "python3"):
        words[0] = sys.executable
    subs = {"{run_dir}": str(point.run_dir), "{config}": str(point.config_path), "{params}": str(point.params_path)}
    argv: list[str] = []
    for word in words:
        if word == "{resume}":
            argv += resume_args
            continue
        for key, value in subs.items():
            word = word.replace(key, value)
        argv.append(word)
    if "{resume}" not in words and any(w.endswith(("training.launch", "train.py")) for w in words):
        argv += resume_args
    return argv


def point_env(point: Point, sweep: Sweep, root: Path, resume: bool, jobs: int = 1) -> dict[str, str]:
    """The environment of a point's command: its config, params file, sweep group.

    With several local jobs at once each gets its share of the CPU cores as
    ``OMP_NUM_THREADS`` (unless set already), so parallel points do not fight
    over the same cores and run slower than one after the other.
    """
    env = dict(os.environ)
    if jobs > 1 and "OMP_NUM_THREADS" not in env:
        env["OMP_NUM_THREADS"] = str(max(1, (os.cpu_count() or 1) // jobs))
    env.update(KCONFIG_CONFIG=str(point.config_path), KTRACK_PARAMS=str(point.params_path),
               KTRACK_GROUP=sweep.name, KTRACK_SWEEP=sweep.name, KTRACK_RUN_DIR=str(point.run_dir),
               KTRACK_RESUME=str(point.run_dir) if resume else "")
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(root), env.get("PYTHONPATH", "")) if p)
    for name in ("TRACKER", "SET", "RANK", "LOCAL_RANK", "WORLD_SIZE"):
        env.pop(name, None)
    return env


def resume_hint(path: str | os.PathLike[str]) -> str:
    """The commands that continue an interrupted sweep."""
    return f"make sweep SWEEP={path}   (or: python -m sweeps run {path})"


def _has_checkpoint(run_dir: Path) -> bool:
    return (run_dir / "checkpoints" / "last.pt").is_file()


def _raise_stop(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt


class Runner:
    """Schedules points on an executor, at most ``jobs`` at a time, and records their state."""

    def __init__(self, sweep: Sweep, configurator: Configurator, state: State, executor: Any, jobs: int,
                 root: Path, cwd: Path, out: Callable[[str], None] = print, poll: float = 0.05) -> None:
        self.sweep, self.conf, self.state, self.executor = sweep, configurator, state, executor
        self.jobs, self.root, self.cwd, self.out, self.poll = max(1, jobs), root, cwd, out, poll
        # Points that share this machine's cores (Slurm jobs get their own).
        self.local_jobs = self.jobs if isinstance(executor, LocalExecutor) else 1
        self.running: dict[str, tuple[Any, Point, float]] = {}
        self.counts = collections.Counter()

    def _start(self, point: Point, total: int) -> None:
        status = self.state.status(point.name)
        resume = status in (RUNNING, INTERRUPTED, FAILED) and _has_checkpoint(point.run_dir)
        materialize(self.conf, point)
        task = Task(point.name, command_argv(self.sweep.command, point, resume),
                    point_env(point, self.sweep, self.root, resume, self.local_jobs), str(self.cwd), str(point.run_dir / LOG_NAME))
        handle = self.executor.start(task)
        self.running[point.name] = (handle, point, time.time())
        self.state.update(point.name, index=point.index, varied=point.varied, run_dir=str(point.run_dir),
                          status=RUNNING, started=time.time(), resumed=resume, returncode=None)
        verb = "resume" if resume else "start"
        self.out(f"  {verb:<7} [{point.index + 1}/{total}] {point.name}")

    def _finish(self, name: str, rc: int, total: int) -> Point:
        handle, point, t0 = self.running.pop(name)
        status = DONE if rc == 0 else FAILED
        self.counts[status] += 1
        self.state.update(name, status=status, returncode=rc, ended=time.time())
        metric = results.metric_value(point.run_dir, self.sweep.metric)
        shown = f"{self.sweep.metric} {metric:.4f}" if metric is not None else f"exit {rc}, log: {point.run_dir / LOG_NAME}"
        self.out(f"  {status:<7} [{point.index + 1}/{total}] {name}  {shown}  ({time.time() - t0:.1f}s)")
        return point

    def run(self, next_points: Callable[[int], list[Point]], total: int,
            on_done: Callable[[Point, int], None] | None = None) -> int:
        """Run points from ``next_points(free_slots)`` until it returns none and all finished.

        Returns 0 when every point succeeded, 1 when one failed, 130 on Ctrl+C.
        """
        old = signal.signal(signal.SIGTERM, _raise_stop) if _main_thread() else None
        queue: collections.deque[Point] = collections.deque()
        try:
            while True:
                while len(self.running) < self.jobs:
                    if not queue:
                        queue.extend(next_points(self.jobs - len(self.running)))
                    if not queue:
                        break
                    point = queue.popleft()
                    if self.state.status(point.name) == DONE and results.finished(point.run_dir):
                        self.counts["skipped"] += 1
                        self.out(f"  {'skip':<7} [{point.index + 1}/{total}] {point.name} (done)")
                        if on_done:
                            on_done(point, 0)
                        continue
                    self._start(point, total)
                if not self.running and not queue:
                    break
                for name, (handle, _point, _t0) in list(self.running.items()):
                    rc = self.executor.poll(handle)
                    if rc is not None:
                        finished = self._finish(name, rc, total)
                        if on_done:
                            on_done(finished, rc)
                time.sleep(self.poll)
        except KeyboardInterrupt:
            self._interrupt()
            return 130
        finally:
            if old is not None:
                signal.signal(signal.SIGTERM, old)
        return 1 if self.counts[FAILED] else 0

    def _interrupt(self) -> None:
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # a second Ctrl+C must not cut the clean-up short
        try:
            self.out(f"sweep: stopping {len(self.running)} running point(s)...")
            for name, (handle, point, _t0) in list(self.running.items()):
                self.executor.stop(handle)
                self.state.update(name, status=INTERRUPTED, ended=time.time())
                self.out(f"  {'stopped':<7} {name}")
            self.running.clear()
            self.out(f"sweep: interrupted; resume with: {resume_hint(self.sweep.path)}")
        finally:
            signal.signal(signal.SIGINT, signal.default_int_handler)


def _main_thread() -> bool:
    import threading

    return threading.current_thread() is threading.main_thread()


def make_executor(name: str, conf: Configurator, state_dir: Path, cluster: str | None = None) -> Any:
    """``local`` or ``slurm`` (submitit; ``cluster="local"`` runs its jobs locally, for tests)."""
    if name == "local":
        return LocalExecutor()
    if name == "slurm":
        try:
            import submitit  # noqa: F401
        except ImportError:
            raise SweepError("SWEEP_EXECUTOR=slurm needs submitit: pip install 'submitit==1.5.4'") from None
        cfg = {sym: conf.value(sym) for sym in ("SLURM_TIME_MIN", "SLURM_GPUS_PER_JOB", "SLURM_CPUS_PER_TASK",
                                                 "SLURM_MEM_GB", "SLURM_PARTITION", "SLURM_ACCOUNT")}
        params = slurm_parameters(type("Cfg", (), {k: v for k, v in cfg.items() if v is not None}))
        return SubmititExecutor(state_dir / "submitit", params, cluster=cluster)
    raise SweepError(f"unknown SWEEP_EXECUTOR {name!r}: use local or slurm")


def run(path: str | os.PathLike[str], *, root: str | os.PathLike[str] | None = None, jobs: int | None = None,
        executor: str | None = None, extra: list[tuple[str, str]] | None = None, tracker: str | None = None,
        cluster: str | None = None, cwd: str | os.PathLike[str] | None = None,
        out: Callable[[str], None] = print) -> int:
    """Run the sweep file at ``path``; returns the exit status (0, 1 if a point failed, 130 on Ctrl+C).

    ``jobs`` and ``executor`` override ``SWEEP_JOBS`` / ``SWEEP_EXECUTOR`` of
    the sweep's configuration; ``extra`` are ``SET=`` pairs for every point;
    ``cluster`` is passed to submitit (``"local"`` in tests). Raises
    SweepError, before anything runs, when a symbol or value is invalid.
    """
    sweep = load(path)
    root = Path(root or REPO_ROOT)
    cwd = Path(cwd or os.getcwd())
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
    state = State(state_path(runs_dir, project, sweep.name), sweep.name, project)
    state.data.update(file=str(sweep.path), metric=sweep.metric)
    state.save()
    name = executor or str(conf.value("SWEEP_EXECUTOR") or "local")
    n_jobs = jobs or int(conf.value("SWEEP_JOBS") or 1)
    if name == "slurm":
        n_jobs = jobs or 1 << 20  # Slurm queues them: submit every point at once unless JOBS= caps it
    ex = make_executor(name, conf, state.path.parent / sweep.name, cluster)
    out(f"sweep {sweep.name}: {total} point(s), project {project}, executor {name}"
        + (f", {n_jobs} at a time" if name == "local" else "") + f", state {state.path}")
    runner = Runner(sweep, conf, state, ex, n_jobs, root, cwd, out)
    if sweep.optuna is not None:
        rc = runner.run(lambda free: planner.next_points(free, state), total, planner.tell)
    else:
        pending = collections.deque(points)
        rc = runner.run(lambda free: [pending.popleft() for _ in range(min(free, len(pending)))], total)
    if rc != 130:
        c = runner.counts
        out(f"sweep {sweep.name}: {c[DONE]} done, {c['skipped']} skipped, {c[FAILED]} failed; "
            f"table: python -m sweeps summary {sweep.path}")
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
