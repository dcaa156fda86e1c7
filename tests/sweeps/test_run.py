"""Running sweeps end to end: local JOBS=2 with the real LeNet-5, submitit's local executor,
resume after Ctrl+C, the summary, diffconfig and the compare text."""

from __future__ import annotations

import csv
import json
import subprocess
from pathlib import Path

import pytest
import yaml

from sweeps import run_folders, summary
from sweeps.runner import open_state
from tests.sweeps.conftest import cli, interrupted_sweep, points, write_sweep
from rundata.journal import read_records

#: Whole sweeps: ktrack-sweep and the trainers as processes, make in a tree copy.
pytestmark = pytest.mark.e2e

GRID = ["lr=1e-3,opt=adamw", "lr=1e-3,opt=sgd", "lr=3e-3,opt=adamw", "lr=3e-3,opt=sgd"]


@pytest.fixture(scope="module")
def lenet_grid(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, subprocess.CompletedProcess]:
    """A 4-point grid of the real LeNet-5 trainer (4 iterations each), two points at a time."""
    folder = tmp_path_factory.mktemp("lenet")
    path = write_sweep(folder, "lenet", """
defconfig: lenet5-cpu
tracker: none
project: lenet-sweep
set: {TRAIN_MAX_ITERS: 4, TRAIN_EVAL_INTERVAL: 2, TRAIN_LOG_INTERVAL: 2, TRAIN_CHECKPOINT: n, RUNS_DIR: "{runs}"}
vary:
  lr: [1e-3, 3e-3]
  OPTIMIZER: [adamw, sgd]
""")
    result = cli("run", str(path), "--jobs", "2", timeout=240)
    return path, result


def test_local_grid_runs_every_point(lenet_grid) -> None:
    path, result = lenet_grid
    assert result.returncode == 0, result.stdout + result.stderr
    assert "4 point(s)" in result.stdout and "4 done, 0 skipped, 0 failed" in result.stdout
    project = path.parent / "runs" / "lenet-sweep"
    for name in GRID:
        run = project / name
        assert (run / "summary.json").is_file() and (run / ".config").is_file()
        meta = json.loads((run / "config.json").read_text())
        assert meta["run"] == name and meta["project"] == "lenet-sweep"
        params = yaml.safe_load((run / "params.yaml").read_text())
        assert params["sweep"] == "lenet" and params["opt"] == name.split("opt=")[1]
    state = json.loads((project / ".sweeps" / "lenet.json").read_text())
    assert {p["status"] for p in state["points"].values()} == {"done"}


def test_params_file_works_with_get_value(lenet_grid, monkeypatch: pytest.MonkeyPatch) -> None:
    from trackers import params

    path, _ = lenet_grid
    monkeypatch.setenv("KTRACK_PARAMS", str(path.parent / "runs" / "lenet-sweep" / GRID[3] / "params.yaml"))
    params.reload()
    try:
        assert params.get_value("lr", 0.1) == pytest.approx(3e-3)
        assert params.get_value("OPTIMIZER", "adamw") == "sgd"
        assert params.get_value("missing", 42) == 42
    finally:
        monkeypatch.delenv("KTRACK_PARAMS")
        params.reload()


def test_summary_table_and_csv(lenet_grid) -> None:
    path, _ = lenet_grid
    result = cli("summary", str(path))
    assert result.returncode == 0, result.stderr
    assert "best val loss" in result.stdout and "final train loss" in result.stdout and "done" in result.stdout
    csv_path = path.parent / "runs" / "lenet-sweep" / ".sweeps" / "lenet.csv"
    rows = list(csv.DictReader(csv_path.open()))
    assert {r["run"] for r in rows} == set(GRID)
    losses = [float(r["best_val_loss"]) for r in rows]
    assert losses == sorted(losses)  # sorted by the metric, best first
    assert all(r["status"] == "done" and float(r["final_train_loss"]) > 0 and float(r["time_s"]) > 0 for r in rows)
    assert set(rows[0]) >= {"TRAIN_LEARNING_RATE", "OPTIMIZER", "best_val_loss", "final_train_loss", "time_s", "status"}
    sweep, state = open_state(path)
    assert [r.name for r in summary.rows(state, sweep.metric)] == [r["run"] for r in rows]


