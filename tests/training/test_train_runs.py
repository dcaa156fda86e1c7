"""End-to-end trainings as subprocesses: real Trackio SQLite, real offline W&B."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from tests.training.conftest import REPO, TINY, run_trainer, trackio_rows


def _ok(proc) -> None:
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-3000:]


def test_gpt2_trains_tracks_and_resumes(tmp_path: Path, corpus_dir: Path, train_env: dict) -> None:
    common = [*TINY, "--set", f"DATASET_DIR={corpus_dir}", "--out-dir", str(tmp_path / "runs"),
              "--tracker", "both", "--tracker-project", "gpt2-test", "--tracker-run-name", "r1"]
    proc = run_trainer("gpt2/train.py", [*common, "--max-iters", "20"], train_env, tmp_path)
    _ok(proc)
    assert "starting validation loss:" in proc.stdout and "final validation loss:" in proc.stdout

    rows = trackio_rows(train_env["TRACKIO_DIR"], "gpt2-test")
    val = [(s, m["val/loss"]) for _, s, m in rows if "val/loss" in m]
    assert [s for s, _ in val] == [0, 10, 20]
    assert val[-1][1] < val[0][1] - 0.3, val  # the loss falls
    train_steps = [s for _, s, m in rows if "train/loss" in m]
    assert train_steps == [5, 10, 15, 20]
    logged = next(m for _, s, m in rows if s == 20 and "train/loss" in m)
    assert {"lr", "iter_time_ms", "tokens_per_s"} <= logged.keys()
    assert not any("sparsity" in m for _, _, m in rows)  # no pruning: no flat sparsity chart

    run_dir = tmp_path / "runs" / "gpt2-test" / "r1"
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["best_val_loss"] == pytest.approx(min(v for _, v in val))
    assert summary["total_time_s"] > 0
    assert list(Path(train_env["WANDB_DIR"]).rglob("offline-run-*/run-*.wandb"))
    assert (run_dir / "checkpoints" / "best.pt").is_file()
    ckpt = torch.load(run_dir / "checkpoints" / "last.pt", weights_only=False)
    assert ckpt["iter"] == 20 and ckpt["run_name"] == "r1"

    proc = run_trainer("gpt2/train.py", [*common[:-4], "--tracker", "trackio", "--max-iters", "30",
                                         "--resume", str(run_dir)], train_env, tmp_path)
    _ok(proc)
    assert "(iter 20)" in proc.stdout
    rows = trackio_rows(train_env["TRACKIO_DIR"], "gpt2-test")
    assert {r for r, _, _ in rows} == {"r1"}  # the same run goes on
    steps = [s for _, s, m in rows if "train/loss" in m]
    assert steps == [5, 10, 15, 20, 25, 30]
    assert torch.load(run_dir / "checkpoints" / "last.pt", weights_only=False)["iter"] == 30


def test_gpt2_pruning_reports_real_sparsity(tmp_path: Path, corpus_dir: Path, train_env: dict) -> None:
    args = [*TINY, "--set", f"DATASET_DIR={corpus_dir}", "--out-dir", str(tmp_path / "runs"),
            "--tracker", "trackio", "--tracker-project", "gpt2-prune", "--tracker-run-name", "p",
            "--max-iters", "10", "--set", "PRUNING=magnitude", "--set", "PRUNING_TARGET_SPARSITY=0.5",
            "--set", "PRUNING_START_ITER=2", "--set", "PRUNING_RAMP_ITERS=4", "--set", "PRUNING_INTERVAL=2",
            "--set", "TRAIN_CHECKPOINT=n"]
    _ok(run_trainer("gpt2/train.py", args, train_env, tmp_path))
    sparsity = {s: m["sparsity"] for _, s, m in trackio_rows(train_env["TRACKIO_DIR"], "gpt2-prune")
                if "sparsity" in m}
    assert sparsity[10] == pytest.approx(0.5, abs=0.01)
    assert 0.0 < sparsity[5] < 0.5


def test_gpt2_two_processes_gloo(tmp_path: Path, corpus_dir: Path, train_env: dict) -> None:
    args = [*TINY, "--set", f"DATASET_DIR={corpus_dir}", "--out-dir", str(tmp_path / "runs"),
            "--tracker", "trackio", "--tracker-project", "gpt2-ddp", "--tracker-run-name", "d",
            "--max-iters", "10", "--set", "TRAIN_GRAD_ACCUM_STEPS=2"]
    proc = run_trainer("gpt2/train.py", args, train_env, tmp_path, torchrun=2)
    _ok(proc)
    assert "2 process(es)" in proc.stdout
    rows = trackio_rows(train_env["TRACKIO_DIR"], "gpt2-ddp")
    assert {r for r, _, _ in rows} == {"d"}
    assert [s for _, s, m in rows if "train/loss" in m] == [5, 10]
    assert [s for _, s, m in rows if "val/loss" in m] == [0, 10]
    assert len(list((tmp_path / "runs" / "gpt2-ddp").iterdir())) == 1


def test_lenet5_trains_and_resumes(tmp_path: Path, train_env: dict) -> None:
    common = ["--out-dir", str(tmp_path / "runs"), "--tracker", "both",
              "--tracker-project", "lenet5-test", "--tracker-run-name", "l1",
              "--set", "TRAIN_EVAL_INTERVAL=20", "--set", "TRAIN_LOG_INTERVAL=10"]
    proc = run_trainer("lenet5/train.py", [*common, "--max-iters", "60"], train_env, tmp_path)
    _ok(proc)
    rows = trackio_rows(train_env["TRACKIO_DIR"], "lenet5-test")
    val = [m for _, s, m in rows if "val/loss" in m]
    assert val[-1]["val/loss"] < val[0]["val/loss"] - 1.0
    assert val[-1]["val/accuracy"] > 0.7
    assert list(Path(train_env["WANDB_DIR"]).rglob("offline-run-*/run-*.wandb"))
    run_dir = tmp_path / "runs" / "lenet5-test" / "l1"
    first = json.loads((run_dir / "summary.json").read_text())
    assert first["best_val_loss"] > 0 and first["final_iter"] == 60
    proc = run_trainer("lenet5/train.py", [*common[:2], "--tracker", "trackio", "--max-iters", "80",
                                           "--set", "TRAIN_LOG_INTERVAL=10", "--resume"],
                       train_env, tmp_path)
    _ok(proc)
    steps = [s for _, s, m in trackio_rows(train_env["TRACKIO_DIR"], "lenet5-test") if "train/loss" in m]
    assert steps == [10, 20, 30, 40, 50, 60, 70, 80]
    whole = json.loads((run_dir / "summary.json").read_text())
    assert whole["final_iter"] == 80
    assert whole["start_val_loss"] == first["start_val_loss"]  # the experiment's start, not the second part's
    ckpt = torch.load(run_dir / "checkpoints" / "last.pt", weights_only=False)
    assert ckpt["start_val_loss"] == first["start_val_loss"]
    # the time of both parts: more than the first part's total
    assert whole["total_time_s"] == pytest.approx(ckpt["elapsed_s"], abs=1.0)
    assert whole["total_time_s"] > first["total_time_s"]


@pytest.mark.parametrize("args, message", [
    (["--batch-size", "0"], "TRAIN_BATCH_SIZE=0 did not take: it must be in the range 1..65536"),
    (["--dataset", "text", "--set", "DATASET_PATH=/nonexistent/corpus"], "does not exist"),
    (["--set", "GPT2_BLOCK_SIZE=4096", "--set", "DATASET_MAX_TOKENS=20000"], "block size"),
    (["--optimizer", "lion"], "OPTIMIZER='lion' is not one of its values: use adamw, adam, sgd"),
    (["--resume", "/nonexistent/run"], "no checkpoint"),
    (["--set", "NO_SUCH_SYMBOL=1"], "unknown Kconfig symbol 'NO_SUCH_SYMBOL'"),
    (["--lr", "nan"], "TRAIN_LEARNING_RATE=nan is not a finite number"),
    (["--lr", "inf"], "TRAIN_LEARNING_RATE=inf is not a finite number"),
    (["--lr", "abc"], "TRAIN_LEARNING_RATE='abc' is not a number"),
    (["--max-iters", "1.5"], "invalid value '1.5' for TRAIN_MAX_ITERS (int)"),
    (["--set", "DIST_RDZV_ENDPOINT=h:1"], "DIST_RDZV_ENDPOINT=h:1 did not take: it depends on DIST_NNODES > 1"),
    (["--set", "TRACKER_RUN_NAME=a\nb"], "control character"),
    (["--tracker-run-name", "../up"], "cannot contain '/'"),
    (["--tracker-project", "x" * 300], "the longest allowed is 244 bytes"),
    (["--tracker-project", "my.model"], "would be kept in Trackio's file mymodel.db"),
])
def test_bad_config_one_line_error(tmp_path: Path, train_env: dict, args: list, message: str) -> None:
    proc = run_trainer("gpt2/train.py", [*args, "--out-dir", str(tmp_path / "runs"),
                                         "--set", f"DATASET_DIR={tmp_path / 'data'}"], train_env, tmp_path)
    assert proc.returncode != 0
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("gpt2/train.py: error:"), proc.stderr
    assert message in lines[0]
    assert not (tmp_path / "data").exists() and not (tmp_path / "runs").exists()  # no work done


def test_dataset_dir_that_cannot_be_written(tmp_path: Path, train_env: dict) -> None:
    proc = run_trainer("gpt2/train.py", ["--set", "DATASET_DIR=/proc/nope", "--set", "DATASET_MAX_TOKENS=20000",
                                         "--set", "GPT2_BLOCK_SIZE=16", "--out-dir", str(tmp_path / "runs")],
                       train_env, tmp_path)
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    assert proc.stderr.strip() == ("gpt2/train.py: error: cannot build the token cache in DATASET_DIR=/proc/nope "
                                   "(No such file or directory); set DATASET_DIR to a writable folder")
    assert not (tmp_path / "runs").exists()


@pytest.mark.parametrize("args, message", [
    (["--out-dir", "/proc/ktrack-runs"], "RUNS_DIR /proc/ktrack-runs cannot be written"),
    (["--resume", "{corrupt}"], "cannot read checkpoint"),
    (["--resume", "{not_a_checkpoint}"], "is not a ktrack checkpoint"),
    (["--config", "{folder}"], "is a directory, not a configuration file"),
    (["--config", "{folder}/missing.config"], "does not exist: run 'make defconfig' first"),
])
def test_lenet5_bad_paths_one_line(tmp_path: Path, train_env: dict, args: list, message: str) -> None:
    corrupt = tmp_path / "old" / "checkpoints" / "last.pt"
    corrupt.parent.mkdir(parents=True)
    corrupt.write_bytes(b"PK\x03\x04 this is not a checkpoint" * 10)
    other = tmp_path / "other.pt"
    torch.save({"weights": [1, 2]}, other)
    args = [a.format(corrupt=tmp_path / "old", not_a_checkpoint=other, folder=tmp_path / "old") for a in args]
    proc = run_trainer("lenet5/train.py", args, train_env, tmp_path)
    lines = proc.stderr.strip().splitlines()
    assert proc.returncode == 1 and len(lines) == 1 and lines[0].startswith("lenet5/train.py: error: "), proc.stderr
    assert message in lines[0] and "Traceback" not in proc.stderr
    assert not (tmp_path / "runs").exists()


def test_without_config_the_default_defconfig_is_used_and_said(tmp_path: Path, train_env: dict) -> None:
    proc = run_trainer("lenet5/train.py", ["--max-iters", "2", "--set", "TRAIN_EVAL_INTERVAL=1",
                                           "--tracker-run-name", "plain"], train_env, tmp_path)
    assert proc.returncode == 0, proc.stderr
    notice = [line for line in proc.stdout.splitlines() if "defconfigs/" in line]
    assert notice == [f"lenet5/train.py: no configuration (KCONFIG_CONFIG={train_env['KCONFIG_CONFIG']} does not "
                      "exist): using defconfigs/lenet5-cpu, what 'make defconfig DEFCONFIG=lenet5-cpu' writes"]
    from kconf.configure import configured
    from kconf.tree import config_text

    run = next((tmp_path / "runs").glob("*/plain"))
    tree = configured(REPO, "lenet5-cpu", [("TRAIN_MAX_ITERS", "2"), ("TRAIN_EVAL_INTERVAL", "1"),
                                          ("TRACKER_RUN_NAME", "plain")])
    assert (run / ".config").read_text().endswith(config_text(tree))


def test_block_size_larger_than_corpus(tmp_path: Path, train_env: dict) -> None:
    (tmp_path / "small.txt").write_text("tiny corpus " * 20)
    proc = run_trainer("gpt2/train.py", ["--dataset", "text", "--set", f"DATASET_PATH={tmp_path / 'small.txt'}",
                                         "--set", f"DATASET_DIR={tmp_path / 'data'}", "--set", "TRAIN_DEVICE=cpu",
                                         "--out-dir", str(tmp_path / "runs")], train_env, tmp_path)
    assert proc.returncode != 0
    assert proc.stderr.strip().splitlines()[-1].startswith("gpt2/train.py: error:")
    assert "block size" in proc.stderr and not (tmp_path / "runs").exists()


def test_lenet5_bad_config(tmp_path: Path, train_env: dict) -> None:
    proc = run_trainer("lenet5/train.py", ["--batch-size", "0"], train_env, tmp_path)
    assert proc.returncode != 0
    assert proc.stderr.strip() == ("lenet5/train.py: error: TRAIN_BATCH_SIZE=0 did not take: "
                                   "it must be in the range 1..65536")


def test_launch_dry_run_uses_config(tmp_path: Path, train_env: dict) -> None:
    import subprocess
    import sys

    env = dict(train_env)
    proc = subprocess.run([sys.executable, "-m", "training.launch", "--dry-run", "--model", "lenet5",
                           "--max-iters", "3"], env=env, cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip().endswith("lenet5/train.py --max-iters 3")


def test_launch_reads_kconfig_and_trains_lenet5(tmp_path: Path, train_env: dict) -> None:
    """A hand-written .config read through kconf selects the model and its settings."""

    config = tmp_path / "lenet.config"
    config.write_text("CONFIG_MODEL_LENET5=y\nCONFIG_DATASET_DIGITS=y\nCONFIG_TRAIN_MAX_ITERS=20\n"
                      "CONFIG_TRAIN_EVAL_INTERVAL=10\nCONFIG_TRAIN_LOG_INTERVAL=10\nCONFIG_ENABLE_TRACKIO=y\n"
                      f'CONFIG_TRACKER_PROJECT="lenet5-kconf"\nCONFIG_RUNS_DIR="{tmp_path / "runs"}"\n')
    import subprocess
    import sys

    env = {**train_env, "KCONFIG_CONFIG": str(config)}
    proc = subprocess.run([sys.executable, "-m", "training.launch", "--tracker-run-name", "k1"], env=env,
                          cwd=tmp_path, capture_output=True, text=True, timeout=120)
    _ok(proc)
    assert "lenet5/train.py --tracker-run-name k1" in proc.stdout.splitlines()[0]
    rows = trackio_rows(train_env["TRACKIO_DIR"], "lenet5-kconf")
    assert [s for _, s, m in rows if "train/loss" in m] == [10, 20]
    assert (tmp_path / "runs" / "lenet5-kconf" / "k1" / "checkpoints" / "last.pt").is_file()


def test_lenet5_trains_two_processes_and_resumes_with_one(tmp_path: Path, train_env: dict) -> None:
    """DIST_NPROC_PER_NODE=2 is honoured by LeNet-5 too: two ranks, one tracked run; one process resumes it."""
    common = ["--out-dir", str(tmp_path / "runs"), "--tracker", "trackio", "--tracker-project", "lenet5-ddp",
              "--tracker-run-name", "d", "--set", "TRAIN_EVAL_INTERVAL=10", "--set", "TRAIN_LOG_INTERVAL=10"]
    _ok(run_trainer("lenet5/train.py", [*common, "--max-iters", "20"], train_env, tmp_path, torchrun=2))
    run_dir = tmp_path / "runs" / "lenet5-ddp" / "d"
    assert json.loads((run_dir / "config.json").read_text())["config"]["world_size"] == 2
    assert len(torch.load(run_dir / "checkpoints" / "last.pt", weights_only=False)["rng"]["data"]) == 2
    _ok(run_trainer("lenet5/train.py", [*common[:2], "--tracker", "trackio", "--max-iters", "30", "--resume"],
                    train_env, tmp_path))
    steps = [s for _, s, m in trackio_rows(train_env["TRACKIO_DIR"], "lenet5-ddp") if "train/loss" in m]
    assert steps == [10, 20, 30]
