"""``make train SLURM=1``: the configured training as one Slurm job.

:func:`submit` pins the run's project and name, snapshots the ``.config``
into ``runs/<project>/<run>/slurm/``, writes the job script there and submits
it with ``sbatch``. On one node the job starts ``DIST_NPROC_PER_NODE``
processes with ``srun``; each one (:func:`run_task`) takes its rank and world
size from Slurm's environment and joins torch.distributed with the first node
as the rendezvous host. On several (``DIST_NNODES`` > 1) ``srun`` starts one
task per node, and each runs ``torchrun`` for its node's processes
(:func:`run_node`), rendezvousing on the first node (c10d, ``--rdzv_id`` the
job id). Only rank 0 tracks, so the job is one tracked run.
With ``SLURM_REQUEUE`` Slurm warns the processes ``SLURM_SIGNAL_S`` seconds
before the time limit (``SIGUSR1``): they save a checkpoint and exit with
:data:`training.preempt.REQUEUE_EXIT`, the script requeues the job, and the
requeued job resumes from the checkpoint as the same run.
"""

from __future__ import annotations

import argparse
import os
import shlex
import shutil
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import kconf
from ktrack.runfolder import RunFolder
from training.preempt import ENV as STOP_ENV
from training.preempt import REQUEUE_EXIT
from training.settings import SettingsError, repo_root

SLURM_DIR = "slurm"
SCRIPT = "train.sbatch"
CONFIG = "job.config"
RUN_DIR_ENV = "KTRACK_SLURM_RUN_DIR"
NPROC_ENV = "KTRACK_SLURM_NPROC_PER_NODE"
RDZV_TIMEOUT_ENV = "KTRACK_SLURM_RDZV_TIMEOUT"
SYSFS_ENV = "KTRACK_SYSFS_ROOT"  # read by gpu.sysfs; may hold %n (see node_env)
#: Left in the run folder by rank 0 when it stops for a requeue: torchrun reports any worker's
#: exit as a failure, so a node's torchrun learns "requeue me" from this file.
REQUEUE_MARK = "requeue"


def request(cfg: kconf.Source) -> dict[str, Any]:
    """What the job asks Slurm for, from the ``DIST_*`` and ``SLURM_*`` options of ``cfg`` (see :func:`kconf.load`)."""
    cfg = kconf.load(cfg)
    return {"nodes": cfg.DIST_NNODES, "ntasks_per_node": cfg.DIST_NPROC_PER_NODE,
            "rdzv_timeout": cfg.DIST_RDZV_TIMEOUT,  # used with more than one node only
            "cpus_per_task": cfg.SLURM_CPUS_PER_TASK, "gpus_per_node": cfg.SLURM_GPUS_PER_NODE,
            "mem_gb": cfg.SLURM_MEM_GB, "time_min": cfg.SLURM_TIME_MIN, "partition": cfg.SLURM_PARTITION,
            "account": cfg.SLURM_ACCOUNT, "qos": cfg.SLURM_QOS,
            "requeue": bool(cfg.SLURM_REQUEUE and cfg.TRAIN_CHECKPOINT), "signal_s": cfg.SLURM_SIGNAL_S}


def _names(cfg: kconf.Config, extra: list[str]) -> tuple[str, str, Path]:
    """Project, run name and run folder, as the trainer will resolve them (the name is pinned here)."""
    from ktrack.names import BadName, check_project, check_run
    from trackers.settings import run_settings

    parser = argparse.ArgumentParser(add_help=False)
    for flag in ("--tracker-project", "--tracker-run-name", "--out-dir"):
        parser.add_argument(flag)
    args, _ = parser.parse_known_args(extra)
    if args.out_dir:
        cfg = cfg.replace(RUNS_DIR=args.out_dir)
    try:
        settings = run_settings(None, cfg=cfg, args=args)
        check_project(settings.project, settings.trackers)
        check_run(settings.name)
    except (BadName, ValueError) as exc:
        raise SettingsError(str(exc)) from None
    return settings.project, settings.name, Path(settings.run_dir).resolve()