def test_diffconfig_of_two_runs(lenet_grid) -> None:
    path, _ = lenet_grid
    runs = path.parent / "runs"
    result = cli("diffconfig", "lr=1e-3,opt=adamw", "lr=1e-3,opt=sgd", "--runs-dir", str(runs))
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert ' OPTIMIZER "adamw" -> "sgd"' in lines
    # Adam's betas exist only for Adam and AdamW, SGD's momentum only for SGD
    assert lines == ["-ADAM_BETA1 0.9", "-ADAM_BETA2 0.95", "+SGD_MOMENTUM 0.9", ' OPTIMIZER "adamw" -> "sgd"',
                     " OPTIMIZER_ADAMW y -> n", " OPTIMIZER_SGD n -> y"]
    assert not any("TRAIN_LEARNING_RATE" in line or "TRACKER_RUN_NAME" in line for line in lines)
    bad = cli("diffconfig", "nope", "lr=1e-3,opt=sgd", "--runs-dir", str(runs))
    assert bad.returncode == 1 and bad.stderr.startswith("ktrack-sweep: error: no run 'nope'")


def test_compare_text_shows_differing_symbols_first(lenet_grid) -> None:
    path, _ = lenet_grid
    runs = run_folders.load_runs(["lr=1e-3,opt=adamw", "lr=3e-3,opt=adamw"], path.parent / "runs")
    text = run_folders.compare_text(runs, width=40, height=8)
    lines = text.splitlines()
    assert lines[0] == "Kconfig symbols that differ (1):"
    assert lines[3].split() == ["TRAIN_LEARNING_RATE", "0.001", "0.003"]
    header = next(line for line in lines if "latest loss" in line)
    assert header.split() == ["run", "steps", "latest", "loss", "best", "loss", "time"]
    row = next(line for line in lines if line.strip().startswith("* lr=1e-3"))
    assert row.split()[2] == "4" and row.split()[-1].endswith("s")
    chart = lines[lines.index("loss") + 1:]
    assert any("*" in line for line in chart[:8]) and any("o" in line.split("|", 1)[-1] for line in chart[:8])
    assert "* lr=1e-3,opt=adamw   o lr=3e-3,opt=adamw" in chart[-1]


def test_submitit_local_executor(standin_sweep: Path) -> None:
    result = cli("run", str(standin_sweep), "--executor", "slurm", "--cluster", "local", timeout=180)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "executor slurm" in result.stdout and "4 done" in result.stdout
    project = standin_sweep.parent / "runs" / "sweeptest"
    for name in ("lr=1e-3,opt=adamw", "lr=1e-3,opt=sgd", "lr=1e-2,opt=adamw", "lr=1e-2,opt=sgd"):
        assert json.loads((project / name / "summary.json").read_text())["final_iter"] == 3
    assert any((project / ".sweeps" / "grid" / "submitit").iterdir())  # submitit's own job files


def test_resume_after_interrupting_the_second_point(standin_sweep: Path, tmp_path: Path) -> None:
    hang = tmp_path / "hang"
    hang.write_text("lr=1e-3,opt=sgd")  # the second point hangs after its first step
    state_file = standin_sweep.parent / "runs" / "sweeptest" / ".sweeps" / "grid.json"
    second = standin_sweep.parent / "runs" / "sweeptest" / "lr=1e-3,opt=sgd"

    def second_started() -> bool:
        return ((second / "checkpoints" / "last.pt").is_file()
                and points(state_file).get("lr=1e-3,opt=sgd", {}).get("status") == "running")

    rc, out = interrupted_sweep(standin_sweep, {"STANDIN_HANG": str(hang)}, second_started, "the second point")
    assert rc == 130, out
    assert "resume with: make sweep SWEEP=" in out and "Traceback" not in out
    stored = points(state_file)
    assert stored["lr=1e-3,opt=adamw"]["status"] == "done"
    assert stored["lr=1e-3,opt=sgd"]["status"] == "interrupted"
    assert "lr=1e-2,opt=adamw" not in stored

    hang.unlink()
    result = cli("run", str(standin_sweep), env={"STANDIN_HANG": str(hang)})
    assert result.returncode == 0, result.stdout + result.stderr
    assert "skip    [1/4] lr=1e-3,opt=adamw" in result.stdout
    assert "resume  [2/4] lr=1e-3,opt=sgd" in result.stdout, result.stdout
    assert "3 done, 1 skipped, 0 failed" in result.stdout
    calls = (second / "invocations.txt").read_text().splitlines()
    assert calls == ["", f"--resume {second}"]
    steps = [rec["step"] for rec in read_records(second) if rec["type"] == "log"]
    assert steps == [1, 2, 3]  # resumed after step 1, no step logged twice


