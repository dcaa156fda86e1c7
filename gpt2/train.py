"""Train the ktrack GPT-2 on the configured corpus, tracked through ``trackers``.

Settings come from the Kconfig configuration with the command line's
overrides (:mod:`training.settings`); without a ``.config`` it uses what
``make defconfig`` writes for ``defconfigs/default``. Run directly
(``python gpt2/train.py``), or under torchrun for several processes
(``python -m training.launch`` builds that command from the config).
"""

from __future__ import annotations

import contextlib
import os
import sys
from typing import Any

if __package__ in (None, ""):  # run as a script: make the repo importable
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import torch

from gpt2 import data as gdata
from gpt2.model import GPT, GPTConfig
from ktrack import keys
from ktrack.messages import fail, warn
from training import runtime as rt
from training.checkpoint import resume
from training.job import Job, finish_tracking, prepare, start_tracking
from training.loop import Loop
from training.settings import Settings, SettingsError

PROG = "gpt2/train.py"
DEFCONFIG = "default"


def _validate(s: Settings) -> gdata.DataSpec:
    """GPT-2's own checks across symbols; returns the data spec."""
    if s["GPT2_N_EMBD"] % s["GPT2_N_HEAD"]:
        raise SettingsError(f"GPT2_N_EMBD={s['GPT2_N_EMBD']} must be a multiple of GPT2_N_HEAD={s['GPT2_N_HEAD']}")
    spec = gdata.spec_from(s)
    try:
        gdata.check_spec(spec)
    except gdata.DataError as exc:
        raise SettingsError(str(exc)) from None
    if spec.max_tokens and spec.max_tokens * min(spec.val_fraction, 1 - spec.val_fraction) <= s["GPT2_BLOCK_SIZE"] + 1:
        raise SettingsError(f"GPT2_BLOCK_SIZE={s['GPT2_BLOCK_SIZE']} is larger than the validation split of "
                            f"DATASET_MAX_TOKENS={spec.max_tokens}: lower the block size or raise the cap")
    return spec


def main(argv: list[str] | None = None) -> int:
    """Train GPT-2 as configured; return the exit status."""
    job, spec = prepare(PROG, "gpt2", DEFCONFIG, argv, (__doc__ or "").splitlines()[0], _validate)
    return train(job, spec)


def _load_data(job: Job, spec: gdata.DataSpec, d: rt.Dist) -> gdata.TokenData:
    """Build (rank 0 first) or find the token cache; a data or folder problem is one error line."""
    s = job.settings
    try:
        if d.main:
            folder = gdata.build(spec, s["DATASET_DIR"])
        rt.barrier(d)
        if not d.main:
            folder = gdata.build(spec, s["DATASET_DIR"])
        data = gdata.TokenData(folder, s["GPT2_BLOCK_SIZE"], s["TRAIN_SEED"], d.rank)
        data.check()
    except (gdata.DataError, OSError) as exc:
        rt.cleanup(d)
        if isinstance(exc, OSError):
            fail(PROG, f"cannot build the token cache in DATASET_DIR={s['DATASET_DIR']} ({exc.strerror}); "
                       f"set DATASET_DIR to a writable folder")
        fail(PROG, exc)
    return data


