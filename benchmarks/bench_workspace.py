"""The live workspace on 20 runs x 100 metrics x 10,000 steps while a writer appends 1,000 rows/s.

Prints: first paint (process start to first frame, 160x48, opened 1 s after the
writer's first rows, so that it appends steadily meanwhile), refresh tick CPU
(tick + frame, median and worst), peak RSS, each against its goal (median,
worst or peak over repeats, and each repeat's figure); then time
to first screen in tmux of the workspace and of ``wandb leet`` on the same
run written to W&B offline, interleaved repeats, median and spread, ratio.
``--quick``: 4 runs x 100 metrics x 2,000 steps, fewer repeats.
"""
from __future__ import annotations

import json
import os
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
CACHE = REPO / "benchmarks" / ".cache"
QUICK = "--quick" in sys.argv
RUNS, METRICS, STEPS = (4, 100, 2000) if QUICK else (20, 100, 10000)
PROJECT = f"ws-{RUNS}x{METRICS}x{STEPS}"
SECONDS = 8 if QUICK else 20
REPEATS = 2 if QUICK else 3

MAKE = r'''
import math, sys
from trackio.sqlite_storage import SQLiteStorage
project, runs, metrics, steps = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
names = ["train/loss"] + [f"m{j:03d}" for j in range(1, metrics)]
for r in range(runs):
    for s0 in range(0, steps, 2000):
        idx = list(range(s0, min(steps, s0 + 2000)))
        rows = [{n: 1.0 + math.sin(i / 50 + j) / (1 + r) for j, n in enumerate(names)} for i in idx]
        SQLiteStorage.bulk_log(project, f"run-{r:02d}", rows, steps=idx, run_id=f"run-{r:02d}-id")
'''

WRITER = r'''
import math, sys, time
from trackio.sqlite_storage import SQLiteStorage
project, metrics, start, secs = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4])
names = ["train/loss"] + [f"m{j:03d}" for j in range(1, metrics)]
s, t0 = start, time.time()
while time.time() - t0 < secs:
    idx = list(range(s, s + 100))
    SQLiteStorage.bulk_log(project, "run-00", [{n: 0.5 + math.cos(i / 40 + j) for j, n in enumerate(names)}
                                                for i in idx], steps=idx, run_id="run-00-id")
    s += 100
    if s == start + 100:
        print("writing", flush=True)
    time.sleep(max(0.0, t0 + (s - start) / 1000 - time.time()))
print(s - start)
'''

TICKS = r'''
import time
t0 = time.perf_counter()
import argparse, json, resource, sys
from pathlib import Path
from rundata.store import open_project
from viewer.workspace import Workspace
pr = open_project(sys.argv[1], Path(sys.argv[2]))
ws = Workspace([pr], argparse.Namespace(runs="/nonexistent", zoom=0, run="run-00", compare=None, interval=1.0))
ws.prepare(160, 48); ws.tick(); ws.frame(160, 48)
first = time.perf_counter() - t0
ticks, end = [], time.time() + float(sys.argv[3])
while time.time() < end:
    time.sleep(float(sys.argv[4]))
    c = time.process_time(); ws.tick(); ws.frame(160, 48); ticks.append(time.process_time() - c)
print(json.dumps({"first": first, "ticks": ticks, "rows": ws.source.traces[ws.state.selected[0]].rows,
                  "rss": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
'''

WANDB = r'''
import math, os, sys
import wandb
metrics, steps = int(sys.argv[1]), int(sys.argv[2])
names = ["train/loss"] + [f"m{j:03d}" for j in range(1, metrics)]
run = wandb.init(project="bench-ws", name="run-00", mode="offline", dir=sys.argv[3])
for i in range(steps):
    run.log({n: 1.0 + math.sin(i / 50 + j) for j, n in enumerate(names)}, step=i)
run.finish()
'''


def env() -> dict[str, str]:
    e = {k: v for k, v in os.environ.items() if not k.startswith(("TRACKIO", "HF_", "WANDB"))}
    e.update(TRACKIO_DIR=str(CACHE / "trackio"), HF_HOME=str(CACHE / "hf"), HF_HUB_OFFLINE="1",
             WANDB_MODE="offline", WANDB_SILENT="true", PYTHONPATH=str(REPO), TERM="xterm-256color",
             XDG_CACHE_HOME=str(CACHE / "xdg"))
    return e


def dataset() -> Path:
    db = CACHE / "trackio" / f"{PROJECT}.db"
    if not db.exists():
        print(f"  generating {PROJECT} (once; cached in {CACHE}) ...", flush=True)
        CACHE.mkdir(parents=True, exist_ok=True)
        subprocess.run([sys.executable, "-c", MAKE, PROJECT + "-tmp", str(RUNS), str(METRICS), str(STEPS)],
                       env=env(), check=True)
        for suffix in ("", "-wal", "-shm"):
            src = CACHE / "trackio" / f"{PROJECT}-tmp.db{suffix}"
            if src.exists():
                src.rename(CACHE / "trackio" / f"{PROJECT}.db{suffix}")
    return db


def work_copy(db: Path, into: Path) -> Path:
    (into / "trackio").mkdir(parents=True, exist_ok=True)
    out = into / "trackio" / db.name
    shutil.copy(db, out)
    return out


