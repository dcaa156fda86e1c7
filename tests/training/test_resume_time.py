"""A LeNet-5 run interrupted (the stop signal a Slurm job gets before its limit) and resumed twice:
``total_time_s`` is the sum of the parts in summary.json and in every tracker, never counted twice."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import torch

from tests.training.conftest import REPO
from trackers.readback import tensorboard_scalars, trackio_config, wandb_run
from training.preempt import REQUEUE_EXIT

pytestmark = pytest.mark.slow

ARGS = ["--tracker", "trackio,wandb,tensorboard", "--tracker-project", "lenet5-time", "--tracker-run-name", "t",
        "--set", "TRAIN_LOG_INTERVAL=5", "--set", "TRAIN_EVAL_INTERVAL=10"]
#: Slack for the moments a line takes from the trainer to the reader thread on a busy machine.
SLACK_S = 1.0


class Part:
    """One trainer process; its output lines with the time each arrived."""

    def __init__(self, args: list[str], env: dict[str, str], cwd: Path) -> None:
        self.lines: list[tuple[float, str]] = []
        self.proc = subprocess.Popen([sys.executable, str(REPO / "lenet5" / "train.py"), *args], env=env, cwd=cwd,
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self.errors: list[str] = []
        self._readers = [threading.Thread(target=self._read, daemon=True),
                         threading.Thread(target=lambda: self.errors.extend(self.proc.stderr or ()), daemon=True)]
        for reader in self._readers:
            reader.start()

    def _read(self) -> None:
        for line in self.proc.stdout or ():
            self.lines.append((time.monotonic(), line))

    def wait(self) -> int:
        try:
            self.proc.wait(timeout=300)
        finally:
            if self.proc.poll() is None:
                self.proc.kill()
        for reader in self._readers:
            reader.join(timeout=60)
        return self.proc.returncode

    @property
    def err(self) -> str:
        return "".join(self.errors)

    def at(self, prefix: str) -> float:
        """When the first line starting with ``prefix`` arrived."""
        return next(t for t, line in self.lines if line.startswith(prefix))

    def own_time(self) -> tuple[float, float]:
        """Bounds of the seconds this part trained: from its first evaluation's line to its last
        line before the end (low), from the line just before the loop starts to the final line (high)."""
        last_iter = [t for t, line in self.lines if line.startswith("iter ")][-1]
        return last_iter - self.at("starting validation loss") - SLACK_S, \
            self.at("final validation loss") - self.at("lenet5: ") + SLACK_S

    def text(self) -> str:
        return "".join(line for _, line in self.lines) + self.err


def _elapsed(run_dir: Path) -> tuple[int, float]:
    ckpt = torch.load(run_dir / "checkpoints" / "last.pt", weights_only=False)
    return int(ckpt["iter"]), float(ckpt["elapsed_s"])


def test_total_time_sums_the_parts_of_an_interrupted_run(tmp_path: Path, train_env: dict) -> None:
    runs = tmp_path / "runs"
    run_dir = runs / "lenet5-time" / "t"
    common = [*ARGS, "--out-dir", str(runs)]

    # part 1: stopped by the signal before a time limit; checkpoint at the iteration it was in, no summary
    first = Part([*common, "--max-iters", "5000"], {**train_env, "KTRACK_STOP_SIGNAL": "USR1"}, tmp_path)
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline and first.proc.poll() is None:
        started = [t for t, line in first.lines if line.startswith("starting validation loss")]
        if started and time.monotonic() - started[0] > 3.0 and any(" val loss " in line for _, line in first.lines):
            break
        time.sleep(0.1)
    first.proc.send_signal(signal.SIGUSR1)
    assert first.wait() == REQUEUE_EXIT, first.text()[-3000:]
    stopped, part1 = _elapsed(run_dir)
    assert 10 <= stopped < 5000 and part1 > 2.5, (stopped, part1)

    # part 2: resumed to 10 iterations further; its own time adds to part 1's once
    second = Part([*common, "--max-iters", str(stopped + 10), "--resume"], train_env, tmp_path)
    assert second.wait() == 0, second.text()[-3000:]
    low, high = second.own_time()
    whole2 = json.loads((run_dir / "summary.json").read_text())["total_time_s"]
    assert part1 + low <= whole2 <= part1 + high, (part1, low, high, whole2)
    _, upto2 = _elapsed(run_dir)

    # part 3: resumed from a finished part, whose summary (total_time_s included) the run sends again first
    third = Part([*common, "--max-iters", str(stopped + 20), "--resume"], train_env, tmp_path)
    assert third.wait() == 0, third.text()[-3000:]
    low, high = third.own_time()
    summary = json.loads((run_dir / "summary.json").read_text())
    whole3 = summary["total_time_s"]
    assert upto2 + low <= whole3 <= upto2 + high, (upto2, low, high, whole3)
    assert summary["final_iter"] == stopped + 20
    for part in (first, second, third):  # one W&B offline notice per part
        assert part.err.count("W&B offline") == 1, part.err

    # every tracker holds the same whole-run value: Trackio's run config, W&B's summary, TensorBoard's scalars
    meta = json.loads((run_dir / "config.json").read_text())
    assert trackio_config(Path(train_env["TRACKIO_DIR"]) / "lenet5-time.db", "t")["summary/total_time_s"] \
        == pytest.approx(whole3)
    folders = meta["backends"]["wandb"]["dirs"]
    assert len(folders) == 3 and len({wandb_run(f)["id"] for f in folders}) == 1
    assert wandb_run(folders[-1])["summary"]["total_time_s"] == pytest.approx(whole3)
    points = tensorboard_scalars(run_dir / "tensorboard")["summary/total_time_s"]
    assert points == [(stopped + 10, pytest.approx(whole2)), (stopped + 20, pytest.approx(whole3))]
