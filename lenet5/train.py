"""Train LeNet-5 on scikit-learn's digits, tracked through ``trackers`` (seconds on a CPU).

The same settings, flags, checkpoints and metrics as ``gpt2/train.py``;
accuracy is logged as ``val/accuracy``.
"""

from __future__ import annotations

import argparse
import math
import os
import sys
import time

if __package__ in (None, ""):
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import torch
import torch.nn.functional as F

from training import runtime as rt
from training.preempt import StopSignal
from training.optim import apply_lr
from training.settings import SettingsError, add_arguments, fail, resolve, validate_common
from lenet5.data import load_digits
from lenet5.model import LeNet5

PROG = "lenet5/train.py"
# used when the config does not set them (a gpt2 .config leaves these to Kconfig defaults)
DEFAULTS = {"MODEL": "lenet5", "DATASET": "digits", "TRAIN_BATCH_SIZE": 64,
            "TRAIN_MAX_ITERS": 300, "TRAIN_EVAL_INTERVAL": 50, "TRAIN_LOG_INTERVAL": 10,
            "TRAIN_WARMUP_ITERS": 10, "TRAIN_LEARNING_RATE": 2e-3, "TRAIN_MIN_LR": 1e-4,
            "WEIGHT_DECAY": 1e-4, "DATASET_VAL_FRACTION": 0.2}


@torch.no_grad()
def evaluate(model, x, y, device) -> tuple[float, float]:
    """(loss, accuracy) on the whole validation set."""
    model.eval()
    logits = model(x.to(device))
    model.train()
    loss = F.cross_entropy(logits, y.to(device)).item()
    return loss, (logits.argmax(1).cpu() == y).float().mean().item()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog=PROG, description=__doc__.splitlines()[0])
    add_arguments(parser)
    args = parser.parse_args(argv)
    try:
        cfg, s = resolve(args, DEFAULTS)
        cfg.MODEL = s["MODEL"] = "lenet5"
        cfg.DATASET = s["DATASET"] = "digits"
        validate_common(s)
        if not 0.0 < s["DATASET_VAL_FRACTION"] < 1.0:
            raise SettingsError(f"DATASET_VAL_FRACTION={s['DATASET_VAL_FRACTION']} must be between 0 and 1")
        ckpt = None
        if args.resume:
            path = rt.find_checkpoint(args.resume, s["RUNS_DIR"], "lenet5",
                                      getattr(args, "tracker_project", None))
            if path is None:
                raise SettingsError(f"no checkpoint to resume from at {args.resume!r}")
            ckpt = torch.load(path, map_location="cpu", weights_only=False)
    except SettingsError as exc:
        fail(PROG, str(exc))
    return train(args, cfg, s, ckpt)


