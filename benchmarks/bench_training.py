"""Benchmark: what tracking costs a tiny GPT-2 training loop, in wall time and in CPU seconds.

Builds the tiny GPT-2 once and runs the same training loop (forward,
backward, clipping, AdamW step, ``run.log`` of the trainer's metrics every
``--log-every`` iterations) in each mode: tracking off, Trackio, Trackio + W&B
(offline), and + GPU logging when a GPU is found. The modes are interleaved
over ``--repeats`` rounds, each round starting one mode later (off, trackio,
trackio+wandb; trackio, trackio+wandb, off; ...), so a machine that gets
busier or quieter affects every mode alike; after a tracked loop the next
one waits until W&B's helper process is idle. Start-up
(``trackers.init``) and ``finish()`` are outside the measured loop; the
writer, the backends' workers, Trackio's and W&B's threads and W&B's helper
process run during it, as in training.

Printed per mode, as the median over the rounds with the spread (min..max):

* wall seconds of the loop, and the overhead against tracking off in the
  same round (a ratio per round, then its median);
* CPU seconds per 1,000 iterations of the training itself (the main thread,
  ``run.log()`` included, and torch's threads), of ktrack's writer thread
  (and the GPU sampler), of the backends' worker threads (ktrack's threads,
  where ``trackio.log``/``wandb.log`` run), of the tracker libraries' own
  threads in this process (Trackio's sender, W&B's client), and of the
  trackers' helper processes (wandb-core); and the tracking total as a share
  of the training's CPU.

Everything is written under a temporary folder (no network, no home dir).

    python benchmarks/bench_training.py            # 100 iterations x 5 rounds
    python benchmarks/bench_training.py --quick    # 40 iterations x 5 rounds, smaller model
"""

from __future__ import annotations

import argparse
import importlib
import os
import resource
import statistics
import sys
import tempfile
import threading
import time
import types
from pathlib import Path
from typing import Any, Callable

REPO = Path(__file__).resolve().parents[1]
#: mode -> (trackers, log_gpu); None: tracking off
MODES: dict[str, tuple[str, bool] | None] = {
    "off": None, "trackio": ("trackio", False), "trackio+wandb": ("trackio,wandb", False),
    "trackio+wandb+gpu": ("trackio,wandb", True),
}
PARTS = ("training", "ktrack writer", "backend workers", "library threads", "helper processes")


# -- CPU accounting ------------------------------------------------------------
def _thread_cpu() -> dict[int, tuple[str, float]]:
    """{ident: (name, CPU seconds)} of this process's live Python threads."""
    out = {}
    for t in threading.enumerate():
        try:
            out[t.ident or 0] = (t.name, time.clock_gettime(time.pthread_getcpuclockid(t.ident or 0)))
        except (OSError, ValueError, OverflowError):
            continue
    return out