def test_optuna_guided_search(tmp_path: Path, isolated_env: dict[str, str]) -> None:
    path = write_sweep(tmp_path, "guided", """
defconfig: lenet5-cpu
tracker: none
project: guided
set: {TRAIN_MAX_ITERS: 2, RUNS_DIR: "{runs}"}
vary:
  TRAIN_LEARNING_RATE: {min: 1e-4, max: 1e-1, log: true}
optuna: {trials: 4, metric: best_val_loss, direction: minimize, seed: 3}
command: python {standin}
""")
    result = cli("run", str(path), "--jobs", "2")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "4 done" in result.stdout
    rerun = cli("run", str(path))
    assert rerun.returncode == 0 and "0 done" in rerun.stdout, rerun.stdout
    assert "start" not in rerun.stdout  # finished trials are given back to Optuna, not run again
    state = json.loads((tmp_path / "runs" / "guided" / ".sweeps" / "guided.json").read_text())
    lrs = [p["varied"]["TRAIN_LEARNING_RATE"] for p in state["points"].values()]
    assert len(set(lrs)) == 4 and all(1e-4 <= lr <= 1e-1 for lr in lrs)


TRACKERLESS = """
defconfig: lenet5-cpu
project: sweeptest
set: {TRAIN_MAX_ITERS: 3, RUNS_DIR: "{runs}"}
vary:
  lr: [1e-3]
command: python {standin} {resume}
"""


def test_points_track_where_the_current_config_does(tmp_path: Path, isolated_env: dict[str, str], kconf_cli,
                                                     tree: Path) -> None:
    """A sweep file without tracker: uses the trackers of the .config in the working folder."""
    assert kconf_cli("defconfig", "lenet5-cpu", "--tracker", "tensorboard").returncode == 0
    path = write_sweep(tmp_path, "plain", TRACKERLESS)
    result = cli("run", str(path), cwd=tree, timeout=180)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "trackers tensorboard (from .config)" in result.stdout
    point = (tmp_path / "runs" / "sweeptest" / "lr=1e-3" / ".config").read_text()
    assert "CONFIG_ENABLE_TENSORBOARD=y" in point and "CONFIG_ENABLE_TRACKIO=y" not in point


@pytest.mark.parametrize("given, in_file, configured, expected", [
    ("wandb", "trackio", "tensorboard", ("wandb", "TRACKER=")),
    (None, "trackio", "tensorboard", ("trackio", "tracker: in the sweep file")),
    (None, None, "tensorboard", ("tensorboard", ".config")),
    (None, None, None, (None, "defconfig lenet5-cpu")),
])
def test_tracker_precedence(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, kconf_cli, tree: Path,
                            given, in_file, configured, expected) -> None:
    from sweeps.runner import choose_trackers
    from sweeps.spec import load

    if configured:
        assert kconf_cli("defconfig", "lenet5-cpu", "--tracker", configured).returncode == 0
    monkeypatch.chdir(tree)
    body = TRACKERLESS + (f"tracker: {in_file}\n" if in_file else "")
    assert choose_trackers(given, load(write_sweep(tmp_path, "p", body))) == expected
