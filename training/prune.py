"""Magnitude pruning on a schedule, with masks kept applied after every step."""

from __future__ import annotations

import torch
import torch.nn as nn


def prunable(model: nn.Module) -> dict[str, nn.Parameter]:
    """Weights of ``nn.Linear`` and ``nn.Conv*`` layers (embeddings and norms are left dense).

    A weight shared by several modules (GPT-2's tied ``lm_head``) is left out,
    since pruning it would prune the embedding.
    """
    embeds = {id(m.weight) for m in model.modules() if isinstance(m, nn.Embedding)}
    out: dict[str, nn.Parameter] = {}
    seen: set[int] = set()
    for name, mod in model.named_modules():
        if isinstance(mod, (nn.Linear, nn.Conv1d, nn.Conv2d)):
            w = mod.weight
            if not isinstance(w, nn.Parameter) or id(w) in embeds or id(w) in seen:
                continue
            seen.add(id(w))
            out[f"{name}.weight"] = w
    return out


class MagnitudePruner:
    """Zero the smallest-magnitude weights of each prunable layer.

    The target sparsity rises linearly from 0 at ``start_iter`` to ``target``
    at ``start_iter + ramp_iters``; masks are recomputed every ``interval``
    iterations in that window (and once at its end), and ``apply()`` must be
    called after each optimizer step to keep pruned weights at zero.
    """

    def __init__(self, model: nn.Module, target: float, start_iter: int, ramp_iters: int, interval: int) -> None:
        if not 0.0 <= target < 1.0:
            raise ValueError(f"target sparsity {target} must be in [0, 1)")
        self.params = prunable(model)
        self.target = target
        self.start_iter = start_iter
        self.ramp_iters = max(0, ramp_iters)
        self.interval = max(1, interval)
        self.masks: dict[str, torch.Tensor] = {}
        self.current = 0.0

    def scheduled(self, it: int) -> float:
        """Sparsity the schedule asks for at iteration ``it``."""
        if it < self.start_iter:
            return 0.0
        if self.ramp_iters == 0:
            return self.target
        return self.target * min(1.0, (it - self.start_iter) / self.ramp_iters)

    @torch.no_grad()
    def update(self, it: int) -> bool:
        """Recompute masks if the schedule says so at ``it``; return whether it did."""
        if it < self.start_iter:
            return False
        end = self.start_iter + self.ramp_iters
        due = (it - self.start_iter) % self.interval == 0 or it == end
        if not due or it > end and self.current >= self.target:
            return False
        level = self.scheduled(it)
        if level <= self.current and self.masks:
            return False
        for name, w in self.params.items():
            k = int(level * w.numel())
            if k == 0:
                continue
            thresh = w.detach().abs().flatten().float().kthvalue(k).values
            self.masks[name] = (w.detach().abs() > thresh).to(w.dtype)
        self.current = level
        self.apply()
        return True

    @torch.no_grad()
    def apply(self) -> None:
        """Multiply every pruned weight by its mask."""
        for name, mask in self.masks.items():
            self.params[name].mul_(mask)

    @torch.no_grad()
    def sparsity(self) -> float:
        """Real fraction of exact zeros across the prunable weights."""
        total = sum(w.numel() for w in self.params.values())
        zeros = sum(int((w == 0).sum()) for w in self.params.values())
        return zeros / total if total else 0.0

    def state_dict(self) -> dict:
        return {"masks": {k: v.cpu() for k, v in self.masks.items()}, "current": self.current}

    def load_state_dict(self, state: dict) -> None:
        self.current = float(state.get("current", 0.0))
        self.masks = {k: v.to(self.params[k].device) for k, v in state.get("masks", {}).items()
                      if k in self.params}


def model_sparsity(model: nn.Module) -> float:
    """Fraction of exact zeros in the prunable weights, with no pruner."""
    params = prunable(model).values()
    total = sum(w.numel() for w in params)
    return sum(int((w == 0).sum()) for w in params) / total if total else 0.0
