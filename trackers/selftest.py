"""python -m trackers.selftest trackio|wandb  (make trackio-test / make wandb-test)

Logs realistic fake training metrics (warm-up then cosine learning rate, noisy
decaying train loss, periodic validation loss, a sparsity ramp, a final
summary) through trackers to ONE tracker under the configured project, reads
back what that tracker wrote (Trackio's SQLite, W&B's offline run file) and
fails if anything is missing. W&B runs offline here; no network is needed.

Everything is written into a scratch folder (its own TRACKIO_DIR, WANDB_DIR and
run folder) that is removed afterwards: the fake runs never join the user's
real runs, so they show up in no dashboard, comparison or ``make wandb-sync``.
``--keep DIR`` writes into DIR instead and keeps it to look at.
"""

from __future__ import annotations

import argparse
import math
import os
import random
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any

import kconf
from kconf.trackerspec import TRACKIO, WANDB
from ktrack import keys
from ktrack.messages import fail, mark_shown, usage

PROG = "python -m trackers.selftest"


def fake_metrics(steps: int, seed: int = 0) -> tuple[dict[int, dict[str, float]], dict[str, float]]:
    """Return ({step: metrics}, summary) of a plausible pruning run."""
    rng = random.Random(seed)
    warmup, lr_max, lr_min, eval_every = max(1, steps // 10), 6e-4, 6e-5, max(1, steps // 8)
    rows: dict[int, dict[str, float]] = {}
    best = math.inf
    for it in range(steps):
        if it < warmup:
            lr = lr_max * (it + 1) / warmup
        else:
            p = (it - warmup) / max(1, steps - warmup)
            lr = lr_min + 0.5 * (lr_max - lr_min) * (1 + math.cos(math.pi * p))
        frac = it / steps
        loss = 1.6 + 3.2 * math.exp(-4 * frac) + rng.gauss(0, 0.05)
        sparsity = min(0.5, max(0.0, (frac - 0.2) / 0.6 * 0.5))
        row = {keys.TRAIN_LOSS: loss, keys.LR: lr, keys.SPARSITY: sparsity,
               keys.ITER_TIME_MS: 95 + rng.gauss(0, 4), keys.TOKENS_PER_S: 42000 + rng.gauss(0, 900)}
        if it % eval_every == 0 or it == steps - 1:
            row[keys.VAL_LOSS] = loss + 0.08 + rng.gauss(0, 0.02)
            best = min(best, row[keys.VAL_LOSS])
        rows[it] = row
    return rows, {"best_val_loss": best, "total_time_s": round(steps * 0.095, 3)}


def _close(a: Any, b: Any) -> bool:
    try:
        return math.isclose(float(a), float(b), rel_tol=1e-6, abs_tol=1e-9)
    except (TypeError, ValueError):
        return a == b


def _compare(expected: dict[int, dict[str, float]], got: dict[int, dict[str, Any]]) -> list[str]:
    problems = []
    for step, row in expected.items():
        have = got.get(step)
        if have is None:
            problems.append(f"step {step} missing")
            continue
        for key, value in row.items():
            if key not in have:
                problems.append(f"step {step}: {key} missing")
            elif not _close(have[key], value):
                problems.append(f"step {step}: {key}={have[key]!r}, logged {value!r}")
    return problems


def _read_trackio(run: Any) -> tuple[dict[int, dict[str, Any]], dict[str, Any]]:
    """Metrics rows by step, and the summary (``summary/<key>`` entries of the run's config)."""
    from trackers.backends.trackio_backend import SUMMARY_PREFIX
    from trackers.readback import trackio_config, trackio_db, trackio_rows

    got: dict[int, dict[str, Any]] = {}
    db = trackio_db(run.project)
    for step, metrics in trackio_rows(db, run.name):
        got.setdefault(step, {}).update(metrics)
    config = trackio_config(db, run.name)
    return got, {k.removeprefix(SUMMARY_PREFIX): v for k, v in config.items() if k.startswith(SUMMARY_PREFIX)}


def _read_wandb(run: Any) -> tuple[dict[int, dict[str, Any]], dict[str, Any]]:
    from trackers.wandb_file import read_run, wait_finished

    info = run.ctx.info.get(WANDB) or {}
    wait_finished(info["dir"], timeout=60)  # W&B's helper process may still be writing after finish()
    data = read_run(info["dir"])
    got: dict[int, dict[str, Any]] = {}
    for row in data["history"]:
        got.setdefault(int(row.get("_step", -1)), {}).update(row)
    return got, data["summary"]


def _scratch_environment(scratch: Path) -> None:
    """Point Trackio and W&B at ``scratch`` (both read their folders when imported or initialised, so this
    runs before the first import of either)."""
    if "trackio" in sys.modules:
        fail(PROG, "trackio was imported before the self-test chose its scratch folder; run it as its own "
                   "process: python -m trackers.selftest")
    os.environ.update(TRACKIO_DIR=str(scratch / "trackio"), WANDB_DIR=str(scratch / "wandb"),
                      WANDB_MODE="offline")


def main(argv: list[str] | None = None) -> int:
    """Run the self-test for one tracker; exit status 0 when everything was read back."""
    parser = argparse.ArgumentParser(prog=PROG, description=__doc__.splitlines()[2])
    parser.add_argument("tracker", choices=[TRACKIO, WANDB])
    parser.add_argument("--steps", type=int, default=200, help="fake iterations to log (default 200)")
    parser.add_argument("--project", default=None, help="project (default: CONFIG_TRACKER_PROJECT)")
    parser.add_argument("--keep", metavar="DIR", default=None,
                        help="write into DIR and keep it (default: a scratch folder, removed afterwards)")
    args = parser.parse_args(argv)
    if args.steps < 1:
        usage(PROG, "--steps must be at least 1")
    scratch = Path(args.keep).resolve() if args.keep else Path(tempfile.mkdtemp(prefix="ktrack-selftest-"))
    try:
        scratch.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        usage(PROG, f"--keep {args.keep}: cannot create it ({exc.strerror}); give a writable folder")
    try:
        return _selftest(args, scratch)
    finally:
        if not args.keep:
            shutil.rmtree(scratch, ignore_errors=True)


def _selftest(args: argparse.Namespace, scratch: Path) -> int:
    _scratch_environment(scratch)
    import trackers
    from trackers.default_names import default_run_name
    from trackers.backends.wandb_backend import offline_notice_key

    cfg = kconf.load()
    name = default_run_name("selftest", args.tracker)
    run_dir = scratch / "runs" / name
    mark_shown("trackers", offline_notice_key(run_dir))  # the result below says where the offline run is
    run = trackers.init({"selftest": True, "steps": args.steps}, cfg=cfg, project=args.project, run_name=name,
                        trackers=[args.tracker], log_gpu=False, run_dir=run_dir, capture_console=False)
    expected, summary = fake_metrics(args.steps)
    for step, row in expected.items():
        val = {k: v for k, v in row.items() if k == keys.VAL_LOSS}
        run.log({k: v for k, v in row.items() if k != keys.VAL_LOSS}, step=step)
        if val:
            run.log(val, step=step)
    run.summary(summary)
    run.finish()
    if not isinstance(run, trackers.Run):
        fail(PROG, "this process is not rank 0 (RANK is set); run the self-test in a single process")

    worker = next((w for w in run.workers if w.name == args.tracker), None)
    if worker is None or worker.error:
        fail(PROG, f"{args.tracker} could not be used ({worker.error if worker else 'not installed'})")
    got, final = (_read_trackio if args.tracker == TRACKIO else _read_wandb)(run)
    problems = _compare(expected, got)
    problems += [f"summary {k} missing" for k, v in summary.items() if not _close(final.get(k), v)]
    problems += [f"summary {k} logged as a metric" for k in summary if any(k in row for row in got.values())]
    if problems:
        more = f" (and {len(problems) - 5} more)" if len(problems) > 5 else ""
        fail(PROG, f"{args.tracker} FAILED, {len(problems)} problems: {'; '.join(problems[:5])}{more}")
    print(f"trackers selftest ({args.tracker}): OK")
    print(f"  project: {run.project}")
    print(f"  run:     {run.name}")
    print(f"  steps verified: {len(expected)} ({sum(len(r) for r in expected.values())} values + summary)")
    if not args.keep:
        print("  nothing kept: the fake run was written to a scratch folder, now removed "
              "(--keep DIR keeps it)")
    elif args.tracker == TRACKIO:
        print(f"  view:    TRACKIO_DIR={scratch / 'trackio'} trackio-view --project {run.project}")
    else:
        print(f"  files:   {run.ctx.info['wandb']['dir']} (offline; wandb sync uploads it)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
