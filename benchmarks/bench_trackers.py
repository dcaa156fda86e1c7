"""Benchmark trackers: time in the training thread per log, and 100,000 logs end to end.

1. Median time spent in the calling thread per ``run.log()`` with Trackio and
   W&B (offline) enabled, against calling ``trackio.log`` + ``wandb.log``
   directly with the same data; prints both medians and the ratio (goal >= 10x).
2. N logs (100,000; 10,000 with --quick) through ``run.log()``: peak RSS growth
   stays bounded by the queues, and ``finish()`` delivers every row (rows are
   counted in the journal, Trackio's SQLite and W&B's offline file).
3. The extra channels: per-log time in the training thread with alert rules,
   a histogram every 10th row and GPU sampling (system rows, throttle rules,
   energy summary; fake sysfs GPU) on, against all of them off, in the same
   process, modes interleaved over several repeats (median and spread), plus
   the writer thread's CPU time per row, where that work happens.

Everything is written under a temporary directory (no network, no home dir).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import threading
import time
from pathlib import Path

_TMP = Path(tempfile.mkdtemp(prefix="bench-trackers-"))
for _k, _v in {"TRACKIO_DIR": "trackio", "WANDB_DIR": "wandb", "HOME": "home"}.items():
    os.environ[_k] = str(_TMP / _v)
    (_TMP / _v).mkdir()
os.environ.update(WANDB_MODE="offline", WANDB_SILENT="true", HF_HUB_OFFLINE="1")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import statistics  # noqa: E402
import types  # noqa: E402

import trackers  # noqa: E402
from rundata.journal import read_records  # noqa: E402
from trackers.readback import trackio_db, trackio_rows, wandb_run  # noqa: E402

CFG = types.SimpleNamespace(MODEL="gpt2", OPTIMIZER="adamw")


def _row(i: int) -> dict[str, float]:
    return {"train/loss": 4.0 / (1 + i * 0.01), "lr": 6e-4, "sparsity": min(0.5, i / 1e4),
            "iter_time_ms": 95.0 + (i % 7), "tokens_per_s": 42000.0 + i % 100}


def _rss_mb() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def bench_latency(n: int) -> None:
    """Median per-call time in this thread: trackers vs direct trackio+wandb."""
    import trackio
    import wandb

    ours = []
    run = trackers.init(cfg=CFG, project="bench-latency", run_name="via-trackers", trackers="trackio,wandb",
                        run_dir=_TMP / "runs" / "latency", capture_console=False)
    time.sleep(1.0)  # let wandb.init finish in its worker so both sides measure steady state
    for i in range(n):
        row = _row(i)
        t = time.perf_counter_ns()
        run.log(row, step=i)
        ours.append(time.perf_counter_ns() - t)
    run.finish()

    direct = []
    trackio.init(project="bench-latency", name="direct", embed=False, auto_log_gpu=False, auto_log_cpu=False)
    wb = wandb.init(project="bench-latency", name="direct", mode="offline", dir=str(_TMP / "wandb"),
                    settings=wandb.Settings(console="off", silent=True, x_disable_stats=True))
    for i in range(n):
        row = _row(i)
        t = time.perf_counter_ns()
        trackio.log(row, step=i)
        wandb.log(row, step=i)
        direct.append(time.perf_counter_ns() - t)
    trackio.finish()
    wb.finish()
    m_ours, m_direct = statistics.median(ours) / 1e3, statistics.median(direct) / 1e3
    print(f"per-log time in the training thread ({n} logs, trackio + wandb offline):")
    p99_ours, p99_direct = sorted(ours)[int(n * .99)] / 1e3, sorted(direct)[int(n * .99)] / 1e3
    print(f"  trackers run.log():          median {m_ours:8.1f} us   p99 {p99_ours:8.1f} us")
    print(f"  trackio.log + wandb.log:     median {m_direct:8.1f} us   p99 {p99_direct:8.1f} us")
    print(f"  ratio direct / trackers:     {m_direct / m_ours:8.1f}x   (goal >= 10x)")


def bench_volume(n: int) -> None:
    """n logs: bounded memory, everything delivered."""
    base = _rss_mb()
    peak = [base]
    stop = threading.Event()

    def sample() -> None:
        while not stop.wait(0.05):
            peak[0] = max(peak[0], _rss_mb())

    threading.Thread(target=sample, daemon=True).start()
    run = trackers.init(cfg=CFG, project="bench-volume", run_name="volume", trackers="trackio,wandb",
                        run_dir=_TMP / "runs" / "volume", capture_console=False)
    t0 = time.perf_counter()
    for i in range(n):
        run.log(_row(i), step=i)
    t_log = time.perf_counter() - t0
    run.finish()
    t_all = time.perf_counter() - t0
    stop.set()
    journal = sum(1 for r in read_records(run.dir) if r["type"] == "log")
    tio = len(trackio_rows(trackio_db("bench-volume"), "volume"))
    wb = len(wandb_run(run.ctx.info["wandb"]["dir"])["history"])
    ok = journal == tio == wb == n
    print(f"{n} logs through trackers (trackio + wandb offline):")
    print(f"  log loop {t_log:.2f} s, finish() done after {t_all:.2f} s; not sent (queue full): {run.not_sent}")
    print(f"  peak RSS growth {peak[0] - base:.1f} MiB (queues bounded at 10000 rows each)")
    print(f"  rows delivered: journal {journal}, trackio {tio}, wandb {wb} -> {'all delivered' if ok else 'MISSING'}")
    if not ok:
        sys.exit("bench_trackers: rows missing after finish()")


def _channels_once(n: int, on: bool, tag: str) -> tuple[list[int], float]:
    """n logs in one run; returns (per-call ns in this thread, writer CPU us per row)."""
    from rundata.histogram import Histogram

    cfg = types.SimpleNamespace(**vars(CFG), TRACKER_ALERTS=on, TRACKER_GPU_INTERVAL=0.05)
    hist = Histogram([float(i % 7) for i in range(64)], [float(e) for e in range(-40, 25)])
    run = trackers.init(cfg=cfg, project="bench-channels", run_name=tag, trackers="trackio",
                        run_dir=_TMP / "runs" / tag, capture_console=False, log_gpu=on)
    time.sleep(0.5)
    writer_clock = time.pthread_getcpuclockid(run._writer.ident)
    cpu0 = time.clock_gettime(writer_clock)
    calls = []
    for i in range(n):
        row: dict = _row(i)
        if on and i % 10 == 0:
            row["numerics/hist/fc1/activation"] = hist
        t = time.perf_counter_ns()
        run.log(row, step=i)
        calls.append(time.perf_counter_ns() - t)
    while run._queue:
        time.sleep(0.01)
    cpu = time.clock_gettime(writer_clock) - cpu0
    run.finish()
    return calls, cpu / n * 1e6


def bench_channels(n: int, repeats: int) -> None:
    """Alerts + histograms + GPU/energy on vs off: training-thread time per log, interleaved repeats."""
    os.environ["KTRACK_SYSFS_ROOT"] = str(Path(__file__).resolve().parent.parent / "tests/gpu/fixtures/amd_w7900")
    medians: dict[bool, list[float]] = {False: [], True: []}
    writer: dict[bool, list[float]] = {False: [], True: []}
    for r in range(repeats):
        for on in ((False, True) if r % 2 == 0 else (True, False)):
            calls, cpu_us = _channels_once(n, on, f"{'on' if on else 'off'}-{r}")
            medians[on].append(statistics.median(calls) / 1e3)
            writer[on].append(cpu_us)
    os.environ.pop("KTRACK_SYSFS_ROOT", None)
    print(f"alerts + histograms (1 in 10 rows) + GPU sampling/energy, {n} logs x {repeats} repeats, interleaved:")
    for on in (False, True):
        m = medians[on]
        print(f"  {'on ' if on else 'off'}: training thread median per log {statistics.median(m):6.2f} us "
              f"(repeats {min(m):.2f}-{max(m):.2f}); writer thread CPU {statistics.median(writer[on]):7.1f} us/row")
    ratios = [a / b for a, b in zip(medians[True], medians[False], strict=True)]
    print(f"  on / off in the training thread: median {statistics.median(ratios):.2f}x "
          f"(spread {min(ratios):.2f}-{max(ratios):.2f}x)")


def main() -> None:
    """Run the benchmarks."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes, for smoke testing")
    args = parser.parse_args()
    bench_latency(500 if args.quick else 3000)
    bench_volume(10_000 if args.quick else 100_000)
    bench_channels(500 if args.quick else 3000, 5)


if __name__ == "__main__":
    main()
