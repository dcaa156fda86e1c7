"""What the trainers share around the loop: processes, device, tracking,
checkpoints and the optional numerics hook.

Everything here warns and carries on when an optional part fails; only user
mistakes (reported by the caller as one line) stop a run.
"""

from __future__ import annotations

import contextlib
import math
import os
import random
import sys
import types
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

import numpy as np
import torch
import torch.distributed as dist

import trackers
from training.optim import build_optimizer
from training.prune import MagnitudePruner
from training.settings import fail


@dataclass
class Dist:
    """This process's place in the job."""

    rank: int = 0
    world: int = 1
    local_rank: int = 0
    device: torch.device = torch.device("cpu")

    @property
    def enabled(self) -> bool:
        return self.world > 1

    @property
    def main(self) -> bool:
        return self.rank == 0


def pick_device(setting: str, local_rank: int = 0) -> torch.device:
    """``auto`` prefers CUDA (this rank's GPU), then MPS, then CPU."""
    if setting == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda", local_rank % torch.cuda.device_count())
        if getattr(torch.backends, "mps", None) and torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    if setting == "cuda":
        return torch.device("cuda", local_rank)
    return torch.device(setting)


def setup_dist(device_setting: str, backend: str = "auto") -> Dist:
    """Join the torchrun job when ``WORLD_SIZE`` > 1 (NCCL on CUDA, gloo otherwise)."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    rank = int(os.environ.get("RANK", "0"))
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    device = pick_device(device_setting, local_rank)
    if device.type == "cuda":
        torch.cuda.set_device(device)
    if world > 1 and not dist.is_initialized():
        if backend == "auto":
            backend = "nccl" if device.type == "cuda" else "gloo"
        dist.init_process_group(backend=backend)
    return Dist(rank, world, local_rank, device)


def barrier(d: Dist) -> None:
    if d.enabled:
        dist.barrier()


def mean_across(d: Dist, value: float) -> float:
    """Average a scalar over all ranks (a no-op for one process)."""
    if not d.enabled:
        return value
    t = torch.tensor([value], dtype=torch.float64,
                     device=d.device if dist.get_backend() == "nccl" else "cpu")
    dist.all_reduce(t, op=dist.ReduceOp.SUM)
    return float(t.item()) / d.world


def cleanup(d: Dist) -> None:
    if d.enabled and dist.is_initialized():
        dist.destroy_process_group()


def pick_dtype(setting: str, device: torch.device) -> torch.dtype:
    """``auto``: bf16 on GPUs that have it, fp16 on older GPUs, fp32 elsewhere."""
    if setting == "auto":
        if device.type == "cuda":
            return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
        return torch.float32
    return {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}[setting]


def autocast(device: torch.device, dtype: torch.dtype):
    """Mixed-precision context (a no-op for fp32)."""
    if dtype == torch.float32:
        return contextlib.nullcontext()
    return torch.autocast(device_type=device.type, dtype=dtype)


def seed_all(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def rng_state(extra: dict | None = None) -> dict:
    state = {"python": random.getstate(), "numpy": np.random.get_state(),
             "torch": torch.get_rng_state()}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return {**state, **(extra or {})}


def set_rng_state(state: dict) -> None:
    with contextlib.suppress(Exception):
        random.setstate(state["python"])
        np.random.set_state(state["numpy"])
        torch.set_rng_state(state["torch"])
        if "cuda" in state and torch.cuda.is_available():
            torch.cuda.set_rng_state_all(state["cuda"])


def build_optimizer_and_pruner(model: torch.nn.Module, s: dict, fused: bool = False) -> tuple[Any, Any]:
    """The configured optimizer and, when ``PRUNING`` is "magnitude", its pruner (else None)."""
    opt = build_optimizer(model, s["OPTIMIZER"], s["TRAIN_LEARNING_RATE"], s["WEIGHT_DECAY"],
                          (s["ADAM_BETA1"], s["ADAM_BETA2"]), s["SGD_MOMENTUM"], fused=fused)
    pruner = None
    if s["PRUNING"] == "magnitude":
        pruner = MagnitudePruner(model, s["PRUNING_TARGET_SPARSITY"], s["PRUNING_START_ITER"],
                                 s["PRUNING_RAMP_ITERS"], s["PRUNING_INTERVAL"])
    return opt, pruner


def restore(ckpt: dict, model: torch.nn.Module, opt: Any, pruner: Any) -> tuple[int, float, Any]:
    """Load a checkpoint into model, optimizer and pruner and the global RNGs.

    Returns (iteration, best validation loss, the data sampler's saved RNG state or None).
    """
    model.load_state_dict(ckpt["model"])
    opt.load_state_dict(ckpt["optimizer"])
    if pruner and ckpt.get("pruner"):
        pruner.load_state_dict(ckpt["pruner"])
    set_rng_state(ckpt.get("rng", {}))
    return int(ckpt["iter"]), float(ckpt.get("best_val_loss", math.inf)), ckpt.get("rng", {}).get("data")


def start_tracking(prog: str, settings: dict, args: Any, cfg: types.SimpleNamespace, d: Dist,
                   ckpt: dict | None) -> tuple[Any, Path]:
    """Start the tracked run (``trackers.init``; rank 0 only gets real backends).

    On resume the checkpoint's project, run name and run directory are passed
    with ``resume="allow"`` so the backends append to the same run. A bad
    project/run name or tracker list is a user mistake: one error line, exit.
    Returns the run and its directory (``runs/<project>/<run>/``).
    """
    kwargs: dict[str, Any] = {"config": dict(settings), "args": args, "cfg": cfg, "rank": d.rank}
    if ckpt:
        kwargs.update(project=ckpt.get("project"), run_name=ckpt.get("run_name"),
                      resume="allow", run_dir=ckpt.get("run_dir"))
    try:
        run = trackers.init(**{k: v for k, v in kwargs.items() if v is not None})
    except ValueError as exc:
        cleanup(d)
        fail(prog, str(exc).removeprefix("trackers: "))
    return run, Path(run.dir)


def save_checkpoint(path: Path, state: dict) -> None:
    """Write atomically (temp file, then rename)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    torch.save(state, tmp)
    os.replace(tmp, path)


def save_training_checkpoint(name: str, it: int, *, model: torch.nn.Module, opt: Any, pruner: Any,
                             best_val: float, settings: dict, run: Any, out: Path, rng_data: Any,
                             **extra: Any) -> None:
    """Save ``<out>/checkpoints/<name>.pt`` with everything :func:`restore` and ``--resume`` need.

    A failed write is a warning: training goes on.
    """
    state = {"model": model.state_dict(), "optimizer": opt.state_dict(), "iter": it,
             "best_val_loss": best_val, "config": dict(settings), "rng": rng_state({"data": rng_data}),
             "project": run.project, "run_name": run.name, "run_dir": str(out),
             "pruner": pruner.state_dict() if pruner else None, **extra}
    try:
        save_checkpoint(out / "checkpoints" / f"{name}.pt", state)
    except OSError as exc:
        print(f"warning: checkpoint {name} not saved: {exc}", file=sys.stderr)


def find_checkpoint(spec: str, runs_dir: str, model: str, project: str | None = None) -> Path | None:
    """Resolve ``--resume``: a checkpoint file, a run folder, or ``last``
    (the newest ``checkpoints/last.pt`` for this model under ``runs_dir``)."""
    if spec != "last":
        p = Path(spec)
        if p.is_dir():
            for cand in (p / "checkpoints" / "last.pt", p / "last.pt"):
                if cand.is_file():
                    return cand
            return None
        return p if p.is_file() else None
    pattern = f"{project}/*/checkpoints/last.pt" if project else "*/*/checkpoints/last.pt"
    found = [p for p in Path(runs_dir).glob(pattern)
             if project or p.parts[-4].startswith(f"{model}-")]
    return max(found, key=lambda p: p.stat().st_mtime) if found else None


class _NoNumerics:
    def step(self, step: int | None = None) -> None:
        pass


@contextlib.contextmanager
def numerics_tracking(enabled: bool, model, optimizer, run, cfg, start_step: int = 0) -> Iterator[Any]:
    """``numerics.track(...)`` when enabled and importable; else a no-op with ``step()``.

    Call ``nt.step(it)`` after each optimizer step, before the gradients are zeroed.
    """
    if not enabled:
        yield _NoNumerics()
        return
    try:
        import numerics
        ctx = numerics.track(model, optimizer, run=run, cfg=cfg, start_step=start_step)
        nt = ctx.__enter__()
    except Exception as exc:  # noqa: BLE001 - never stop training for numerics
        print(f"warning: numerics tracking disabled: {exc}", file=sys.stderr)
        yield _NoNumerics()
        return
    try:
        yield _SafeStep(nt)
    finally:
        with contextlib.suppress(Exception):
            ctx.__exit__(*sys.exc_info())


class _SafeStep:
    """Calls the numerics tracker's ``step()``, warning once if it fails."""

    def __init__(self, nt: Any) -> None:
        self.nt, self.failed = nt, False

    def step(self, step: int | None = None) -> None:
        if self.failed:
            return
        try:
            self.nt.step(step)
        except Exception as exc:  # noqa: BLE001
            self.failed = True
            print(f"warning: numerics tracking stopped: {exc}", file=sys.stderr)
