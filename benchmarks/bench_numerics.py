"""Cost of numerics tracking on a tiny GPT-2: iterations/s with tracking off,
every 100 steps and every step (with and without the exponent histograms of
NUMERICS_HIST_MODULES sent to the run), measured side by side in one run.

The set-ups (same seed, same batches) are kept alive and run in interleaved
rounds, so drifts in machine load hit them equally.  Tracked set-ups log to a
stand-in run that only counts what it gets (the trackers' own cost is
benchmarks/bench_trackers.py).  Goal: under 3% overhead at every 100 steps.

    python benchmarks/bench_numerics.py [--quick] [--device cpu|cuda] [--iters N]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import torch

import numerics
from gpt2.model import GPT, GPTConfig
from kconf.tree import open_tree

REPO = Path(__file__).resolve().parents[1]


class CountingRun:
    """Takes ``run.log`` calls like a trackers run and only counts the values."""

    def __init__(self) -> None:
        self.values = 0
        self.histograms = 0

    def log(self, metrics: dict, step: int | None = None) -> None:
        self.values += len(metrics)
        self.histograms += sum(1 for k in metrics if k.startswith("numerics/hist/"))


def default_hist_modules() -> str:
    """NUMERICS_HIST_MODULES's default, read from the Kconfig tree."""
    sym = open_tree(REPO).syms["NUMERICS_HIST_MODULES"]
    return sym.defaults[0][0].str_value


