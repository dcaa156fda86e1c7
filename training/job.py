"""Starting a trainer: arguments, configuration, checks, checkpoint and tracking.

Every user mistake found here (a bad override, a device that is not there, a
run name that cannot be a folder, an unwritable run or data folder, a damaged
checkpoint) ends the trainer with one line, ``prog: error: ...``, exit 1,
before anything is written.
"""

from __future__ import annotations

import argparse
import os
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

import trackers
from kconf import TRACKER_SYMBOLS
from kconf.errors import ConfigError
from kconf.runs import save_run_config
from ktrack.messages import fail, warn
from ktrack.names import BadName, check_project, check_run
from ktrack.node import node_name
from trackers.nodes import NodeTail, NodeWriter
from trackers.settings import gpu_backends, gpu_interval
from training.checkpoint import find_checkpoint, load_checkpoint
from training.runtime import Dist, barrier, cleanup, gather_objects, share_from_main
from training.settings import Settings, SettingsError, add_arguments, configure_from_args

#: Exceptions that are user mistakes: their message is the whole story.
USER_ERRORS = (SettingsError, ConfigError, BadName)


@dataclass
class Job:
    """What a trainer starts with: its name, arguments, resolved settings, and the checkpoint to resume."""

    prog: str
    model: str
    args: argparse.Namespace
    settings: Settings
    ckpt: dict[str, Any] | None
    #: The node of each rank (from :func:`start_tracking`); more than one name makes a multi-node job.
    nodes: list[str] = field(default_factory=list)
    #: This node's GPU file writer (each node's local rank 0 of a multi-node job that logs GPUs).
    node_writer: NodeWriter | None = None

    @property
    def multi_node(self) -> bool:
        return len(set(self.nodes)) > 1


def check_device(setting: str) -> None:
    """Refuse a ``TRAIN_DEVICE`` torch cannot name, or CUDA where no GPU is usable."""
    if setting == "auto":
        return
    try:
        device = torch.device(setting)
    except (RuntimeError, ValueError):
        raise SettingsError(f"unknown device TRAIN_DEVICE={setting!r}: use auto, cpu, cuda, cuda:N or mps") from None
    if device.type == "cuda" and not torch.cuda.is_available():
        raise SettingsError(f"device {setting!r} asked for but no CUDA GPU is usable: use --device auto or cpu")


def check_writable_dir(path: str | os.PathLike[str], what: str) -> None:
    """Refuse a folder that cannot be created or written, without leaving anything behind.

    Probes the nearest folder that exists with a temporary directory (removed at once).
    """
    path = Path(path)
    probe = path.absolute()
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    if not probe.is_dir():
        raise SettingsError(f"{what} {path} cannot be created: {probe} is not a folder; choose another folder")
    try:
        Path(tempfile.mkdtemp(prefix=".ktrack-probe-", dir=probe)).rmdir()
    except OSError as exc:
        raise SettingsError(f"{what} {path} cannot be written ({exc.strerror} in {probe}); "
                            f"choose a writable folder") from None


def _check_names(settings: Settings, ckpt: dict[str, Any] | None) -> None:
    project = (ckpt or {}).get("project") or settings["TRACKER_PROJECT"]
    run = (ckpt or {}).get("run_name") or settings["TRACKER_RUN_NAME"]
    if project:
        check_project(project, [name for name, sym in TRACKER_SYMBOLS.items() if settings.optional(sym)])
    if run:
        check_run(run)


def prepare(prog: str, model: str, defconfig: str, argv: list[str] | None, description: str,
            validate: Callable[[Settings], Any]) -> tuple[Job, Any]:
    """Parse the command line, resolve and check the configuration, load the checkpoint to resume.

    ``validate`` does the model's own checks and returns what the trainer
    needs from them (GPT-2: its data spec); it raises SettingsError.
    Returns the job and ``validate``'s answer; any mistake ends here with one line.
    """
    parser = argparse.ArgumentParser(prog=prog, description=description)
    add_arguments(parser)
    args = parser.parse_args(argv)
    try:
        settings, notice = configure_from_args(args, model, defconfig)
        if settings["MODEL"] != model:
            raise SettingsError(f"{prog} trains {model}, but the configuration asks for MODEL={settings['MODEL']}: "
                                f"use {settings['MODEL']}/train.py or make train")
        if notice and os.environ.get("RANK", "0") == "0":
            print(f"{prog}: {notice}", flush=True)
        check_device(settings["TRAIN_DEVICE"])
        checked = validate(settings)
        ckpt = None
        if args.resume:
            path = find_checkpoint(args.resume, settings["RUNS_DIR"], model, args.tracker_project)
            if path is None:
                raise SettingsError(f"no checkpoint to resume from at {args.resume!r}: "
                                    "give a run folder or its checkpoints/last.pt")
            ckpt = load_checkpoint(path)
        _check_names(settings, ckpt)
        check_writable_dir(Path(ckpt["run_dir"]) if ckpt and ckpt.get("run_dir") else settings["RUNS_DIR"],
                           "run folder" if ckpt else "RUNS_DIR")
    except USER_ERRORS as exc:
        fail(prog, exc)
    return Job(prog, model, args, settings, ckpt), checked


