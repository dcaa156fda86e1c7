"""Train the ktrack GPT-2 on the configured corpus, tracked through ``trackers``.

Settings come from the generated config (``kconf.load()``); flags override
them. Run directly (``python gpt2/train.py``), or under torchrun for several
processes (``python -m training.launch`` builds that command from the config).
"""

from __future__ import annotations

import argparse
import math
import os
import sys
import time

if __package__ in (None, ""):  # run as a script: make the repo importable
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import torch

from gpt2 import data as gdata
from training import runtime as rt
from training.preempt import StopSignal
from gpt2.model import GPT, GPTConfig
from training.optim import apply_lr
from training.settings import SettingsError, add_arguments, fail, resolve, validate_common

PROG = "gpt2/train.py"


def _validate(s: dict) -> gdata.DataSpec:
    validate_common(s)
    for name in ("GPT2_N_LAYER", "GPT2_N_HEAD", "GPT2_N_EMBD", "GPT2_BLOCK_SIZE"):
        if int(s[name]) <= 0:
            raise SettingsError(f"{name}={s[name]} must be > 0")
    if s["GPT2_N_EMBD"] % s["GPT2_N_HEAD"]:
        raise SettingsError(f"GPT2_N_EMBD={s['GPT2_N_EMBD']} must be a multiple of GPT2_N_HEAD={s['GPT2_N_HEAD']}")
    if s["DATASET"] == "digits":
        raise SettingsError("DATASET=digits is for lenet5: use stdlib, text or finewebedu for gpt2")
    spec = gdata.DataSpec(dataset=s["DATASET"], path=s["DATASET_PATH"], tokenizer=s["TOKENIZER"],
                          max_tokens=int(s["DATASET_MAX_TOKENS"]),
                          val_fraction=float(s["DATASET_VAL_FRACTION"]),
                          fineweb_name=s["DATASET_FINEWEBEDU_NAME"])
    gdata.check_spec(spec)
    if spec.max_tokens and spec.max_tokens * min(spec.val_fraction, 1 - spec.val_fraction) <= s["GPT2_BLOCK_SIZE"] + 1:
        raise SettingsError(f"GPT2_BLOCK_SIZE={s['GPT2_BLOCK_SIZE']} is larger than the validation split of "
                            f"DATASET_MAX_TOKENS={spec.max_tokens}: lower the block size or raise the cap")
    return spec


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog=PROG, description=__doc__.splitlines()[0])
    add_arguments(parser)
    return parser.parse_args(argv)


@torch.no_grad()
def evaluate(model, data: gdata.TokenData, s: dict, d: rt.Dist, amp) -> float:
    """Mean validation loss over TRAIN_EVAL_ITERS fixed batches, averaged over ranks."""
    model.eval()
    gen = data.val_generator()
    total = 0.0
    for _ in range(s["TRAIN_EVAL_ITERS"]):
        x, y = data.batch("val", s["TRAIN_BATCH_SIZE"], gen)
        with amp():
            _, loss = model(x.to(d.device), y.to(d.device))
        total += float(loss)
    model.train()
    return rt.mean_across(d, total / s["TRAIN_EVAL_ITERS"])


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        cfg, s = resolve(args)
        cfg.MODEL = s["MODEL"] = "gpt2"
        spec = _validate(s)
        ckpt = None
        if args.resume:
            path = rt.find_checkpoint(args.resume, s["RUNS_DIR"], "gpt2",
                                      getattr(args, "tracker_project", None))
            if path is None:
                raise SettingsError(f"no checkpoint to resume from at {args.resume!r}: "
                                    "give a run folder or checkpoints/last.pt")
            ckpt = torch.load(path, map_location="cpu", weights_only=False)
    except (SettingsError, gdata.DataError) as exc:
        fail(PROG, str(exc))
    return train(args, cfg, s, spec, ckpt)


