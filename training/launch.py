"""Start training for the configured model: ``python -m training.launch [--model M] [--dry-run] [ARGS...]``.

Builds the command from the configuration (``.config``, or what ``make
defconfig`` writes for ``defconfigs/default`` when there is none) and runs
it; ARGS go to the trainer unchanged, and so do the shell-quoted words of
``--trainer-args "ARGS"`` (how ``make train TRAIN_ARGS=...`` passes them).
One process: ``python <model>/train.py``. Several
(``DIST_NPROC_PER_NODE`` > 1): ``torchrun --standalone --nproc_per_node=N``.
Several machines (``DIST_NNODES`` > 1): ``torchrun --nnodes=M
--nproc_per_node=N --rdzv_backend=c10d --rdzv_endpoint=DIST_RDZV_ENDPOINT
--rdzv_id=ktrack --rdzv_conf=join_timeout=DIST_RDZV_TIMEOUT``, run the
same command on every machine (``KTRACK_NODE_NAME`` names each in the record). ``--slurm``
(``make train SLURM=1``): submit all that as one Slurm job instead
(:mod:`training.slurm_job`).

Every stop this process gets (SIGINT, SIGTERM, SIGHUP, SIGUSR1/2) goes to
the trainer, which finishes its tracked run; this process waits for it, and
the trainer dies with it (:func:`run_trainer`).
"""

from __future__ import annotations

import argparse
import os
import shlex
import shutil
import signal
import subprocess
import sys

if __package__ in (None, ""):
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import kconf
from kconf.errors import ConfigError
from ktrack.messages import fail, usage
from ktrack.process import die_with_parent, forward_stops
from training.settings import SettingsError, base_tree, repo_root

PROG = "training.launch"
MODELS = ("gpt2", "lenet5")


def torchrun() -> list[str]:
    """The torchrun beside this Python, else ``python -m torch.distributed.run``."""
    exe = os.path.join(os.path.dirname(sys.executable), "torchrun")
    if os.path.isfile(exe):
        return [exe]
    found = shutil.which("torchrun")
    return [found] if found else [sys.executable, "-m", "torch.distributed.run"]


def build_command(cfg: kconf.Source, model: str | None = None,
                  extra: list[str] | None = None) -> list[str]:
    """The argv that trains ``model`` (default ``cfg.MODEL``) as the configuration (see :func:`kconf.load`) asks."""
    cfg = kconf.load(cfg)
    model = model or cfg.MODEL
    if model not in MODELS:
        raise SettingsError(f"unknown model {model!r}: use {' or '.join(MODELS)}")
    script = os.path.join(repo_root(), model, "train.py")
    nproc, nnodes = cfg.DIST_NPROC_PER_NODE, cfg.DIST_NNODES
    if nproc == 1 and nnodes == 1:
        return [sys.executable, script, *(extra or [])]
    if nnodes > 1:
        endpoint = cfg.DIST_RDZV_ENDPOINT  # recorded whenever DIST_NNODES > 1
        if not endpoint:
            raise SettingsError("DIST_NNODES > 1 needs DIST_RDZV_ENDPOINT (host:port of the first machine)")
        head = [f"--nnodes={nnodes}", f"--nproc_per_node={nproc}", "--rdzv_backend=c10d",
                f"--rdzv_endpoint={endpoint}", "--rdzv_id=ktrack", "--max_restarts=0",
                f"--rdzv_conf=join_timeout={cfg.DIST_RDZV_TIMEOUT}"]
    else:
        head = ["--standalone", f"--nproc_per_node={nproc}"]
    return [*torchrun(), *head, script, *(extra or [])]


def launch_config() -> kconf.Config:
    """The configuration in use, or ``defconfigs/default``'s when there is none."""
    tree, _, _ = base_tree(None, "default")
    return kconf.load(tree)


def main(argv: list[str] | None = None) -> int:
    """Run the trainer the configuration asks for; return its exit status."""
    parser = argparse.ArgumentParser(prog=PROG, description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--model", choices=MODELS, help="model to train (default: MODEL from the config)")
    parser.add_argument("--dry-run", action="store_true", help="print the command, run nothing")
    parser.add_argument("--trainer-args", default="", metavar="ARGS",
                        help="more trainer arguments as one shell-quoted string (make's TRAIN_ARGS)")
    parser.add_argument("--slurm", action="store_true", help="submit the training as a Slurm job (make train SLURM=1)")
    parser.add_argument("--slurm-task", action="store_true", help=argparse.SUPPRESS)  # one process of that job
    parser.add_argument("--slurm-node", action="store_true", help=argparse.SUPPRESS)  # one node's torchrun of it
    args, extra = parser.parse_known_args(argv)
    try:
        extra = [*extra, *shlex.split(args.trainer_args)]
    except ValueError as exc:
        usage(PROG, f"cannot split TRAIN_ARGS={args.trainer_args!r}: {exc}; quote like TRAIN_ARGS='--set \"A=b c\"'")
    try:
        cfg = launch_config()
        if args.slurm or args.slurm_task or args.slurm_node:
            from training import slurm_job

            model = args.model or cfg.MODEL
            if args.slurm_task:
                return slurm_job.run_task(model, extra)
            if args.slurm_node:
                return slurm_job.run_node(model, extra)
            return slurm_job.submit(cfg, model, extra, args.dry_run)
        cmd = build_command(cfg, args.model, extra)
    except (SettingsError, ConfigError) as exc:
        fail(PROG, exc)
    print(shlex.join(cmd), flush=True)
    if args.dry_run:
        return 0
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (repo_root(), env.get("PYTHONPATH", "")) if p)
    return run_trainer(cmd, env)


def parent_is_make() -> bool:
    """Whether this process is a make recipe's (``make train``), not a sweep point's or a shell's.

    ``MAKELEVEL`` is no answer: make's environment reaches every process a
    recipe starts, and a sweep runner's points must outlive the runner.
    """
    try:
        with open(f"/proc/{os.getppid()}/comm", encoding="utf-8") as f:
            return f.read().strip() in ("make", "gmake")
    except OSError:
        return False


def run_trainer(cmd: list[str], env: dict[str, str]) -> int:
    """Run ``cmd`` until it ends, passing it every stop; its exit status (128+N when signal N ended it).

    Under make (``make train``), this process dies with make: a SIGHUP or
    SIGTERM to make's process alone reaches the trainer as SIGTERM. The
    trainer runs in a process group of its own, so a stop sent to make's
    group reaches it once, through here, and not the helpers it started (W&B's
    service) before it has handed them its rows; it dies with this process.
    """
    if parent_is_make():
        die_with_parent(signal.SIGTERM)
    child = subprocess.Popen(cmd, env=env, process_group=0, preexec_fn=die_with_parent)
    undo = forward_stops(child.pid)
    try:
        status = child.wait()
    finally:
        undo()
    return 128 - status if status < 0 else status


if __name__ == "__main__":
    sys.exit(main())