def start_tracking(job: Job, d: Dist, extra: dict[str, Any]) -> tuple[Any, Path]:
    """Start the tracked run and record its configuration; return the run and its folder.

    The trackers get every resolved value once (``{SYMBOL: value}``) plus
    ``extra`` (``n_params``, ``world_size``). On resume the checkpoint's
    project, run name and folder are passed with ``resume="allow"`` so the
    backends append to the same run, rewound to the checkpoint's iteration:
    rows logged after it (a kill between checkpoints) are replaced by the
    steps trained again. Then rank 0 writes the effective
    ``.config`` and its ``defconfig`` into the run folder (a failed write is a
    warning). A folder that cannot be created is one error line.

    Every rank learns each rank's node (:attr:`Job.nodes`) and rank 0's run
    folder, once. In a multi-node job rank 0 does not sample GPUs itself:
    each node's local rank 0 writes its own GPU file and rank 0's run reads
    them all (:mod:`trackers.nodes`).
    """
    job.nodes = gather_objects(d, node_name())
    config = {**job.settings.symbols, **extra}
    kwargs: dict[str, Any] = {"config": config, "args": job.args, "cfg": job.settings.cfg, "rank": d.rank}
    log_gpu = job.settings.cfg.TRACKER_LOG_GPU
    if job.multi_node:  # every node's local rank 0 samples its own GPUs; rank 0's run reads them all
        config["nodes"] = ",".join(dict.fromkeys(job.nodes))
        kwargs["log_gpu"] = False
    if job.ckpt:
        kwargs.update(project=job.ckpt.get("project"), run_name=job.ckpt.get("run_name"),
                      resume="allow", run_dir=job.ckpt.get("run_dir"), rewind_to=int(job.ckpt["iter"]))
    try:
        run = trackers.init(**{k: v for k, v in kwargs.items() if v is not None})
    except (ValueError, OSError) as exc:
        cleanup(d)
        if isinstance(exc, OSError):
            fail(job.prog, f"cannot create the run folder {exc.filename or ''}: {exc.strerror}; "
                           f"choose a writable --out-dir (RUNS_DIR)")
        fail(job.prog, exc)
    out = Path(share_from_main(d, str(run.dir)))  # a default run name holds rank 0's start time
    if job.multi_node:
        _follow_nodes(job, d, run, out, log_gpu)
    if d.main:
        try:
            save_run_config(job.settings.tree, out, f"{run.project}/{run.name}")
        except ConfigError as exc:
            warn(job.prog, f"the run's .config was not saved: {exc}", key="run-config")
    return run, out


def _follow_nodes(job: Job, d: Dist, run: Any, out: Path, log_gpu: bool) -> None:
    """Start this node's GPU file (local rank 0) and, on rank 0, the reader of every node's file."""
    cfg = job.settings.cfg
    interval = gpu_interval(cfg)
    if log_gpu and d.local_rank == 0:
        backends = gpu_backends(cfg)
        try:
            job.node_writer = NodeWriter(out, job.nodes[d.rank], interval, backends).start()
        except Exception as exc:  # noqa: BLE001 - a broken sampler must not stop training
            warn(job.prog, f"node {job.nodes[d.rank]}: the GPU sampler failed ({exc}); its GPUs are not logged",
                 key="node-writer")
    if log_gpu and d.main:
        run.follow_nodes(NodeTail(out / "nodes", list(dict.fromkeys(job.nodes)), interval), job.node_writer)


def finish_tracking(job: Job, d: Dist, run: Any) -> None:
    """End the run: each node closes its GPU file, all wait for that, then rank 0 reads the last lines and finishes.

    The barrier is the only wait on other nodes, and only after training; a
    dead node fails it at once (the process group notices the closed
    connection), so rank 0 still finishes, reporting that node as quiet.
    """
    if job.node_writer is not None:
        job.node_writer.close()
    if job.multi_node:
        try:
            barrier(d)
        except Exception as exc:  # noqa: BLE001 - a node gone: finish with what arrived
            warn(job.prog, f"not every node reached the end of training ({exc}); the run finishes without them",
                 key="finish-barrier")
    run.finish()
