"""A sweep point is its whole configuration, and a rerun after the runner died follows what still runs."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

from tests.sweeps.conftest import REPO, cli, points, two_points, wait_for, write_sweep

TWO = two_points("ident")


def _invocations(tmp_path: Path, name: str) -> list[str]:
    return (tmp_path / "runs" / "ident" / name / "invocations.txt").read_text().splitlines()


def test_sweeps_differing_only_in_set_never_share_a_point(tmp_path: Path, isolated_env: dict[str, str]) -> None:
    first = cli("run", str(write_sweep(tmp_path, "a", TWO)))
    assert first.returncode == 0, first.stdout + first.stderr
    other = TWO.replace("TRAIN_MAX_ITERS: 3,", "TRAIN_MAX_ITERS: 3, TRAIN_BATCH_SIZE: 32,")
    second = cli("run", str(write_sweep(tmp_path, "b", other)))
    lines = second.stderr.strip().splitlines()
    assert second.returncode == 1 and len(lines) == 1, second.stdout + second.stderr
    assert "point lr=1e-3 is already a run of another configuration" in lines[0]
    assert "TRAIN_BATCH_SIZE 64 there, 32 here" in lines[0] and "skip" not in second.stdout
    by_set = cli("run", str(write_sweep(tmp_path, "a", TWO)), "--set", "TRAIN_BATCH_SIZE=16")
    assert by_set.returncode == 1 and "TRAIN_BATCH_SIZE 64 there, 16 here" in by_set.stderr, by_set.stderr
    by_defconfig = cli("run", str(write_sweep(tmp_path, "c", TWO.replace("lenet5-cpu", "gpt2-tiny-cpu"))))
    assert by_defconfig.returncode == 1 and "another configuration" in by_defconfig.stderr, by_defconfig.stderr
    assert _invocations(tmp_path, "lr=1e-3") == [""]  # nothing ran again
    same = cli("run", str(write_sweep(tmp_path, "a", TWO)))  # the same configuration: done, skipped
    assert same.returncode == 0 and "0 done, 2 skipped" in same.stdout, same.stdout + same.stderr
    own = cli("run", str(write_sweep(tmp_path, "b", other.replace("project: ident", "project: ident2"))))
    assert own.returncode == 0 and "2 done" in own.stdout, own.stdout + own.stderr


def test_rerun_after_kill_9_of_the_runner_follows_the_running_point(tmp_path: Path,
                                                                     isolated_env: dict[str, str]) -> None:
    """Two points at a time; the runner is killed while one still runs; the rerun follows it, starts nothing."""
    path = write_sweep(tmp_path, "killed", TWO)
    hang = tmp_path / "hang"
    hang.write_text("lr=1e-3\n")
    env = {**os.environ, "PYTHONPATH": str(REPO), "STANDIN_HANG": str(hang)}
    state_file = tmp_path / "runs" / "ident" / ".sweeps" / "killed.json"
    argv = [sys.executable, "-m", "sweeps", "run", str(path), "--jobs", "2"]
    runner = subprocess.Popen(argv, cwd=Path.cwd(), env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_for(lambda: (tmp_path / "runs" / "ident" / "lr=1e-3" / "checkpoints" / "last.pt").is_file()
                 and points(state_file).get("lr=1e-2", {}).get("status") == "done", what="the points to run")
    finally:
        runner.send_signal(signal.SIGKILL)
        runner.wait(30)
    trainer = points(state_file)["lr=1e-3"]["pid"]
    log = tmp_path / "rerun.txt"
    with open(log, "w") as out_file:
        rerun = subprocess.Popen(argv, cwd=Path.cwd(), env=env, stdout=out_file, stderr=subprocess.STDOUT)
    try:
        wait_for(lambda: "follow" in log.read_text(), what="the rerun to follow the running point")
        assert points(state_file)["lr=1e-3"]["status"] == "running"  # followed, not failed, not started again
        hang.unlink()  # the first point's trainer, started by the killed runner, now finishes
        rerun.wait(120)
    finally:
        if rerun.poll() is None:
            rerun.kill()
        if hang.exists():
            os.kill(trainer, signal.SIGKILL)
    out = log.read_text()
    assert rerun.returncode == 0, out
    assert f"follow  [1/2] lr=1e-3 (process {trainer}," in out and "1 done, 1 skipped, 0 failed" in out, out
    assert _invocations(tmp_path, "lr=1e-3") == [""]  # one trainer for the point, never two
    from sweeps import summary
    from sweeps.runner import open_state

    sweep, state = open_state(path)
    assert {row.name: row.status for row in summary.rows(state, sweep.metric)} == {"lr=1e-3": "done",
                                                                                   "lr=1e-2": "done"}


def test_a_point_started_through_training_launch_outlives_the_runner_and_is_followed(
        tmp_path: Path, isolated_env: dict[str, str]) -> None:
    """The default command (make train: training.launch, then the real LeNet-5), the runner under make
    (MAKELEVEL set): kill -9 of the runner leaves the trainer training; the rerun follows it to its end."""
    body = two_points("ident").replace("TRAIN_MAX_ITERS: 3", "TRAIN_MAX_ITERS: 1500, TRAIN_LOG_INTERVAL: 50, "
                                                           "TRAIN_EVAL_INTERVAL: 500")
    body = body.replace("lr: [1e-3, 1e-2]", "lr: [1e-3]").replace("command: python {standin} {resume}\n", "")
    path = write_sweep(tmp_path, "launched", body)
    env = {**os.environ, "PYTHONPATH": str(REPO), "MAKELEVEL": "1", "OMP_NUM_THREADS": "1"}
    run = tmp_path / "runs" / "ident" / "lr=1e-3"
    argv = [sys.executable, "-m", "sweeps", "run", str(path)]
    runner = subprocess.Popen(argv, cwd=Path.cwd(), env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_for(lambda: (run / "metrics.jsonl").is_file() and '"train/loss"' in (run / "metrics.jsonl").read_text(),
                 timeout=240, what="the point to train")
    finally:
        runner.send_signal(signal.SIGKILL)
        runner.wait(30)
    rerun = subprocess.run(argv, cwd=Path.cwd(), env=env, capture_output=True, text=True, timeout=600)
    assert rerun.returncode == 0 and "follow" in rerun.stdout, rerun.stdout + rerun.stderr
    assert "1 done, 0 skipped, 0 failed" in rerun.stdout, rerun.stdout
    assert json.loads((run / "summary.json").read_text())["final_iter"] == 1500
    assert json.loads((run / "config.json").read_text())["end"]["state"] == "finished"
    starts = [line for line in (run / "sweep.log").read_text().splitlines() if line.endswith("lenet5/train.py")]
    assert len(starts) == 1, starts  # trained once, never started again