def job_script(req: dict[str, Any], run_dir: Path, config: Path, argv: list[str], name: str) -> str:
    """The ``sbatch`` script: resources, log, requeue signal, rendezvous on the first node, ``srun``."""
    nodes = req["nodes"] > 1  # one task per node, each a torchrun for the node's processes
    tasks, cpus = (1, req["cpus_per_task"] * req["ntasks_per_node"]) if nodes else (req["ntasks_per_node"],
                                                                                    req["cpus_per_task"])
    opts = [f"--job-name={name}", f"--nodes={req['nodes']}", f"--ntasks-per-node={tasks}",
            f"--cpus-per-task={cpus}", f"--time={req['time_min']}",
            f"--output={run_dir / SLURM_DIR / 'slurm-%j.log'}", "--open-mode=append"]
    if req["gpus_per_node"]:
        opts.append(f"--gpus-per-node={req['gpus_per_node']}")
    if req["mem_gb"]:
        opts.append(f"--mem={req['mem_gb']}G")
    opts += [f"--{key}={req[key]}" for key in ("partition", "account", "qos") if req[key]]
    opts += ["--requeue", f"--signal=USR1@{req['signal_s']}"] if req["requeue"] else ["--no-requeue"]
    exports = {"KCONFIG_CONFIG": str(config), RUN_DIR_ENV: str(run_dir),
               "PYTHONPATH": os.pathsep.join(p for p in (repo_root(), os.environ.get("PYTHONPATH", "")) if p)}
    if req["requeue"]:
        exports[STOP_ENV] = "USR1"
    if nodes:
        exports.update({NPROC_ENV: str(req["ntasks_per_node"]), RDZV_TIMEOUT_ENV: str(req["rdzv_timeout"])})
        argv = [("--slurm-node" if a == "--slurm-task" else a) for a in argv]
    lines = ["#!/bin/bash", f"# ktrack training job for run {shlex.quote(str(run_dir))}; written by make train SLURM=1",
             *(f"#SBATCH {opt}" for opt in opts), "set -uo pipefail", f"cd {shlex.quote(os.getcwd())}",
             *(f"export {k}={shlex.quote(v)}" for k, v in exports.items()),
             'export OMP_NUM_THREADS="${OMP_NUM_THREADS:-${SLURM_CPUS_PER_TASK:-1}}"',
             'MASTER_NODE=$(scontrol show hostnames "$SLURM_JOB_NODELIST" | head -n 1)',
             # the first node's address, not its name: several nodes on one machine share 127.0.0.1
             # under names that do not resolve (scripts/slurm-local.sh); elsewhere it is the name
             'MASTER_ADDR=$(scontrol show node -o "$MASTER_NODE" | grep -o "NodeAddr=[^ ]*" | cut -d= -f2)',
             'export MASTER_ADDR="${MASTER_ADDR:-$MASTER_NODE}" MASTER_PORT=$((20000 + SLURM_JOB_ID % 20000))',
             'echo "ktrack: job $SLURM_JOB_ID (restart ${SLURM_RESTART_COUNT:-0}) on $SLURM_JOB_NODELIST,'
             ' rendezvous $MASTER_ADDR:$MASTER_PORT"',
             f"srun {shlex.join(argv)}", "rc=$?",
             f'if [ "$rc" -eq {REQUEUE_EXIT} ]; then',
             '  echo "ktrack: checkpoint saved; requeueing job $SLURM_JOB_ID"',
             '  scontrol requeue "$SLURM_JOB_ID" && exit 0', "fi", 'exit "$rc"', ""]
    return "\n".join(lines)


def submit(cfg: kconf.Config, model: str, extra: list[str], dry_run: bool = False) -> int:
    """Write the job script for the configured training and ``sbatch`` it; print job id, log and viewer."""
    if not dry_run and shutil.which("sbatch") is None:
        raise SettingsError("SLURM=1 needs Slurm's sbatch on PATH; on one machine: sudo scripts/slurm-local.sh up "
                            "(see docs/sweeps.md)")
    source = Path(os.environ.get("KCONFIG_CONFIG") or ".config")
    if not source.is_file():
        raise SettingsError(f"no {source}: run 'make defconfig' first; the job trains what it configures")
    project, name, run_dir = _names(cfg, extra)
    req = request(cfg)
    folder = run_dir / SLURM_DIR
    config = folder / CONFIG
    pinned = ["--tracker-project", project, "--tracker-run-name", name]
    argv = [sys.executable, "-m", "training.launch", "--slurm-task", "--model", model, *extra, *pinned]
    script = job_script(req, run_dir, config, argv, f"{project}/{name}"[:200])
    if dry_run:
        print(script)
        return 0
    try:
        folder.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, config)
        (folder / SCRIPT).write_text(script, encoding="utf-8")
    except OSError as exc:
        raise SettingsError(f"cannot write the job folder {folder}: {exc.strerror or exc}") from None
    what = (f"{req['nodes']} node(s) x {req['ntasks_per_node']} process(es), {req['cpus_per_task']} CPU(s) and "
            f"{req['gpus_per_node']} GPU(s) each, {req['time_min']} min")
    # --test-only: a request that no node can ever meet is refused now, not left pending forever
    for args in (["--test-only"], ["--parsable"]):
        out = subprocess.run(["sbatch", *args, str(folder / SCRIPT)], capture_output=True, text=True)
        if out.returncode != 0:
            errors = [line.split("error:", 1)[-1].strip() for line in out.stderr.splitlines() if line.strip()]
            raise SettingsError(f"Slurm refused the job ({what}): {'; '.join(dict.fromkeys(errors)) or 'sbatch failed'}"
                                "; change the SLURM_* options (make menuconfig, SET=) or DIST_*")
    job_id = out.stdout.strip().split(";")[0]
    print(f"Slurm job {job_id}: {req['nodes']} node(s) x {req['ntasks_per_node']} process(es), run {project}/{name}")
    print(f"  log:    {folder / f'slurm-{job_id}.log'}")
    print(f"  follow: trackio-view --project {shlex.quote(project)}   (squeue -j {job_id}; scancel {job_id})")
    return 0