def ticks(db: Path, tmp: Path) -> dict:
    live = work_copy(db, tmp / "live")
    e = env()
    e["TRACKIO_DIR"] = str(live.parent)
    writer = subprocess.Popen([sys.executable, "-c", WRITER, PROJECT, str(METRICS), str(STEPS), str(SECONDS + 5)],
                              env=e, stdout=subprocess.PIPE, text=True)
    assert writer.stdout is not None
    writer.stdout.readline()  # its first rows are written: it appends 1,000 rows/s from now on
    time.sleep(1.0)
    got = subprocess.run([sys.executable, "-c", TICKS, PROJECT, str(live), str(SECONDS), "1.0"], env=e,
                         capture_output=True, text=True)
    writer.communicate(timeout=120)
    if got.returncode:
        sys.exit(f"bench_workspace: the workspace failed:\n{got.stderr}")
    shutil.rmtree(live.parent, ignore_errors=True)
    return json.loads(got.stdout)


def first_screen(cmd: str, marker: str, cwd: Path, e: dict[str, str], timeout: float = 60.0) -> float | None:
    """Seconds from starting ``cmd`` in a 160x48 tmux to ``marker`` (its first chart's name)
    and a drawn chart (braille dots) on its screen."""
    sock = f"bench-ws-{os.getpid()}-{time.monotonic_ns()}"
    exports = " ".join(f"{k}={shlex.quote(v)}" for k, v in e.items()
                       if k in ("TRACKIO_DIR", "HF_HOME", "PYTHONPATH", "TERM", "WANDB_MODE", "HOME"))
    t0 = time.perf_counter()
    subprocess.run(["tmux", "-L", sock, "new-session", "-d", "-x", "160", "-y", "48",
                    f"cd {shlex.quote(str(cwd))} && env {exports} {cmd}; sleep 30"], check=True)
    try:
        while time.perf_counter() - t0 < timeout:
            screen = subprocess.run(["tmux", "-L", sock, "capture-pane", "-p"], capture_output=True,
                                    text=True).stdout
            if marker in screen and any("\u2801" <= ch <= "\u28ff" for ch in screen):
                return time.perf_counter() - t0
            time.sleep(0.02)
        return None
    finally:
        subprocess.run(["tmux", "-L", sock, "kill-server"], capture_output=True)


def spread(xs: list[float]) -> str:
    return f"median {statistics.median(xs):.3f} s (min {min(xs):.3f}, max {max(xs):.3f}, n={len(xs)})"


def main() -> int:
    db = dataset()
    print(f"bench_workspace: {RUNS} runs x {METRICS} metrics x {STEPS} steps, writer 1,000 rows/s "
          f"(100 metrics each), ticks every 1 s for {SECONDS} s")
    with tempfile.TemporaryDirectory() as tmp:
        got = [ticks(db, Path(tmp) / f"r{i}") for i in range(REPEATS)]
        firsts = [r["first"] for r in got]
        meds = [statistics.median(r["ticks"]) * 1000 for r in got]
        worsts = [max(r["ticks"]) * 1000 for r in got]
        rss = [r["rss"] for r in got]
        med = statistics.median([t * 1000 for r in got for t in r["ticks"]])
        rows = (("first paint", statistics.median(firsts), firsts, "s", 1.0),
                ("tick CPU median", med, meds, "ms", 50),
                ("tick CPU worst", max(worsts), worsts, "ms", 150),
                ("peak RSS", max(rss), rss, "MB", 200))
        for label, value, each, unit, goal in rows:
            verdict = "met" if value < goal else "NOT met"
            print(f"  {label:<18} {value:8.3f} {unit:<3} goal < {goal:g} {unit}: {verdict}  "
                  f"(per repeat: {' '.join(f'{x:.3g}' for x in each)})")
        for i, r in enumerate(got):
            print(f"  repeat {i + 1}: {r['rows']} rows folded in (run-00), {len(r['ticks'])} ticks (ms, in order: "
                  f"{' '.join(f'{x * 1000:.0f}' for x in r['ticks'])})")
        if shutil.which("tmux") is None or not (Path(sys.executable).parent / "wandb").exists():
            print("  wandb leet: not timed (tmux or wandb missing)")
            return 0
        wdir = Path(tmp) / "wb"
        wdir.mkdir()
        steps = min(STEPS, 2000 if QUICK else 10000)
        e = env()
        e["HOME"] = str(Path(tmp) / "home")
        subprocess.run([sys.executable, "-c", WANDB, str(METRICS), str(steps), str(wdir)], env=e, check=True,
                       capture_output=True)
        one = Path(tmp) / "one"
        (one / "trackio").mkdir(parents=True)
        subprocess.run([sys.executable, "-c", MAKE, "one", "1", str(METRICS), str(steps)],
                       env={**e, "TRACKIO_DIR": str(one / "trackio")}, check=True)
        ws_cmd = f"{shlex.quote(sys.executable)} -m viewer -p one -i 2"
        wandb_bin = shlex.quote(str(Path(sys.executable).parent / "wandb"))
        leet_cmd = f"{wandb_bin} leet {shlex.quote(str(wdir / 'wandb'))}"
        ours, theirs = [], []
        for _ in range(3 if QUICK else 5):
            a = first_screen(ws_cmd, "train/loss", one, {**e, "TRACKIO_DIR": str(one / "trackio")})
            b = first_screen(leet_cmd, "m001", wdir, e)  # leet sorts charts by name
            if a is not None:
                ours.append(a)
            if b is not None:
                theirs.append(b)
        print(f"  first screen, same run ({steps} steps x {METRICS} metrics), 160x48 tmux:")
        print(f"    trackio-view  {spread(ours) if ours else 'never showed a chart'}")
        print(f"    wandb leet    {spread(theirs) if theirs else 'never showed a chart within 60 s'}")
        if ours and theirs:
            print(f"    ratio leet / trackio-view: {statistics.median(theirs) / statistics.median(ours):.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
