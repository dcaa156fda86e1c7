"""Benchmark a multi-node job's record: what the per-node GPU files and the straggler gather cost.

    python benchmarks/bench_multinode.py [--quick]

1. Training cost. Two gloo processes on this machine, each its own "node"
   sampling the fake two-card sysfs tree (tests/gpu/fixtures/mixed) into its
   GPU file (trackers.nodes.NodeWriter at TRACKER_GPU_INTERVAL), with the
   per-log-interval all_gather of iteration times (training.runtime.gather_across),
   against the same steps with neither (the one all_reduce of the mean time
   that training did before). Rounds of the two alternate (interleaved), and
   each rank's CPU seconds (its process, every thread) and wall time are
   compared as ratios with-over-without (median over rounds).
2. Forwarding. Rows per second rank 0's reader (trackers.nodes.NodeTail)
   turns into system rows from N simulated nodes' files, and through a whole
   run (journal written, no tracker) from the first read to finish().
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

MIXED = REPO / "tests" / "gpu" / "fixtures" / "mixed"


def _worker(rank: int, world: int, port: int, rounds: int, steps: int, log_every: int, interval: float,
            folder: str, out: str) -> None:
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port), KTRACK_SYSFS_ROOT=str(MIXED),
                      OMP_NUM_THREADS="1")
    import torch
    import torch.distributed as dist

    from trackers.nodes import NodeWriter
    from training.runtime import Dist, gather_across, mean_across

    torch.set_num_threads(1)
    dist.init_process_group("gloo", rank=rank, world_size=world)
    d = Dist(rank, world, 0, torch.device("cpu"))
    model = torch.nn.Sequential(torch.nn.Linear(256, 256), torch.nn.ReLU(), torch.nn.Linear(256, 10))
    ddp = torch.nn.parallel.DistributedDataParallel(model)
    opt = torch.optim.SGD(ddp.parameters(), lr=1e-3)
    x, y = torch.randn(64, 256), torch.randint(0, 10, (64,))

    def train(with_record: bool) -> tuple[float, float]:
        writer = NodeWriter(Path(folder), f"n{rank}", interval, ["amd", "intel"]).start() if with_record else None
        c0, w0 = time.process_time(), time.perf_counter()
        spent = 0.0
        for it in range(1, steps + 1):
            t = time.perf_counter()
            opt.zero_grad()
            torch.nn.functional.cross_entropy(ddp(x), y).backward()
            opt.step()
            spent += time.perf_counter() - t
            if it % log_every == 0:
                if with_record:
                    gather_across(d, 1000.0 * spent / log_every)
                else:
                    mean_across(d, 1000.0 * spent / log_every)
                spent = 0.0
        if writer is not None:
            writer.close()
        return time.process_time() - c0, time.perf_counter() - w0

    train(False)  # warm-up
    rows = []
    for r in range(rounds):
        order = (False, True) if r % 2 == 0 else (True, False)
        got = {flag: train(flag) for flag in order}
        rows.append((*got[False], *got[True]))
    with open(f"{out}.{rank}", "w") as f:
        f.writelines(" ".join(f"{v:.6f}" for v in row) + "\n" for row in rows)
    dist.destroy_process_group()


def training_cost(rounds: int, steps: int, log_every: int, interval: float) -> None:
    import socket

    import torch.multiprocessing as mp

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "times")
        mp.spawn(_worker, args=(2, port, rounds, steps, log_every, interval, tmp, out), nprocs=2, join=True)
        print(f"training cost: 2 gloo ranks, each a node sampling 2 fake GPUs every {interval:g}s; "
              f"{steps} steps a round, log every {log_every}, {rounds} interleaved rounds")
        print(f"  {'rank':<5} {'CPU s without':>14} {'CPU s with':>11} {'CPU ratio':>10} {'wall ratio':>11}")
        for rank in range(2):
            rows = [tuple(map(float, line.split())) for line in Path(f"{out}.{rank}").read_text().splitlines()]
            cpu_ratio = statistics.median(c1 / c0 for c0, _w0, c1, _w1 in rows)
            wall_ratio = statistics.median(w1 / w0 for _c0, w0, _c1, w1 in rows)
            print(f"  {rank:<5} {statistics.median(r[0] for r in rows):>14.3f} "
                  f"{statistics.median(r[2] for r in rows):>11.3f} {cpu_ratio:>10.3f} {wall_ratio:>11.3f}")


def _node_files(folder: Path, nodes: int, lines: int, gpus: int) -> int:
    import json

    metrics = {"utilization": 97.0, "memory_used_gb": 60.1, "memory_percent": 75.0, "temperature_c": 70.0,
               "power_w": 350.0, "clock_graphics_mhz": 1980.0, "clock_memory_mhz": 1593.0, "fan_speed": 40.0}
    for n in range(nodes):
        path = folder / f"node{n:03d}" / "gpu.jsonl"
        path.parent.mkdir(parents=True)
        with path.open("w") as f:
            for i in range(lines):
                f.write(json.dumps({"node": f"node{n:03d}", "t": 1.7e9 + i,
                                    "gpus": [{"index": g, "name": "H100", "vendor": "nvidia", "metrics": metrics}
                                             for g in range(gpus)],
                                    "energy_wh": {str(g): i * 0.1 for g in range(gpus)}, "end": i == lines - 1})
                        + "\n")
    return nodes * lines


def forwarding(node_counts: list[int], lines: int, gpus: int) -> None:
    import types

    import trackers
    from trackers.nodes import NodeTail

    print(f"forwarding: {lines} lines per node, {gpus} GPUs per line (8 fields each)")
    print(f"  {'nodes':>5} {'tail rows/s':>12} {'run rows/s':>11}")
    for nodes in node_counts:
        with tempfile.TemporaryDirectory() as tmp:
            folder = Path(tmp) / "run" / "nodes"
            folder.mkdir(parents=True)
            total = _node_files(folder, nodes, lines, gpus)
            tail = NodeTail(folder, interval=1.0)
            t0 = time.perf_counter()
            rows, _ = tail.poll(final=True)
            tail_rate = len(rows) / (time.perf_counter() - t0)
            tail.close()
            assert len(rows) == total
            cfg = types.SimpleNamespace(MODEL="gpt2", OPTIMIZER="adamw")
            run = trackers.init({}, cfg=cfg, project="bench", run_name=f"n{nodes}", run_dir=Path(tmp) / "run",
                                trackers="none", log_gpu=False, capture_console=False, handle_signals=False)
            t0 = time.perf_counter()
            run.follow_nodes(NodeTail(folder, interval=1.0))
            run.finish()
            run_rate = total / (time.perf_counter() - t0)
            print(f"  {nodes:>5} {tail_rate:>12,.0f} {run_rate:>11,.0f}")


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer rounds and nodes")
    args = parser.parse_args()
    if args.quick:
        training_cost(rounds=4, steps=100, log_every=10, interval=0.1)
        forwarding([4, 32], lines=50, gpus=8)
    else:
        training_cost(rounds=10, steps=300, log_every=10, interval=0.1)
        forwarding([4, 32, 128], lines=200, gpus=8)
    return 0


if __name__ == "__main__":
    sys.exit(main())
