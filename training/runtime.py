"""What the trainers share around the loop: processes, device, precision, RNGs,
the optimizer and pruner, and the optional numerics hook.

Everything here warns and carries on when an optional part fails; only user
mistakes (reported by the caller as one line) stop a run.
"""

from __future__ import annotations

import contextlib
import os
import random
import sys
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any, NoReturn

import numpy as np
import torch
import torch.distributed as dist

from ktrack.messages import warn
from training.optim import build_optimizer
from training.prune import MagnitudePruner


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


def setup_dist(device_setting: str, backend: str) -> Dist:
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


def gather_across(d: Dist, value: float) -> list[float]:
    """``value`` of every rank, in rank order (one small all_gather; ``[value]`` for one process)."""
    if not d.enabled:
        return [value]
    device = d.device if dist.get_backend() == "nccl" else "cpu"
    mine = torch.tensor([value], dtype=torch.float64, device=device)
    out = [torch.zeros_like(mine) for _ in range(d.world)]
    dist.all_gather(out, mine)
    return [float(t.item()) for t in out]


def gather_objects(d: Dist, value: Any) -> list[Any]:
    """``value`` of every rank, in rank order (once per run, not per step)."""
    if not d.enabled:
        return [value]
    out: list[Any] = [None] * d.world
    dist.all_gather_object(out, value)
    return out


def share_from_main(d: Dist, value: Any) -> Any:
    """Rank 0's ``value`` on every rank."""
    if not d.enabled:
        return value
    box = [value]
    dist.broadcast_object_list(box, src=0)
    return box[0]


def exit_trainer(code: int) -> NoReturn:
    """End a trainer with ``code``. A rank other than 0 of a distributed job leaves at once (``os._exit``
    after flushing its output): it tracks nothing, and the C++ teardown of torch's process-group threads at
    interpreter exit can abort it ("terminate called without an active exception") after it finished
    training, which turns a finished srun or torchrun task into a failed one."""
    if int(os.environ.get("WORLD_SIZE", "1")) > 1 and int(os.environ.get("RANK", "0")) != 0:
        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()
            except (OSError, ValueError):  # closed, or a broken pipe: nothing left to say
                pass
        os._exit(code)
    sys.exit(code)


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


def build_optimizer_and_pruner(model: torch.nn.Module, s: Mapping[str, Any], fused: bool = False
                               ) -> tuple[Any, Any]:
    """The configured optimizer and, when ``PRUNING`` is "magnitude", its pruner (else None).

    Reads only the symbols the configured optimizer has (betas for Adam and
    AdamW, momentum for SGD): the others are off in the configuration.
    """
    name = s["OPTIMIZER"]
    betas = (s["ADAM_BETA1"], s["ADAM_BETA2"]) if name in ("adam", "adamw") else None
    momentum = s["SGD_MOMENTUM"] if name == "sgd" else None
    opt = build_optimizer(model, name, s["TRAIN_LEARNING_RATE"], s["WEIGHT_DECAY"], betas, momentum, fused=fused)
    pruner = None
    if s["PRUNING"] == "magnitude":
        pruner = MagnitudePruner(model, s["PRUNING_TARGET_SPARSITY"], s["PRUNING_START_ITER"],
                                 s["PRUNING_RAMP_ITERS"], s["PRUNING_INTERVAL"])
    return opt, pruner


class _NoNumerics:
    def step(self, step: int | None = None) -> None:
        pass


@contextlib.contextmanager
def numerics_tracking(prog: str, enabled: bool, model: torch.nn.Module, optimizer: Any, run: Any, cfg: Any,
                      start_step: int) -> Iterator[Any]:
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
        warn(prog, f"numerics tracking disabled: {exc}; training goes on", key="numerics-start")
        yield _NoNumerics()
        return
    try:
        yield _SafeStep(prog, nt)
    finally:
        with contextlib.suppress(Exception):
            ctx.__exit__(*sys.exc_info())


class _SafeStep:
    """Calls the numerics tracker's ``step()``, warning once if it fails."""

    def __init__(self, prog: str, nt: Any) -> None:
        self.prog, self.nt, self.failed = prog, nt, False

    def step(self, step: int | None = None) -> None:
        if self.failed:
            return
        try:
            self.nt.step(step)
        except Exception as exc:  # noqa: BLE001 - never stop training for numerics
            self.failed = True
            warn(self.prog, f"numerics tracking stopped: {exc}; training goes on", key="numerics-step")
