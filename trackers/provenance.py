"""Where a run came from: code version, command, machine and library versions.

:func:`collect` returns a flat dict stored in ``config.json`` (``provenance``)
and in each tracker's config where it fits. When the git work tree has
uncommitted changes to tracked files, ``git diff HEAD`` is saved beside it
(``git.diff``, or ``git-<time>.diff`` when a resumed part finds one there).
"""

from __future__ import annotations

import importlib.metadata
import os
import platform
import shlex
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from ktrack.fs import network_fs
from ktrack.node import node_name

PACKAGES = ("ktrack", "torch", "trackio", "wandb", "tensorboard", "kconfiglib")
#: Recorded when this process has imported them (a Hugging Face run, say).
WHEN_IMPORTED = ("transformers", "accelerate", "peft")
DIFF_NAME = "git.diff"
_GIT_TIMEOUT_S = 20


def _git(*args: str, cwd: Path) -> str | None:
    try:
        out = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, timeout=_GIT_TIMEOUT_S,
                             check=False)
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout if out.returncode == 0 else None


def git_state(run_dir: Path, cwd: Path | None = None) -> dict[str, Any]:
    """``git_commit`` and ``git_dirty`` of the tree holding ``cwd``; the diff file when dirty ({} outside git)."""
    cwd = Path.cwd() if cwd is None else cwd
    commit = _git("rev-parse", "HEAD", cwd=cwd)
    if commit is None:
        return {}
    out: dict[str, Any] = {"git_commit": commit.strip()}
    status = _git("status", "--porcelain", "--untracked-files=no", cwd=cwd)
    out["git_dirty"] = bool(status and status.strip())
    if out["git_dirty"]:
        diff = _git("diff", "HEAD", cwd=cwd) or ""
        path = run_dir / DIFF_NAME
        if path.exists() and path.read_text(errors="replace") != diff:
            path = run_dir / f"git-{time.strftime('%Y%m%d_%H%M%S')}.diff"
        tmp = path.with_name(path.name + ".tmp")
        try:  # whole or not at all: a full disk leaves no half diff behind
            tmp.write_text(diff)
            os.replace(tmp, path)
            out["git_diff"] = path.name
        except OSError:
            tmp.unlink(missing_ok=True)
    return out


def _version(name: str) -> str | None:
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return None


def _accelerator() -> dict[str, Any]:
    """CUDA/ROCm and driver versions, only when torch is already loaded and sees a GPU."""
    torch = sys.modules.get("torch")
    try:
        if torch is None or not torch.cuda.is_available():
            return {}
        out: dict[str, Any] = {"cuda": torch.version.cuda, "hip": getattr(torch.version, "hip", None)}
        from gpu import nvml

        driver = nvml.query("nvmlSystemGetDriverVersion")
        out["gpu_driver"] = driver.decode() if isinstance(driver, bytes) else driver
    except Exception:  # noqa: BLE001 - provenance is best effort; the run goes on without it
        return {}
    return {k: v for k, v in out.items() if v}


def world_size(given: int | None = None) -> int:
    """``given``, else env ``WORLD_SIZE``, else torch.distributed's, else 1."""
    if given is not None:
        return int(given)
    env = os.environ.get("WORLD_SIZE", "")
    if env.isdigit():
        return int(env)
    dist = sys.modules.get("torch.distributed")
    try:
        if dist is not None and dist.is_available() and dist.is_initialized():
            return int(dist.get_world_size())
    except Exception:  # noqa: BLE001 - no process group: one process
        pass
    return 1


#: Slurm's job variables -> provenance keys (set in every process of a job, login-node runs have none).
SLURM_ENV = (("SLURM_JOB_ID", "slurm_job_id"), ("SLURM_ARRAY_JOB_ID", "slurm_array_job_id"),
             ("SLURM_ARRAY_TASK_ID", "slurm_array_task_id"), ("SLURM_JOB_NODELIST", "slurm_nodelist"),
             ("SLURM_JOB_PARTITION", "slurm_partition"), ("SLURM_JOB_ACCOUNT", "slurm_account"),
             ("SLURM_JOB_NUM_NODES", "slurm_nodes"), ("SLURM_RESTART_COUNT", "slurm_restart_count"))
_SLURM_TIMEOUT_S = 5


def _run(*argv: str) -> str | None:
    try:
        out = subprocess.run(argv, capture_output=True, text=True, timeout=_SLURM_TIMEOUT_S, check=False)
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout if out.returncode == 0 else None


def slurm(environ: dict[str, str] | None = None) -> dict[str, Any]:
    """The Slurm job this process belongs to ({} outside one): ids, array task, nodes, partition,
    account, time limit (``squeue %l``) and the batch script (``scontrol write batch_script``).

    The script is asked of Slurm (it keeps the one submitted); a job started
    by ``make train SLURM=1`` also has it as ``slurm/train.sbatch`` in the run folder.
    """
    env = os.environ if environ is None else environ
    job = env.get("SLURM_JOB_ID")
    if not job:
        return {}
    out: dict[str, Any] = {key: env[var] for var, key in SLURM_ENV if env.get(var)}
    limit = env.get("SLURM_JOB_TIME_LIMIT") or (_run("squeue", "-h", "-j", job, "-o", "%l") or "").strip()
    if limit:
        out["slurm_time_limit"] = limit
    script = _run("scontrol", "write", "batch_script", job, "-")
    if script is None and env.get("KTRACK_SLURM_RUN_DIR"):
        try:
            script = (Path(env["KTRACK_SLURM_RUN_DIR"]) / "slurm" / "train.sbatch").read_text(errors="replace")
        except OSError:
            script = None
    if script:
        out["slurm_script"] = script
    return out


def launch_command() -> str:
    """This process's command line, as typed (``sys.orig_argv``: ``python -u train.py ...``)."""
    return shlex.join(getattr(sys, "orig_argv", sys.argv))


def collect(run_dir: Path, *, world: int | None = None, cwd: Path | None = None) -> dict[str, Any]:
    """Provenance of this process for a run in ``run_dir`` (which must exist)."""
    out: dict[str, Any] = git_state(Path(run_dir), cwd)
    out.update(command=launch_command(), host=socket.gethostname(), node=node_name(),
               world_size=world_size(world), python=platform.python_version())
    for name in PACKAGES + tuple(n for n in WHEN_IMPORTED if n in sys.modules):
        version = _version(name)
        if version:
            out[name] = version
    out.update(_accelerator())
    out.update(slurm())
    fs = network_fs(run_dir)
    if fs:
        out["run_dir_filesystem"] = fs
    return out
