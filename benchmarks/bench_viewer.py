"""Benchmark trackio-view on a project with one run of 1,000,000 steps.

The database is written by the real trackio package (SQLiteStorage.bulk_log,
the call trackio's own sender thread makes) and cached under
benchmarks/.cache/ (git-ignored).  Prints:

* ``trackio-view --once`` whole-process wall and CPU time against reading the
  same loss series through trackio's own reader
  (``SQLiteStorage.get_metric_values``) in a fresh process, interleaved over
  5 repeats (median, min, max) with the ratios: cold (a fresh summary cache,
  ``$XDG_CACHE_HOME/ktrack/viewer``, every time: the first run ever), warm
  (the cache of an earlier run, no new rows) and ``--no-cache``;
* the live workspace (``viewer.workspace``, 120x40, every metric of the run)
  on the same run: first load, refresh tick (tick + frame) while a writer
  appends 1,000 steps/s, and the viewer process's peak memory.

``--quick`` uses a 100,000-step database and fewer repetitions.

Every process runs from byte-compiled modules (``PYTHONPYCACHEPREFIX`` under
``benchmarks/.cache/``, even where ``PYTHONDONTWRITEBYTECODE`` is set), as an
installed ktrack and trackio do; the first, untimed run compiles them.
"""
from __future__ import annotations

import argparse
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
CACHE = REPO / "benchmarks" / ".cache"
PROJECT = "bench-viewer"
RUN = "run-1m"
GPU_KEYS = ("utilization", "memory_used_gb", "memory_percent", "temperature_c", "power_w",
            "clock_graphics_mhz", "clock_memory_mhz", "fan_speed")

GEN = r'''
import math, sys
from trackio.sqlite_storage import SQLiteStorage
steps, first, chunk = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
project, run, run_id = sys.argv[4], sys.argv[5], "bench-run-id"
keys = %r
for lo in range(first, first + steps, chunk):
    batch, idx = [], list(range(lo, min(first + steps, lo + chunk)))
    for s in idx:
        m = {"train/loss": 10.0 * math.exp(-s / 200000) + 0.01 * math.sin(s), "lr": 6e-4 * (1 - s / 2e6),
             "sparsity": min(0.5, s / 2e6)}
        if s %% 10 == 0:
            m.update({"gpu/" + k: 50.0 + (s %% 50) for k in keys})
        batch.append(m)
    SQLiteStorage.bulk_log(project, run, batch, steps=idx, run_id=run_id)
''' % (GPU_KEYS,)


def env_for(trackio_dir: Path, xdg_cache: Path | None = None) -> dict[str, str]:
    """Environment that points trackio (and the viewer and its cache) at
    ``trackio_dir`` and ``xdg_cache`` only."""
    env = dict(os.environ, TRACKIO_DIR=str(trackio_dir), PYTHONPATH=str(REPO),
               HF_HUB_OFFLINE="1", TRACKIO_DISABLE_TELEMETRY="1", PYTHONPYCACHEPREFIX=str(CACHE / "pycache"))
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    if xdg_cache is not None:
        env["XDG_CACHE_HOME"] = str(xdg_cache)
    return env


def ensure_db(steps: int) -> Path:
    """Write (once) and return the Trackio dir holding a ``steps``-step run."""
    d = CACHE / f"viewer-{steps}"
    if (d / f"{PROJECT}.db").exists() and (d / "complete").exists():
        return d
    shutil.rmtree(d, ignore_errors=True)
    d.mkdir(parents=True)
    t = time.perf_counter()
    print(f"writing {steps:,} steps with trackio into {d} (cached afterwards) ...", flush=True)
    subprocess.run([sys.executable, "-c", GEN, str(steps), "0", "50000", PROJECT, RUN],
                   env=env_for(d), check=True)
    (d / "complete").write_text(str(steps))
    print(f"  written in {time.perf_counter() - t:.1f} s", flush=True)
    return d