def node_env(environ: dict[str, str]) -> dict[str, str]:
    """``environ`` with ``%n`` in ``KTRACK_SYSFS_ROOT`` replaced by the node's name (``SLURMD_NODENAME``),
    as in Slurm's own file names: one job script gives each node its own (fake) GPU tree."""
    env = dict(environ)
    if "%n" in env.get(SYSFS_ENV, "") and env.get("SLURMD_NODENAME"):
        env[SYSFS_ENV] = env[SYSFS_ENV].replace("%n", env["SLURMD_NODENAME"])
    return env


def task_env(environ: dict[str, str]) -> dict[str, str]:
    """torch.distributed's variables for one ``srun`` task, from Slurm's."""
    env = node_env(environ)
    env.update(RANK=environ.get("SLURM_PROCID", "0"), WORLD_SIZE=environ.get("SLURM_NTASKS", "1"),
               LOCAL_RANK=environ.get("SLURM_LOCALID", "0"), LOCAL_WORLD_SIZE=environ.get("SLURM_NTASKS_PER_NODE",
                                                                                          "1").split("(")[0],
               NODE_RANK=environ.get("SLURM_NODEID", "0"))
    env.setdefault("MASTER_ADDR", "127.0.0.1")
    env.setdefault("MASTER_PORT", "29500")
    return env


def _resume_args(environ: dict[str, str]) -> list[str]:
    """``--resume RUN_DIR`` for a requeued job whose run has a checkpoint, else []."""
    run_dir = environ.get(RUN_DIR_ENV, "")
    restarted = int(environ.get("SLURM_RESTART_COUNT", "0") or 0) > 0
    if restarted and run_dir and RunFolder(run_dir).checkpoint().is_file():
        return ["--resume", run_dir]
    return []


def node_command(model: str, extra: list[str], environ: dict[str, str]) -> list[str]:
    """The torchrun of one node of a multi-node job, from Slurm's and the job script's variables."""
    from training.launch import torchrun

    script = os.path.join(repo_root(), model, "train.py")
    endpoint = f"{environ.get('MASTER_ADDR', '127.0.0.1')}:{environ.get('MASTER_PORT', '29500')}"
    return [*torchrun(), f"--nnodes={environ.get('SLURM_JOB_NUM_NODES', environ.get('SLURM_NNODES', '1'))}",
            f"--nproc_per_node={environ.get(NPROC_ENV, '1')}", "--rdzv_backend=c10d",
            f"--rdzv_endpoint={endpoint}", f"--rdzv_id={environ.get('SLURM_JOB_ID', 'ktrack')}", "--max_restarts=0",
            f"--rdzv_conf=join_timeout={environ.get(RDZV_TIMEOUT_ENV, '600')}", script, *extra,
            *_resume_args(environ)]


def run_node(model: str, extra: list[str]) -> int:
    """One node of a multi-node job: its torchrun; :data:`REQUEUE_EXIT` when rank 0 stopped for a requeue."""
    env = node_env(dict(os.environ))
    env.pop("KTRACK_NODE_NAME", None)  # each node is named by Slurm (SLURMD_NODENAME)
    run_dir = env.get(RUN_DIR_ENV, "")
    mark = Path(run_dir) / SLURM_DIR / f"{REQUEUE_MARK}-{env.get('SLURM_JOB_ID', '')}" if run_dir else None
    if mark is not None:
        mark.unlink(missing_ok=True)
    # torchrun and its trainers ignore the warning until each trainer installs its handler
    signal.signal(signal.SIGUSR1, signal.SIG_IGN)
    rc = subprocess.call(node_command(model, extra, env), env=env)
    if rc != 0 and mark is not None and mark.exists():
        return REQUEUE_EXIT
    return rc


def requeue_mark(run_dir: Path) -> None:
    """Leave :data:`REQUEUE_MARK` for this job in ``run_dir/slurm`` (rank 0, stopping for a requeue)."""
    job = os.environ.get("SLURM_JOB_ID")
    if job:
        try:
            (Path(run_dir) / SLURM_DIR).mkdir(parents=True, exist_ok=True)
            (Path(run_dir) / SLURM_DIR / f"{REQUEUE_MARK}-{job}").touch()
        except OSError:
            pass


def run_task(model: str, extra: list[str]) -> int:
    """One process of the job: set rank and world from Slurm, resume after a requeue, exec the trainer."""
    script = os.path.join(repo_root(), model, "train.py")
    argv = [sys.executable, script, *extra, *_resume_args(dict(os.environ))]
    # ignored until the trainer installs its handler: an early warning must not kill the process
    signal.signal(signal.SIGUSR1, signal.SIG_IGN)
    os.execve(sys.executable, argv, task_env(dict(os.environ)))
    return 1  # not reached
