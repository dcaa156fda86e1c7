"""Train LeNet-5 on scikit-learn's digits, tracked through ``trackers`` (seconds on a CPU).

The same settings, flags, checkpoints and loop as ``gpt2/train.py``; without
a ``.config`` it uses what ``make defconfig`` writes for ``defconfigs/lenet5-cpu``.
Accuracy is logged as ``train/accuracy`` and ``val/accuracy``. Under torchrun
(``DIST_NPROC_PER_NODE`` > 1) each process draws its own batches and DDP
averages the gradients, as for GPT-2.
"""

from __future__ import annotations

import os
import sys
from typing import Any

if __package__ in (None, ""):
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import torch
import torch.nn.functional as F

from ktrack import keys
from lenet5.data import load_digits
from lenet5.model import LeNet5
from training import runtime as rt
from training.checkpoint import resume
from training.job import Job, prepare, start_tracking
from training.loop import Loop
from training.settings import Settings

PROG = "lenet5/train.py"
DEFCONFIG = "lenet5-cpu"


def _validate(s: Settings) -> None:
    """LeNet-5 has no checks beyond the configuration's own."""


class LeNetHooks:
    """LeNet-5's parts of the shared loop: random mini-batches of the digits, accuracy."""

    def __init__(self, s: Settings, d: rt.Dist, model: Any, opt: Any, data: tuple[torch.Tensor, ...]) -> None:
        self.s, self.d, self.model, self.opt, self.device = s, d, model, opt, d.device
        self.xt, self.yt, self.xv, self.yv = data
        self.gen = torch.Generator().manual_seed(s["TRAIN_SEED"] + d.rank)
        self.correct, self.seen = 0, 0

    def step(self, it: int) -> float:
        bs = self.s["TRAIN_BATCH_SIZE"]
        idx = torch.randint(len(self.yt), (bs,), generator=self.gen)
        x, y = self.xt[idx].to(self.device), self.yt[idx].to(self.device)
        logits = self.model(x)
        loss = F.cross_entropy(logits, y)
        loss.backward()
        if self.s["TRAIN_GRAD_CLIP"] > 0:
            torch.nn.utils.clip_grad_norm_(self.model.parameters(), self.s["TRAIN_GRAD_CLIP"])
        self.opt.step()
        self.correct += int((logits.argmax(1) == y).sum())
        self.seen += bs
        return loss.item()

    @torch.no_grad()
    def evaluate(self) -> dict[str, float]:
        """Loss and accuracy on the whole validation set."""
        self.model.eval()
        logits = self.model(self.xv.to(self.device))
        self.model.train()
        loss = F.cross_entropy(logits, self.yv.to(self.device)).item()
        return {keys.VAL_LOSS: loss, "val/accuracy": (logits.argmax(1).cpu() == self.yv).float().mean().item()}

    def interval_metrics(self, iter_ms: float) -> tuple[dict[str, float], str]:
        metrics = {"train/accuracy": rt.mean_across(self.d, self.correct / max(1, self.seen)),
                   "samples_per_s": self.s["TRAIN_BATCH_SIZE"] * self.d.world / (iter_ms / 1000.0) if iter_ms else 0.0}
        self.correct, self.seen = 0, 0
        return metrics, ""

    def sampler_state(self) -> Any:
        """Every process's sampler state, by rank (every process takes part)."""
        states: list[Any] = [self.gen.get_state()]
        if self.d.enabled:
            states = [None] * self.d.world
            torch.distributed.all_gather_object(states, self.gen.get_state())
        return states


def main(argv: list[str] | None = None) -> int:
    """Train LeNet-5 as configured; return the exit status."""
    job, _ = prepare(PROG, "lenet5", DEFCONFIG, argv, (__doc__ or "").splitlines()[0], _validate)
    return train(job)


def train(job: Job) -> int:
    """The training loop (one process, or one of torchrun's)."""
    s = job.settings
    d = rt.setup_dist(s["TRAIN_DEVICE"], s["DIST_BACKEND"])
    rt.seed_all(s["TRAIN_SEED"])  # the same initial weights on every rank
    data = load_digits(s["DATASET_VAL_FRACTION"], s["TRAIN_SEED"])
    raw = LeNet5().to(d.device)
    opt, pruner = rt.build_optimizer_and_pruner(raw, s)
    model: Any = raw
    if d.enabled:
        model = torch.nn.parallel.DistributedDataParallel(
            raw, device_ids=[d.device.index] if d.device.type == "cuda" else None)
    hooks = LeNetHooks(s, d, model, opt, data)
    start_iter, best_val = resume(job.ckpt, raw, opt, pruner, d, hooks.gen, PROG)
    n_params = sum(p.numel() for p in raw.parameters())
    run, out = start_tracking(job, d, {"n_params": n_params, "world_size": d.world})
    if d.main:
        print(f"lenet5: {n_params:,} params, {d.world} process(es) on {d.device}, {len(hooks.yt)} train / "
              f"{len(hooks.yv)} val images, run {run.project}/{run.name}", flush=True)
    Loop(job, d, run, out, raw, opt, pruner, start_iter, best_val).run_loop(hooks)
    run.finish()
    rt.cleanup(d)
    return 0


if __name__ == "__main__":
    rt.exit_trainer(main())
