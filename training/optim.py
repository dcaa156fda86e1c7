"""Optimizers and learning-rate schedules shared by the ktrack trainers."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import torch
import torch.nn as nn

OPTIMIZERS = ("adamw", "adam", "sgd")
SCHEDULES = ("cosine", "linear", "constant")


def param_groups(model: nn.Module, weight_decay: float) -> list[dict]:
    """Split parameters: 2-D and larger (matmuls, embeddings) decay; biases and norms don't.

    Tied weights appear once (``named_parameters`` de-duplicates them).
    """
    decay: list[nn.Parameter] = []
    no_decay: list[nn.Parameter] = []
    for _, p in model.named_parameters():
        if p.requires_grad:
            (decay if p.dim() >= 2 else no_decay).append(p)
    return [
        {"params": decay, "weight_decay": weight_decay},
        {"params": no_decay, "weight_decay": 0.0},
    ]


def build_optimizer(model: nn.Module, name: str, lr: float, weight_decay: float,
                    betas: tuple[float, float] | None = None, momentum: float | None = None,
                    fused: bool = False) -> torch.optim.Optimizer:
    """Make the optimizer named ``name`` (adamw, adam or sgd).

    adamw uses decoupled weight decay on the decay group only; adam and sgd
    apply ``weight_decay`` as L2 on the same group. ``betas`` is needed by
    adam and adamw, ``momentum`` by sgd (each comes from the configuration
    only when that optimizer is chosen). ``fused`` picks the fused CUDA kernel
    for adam/adamw.
    """
    groups = param_groups(model, weight_decay)
    name = name.lower()
    if name in ("adamw", "adam"):
        if betas is None:
            raise ValueError(f"{name} needs betas (ADAM_BETA1, ADAM_BETA2)")
        kind = torch.optim.AdamW if name == "adamw" else torch.optim.Adam
        return kind(groups, lr=lr, betas=betas, **({"fused": True} if fused else {}))
    if name == "sgd":
        if momentum is None:
            raise ValueError("sgd needs momentum (SGD_MOMENTUM)")
        return torch.optim.SGD(groups, lr=lr, momentum=momentum)
    raise ValueError(f"unknown optimizer {name!r}: use one of {', '.join(OPTIMIZERS)}")


def lr_at(it: int, *, lr: float, min_lr: float, warmup: int, max_iters: int, schedule: str) -> float:
    """Learning rate at iteration ``it`` (1-based): linear warm-up, then the schedule.

    After warm-up, ``cosine`` and ``linear`` go from ``lr`` down to ``min_lr`` at
    ``max_iters``; ``constant`` stays at ``lr``.
    """
    if warmup > 0 and it <= warmup:
        return lr * it / warmup
    if schedule == "constant" or max_iters <= warmup:
        return lr
    progress = min(1.0, (it - warmup) / max(1, max_iters - warmup))
    if schedule == "linear":
        return lr + (min_lr - lr) * progress
    if schedule == "cosine":
        return min_lr + 0.5 * (lr - min_lr) * (1.0 + math.cos(math.pi * progress))
    raise ValueError(f"unknown lr schedule {schedule!r}: use one of {', '.join(SCHEDULES)}")


def apply_lr(opt: torch.optim.Optimizer, it: int, settings: Mapping[str, Any]) -> float:
    """Set the configured schedule's learning rate for iteration ``it``; return it."""
    lr = lr_at(it, lr=settings["TRAIN_LEARNING_RATE"], min_lr=settings["TRAIN_MIN_LR"],
               warmup=settings["TRAIN_WARMUP_ITERS"], max_iters=settings["TRAIN_MAX_ITERS"],
               schedule=settings["TRAIN_LR_SCHEDULE"])
    set_lr(opt, lr)
    return lr


def set_lr(optimizer: torch.optim.Optimizer, lr: float) -> None:
    """Set the learning rate of every parameter group."""
    for group in optimizer.param_groups:
        group["lr"] = lr
