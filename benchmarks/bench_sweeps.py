"""Sweep benchmarks: per-point overhead, JOBS=2 against sequential, Slurm against local.

1. Overhead: a 16-point grid whose command only loads the point's config
   (kconf) and starts and finishes a tracked run (trackers, journal) with no
   training: configure + launch + tracker set-up per point. Goal < 1 s.
2. Parallel: a 4-point grid of the tiny LeNet-5 run sequentially and with
   JOBS=2. Goal: JOBS=2 takes <= 60% of the sequential time (2 cores).
3. Slurm: the same 2-point LeNet-5 sweep with the local executor (JOBS=2)
   and through sbatch (one CPU per job), interleaved over repeats: seconds
   per point (median and spread) and the Slurm/local ratio, plus the sweep
   process's own CPU seconds. Needs the cluster (scripts/slurm-local.sh up).

    python benchmarks/bench_sweeps.py [--quick] [--repeats N]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
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


def _run(path: Path, jobs: int | None, executor: str | None = None) -> float:
    from sweeps.runner import run

    t0 = time.perf_counter()
    rc = run(path, jobs=jobs, executor=executor, out=lambda line: None)
    if rc != 0:
        raise SystemExit(f"bench_sweeps: sweep {path} failed (exit {rc})")
    return time.perf_counter() - t0


def _slurm_up() -> str | None:
    """None when the cluster takes jobs, else why not."""
    script = REPO / "scripts" / "slurm-local.sh"
    try:
        status = subprocess.run(["bash", str(script), "status"], capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return str(exc)
    for line in status.stdout.splitlines():
        if line.startswith("SLURM_CONF="):
            os.environ.setdefault("SLURM_CONF", line.split("=", 1)[1])
    return None if status.returncode == 0 else "the cluster is down (sudo scripts/slurm-local.sh up)"


def _spread(values: list[float]) -> str:
    return f"median {statistics.median(values):.2f} s (min {min(values):.2f}, max {max(values):.2f})"


def slurm_against_local(folder: Path, repeats: int, iters: int) -> None:
    """Section 3: seconds per point of one sweep, local JOBS=2 and Slurm, interleaved."""
    why = _slurm_up()
    if why:
        print(f"slurm: skipped, {why}")
        return
    body = f"""
defconfig: lenet5-cpu
tracker: none
project: bench-slurm-{{n}}
set: {{TRAIN_MAX_ITERS: {iters}, TRAIN_EVAL_INTERVAL: {max(5, iters // 3)}, TRAIN_CHECKPOINT: n, RUNS_DIR: "{{runs}}"}}
vary:
  lr: [1e-3, 3e-3]
"""
    points = 2
    per_point: dict[str, list[float]] = {"local": [], "slurm": []}
    cpu: dict[str, list[float]] = {"local": [], "slurm": []}
    for i in range(repeats):
        for executor in (("local", "slurm") if i % 2 == 0 else ("slurm", "local")):
            path = _sweep(folder, f"{executor}{i}", body.replace("{n}", f"{executor}{i}"))
            c0 = time.process_time()
            elapsed = _run(path, 2 if executor == "local" else None, executor)
            cpu[executor].append(time.process_time() - c0)
            per_point[executor].append(elapsed / points)
    ratio = statistics.median(per_point["slurm"]) / statistics.median(per_point["local"])
    print(f"slurm vs local, 2-point LeNet-5 sweep x {iters} iterations, {repeats} interleaved repeat(s):")
    for executor in ("local", "slurm"):
        print(f"  {executor:<5} s/point: {_spread(per_point[executor])}; sweep process CPU "
              f"{statistics.median(cpu[executor]):.2f} s per sweep")
    print(f"  ratio slurm/local (median s/point): {ratio:.2f}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="4-point overhead grid, 5-iteration training")
    parser.add_argument("--repeats", type=int, default=0, help="Slurm/local repeats (default 5, --quick 1)")
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
        slurm_against_local(folder, args.repeats or (1 if args.quick else 5), iters)
    return 0


if __name__ == "__main__":
    sys.exit(main())