def train(args, cfg, s: dict, ckpt: dict | None) -> int:
    """The training loop (one process)."""
    d = rt.Dist(device=rt.pick_device(s["TRAIN_DEVICE"]))
    stop = StopSignal(enabled=bool(s["TRAIN_CHECKPOINT"]))
    rt.seed_all(s["TRAIN_SEED"])
    xt, yt, xv, yv = load_digits(s["DATASET_VAL_FRACTION"], s["TRAIN_SEED"])
    model = LeNet5().to(d.device)
    opt, pruner = rt.build_optimizer_and_pruner(model, s)
    gen = torch.Generator().manual_seed(s["TRAIN_SEED"])
    start_iter, best_val = 0, math.inf
    if ckpt:
        start_iter, best_val, gen_state = rt.restore(ckpt, model, opt, pruner)
        if gen_state is not None:
            gen.set_state(gen_state)
    s["n_params"] = sum(p.numel() for p in model.parameters())
    run, out = rt.start_tracking(PROG, s, args, cfg, d, ckpt)
    print(f"lenet5: {s['n_params']:,} params on {d.device}, {len(yt)} train / {len(yv)} val images, "
          f"run {run.project}/{run.name}", flush=True)

    def checkpoint(name: str, it: int) -> None:
        if not s["TRAIN_CHECKPOINT"]:
            return
        rt.save_training_checkpoint(name, it, model=model, opt=opt, pruner=pruner, best_val=best_val, settings=s,
                                    run=run, out=out, rng_data=gen.get_state())

    t0 = time.time()
    bs = s["TRAIN_BATCH_SIZE"]
    with rt.numerics_tracking(bool(getattr(cfg, "NUMERICS", False)), model, opt, run, cfg,
                                start_iter + 1) as nt:
        val, acc = evaluate(model, xv, yv, d.device)
        first_val = val
        print(f"starting validation loss: {val:.4f}, accuracy {acc:.3f} (iter {start_iter})", flush=True)
        if start_iter == 0:
            run.log({"val/loss": val, "val/accuracy": acc}, step=0)
        loss_sum, correct, seen, time_sum, n = 0.0, 0, 0, 0.0, 0
        it = start_iter
        for it in range(start_iter + 1, s["TRAIN_MAX_ITERS"] + 1):
            t_it = time.perf_counter()
            pending: dict = {}
            lr = apply_lr(opt, it, s)
            idx = torch.randint(len(yt), (bs,), generator=gen)
            x, y = xt[idx].to(d.device), yt[idx].to(d.device)
            logits = model(x)
            loss = F.cross_entropy(logits, y)
            loss.backward()
            if s["TRAIN_GRAD_CLIP"] > 0:
                torch.nn.utils.clip_grad_norm_(model.parameters(), s["TRAIN_GRAD_CLIP"])
            opt.step()
            if pruner:
                pruner.update(it)
                pruner.apply()
            nt.step(it)
            opt.zero_grad(set_to_none=True)
            time_sum += time.perf_counter() - t_it
            loss_sum += loss.item()
            correct += int((logits.argmax(1) == y).sum())
            seen, n = seen + bs, n + 1
            if it % s["TRAIN_LOG_INTERVAL"] == 0 or it == s["TRAIN_MAX_ITERS"]:
                iter_ms = 1000.0 * time_sum / n
                pending.update({"train/loss": loss_sum / n, "train/accuracy": correct / seen, "lr": lr,
                         "sparsity": pruner.sparsity() if pruner else 0.0,
                         "iter_time_ms": iter_ms, "samples_per_s": bs / (iter_ms / 1000.0)})
                print(f"iter {it}: loss {loss_sum / n:.4f}, lr {lr:.2e}, {iter_ms:.2f} ms/iter", flush=True)
                loss_sum, correct, seen, time_sum, n = 0.0, 0, 0, 0.0, 0
            if it % s["TRAIN_EVAL_INTERVAL"] == 0 or it == s["TRAIN_MAX_ITERS"]:
                val, acc = evaluate(model, xv, yv, d.device)
                improved = val < best_val
                best_val = min(best_val, val)
                pending.update({"val/loss": val, "val/accuracy": acc})
                print(f"iter {it}: val loss {val:.4f}, accuracy {acc:.3f}", flush=True)
                if improved:
                    checkpoint("best", it)
                checkpoint("last", it)
            if pending:
                run.log(pending, step=it)
            if stop.requested(d):  # Slurm's warning before the time limit: checkpoint, requeue
                checkpoint("last", it)
                stop.exit(run, d, it)
    total = time.time() - t0
    best_val = min(best_val, val)
    run.summary({"best_val_loss": best_val, "total_time_s": total, "final_val_loss": val,
                 "val_accuracy": acc, "start_val_loss": first_val, "final_iter": it})
    print(f"final validation loss: {val:.4f} (best {best_val:.4f}, started at {first_val:.4f}), "
          f"accuracy {acc:.3f}, {total:.1f}s", flush=True)
    run.finish()
    return 0


if __name__ == "__main__":
    sys.exit(main())
