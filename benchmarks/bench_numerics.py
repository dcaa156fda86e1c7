"""Cost of numerics tracking on a tiny GPT-2: iterations/s with tracking off,
every 100 steps and every step, measured side by side in one run.

The three set-ups (same seed, same batches) are kept alive and run in
interleaved rounds, so drifts in machine load hit them equally.  Goal: under
3% overhead at every 100 steps.

    python benchmarks/bench_numerics.py [--quick] [--device cpu|cuda] [--iters N]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import torch  # noqa: E402

import numerics  # noqa: E402
from gpt2.model import GPT, GPTConfig  # noqa: E402


def _model(device: str, small: bool) -> torch.nn.Module:
    """The tiny GPT-2 of gpt2/model.py (smaller with --quick)."""
    n_embd, n_layer = (64, 2) if small else (128, 4)
    return GPT(GPTConfig(vocab_size=256, block_size=64, n_layer=n_layer, n_head=4, n_embd=n_embd)).to(device)


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
    modes = {"off": None, "every 100": 100, "every 1": 1}
    kinds = "activation,gradient,weight,weight_grad" + (",optimizer_state" if args.optimizer_state else "")
    tmp = tempfile.mkdtemp(prefix="bench_numerics_")
    setups = {}
    for name, interval in modes.items():
        torch.manual_seed(0)
        model = _model(dev, args.quick)
        opt = torch.optim.AdamW(model.parameters(), lr=3e-4)
        tr = numerics.track(model, opt, enabled=interval is not None, interval=interval or 1,
                            kinds=kinds, out_dir=Path(tmp) / name.replace(" ", "_"))
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
        if dev == "cuda":
            torch.cuda.synchronize()

    for name in modes:  # warm-up (also takes each tracker's step 0 sample)
        run(name, 3)
    for r in range(rounds):
        order = list(modes) if r % 2 == 0 else list(reversed(modes))
        for name in order:
            t0 = clock()
            n = max(1, per_round // 10) if modes[name] == 1 else per_round
            run(name, n)
            setups[name][3] += clock() - t0
            setups[name][4] += n
    for _, _, tr, _, _ in setups.values():
        tr.close()
    base = setups["off"][4] / setups["off"][3]
    print(f"device: {dev} ({torch.cuda.get_device_name() if dev == 'cuda' else 'cpu'}), "
          f"torch {torch.__version__}, {'process' if dev == 'cpu' else 'wall'} time, {per_round * rounds} iterations (every 1: a tenth), kinds={kinds}")
    print(f"{'numerics':<12}{'it/s':>10}{'vs off':>10}{'overhead':>10}")
    for name, (_, _, tr, t, n) in setups.items():
        ips = n / t
        print(f"{name:<12}{ips:>10.2f}{ips / base:>10.3f}{(1 - ips / base) * 100:>9.1f}%")
    # Cost of one sampled step, from the every-step figure, spread over 100 steps:
    extra = setups["every 1"][3] / setups["every 1"][4] - 1 / base
    print(f"sampled step costs {extra * 1e3:.1f} ms extra; at every 100 that is "
          f"{extra / 100 * base * 100:.2f}% of an iteration (expected overhead)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
