"""What a point runs: its argv and its environment."""

from __future__ import annotations

import os
import shlex
import sys
from pathlib import Path

from sweeps.errors import SweepError
from sweeps.points import Point
from sweeps.spec import Sweep

#: Variables of the sweep's own command line that must not reach a point (make exports them).
_NOT_FOR_POINTS = ("TRACKER", "SET", "SWEEP", "JOBS", "SWEEP_EXECUTOR", "SLURM", "RANK", "LOCAL_RANK", "WORLD_SIZE")


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


def point_env(point: Point, sweep: Sweep, root: Path, resume: bool, threads: int | None = None) -> dict[str, str]:
    """The environment of a point's command: its config, params file, sweep group.

    ``threads`` is the point's share of CPU cores (local points run at the
    same time, or the CPUs a Slurm job asked for); it becomes
    ``OMP_NUM_THREADS`` unless that is set already, so points do not fight
    over the same cores.
    """
    env = dict(os.environ)
    if threads and "OMP_NUM_THREADS" not in env:
        env["OMP_NUM_THREADS"] = str(max(1, threads))
    env.update(KCONFIG_CONFIG=str(point.config_path), KTRACK_PARAMS=str(point.params_path),
               KTRACK_GROUP=sweep.name, KTRACK_SWEEP=sweep.name, KTRACK_RUN_DIR=str(point.run_dir),
               KTRACK_RESUME=str(point.run_dir) if resume else "")
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(root), env.get("PYTHONPATH", "")) if p)
    for name in _NOT_FOR_POINTS:
        env.pop(name, None)
    return env


def local_threads(jobs: int) -> int | None:
    """Each local point's share of this machine's cores when ``jobs`` run at once (None for one)."""
    return max(1, (os.cpu_count() or 1) // jobs) if jobs > 1 else None


def resume_hint(path: str | os.PathLike[str]) -> str:
    """The commands that continue an interrupted sweep."""
    return f"make sweep SWEEP={shlex.quote(str(path))}   (or: ktrack-sweep run {shlex.quote(str(path))})"