def _model(device: str, small: bool) -> torch.nn.Module:
    """The tiny GPT-2 of gpt2/model.py (smaller with --quick)."""
    n_embd, n_layer = (64, 2) if small else (128, 4)
    cfg = GPTConfig(vocab_size=256, block_size=64, n_layer=n_layer, n_head=4, n_embd=n_embd, dropout=0.0, bias=True)
    return GPT(cfg).to(device)


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and print iterations/s and overhead per set-up."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="a few seconds: smoke test only")
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    ap.add_argument("--iters", type=int, default=None,
                    help="iterations for off / every 100 (default 300, quick 24); every 1 runs a tenth")
    ap.add_argument("--optimizer-state", action="store_true", help="also track optimizer state")
    ap.add_argument("--threads", type=int, default=1, help="torch CPU threads (1: steadier figures)")
    args = ap.parse_args(argv)
    if args.device == "cpu":
        torch.set_num_threads(args.threads)
    # On CPU, process time: other jobs on a shared machine do not count.
    clock = time.process_time if args.device == "cpu" else time.perf_counter
    iters = args.iters or (24 if args.quick else 300)
    rounds = 4 if args.quick else 6
    per_round = max(1, iters // rounds)
    dev = args.device
    hist = default_hist_modules()
    # name: (interval, histograms sent)
    modes = {"off": (None, False), "every 100": (100, False), "every 100+h": (100, True),
             "every 1": (1, False), "every 1+h": (1, True)}
    kinds = "activation,gradient,weight,weight_grad" + (",optimizer_state" if args.optimizer_state else "")
    tmp = tempfile.mkdtemp(prefix="bench_numerics_")
    setups = {}
    runs = {}
    for name, (interval, with_hist) in modes.items():
        torch.manual_seed(0)
        model = _model(dev, args.quick)
        opt = torch.optim.AdamW(model.parameters(), lr=3e-4)
        runs[name] = CountingRun()
        tr = numerics.track(model, opt, run=runs[name], enabled=interval is not None, interval=interval or 1,
                            kinds=kinds, hist_modules=hist if with_hist else "",
                            out_dir=Path(tmp) / name.replace(" ", "_").replace("+", "_"))
        tr.__enter__()
        setups[name] = [model, opt, tr, 0.0, 0]
    g = torch.Generator().manual_seed(0)
    batch = [torch.randint(0, 256, (8, 64), generator=g).to(dev) for _ in range(4)]

    def run(name: str, n: int) -> None:
        model, opt, tr, _, _ = setups[name]
        for i in range(n):
            x = batch[i % len(batch)]
            _, loss = model(x, x)
            loss.backward()
            opt.step()
            tr.step()
            opt.zero_grad(set_to_none=True)
        tr.wait_written()  # the background write is this set-up's cost, not the next one's
        if dev == "cuda":
            torch.cuda.synchronize()

    for name in modes:  # warm-up (also takes each tracker's step 0 sample)
        run(name, 3)
    per_round_s: dict[str, list[float]] = {name: [] for name in modes}  # seconds per iteration, each round
    for r in range(rounds):
        order = list(modes) if r % 2 == 0 else list(reversed(modes))
        for name in order:
            t0 = clock()
            n = max(1, per_round // 10) if modes[name][0] == 1 else per_round
            run(name, n)
            dt = clock() - t0
            setups[name][3] += dt
            setups[name][4] += n
            per_round_s[name].append(dt / n)
    for setup in setups.values():
        setup[2].close()
    base = setups["off"][4] / setups["off"][3]
    device = torch.cuda.get_device_name() if dev == "cuda" else "cpu"
    print(f"device: {dev} ({device}), torch {torch.__version__}, {'process' if dev == 'cpu' else 'wall'} time, "
          f"{per_round * rounds} iterations (every 1: a tenth), kinds={kinds}")
    print(f"histograms (+h): NUMERICS_HIST_MODULES={hist!r}, "
          f"{runs['every 1+h'].histograms // max(1, setups['every 1+h'][4] + 3)} per sampled step")
    print(f"{'numerics':<13}{'it/s':>10}{'vs off':>10}{'overhead':>10}")
    for name, (_, _, _, t, n) in setups.items():
        ips = n / t
        print(f"{name:<13}{ips:>10.2f}{ips / base:>10.3f}{(1 - ips / base) * 100:>9.1f}%")
    # Cost of one sampled step, from the every-step figures of each round against that
    # round's off figure, spread over 100 steps: the steadier estimate of "every 100".
    print(f"per round ({rounds} rounds), median [min .. max]:")
    for name in ("every 1", "every 1+h"):
        extra = [t - off for t, off in zip(per_round_s[name], per_round_s["off"], strict=True)]
        at100 = [e / 100 / off * 100 for e, off in zip(extra, per_round_s["off"], strict=True)]
        print(f"  {name:<10} sampled step +{statistics.median(extra) * 1e3:.1f} ms "
              f"[{min(extra) * 1e3:.1f} .. {max(extra) * 1e3:.1f}]; expected overhead at every 100 "
              f"{statistics.median(at100):.2f}% [{min(at100):.2f} .. {max(at100):.2f}]")
    hist = [h - p for h, p in zip(per_round_s["every 1+h"], per_round_s["every 1"], strict=True)]
    print(f"  histograms add {statistics.median(hist) * 1e3:+.2f} ms per sampled step "
          f"[{min(hist) * 1e3:+.2f} .. {max(hist) * 1e3:+.2f}] (difference of two noisy figures)")
    per_hist = histogram_us(setups["off"][0])
    n_hist = runs["every 1+h"].histograms // max(1, setups["every 1+h"][4] + 3)
    step_cost = statistics.median(t - off for t, off in zip(per_round_s["every 1"], per_round_s["off"], strict=True))
    print(f"  histograms measured alone: {per_hist:.1f} µs each, {n_hist} per sampled step = "
          f"{per_hist * n_hist / 1e3:.3f} ms = {per_hist * n_hist / 1e6 / step_cost * 100:.2f}% of a sampled step")
    return 0


def histogram_us(model: torch.nn.Module, repeats: int = 200) -> float:
    """Median µs to turn one statistics row into a trackers.Histogram (numerics.histograms)."""
    from numerics.histograms import histograms
    from numerics.stats import gather, reduce

    params = list(model.named_parameters())
    rows = gather([reduce(p.detach()) for _, p in params])
    metas = [(0, name, "weight", "", "Parameter", "float32") for name, _ in params]
    histograms(metas, rows, lambda name: True)  # the first call imports trackers
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        histograms(metas, rows, lambda name: True)
        times.append(time.perf_counter() - t0)
    return statistics.median(times) / len(params) * 1e6


if __name__ == "__main__":
    sys.exit(main())