def _descendants(root: int) -> list[int]:
    parents: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                ppid = int(f.read().rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            continue
        parents.setdefault(ppid, []).append(int(entry))
    found, todo = [], [root]
    while todo:
        for child in parents.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def _process_cpu(pid: int) -> float:
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime + stime
    except (OSError, ValueError, IndexError):
        return 0.0


def _snapshot() -> dict[str, Any]:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return {"process": usage.ru_utime + usage.ru_stime, "threads": _thread_cpu(),
            "helpers": {pid: _process_cpu(pid) for pid in _descendants(os.getpid())}}


def _cpu_parts(before: dict[str, Any], after: dict[str, Any]) -> dict[str, float]:
    """CPU seconds between two snapshots: training, ktrack threads, library threads, helper processes."""
    main = threading.main_thread().ident
    parts = dict.fromkeys(PARTS[1:4], 0.0)
    for ident, (name, cpu) in after["threads"].items():
        if ident == main:
            continue
        used = cpu - before["threads"].get(ident, (name, 0.0))[1]
        if name == "trackers-writer" or name.startswith("ktrack-"):
            parts["ktrack writer"] += used
        elif name.startswith("trackers-"):
            parts["backend workers"] += used  # ktrack's worker threads, running trackio.log / wandb.log
        else:
            parts["library threads"] += used
    parts["helper processes"] = sum(cpu - before["helpers"].get(pid, 0.0) for pid, cpu in after["helpers"].items())
    in_process = parts["ktrack writer"] + parts["backend workers"] + parts["library threads"]
    return {"training": after["process"] - before["process"] - in_process, **parts}


# -- the loop --------------------------------------------------------------------
def _setup(opts: argparse.Namespace, base: Path) -> tuple[Callable[[Any], None], dict[str, int], int]:
    import torch

    from gpt2 import data as gdata
    from gpt2.model import GPT, GPTConfig
    from training.optim import build_optimizer

    sizes = dict(n_layer=2, n_head=2, n_embd=64, block_size=64) if opts.quick else \
        dict(n_layer=4, n_head=4, n_embd=128, block_size=128)
    batch = 16
    torch.manual_seed(0)
    folder = gdata.build(gdata.DataSpec(dataset="stdlib", path=None, tokenizer="byte", max_tokens=300_000,
                                               val_fraction=0.05, fineweb_name=None), base / "data")
    data = gdata.TokenData(folder, sizes["block_size"], seed=0)
    model = GPT(GPTConfig(vocab_size=256, dropout=0.0, bias=True, **sizes))
    opt = build_optimizer(model, "adamw", 1e-3, 0.1, (0.9, 0.95))

    def loop(run: Any) -> None:
        for it in range(1, opts.iters + 1):
            t_it = time.perf_counter()
            x, y = data.batch("train", batch)
            _, loss = model(x, y)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            opt.step()
            opt.zero_grad(set_to_none=True)
            if run is not None and it % opts.log_every == 0:
                ms = 1000 * (time.perf_counter() - t_it)
                run.log({"train/loss": loss.item(), "lr": 1e-3, "sparsity": 0.0, "iter_time_ms": ms,
                         "tokens_per_s": batch * sizes["block_size"] / (ms / 1000)}, step=it)

    return loop, sizes, batch


def _started(run: Any, timeout: float = 120.0) -> None:
    """Wait until every backend has started (trackio.init / wandb.init run in the workers)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and not all(w.started or not w.enabled for w in run.workers):
        time.sleep(0.05)


def _quiet(limit: float = 30.0) -> None:
    """Wait until the helper processes stop using CPU (W&B's writes its files after finish())."""
    deadline = time.monotonic() + limit
    last = -1.0
    while time.monotonic() < deadline:
        used = sum(_process_cpu(pid) for pid in _descendants(os.getpid()))
        if used == last:
            return
        last = used
        time.sleep(0.3)


def _gpu_present() -> bool:
    try:
        import gpu

        return bool(gpu.discover())
    except Exception:  # noqa: BLE001 - no gpu package or no driver: no GPU mode
        return False


def _spread(values: list[float], fmt: str) -> str:
    return f"{fmt.format(statistics.median(values))} ({fmt.format(min(values))}..{fmt.format(max(values))})"


def main() -> int:
    """Run the rounds and print the table."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="40 iterations per loop, smaller model")
    parser.add_argument("--iters", type=int, help="iterations per measured loop")
    parser.add_argument("--repeats", type=int, default=5, help="rounds; each runs every mode once (at least 5)")
    parser.add_argument("--log-every", type=int, default=10, help="iterations between run.log calls")
    opts = parser.parse_args()
    opts.iters = opts.iters or (40 if opts.quick else 100)
    if opts.repeats < 5:
        parser.error("--repeats must be at least 5 for a median and a spread that mean something")
    settle = 0.5 if opts.quick else 2.0
    tmp = tempfile.TemporaryDirectory(prefix="ktrack-bench-")
    base = Path(tmp.name)
    os.environ.update(HOME=str(base / "home"), TRACKIO_DIR=str(base / "trackio"), WANDB_DIR=str(base / "wandb"),
                      WANDB_MODE="offline", WANDB_SILENT="true", XDG_CACHE_HOME=str(base / "cache"),
                      TRACKIO_NO_BROWSER="1", HF_HUB_OFFLINE="1")
    for sub in ("home", "wandb"):
        (base / sub).mkdir(parents=True, exist_ok=True)
    sys.path.insert(0, str(REPO))
    import torch

    import trackers

    modes = {m: v for m, v in MODES.items() if not (v and v[1]) or _gpu_present()}
    loop, sizes, batch = _setup(opts, base)
    for package in ("trackio", "wandb"):  # imported here, not inside the first measured round
        importlib.import_module(package)
    loop(None)  # warm-up: allocator, kernels, page cache
    wall: dict[str, list[float]] = {m: [] for m in modes}
    cpu: dict[str, list[dict[str, float]]] = {m: [] for m in modes}
    names = list(modes)
    for rnd in range(opts.repeats):
        for mode in names[rnd % len(names):] + names[:rnd % len(names)]:  # each round starts one mode later
            spec = modes[mode]
            run = None
            if spec is not None:
                name = f"{mode}-{rnd}".replace("+", "-")
                run = trackers.init({"bench": mode}, project="bench-training", run_name=name, trackers=spec[0],
                                    log_gpu=spec[1], run_dir=base / "runs" / name, cfg=types.SimpleNamespace(),
                                    capture_console=False)
                _started(run)
                time.sleep(settle)  # the trackers' threads settle, as they would early in a run
            before, t0 = _snapshot(), time.perf_counter()
            loop(run)
            wall[mode].append(time.perf_counter() - t0)
            if run is not None:
                time.sleep(0.1)  # the writer's next polls: rows logged at the end are handled inside the window
            cpu[mode].append(_cpu_parts(before, _snapshot()))
            if run is not None:
                run.finish()
                _quiet()
    per_k = 1000 / opts.iters
    rows_per_k = 1000 / max(1, opts.iters // opts.log_every)
    print(f"tiny GPT-2 {sizes}, batch {batch}, {opts.iters} iterations x {opts.repeats} interleaved rounds, "
          f"run.log every {opts.log_every}, {os.cpu_count()} CPU cores, torch {torch.__version__}")
    print("median over the rounds (min..max)")
    print(f"{'mode':<18} {'wall s':>22} {'overhead':>26}")
    for mode in modes:
        ratios = [100.0 * (w - o) / o for w, o in zip(wall[mode], wall["off"], strict=True)]
        over = "" if mode == "off" else _spread(ratios, "{:+.1f}%")
        print(f"{mode:<18} {_spread(wall[mode], '{:.2f}'):>22} {over:>26}")
    print(f"\nCPU seconds per 1,000 iterations ({1000 // opts.log_every} run.log calls), median (min..max)")
    print(f"{'mode':<18} " + " ".join(f"{p:>20}" for p in PARTS) + f" {'tracking/training':>18}")
    for mode in modes:
        cells = [_spread([c[p] * per_k for c in cpu[mode]], "{:.3f}") for p in PARTS]
        share = [100.0 * sum(c[p] for p in PARTS[1:]) / c["training"] for c in cpu[mode]]
        share_cell = _spread(share, "{:.2f}%")
        print(f"{mode:<18} " + " ".join(f"{cell:>20}" for cell in cells) + f" {share_cell:>18}")
    print()
    for mode in [m for m in modes if m != "off"]:
        own = [c["ktrack writer"] * rows_per_k for c in cpu[mode]]
        calls = [c["backend workers"] * rows_per_k for c in cpu[mode]]
        print(f"per 1,000 logged rows ({mode}): writer {_spread(own, '{:.3f}')} CPU s, "
              f"backend calls {_spread(calls, '{:.3f}')} CPU s")
    tmp.cleanup()
    return 0


if __name__ == "__main__":
    sys.exit(main())
