"""`make defconfig` then `make train`, as a user runs them: metrics land in both trackers."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from tests.training.conftest import trackio_rows

ONE_THREAD = {"OMP_NUM_THREADS": "1"}


def configure_and_train(tree: Path, make, *defconfig_args: str) -> str:
    """``make defconfig ARGS`` then ``make train`` in the tree copy; return the project name."""
    configured = make("defconfig", *defconfig_args, env=ONE_THREAD)
    assert configured.returncode == 0, configured.stderr
    trained = make("train", env=ONE_THREAD, timeout=300)
    assert trained.returncode == 0, trained.stderr[-2000:]
    assert "final validation loss" in trained.stdout
    return json.loads((tree / "config.json").read_text())["TRACKER_PROJECT"]


def test_make_train_lenet5(tree: Path, make, isolated_env: dict[str, str]) -> None:
    project = configure_and_train(tree, make, "DEFCONFIG=lenet5-cpu", "TRACKER=both",
                                  "SET=TRAIN_MAX_ITERS=30 TRAIN_EVAL_INTERVAL=10 TRACKER_RUN_NAME=make-run")
    assert project.startswith("lenet5-")
    rows = trackio_rows(isolated_env["TRACKIO_DIR"], project)
    steps = sorted({step for name, step, metrics in rows if name == "make-run" and "train/loss" in metrics})
    assert steps and steps[-1] == 30
    run_dir = tree / "runs" / project / "make-run"
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["best_val_loss"] > 0 and summary["total_time_s"] > 0
    assert list(Path(isolated_env["WANDB_DIR"]).rglob("run-*.wandb")) or list(run_dir.rglob("run-*.wandb"))


def test_make_train_gpt2(tree: Path, make, isolated_env: dict[str, str]) -> None:
    small = ("SET=GPT2_N_LAYER=2 GPT2_N_HEAD=2 GPT2_N_EMBD=64 GPT2_BLOCK_SIZE=64 TRAIN_BATCH_SIZE=8 "
             "TRAIN_MAX_ITERS=20 TRAIN_EVAL_INTERVAL=10 TRAIN_EVAL_ITERS=2 TRAIN_LOG_INTERVAL=5 "
             "TRAIN_WARMUP_ITERS=2 DATASET_MAX_TOKENS=200000 TRACKER_RUN_NAME=make-gpt2")
    project = configure_and_train(tree, make, "TRACKER=trackio", small)
    rows = [(step, m) for name, step, m in trackio_rows(isolated_env["TRACKIO_DIR"], project) if name == "make-gpt2"]
    losses = [m["train/loss"] for _, m in rows if "train/loss" in m]
    assert [step for step, m in rows if "train/loss" in m] == [5, 10, 15, 20]
    assert losses[-1] < losses[0]
    assert {"lr", "iter_time_ms", "tokens_per_s"} <= set().union(*(m for _, m in rows))
    assert not any("sparsity" in m for _, m in rows)  # no pruning: no flat sparsity chart


def test_make_train_gpt2_with_numerics(tree: Path, make, isolated_env: dict[str, str]) -> None:
    """NUMERICS=y: the table, the tracker keys, the plots and trackio-view --metric all work on a real run."""
    import numerics

    small = ("SET=GPT2_N_LAYER=1 GPT2_N_HEAD=2 GPT2_N_EMBD=32 GPT2_BLOCK_SIZE=32 TRAIN_BATCH_SIZE=4 "
             "TRAIN_MAX_ITERS=10 TRAIN_EVAL_INTERVAL=10 TRAIN_EVAL_ITERS=1 TRAIN_LOG_INTERVAL=5 "
             "DATASET_MAX_TOKENS=100000 TRACKER_RUN_NAME=num NUMERICS=y NUMERICS_INTERVAL=5 "
             "NUMERICS_LOG_STATS=rms")
    project = configure_and_train(tree, make, "TRACKER=trackio", small)
    run_dir = tree / "runs" / project / "num"
    table = numerics.read_table(run_dir / "numerics.parquet")
    assert set(table["step"]) == {5, 10}
    assert {"activation", "weight"} <= set(table["kind"])
    keys = set().union(*(m for name, _, m in trackio_rows(isolated_env["TRACKIO_DIR"], project) if name == "num"))
    numeric_keys = sorted(k for k in keys if k.startswith("numerics/") and k.endswith("/rms"))
    assert numeric_keys
    rows = [(step, m) for name, step, m in trackio_rows(isolated_env["TRACKIO_DIR"], project) if name == "num"]
    assert [step for step, _ in rows] == [0, 5, 10]  # one row per step: the numerics join the loop's row
    assert all("train/loss" in m and numeric_keys[0] in m for step, m in rows if step)
    plots = subprocess.run([sys.executable, "-m", "numerics", "plot", str(run_dir), "--out", str(tree / "plots")],
                           capture_output=True, text=True, timeout=300)
    assert plots.returncode == 0, plots.stderr
    pngs = list((tree / "plots").glob("*.png"))
    assert pngs and all(p.stat().st_size > 1000 for p in pngs)
    view = subprocess.run([sys.executable, "-m", "viewer", "--once", "--project", project, "--metric", numeric_keys[0]],
                          capture_output=True, text=True, timeout=120)
    assert view.returncode == 0, view.stderr
    assert "Loss Trend" in view.stdout or numeric_keys[0] in view.stdout
