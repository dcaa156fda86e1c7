"""Sweep benchmarks: per-point overhead, and JOBS=2 against sequential.

1. Overhead: a 16-point grid whose command only loads the point's config
   (kconf) and starts and finishes a tracked run (trackers, journal) with no
   training: configure + launch + tracker set-up per point. Goal < 1 s.
2. Parallel: a 4-point grid of the tiny LeNet-5 run sequentially and with
   JOBS=2. Goal: JOBS=2 takes <= 60% of the sequential time (2 cores).

    python benchmarks/bench_sweeps.py [--quick]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

SETUP_ONLY = ("import kconf, trackers; cfg = kconf.load(); "
              "trackers.init(cfg=cfg, capture_console=False).finish()")


def _sweep(folder: Path, name: str, body: str) -> Path:
    path = folder / f"{name}.yaml"
    path.write_text(body.replace("{runs}", str(folder / "runs")))
    return path


def _run(path: Path, jobs: int) -> float:
    from sweeps.runner import run

    t0 = time.perf_counter()
    rc = run(path, jobs=jobs, out=lambda line: None)
    if rc != 0:
        raise SystemExit(f"bench_sweeps: sweep {path} failed (exit {rc})")
    return time.perf_counter() - t0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="4-point overhead grid, 5-iteration training")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-sweeps-") as tmp:
        folder = Path(tmp)
        for var in ("TRACKIO_DIR", "WANDB_DIR", "HOME"):
            os.environ[var] = str(folder / var.lower())
        os.environ["WANDB_MODE"] = "offline"
        n_lr = 2 if args.quick else 4
        lrs = ", ".join(f"{k}e-3" for k in range(1, n_lr + 1))
        overhead = _sweep(folder, "overhead", f"""
defconfig: lenet5-cpu
tracker: none
project: bench
set: {{RUNS_DIR: "{{runs}}"}}
vary:
  lr: [{lrs}]
  OPTIMIZER: [adamw, adam, sgd, adamw]
command: python -c "{SETUP_ONLY}"
""".replace("OPTIMIZER: [adamw, adam, sgd, adamw]", "OPTIMIZER: [adamw, sgd]" if args.quick
            else "WEIGHT_DECAY: [0.0, 0.01, 0.1, 0.2]"))
        points = n_lr * (2 if args.quick else 4)
        elapsed = _run(overhead, 1)
        per_point = elapsed / points
        print(f"overhead: {points} points in {elapsed:.2f}s sequentially = {per_point:.3f} s/point "
              f"(goal < 1 s: {'ok' if per_point < 1 else 'MISSED'})")

        iters = 5 if args.quick else 60
        grid = f"""
defconfig: lenet5-cpu
tracker: none
project: bench-{{jobs}}
set: {{TRAIN_MAX_ITERS: {iters}, TRAIN_EVAL_INTERVAL: {max(5, iters // 3)}, TRAIN_CHECKPOINT: n, RUNS_DIR: "{{runs}}"}}
vary:
  lr: [1e-3, 3e-3]
  OPTIMIZER: [adamw, sgd]
"""
        seq = _run(_sweep(folder, "seq", grid.replace("{jobs}", "seq")), 1)
        par = _run(_sweep(folder, "par", grid.replace("{jobs}", "par")), 2)
        ratio = par / seq
        print(f"tiny LeNet-5, 4 points x {iters} iterations: sequential {seq:.1f}s, JOBS=2 {par:.1f}s, "
              f"ratio {ratio:.2f} (goal <= 0.60: {'ok' if ratio <= 0.6 else 'MISSED'}; {os.cpu_count()} cores)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