def run_once(cmd: list[str], env: dict[str, str]) -> tuple[float, float, str]:
    """Wall seconds, CPU seconds (user + system, children) and stdout of one run of ``cmd``."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t = time.perf_counter()
    out = subprocess.run(cmd, env=env, check=True, capture_output=True, text=True).stdout
    wall = time.perf_counter() - t
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime), out


def spread(xs: list[float]) -> str:
    """Median and range of ``xs`` in seconds."""
    return f"{statistics.median(xs):.3f} s (min {min(xs):.3f}, max {max(xs):.3f})"


TRACKIO_READ = ("from trackio.sqlite_storage import SQLiteStorage as S; import sys; "
                "v = S.get_metric_values(sys.argv[1], sys.argv[2], 'train/loss'); print(len(v), v[-1]['value'])")

TICK = r'''
import argparse, resource, sys, time
from pathlib import Path
from rundata.store import open_project
from viewer.workspace import Workspace
pr = open_project(sys.argv[1], Path(sys.argv[2]) / (sys.argv[1] + ".db"))
ws = Workspace([pr], argparse.Namespace(runs="/nonexistent", zoom=0, run=None, compare=None, interval=1.0))
t = time.perf_counter(); ws.prepare(120, 40); ws.tick(); ws.frame(120, 40); first = time.perf_counter() - t
trace = ws.source.traces[ws.state.selected[0]]
start, ticks, end = trace.rows, [], time.time() + float(sys.argv[3])
while time.time() < end:
    time.sleep(0.25)
    t = time.perf_counter(); ws.tick(); ws.frame(120, 40); ticks.append(time.perf_counter() - t)
ticks.sort()
print(first, ticks[len(ticks) // 2], ticks[-1], trace.rows - start,
      resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
'''

WRITER = r'''
import math, sys, time
from trackio.sqlite_storage import SQLiteStorage
project, run, start, secs = sys.argv[1], sys.argv[2], int(sys.argv[3]), float(sys.argv[4])
s, t0 = start, time.time()
while time.time() - t0 < secs:
    idx = list(range(s, s + 100))
    SQLiteStorage.bulk_log(project, run, [{"train/loss": 1.0 + 0.001 * (i %% 7), "lr": 1e-4} for i in idx],
                           steps=idx, run_id="bench-run-id")
    s += 100
    time.sleep(max(0.0, t0 + (s - start) / 1000 - time.time()))
print(s - start)
'''.replace("%%", "%")


def once_figures(d: Path, reps: int) -> None:
    """``--once`` cold (a fresh cache each time: the first run ever), warm and
    ``--no-cache``, against trackio's own reader, interleaved ``reps`` times."""
    py = sys.executable
    cmd = [py, "-m", "viewer", "--once", "-p", PROJECT, "--dir", str(d), "--runs", str(d / "no-runs")]
    warm_xdg = Path(tempfile.mkdtemp(prefix="bench-viewer-warm-"))
    run_once(cmd, env_for(d, warm_xdg))  # builds the warm cache (and compiles the modules)
    run_once([py, "-c", TRACKIO_READ, PROJECT, RUN], env_for(d))
    modes = {
        "cold": lambda: cmd,
        "warm": lambda: cmd,
        "no-cache": lambda: cmd + ["--no-cache"],
        "trackio": lambda: [py, "-c", TRACKIO_READ, PROJECT, RUN],
    }
    wall: dict[str, list[float]] = {m: [] for m in modes}
    cpu: dict[str, list[float]] = {m: [] for m in modes}
    outs: dict[str, set[str]] = {m: set() for m in modes}
    names = list(modes)
    for rep in range(reps):
        for mode in names[rep % len(names):] + names[:rep % len(names)]:  # rotate the order
            xdg = Path(tempfile.mkdtemp(prefix="bench-viewer-cold-")) if mode == "cold" else warm_xdg
            w, c, out = run_once(modes[mode](), env_for(d, xdg))
            if mode == "cold":
                shutil.rmtree(xdg, ignore_errors=True)
            wall[mode].append(w)
            cpu[mode].append(c)
            outs[mode].add(out if mode != "trackio" else out.split()[0])
    shutil.rmtree(warm_xdg, ignore_errors=True)
    texts = outs["cold"] | outs["warm"] | outs["no-cache"]
    assert len(texts) == 1, "cold, warm and uncached --once text differ"
    latest = next(line for line in texts.pop().splitlines() if line.startswith("Latest Loss:")).split()[2]
    print(f"--once over {reps} interleaved repeats (whole process; wall, and CPU of the process):")
    for mode in names:
        label = "trackio SQLiteStorage.get_metric_values" if mode == "trackio" else f"trackio-view --once {mode}"
        print(f"  {label:<42} wall {spread(wall[mode])}  cpu {spread(cpu[mode])}")
    for mode in ("cold", "warm", "no-cache"):
        parts = []
        for what, xs in (("wall", wall), ("cpu", cpu)):
            per_rep = sorted(t / v for t, v in zip(xs["trackio"], xs[mode], strict=True))
            parts.append(f"{what} {statistics.median(xs['trackio']) / statistics.median(xs[mode]):5.1f}x "
                         f"(per repeat {per_rep[0]:.1f}x - {per_rep[-1]:.1f}x)")
        print(f"  ratio trackio / {mode:<8} " + ", ".join(parts))
    print(f"  goals: cold >= 10x and < 0.5 s, warm <= 0.1 s   (Latest Loss {latest}, "
          f"{next(iter(outs['trackio']))} points read by trackio)")


def main() -> None:
    """Run the benchmark and print its figures."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="100k steps, fewer repetitions")
    ap.add_argument("--once-only", action="store_true", help="only the --once figures")
    a = ap.parse_args()
    steps, reps = (100_000, 3) if a.quick else (1_000_000, 5)
    d = ensure_db(steps)
    py = sys.executable
    print(f"db: {steps:,} steps, {(d / (PROJECT + '.db')).stat().st_size / 1e6:.0f} MB")
    once_figures(d, reps)
    if a.once_only:
        return

    with tempfile.TemporaryDirectory() as tmp:
        live_dir = Path(tmp) / "trackio"
        live_dir.mkdir()
        shutil.copy(d / f"{PROJECT}.db", live_dir / f"{PROJECT}.db")
        secs = 4.0 if a.quick else 8.0
        lenv = env_for(live_dir, Path(tmp) / "xdg")  # cold cache: first load builds it
        writer = subprocess.Popen([py, "-c", WRITER, PROJECT, RUN, str(steps), str(secs + 2)],
                                  env=lenv, stdout=subprocess.PIPE, text=True)
        time.sleep(0.5)
        res = subprocess.run([py, "-c", TICK, PROJECT, str(live_dir), str(secs)], env=lenv,
                             check=True, capture_output=True, text=True).stdout.split()
        written = writer.communicate()[0].strip()
    first, med, worst, seen, rss = (float(x) for x in res)
    print(f"live workspace: first load {first * 1000:.0f} ms; refresh tick while writing 1,000 steps/s: "
          f"median {med * 1000:.1f} ms, worst {worst * 1000:.1f} ms (goal < 50 ms); "
          f"{int(seen):,} new rows read, writer wrote {written}")
    print(f"live workspace: peak memory (max RSS) {rss:.0f} MB (goal < 200 MB)")


if __name__ == "__main__":
    main()