def train(args, cfg, s: dict, spec: gdata.DataSpec, ckpt: dict | None) -> int:
    """The training loop; returns the exit status."""
    d = rt.setup_dist(s["TRAIN_DEVICE"], s["DIST_BACKEND"])
    stop = StopSignal(enabled=bool(s["TRAIN_CHECKPOINT"]))
    rt.seed_all(s["TRAIN_SEED"] + d.rank)
    try:
        if d.main:
            folder = gdata.build(spec, s["DATASET_DIR"])
        rt.barrier(d)
        if not d.main:
            folder = gdata.build(spec, s["DATASET_DIR"])
        data = gdata.TokenData(folder, s["GPT2_BLOCK_SIZE"], s["TRAIN_SEED"], d.rank)
        data.check()
    except gdata.DataError as exc:
        rt.cleanup(d)
        fail(PROG, str(exc))

    mconf = GPTConfig(vocab_size=gdata.vocab_size(spec.tokenizer), block_size=s["GPT2_BLOCK_SIZE"],
                      n_layer=s["GPT2_N_LAYER"], n_head=s["GPT2_N_HEAD"], n_embd=s["GPT2_N_EMBD"],
                      dropout=s["GPT2_DROPOUT"], bias=s["GPT2_BIAS"])
    raw = GPT(mconf).to(d.device)
    dtype = rt.pick_dtype(s["TRAIN_DTYPE"], d.device)
    def amp():
        return rt.autocast(d.device, dtype)
    scaler = torch.amp.GradScaler(d.device.type, enabled=(dtype == torch.float16))
    opt, pruner = rt.build_optimizer_and_pruner(raw, s, fused=d.device.type == "cuda")
    start_iter, best_val = 0, math.inf
    if ckpt:
        start_iter, best_val, gen_states = rt.restore(ckpt, raw, opt, pruner)
        if gen_states and d.rank < len(gen_states):
            data.gen.set_state(gen_states[d.rank])
    model = raw
    if s["TRAIN_COMPILE"]:
        try:  # compile now on a throw-away batch, so a failure falls back to eager here
            model = torch.compile(raw)
            xp, yp = data.batch("train", s["TRAIN_BATCH_SIZE"], torch.Generator().manual_seed(0))
            with amp():
                model(xp.to(d.device), yp.to(d.device))
        except Exception as exc:  # noqa: BLE001
            print(f"warning: torch.compile failed, running eager: {str(exc).splitlines()[0]}", file=sys.stderr)
            model = raw
    if d.enabled:
        model = torch.nn.parallel.DistributedDataParallel(
            model, device_ids=[d.device.index] if d.device.type == "cuda" else None)

    s["n_params"] = raw.num_params()
    s["world_size"] = d.world
    run, out = rt.start_tracking(PROG, s, args, cfg, d, ckpt)
    tokens_per_iter = s["TRAIN_BATCH_SIZE"] * s["TRAIN_GRAD_ACCUM_STEPS"] * s["GPT2_BLOCK_SIZE"] * d.world
    if d.main:
        print(f"gpt2: {raw.num_params() / 1e6:.2f}M params, {d.world} process(es) on {d.device}, "
              f"{dtype}, {data.meta['tokens']['train']:,} train / {data.meta['tokens']['val']:,} val tokens, "
              f"run {run.project}/{run.name}", flush=True)

    def checkpoint(name: str, it: int) -> None:
        if not s["TRAIN_CHECKPOINT"]:
            return
        gens = [data.gen.get_state()]
        if d.enabled:  # every rank takes part in the gather
            gens = [None] * d.world
            torch.distributed.all_gather_object(gens, data.gen.get_state())
        if not d.main:
            return
        rt.save_training_checkpoint(name, it, model=raw, opt=opt, pruner=pruner, best_val=best_val, settings=s,
                                    run=run, out=out, rng_data=gens, model_args=vars(mconf))

    t0 = time.time()
    with rt.numerics_tracking(bool(getattr(cfg, "NUMERICS", False)) and d.main,
                                raw, opt, run, cfg, start_iter + 1) as nt:
        val = evaluate(model, data, s, d, amp)
        first_val = val
        if d.main:
            print(f"starting validation loss: {val:.4f} (iter {start_iter})", flush=True)
            if start_iter == 0:
                run.log({"val/loss": val}, step=0)
        loss_sum, n_loss, time_sum = 0.0, 0, 0.0
        it = start_iter
        for it in range(start_iter + 1, s["TRAIN_MAX_ITERS"] + 1):
            t_it = time.perf_counter()
            pending: dict = {}
            lr = apply_lr(opt, it, s)
            accum = s["TRAIN_GRAD_ACCUM_STEPS"]
            for micro in range(accum):
                x, y = data.batch("train", s["TRAIN_BATCH_SIZE"])
                x, y = x.to(d.device, non_blocking=True), y.to(d.device, non_blocking=True)
                sync = not d.enabled or micro == accum - 1
                with model.no_sync() if not sync else rt.contextlib.nullcontext():
                    with amp():
                        _, loss = model(x, y)
                    scaler.scale(loss / accum).backward()
                loss_sum += loss.detach()  # a tensor: no device sync per step
                n_loss += 1
            if s["TRAIN_GRAD_CLIP"] > 0:
                scaler.unscale_(opt)
                torch.nn.utils.clip_grad_norm_(raw.parameters(), s["TRAIN_GRAD_CLIP"])
            scaler.step(opt)
            scaler.update()
            if pruner:
                pruner.update(it)
                pruner.apply()
            nt.step(it)
            opt.zero_grad(set_to_none=True)
            if d.device.type == "cuda":
                torch.cuda.synchronize(d.device)
            time_sum += time.perf_counter() - t_it

            if it % s["TRAIN_LOG_INTERVAL"] == 0 or it == s["TRAIN_MAX_ITERS"]:
                steps = max(1, n_loss // accum)
                train_loss = rt.mean_across(d, float(loss_sum) / max(1, n_loss))
                iter_ms = rt.mean_across(d, 1000.0 * time_sum / steps)
                metrics = {"train/loss": train_loss, "lr": lr,
                           "sparsity": pruner.sparsity() if pruner else 0.0,
                           "iter_time_ms": iter_ms,
                           "tokens_per_s": tokens_per_iter / (iter_ms / 1000.0) if iter_ms else 0.0}
                pending.update(metrics)
                if d.main:
                    print(f"iter {it}: loss {train_loss:.4f}, lr {lr:.2e}, {iter_ms:.1f} ms/iter, "
                          f"{metrics['tokens_per_s']:,.0f} tok/s", flush=True)
                loss_sum, n_loss, time_sum = 0.0, 0, 0.0

            if it % s["TRAIN_EVAL_INTERVAL"] == 0 or it == s["TRAIN_MAX_ITERS"]:
                val = evaluate(model, data, s, d, amp)
                improved = val < best_val
                best_val = min(best_val, val)
                pending["val/loss"] = val
                if d.main:
                    print(f"iter {it}: val loss {val:.4f}" + (" (best)" if improved else ""), flush=True)
                if improved:
                    checkpoint("best", it)
                checkpoint("last", it)
            if pending and d.main:
                run.log(pending, step=it)
            if stop.requested(d):  # Slurm's warning before the time limit: checkpoint, requeue
                checkpoint("last", it)
                stop.exit(run, d, it)

    total = time.time() - t0
    best_val = min(best_val, val)
    if d.main:
        run.summary({"best_val_loss": best_val, "total_time_s": total, "final_val_loss": val,
                     "start_val_loss": first_val, "final_iter": it})
        print(f"final validation loss: {val:.4f} (best {best_val:.4f}, started at {first_val:.4f}), "
              f"{total:.2f}s", flush=True)
    run.finish()
    rt.cleanup(d)
    return 0


if __name__ == "__main__":
    sys.exit(main())