class GPT2Hooks:
    """GPT-2's parts of the shared loop: accumulated micro-batches, mixed precision, DDP."""

    def __init__(self, s: Settings, d: rt.Dist, data: gdata.TokenData, model: Any, raw: GPT, opt: Any,
                 dtype: torch.dtype) -> None:
        self.s, self.d, self.data, self.model, self.raw, self.opt, self.dtype = s, d, data, model, raw, opt, dtype
        self.scaler = torch.amp.GradScaler(d.device.type, enabled=(dtype == torch.float16))
        self.tokens_per_iter = s["TRAIN_BATCH_SIZE"] * s["TRAIN_GRAD_ACCUM_STEPS"] * s["GPT2_BLOCK_SIZE"] * d.world

    def amp(self) -> Any:
        return rt.autocast(self.d.device, self.dtype)

    def step(self, it: int) -> torch.Tensor:
        accum, total = self.s["TRAIN_GRAD_ACCUM_STEPS"], torch.zeros((), device=self.d.device)
        for micro in range(accum):
            x, y = self.data.batch("train", self.s["TRAIN_BATCH_SIZE"])
            x, y = x.to(self.d.device, non_blocking=True), y.to(self.d.device, non_blocking=True)
            sync = not self.d.enabled or micro == accum - 1
            with self.model.no_sync() if not sync else contextlib.nullcontext():
                with self.amp():
                    _, loss = self.model(x, y)
                self.scaler.scale(loss / accum).backward()
            total += loss.detach() / accum  # a tensor: no device sync per step
        if self.s["TRAIN_GRAD_CLIP"] > 0:
            self.scaler.unscale_(self.opt)
            torch.nn.utils.clip_grad_norm_(self.raw.parameters(), self.s["TRAIN_GRAD_CLIP"])
        self.scaler.step(self.opt)
        self.scaler.update()
        return total

    @torch.no_grad()
    def evaluate(self) -> dict[str, float]:
        """Mean validation loss over TRAIN_EVAL_ITERS fixed batches, averaged over ranks."""
        self.model.eval()
        gen = self.data.val_generator()
        total = 0.0
        for _ in range(self.s["TRAIN_EVAL_ITERS"]):
            x, y = self.data.batch("val", self.s["TRAIN_BATCH_SIZE"], gen)
            with self.amp():
                _, loss = self.model(x.to(self.d.device), y.to(self.d.device))
            total += float(loss)
        self.model.train()
        return {keys.VAL_LOSS: rt.mean_across(self.d, total / self.s["TRAIN_EVAL_ITERS"])}

    def interval_metrics(self, iter_ms: float) -> tuple[dict[str, float], str]:
        tokens_per_s = self.tokens_per_iter / (iter_ms / 1000.0) if iter_ms else 0.0
        return {keys.TOKENS_PER_S: tokens_per_s}, f", {tokens_per_s:,.0f} tok/s"

    def sampler_state(self) -> Any:
        states: list[Any] = [self.data.gen.get_state()]
        if self.d.enabled:  # every rank takes part in the gather
            states = [None] * self.d.world
            torch.distributed.all_gather_object(states, self.data.gen.get_state())
        return states


def _compiled(raw: GPT, hooks: GPT2Hooks) -> Any:
    """``torch.compile`` the model, compiling now on a throw-away batch so a failure falls back to eager."""
    try:
        model = torch.compile(raw)
        xp, yp = hooks.data.batch("train", hooks.s["TRAIN_BATCH_SIZE"], torch.Generator().manual_seed(0))
        with hooks.amp():
            model(xp.to(hooks.d.device), yp.to(hooks.d.device))
        return model
    except Exception as exc:  # noqa: BLE001 - any compiler failure: train eagerly
        warn(PROG, f"torch.compile failed, running eager: {str(exc).splitlines()[0]}", key="compile")
        return raw


def train(job: Job, spec: gdata.DataSpec) -> int:
    """Build data and model, then run the shared loop; returns the exit status."""
    s = job.settings
    d = rt.setup_dist(s["TRAIN_DEVICE"], s["DIST_BACKEND"])
    rt.seed_all(s["TRAIN_SEED"] + d.rank)
    data = _load_data(job, spec, d)
    mconf = GPTConfig(vocab_size=gdata.vocab_size(spec.tokenizer), block_size=s["GPT2_BLOCK_SIZE"],
                      n_layer=s["GPT2_N_LAYER"], n_head=s["GPT2_N_HEAD"], n_embd=s["GPT2_N_EMBD"],
                      dropout=s["GPT2_DROPOUT"], bias=s["GPT2_BIAS"])
    raw = GPT(mconf).to(d.device)
    dtype = rt.pick_dtype(s["TRAIN_DTYPE"], d.device)
    opt, pruner = rt.build_optimizer_and_pruner(raw, s, fused=d.device.type == "cuda")
    start_iter, best_val = resume(job.ckpt, raw, opt, pruner, d, data.gen, PROG)
    hooks = GPT2Hooks(s, d, data, raw, raw, opt, dtype)
    model: Any = _compiled(raw, hooks) if s["TRAIN_COMPILE"] else raw
    if d.enabled:
        model = torch.nn.parallel.DistributedDataParallel(
            model, device_ids=[d.device.index] if d.device.type == "cuda" else None)
    hooks.model = model

    run, out = start_tracking(job, d, {"n_params": raw.num_params(), "world_size": d.world})
    if d.main:
        print(f"gpt2: {raw.num_params() / 1e6:.2f}M params, {d.world} process(es) on {d.device}, "
              f"{dtype}, {data.meta['tokens']['train']:,} train / {data.meta['tokens']['val']:,} val tokens, "
              f"run {run.project}/{run.name}", flush=True)
    Loop(job, d, run, out, raw, opt, pruner, start_iter, best_val,
         checkpoint_extra={"model_args": vars(mconf)}).run_loop(hooks)
    finish_tracking(job, d, run)
    rt.cleanup(d)
    return 0


if __name__ == "__main__":
    rt.exit_trainer(main())
