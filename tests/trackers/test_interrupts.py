"""SIGINT that does not stop the process, and kill -9: counted in rows, in the journal and every tracker."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from rundata.journal import read_records
from trackers.readback import tensorboard_scalars, trackio_config, trackio_db, trackio_rows
from trackers.wandb_file import read_run

from .conftest import subprocess_env

PY = sys.executable

# The child logs 200 steps; at step 20 a SIGINT arrives (sent to itself, so the test needs no timing).
SIGINT_CHILD = """
import os, signal, sys, types, trackers
mode, project, run_dir = sys.argv[1:4]
handled = []
if mode == "own-handler":
    signal.signal(signal.SIGINT, lambda signum, frame: handled.append(signum))
run = trackers.init(cfg=types.SimpleNamespace(), project=project, run_name="r", run_dir=run_dir, trackers="trackio")
try:
    for i in range(200):
        run.log({"train/loss": 1.0 / (i + 1)}, step=i)
        if i == 20:
            os.kill(os.getpid(), signal.SIGINT)
except KeyboardInterrupt:
    handled.append("KeyboardInterrupt")
    run.log({"interrupted_at": i}, step=i + 1)
run.summary({"handled": len(handled), "last_step": run.step})
run.finish()
now = signal.getsignal(signal.SIGINT)
print("handler back:", now is not None and now != run._signals._handle)
"""


@pytest.mark.parametrize("mode", ["own-handler", "ignored", "keyboard-interrupt"])
def test_sigint_that_does_not_stop_the_process_keeps_later_rows(mode, tmp_path, project):
    script = tmp_path / "child.py"
    script.write_text(SIGINT_CHILD)
    run_dir = tmp_path / "run"
    cmd = [PY, str(script), mode, project, str(run_dir)]
    if mode == "ignored":  # SIGINT inherited as ignored, as under `trap '' INT` or nohup
        cmd = ["bash", "-c", 'trap "" INT; exec "$@"', "bash", *cmd]
    out = subprocess.run(cmd, env=subprocess_env(), capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    assert "handler back: True" in out.stdout
    steps = [r["step"] for r in read_records(run_dir) if r["type"] == "log"]
    summary = json.loads((run_dir / "summary.json").read_text())
    rows = trackio_rows(trackio_db(project), "r")
    if mode == "keyboard-interrupt":  # the script catches it and logs its final row
        assert steps == list(range(22)) and summary == {"handled": 1, "last_step": 21}
        assert [m for s, m in rows if s == 21 and "interrupted_at" in m] == [{"interrupted_at": 20}]
    else:
        assert steps == list(range(200))
        assert summary == {"handled": 1 if mode == "own-handler" else 0, "last_step": 199}
        assert [s for s, m in rows if "train/loss" in m] == list(range(200))
    assert trackio_config(trackio_db(project), "r")["summary/last_step"] == summary["last_step"]


KILL_CHILD = """
import os, sys, time, types, trackers
from trackers import backends

class Probe:
    '''Writes each row's step to its own file at once (unbuffered): what a backend holds at any moment.'''
    name = "probe"
    def start(self, ctx):
        self.fd = os.open(os.path.join(ctx.run_dir, "probe.txt"), os.O_WRONLY | os.O_CREAT | os.O_APPEND)
    def log(self, row):
        os.write(self.fd, f"{row.step}\\n".encode())
    def summary(self, values):
        pass
    def finish(self):
        os.close(self.fd)

backends.register("probe", Probe)
run = trackers.init(cfg=types.SimpleNamespace(), project=sys.argv[1], run_name="k", run_dir=sys.argv[2],
                    trackers=["trackio", "wandb", "tensorboard", "probe"])
for i in range(1000000):
    run.log({"train/loss": 1.0 / (i + 1)}, step=i)
    time.sleep(0.002)
"""


def _wandb_steps(wandb_dir: Path) -> set[int]:
    steps: set[int] = set()
    for folder in wandb_dir.glob("wandb/offline-run-*"):
        try:
            steps.update(int(r["_step"]) for r in read_run(folder)["history"] if "_step" in r)
        except FileNotFoundError:
            pass
    return steps


def _tensorboard_steps(log_dir: Path) -> set[int]:
    if not log_dir.is_dir():  # its worker had not started yet when the run was killed
        return set()
    return {s for s, _ in tensorboard_scalars(log_dir).get("train/loss", [])}


def test_kill_9_journal_holds_every_step_any_backend_holds(tmp_path, project):
    script = tmp_path / "child.py"
    script.write_text(KILL_CHILD)
    run_dir = tmp_path / "run"
    wandb_dir = tmp_path / "wandb"
    wandb_dir.mkdir()
    proc = subprocess.Popen([PY, str(script), project, str(run_dir)], env=subprocess_env(WANDB_DIR=str(wandb_dir)),
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True)
    probe = run_dir / "probe.txt"
    try:
        deadline = time.time() + 240
        state: tuple = ()
        while time.time() < deadline and proc.poll() is None:
            state = (probe.exists() and len(probe.read_text().split()), len(trackio_rows(trackio_db(project), "k")),
                     len(_wandb_steps(wandb_dir)))
            if all(state) and state[0] >= 300:
                break
            time.sleep(0.2)
        else:
            err = proc.stderr.read().decode()[-2000:] if proc.poll() is not None else "(still running)"
            raise AssertionError(f"child did not log to every backend (probe, trackio, wandb rows: {state}): {err}")
        proc.send_signal(signal.SIGKILL)
        proc.wait(30)
        time.sleep(2)  # wandb-core, now orphaned, writes what it already had
    finally:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        proc.wait(30)
    journal = [r["step"] for r in read_records(run_dir) if r["type"] == "log"]
    assert journal == list(range(len(journal)))
    have = set(journal)
    held = {
        "probe": {int(s) for s in probe.read_text().split()},
        "trackio": {s for s, _ in trackio_rows(trackio_db(project), "k")},
        "wandb": _wandb_steps(wandb_dir),
        "tensorboard": _tensorboard_steps(run_dir / "tensorboard"),
    }
    assert held["probe"] and held["trackio"] and held["wandb"]
    for name, steps in held.items():
        assert steps <= have, f"{name} holds steps the journal does not: {sorted(steps - have)[:10]}"
