"""Benchmark: tracking overhead and throughput of the tiny GPT-2 on this machine.

Builds the tiny GPT-2 (the gpt2-tiny-cpu sizes) once and times the same
training loop (forward, backward, clipping, AdamW step, ``run.log`` of the
trainer's metrics every 10 iterations) in three modes, interleaved and
repeated: tracking off, Trackio + W&B (offline), and Trackio + W&B + GPU
logging. Start-up (``trackers.init``) and shut-down are outside the timed
loop; the background writer, W&B's service process and the GPU sampler run
during it, as in training. Prints iterations/s (best of the repeats), the
overhead of each tracked mode against tracking off (goal: under 2%), and the
tiny config's tokens/s. Everything is written under a temporary folder.

    python benchmarks/bench_training.py            # 80 iterations x 2 repeats
    python benchmarks/bench_training.py --quick    # 50 iterations x 1, smaller model
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
MODES = {"off": None, "trackio+wandb": False, "trackio+wandb+gpu": True}  # value: log_gpu


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="50 iterations, one repeat, smaller model")
    parser.add_argument("--iters", type=int, help="iterations per timed loop")
    parser.add_argument("--repeats", type=int, help="timed loops per mode")
    opts = parser.parse_args()
    iters = opts.iters or (50 if opts.quick else 80)
    settle = 0.5 if opts.quick else 2.0
    repeats = opts.repeats or (1 if opts.quick else 2)
    tmp = tempfile.TemporaryDirectory(prefix="ktrack-bench-")
    base = Path(tmp.name)
    os.environ.update(HOME=str(base / "home"), TRACKIO_DIR=str(base / "trackio"),
                      WANDB_DIR=str(base / "wandb"), WANDB_MODE="offline", WANDB_SILENT="true",
                      XDG_CACHE_HOME=str(base / "cache"), TRACKIO_NO_BROWSER="1")
    for sub in ("home", "wandb"):
        (base / sub).mkdir(parents=True, exist_ok=True)
    sys.path.insert(0, str(REPO))
    import torch

    import trackers
    from gpt2 import data as gdata
    from gpt2.model import GPT, GPTConfig
    from training.optim import build_optimizer

    sizes = dict(n_layer=2, n_head=2, n_embd=64, block_size=64) if opts.quick else \
        dict(n_layer=4, n_head=4, n_embd=128, block_size=128)
    batch = 16
    torch.manual_seed(0)
    folder = gdata.build(gdata.DataSpec(max_tokens=300_000), base / "data")
    data = gdata.TokenData(folder, sizes["block_size"], seed=0)
    model = GPT(GPTConfig(vocab_size=256, **sizes))
    opt = build_optimizer(model, "adamw", 1e-3, 0.1, (0.9, 0.95))

    def loop(run) -> float:
        t0 = time.perf_counter()
        for it in range(1, iters + 1):
            t_it = time.perf_counter()
            x, y = data.batch("train", batch)
            _, loss = model(x, y)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            opt.step()
            opt.zero_grad(set_to_none=True)
            if run is not None and it % 10 == 0:
                ms = 1000 * (time.perf_counter() - t_it)
                run.log({"train/loss": loss.item(), "lr": 1e-3, "sparsity": 0.0, "iter_time_ms": ms,
                         "tokens_per_s": batch * sizes["block_size"] / (ms / 1000)}, step=it)
        return time.perf_counter() - t0

    loop(None)  # warm-up: allocator, kernels, page cache
    best: dict[str, float] = {}
    for rep in range(repeats):
        for mode, log_gpu in MODES.items():
            run = None
            if log_gpu is not None:
                run = trackers.init({"bench": mode}, project="bench-training", run_name=f"{mode.replace('+', '-')}-{rep}",
                                    trackers="trackio,wandb", log_gpu=log_gpu, run_dir=base / "runs" / f"{mode}-{rep}",
                                    cfg=_empty())
                time.sleep(settle)  # let W&B's service and Trackio finish starting, as they would early in a run
            elapsed = loop(run)
            if run is not None:
                run.finish()
            best[mode] = min(best.get(mode, float("inf")), elapsed)
    off = best["off"]
    print(f"tiny GPT-2 {sizes}, batch {batch}, {iters} iterations x {repeats} repeat(s), "
          f"{os.cpu_count()} CPU cores, torch {torch.__version__}")
    print(f"{'mode':<20} {'best s':>8} {'it/s':>8} {'overhead':>9}")
    for mode, elapsed in best.items():
        over = "" if mode == "off" else f"{100.0 * (elapsed - off) / off:+.1f}%"
        print(f"{mode:<20} {elapsed:8.2f} {iters / elapsed:8.2f} {over:>9}")
    print(f"tokens/s (tracking off): {iters * batch * sizes['block_size'] / off:,.0f}")
    tmp.cleanup()
    return 0


def _empty():
    """An empty config: the benchmark's settings are all passed explicitly."""
    import types

    return types.SimpleNamespace()


if __name__ == "__main__":
    sys.exit(main())
