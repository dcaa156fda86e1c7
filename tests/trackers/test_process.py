"""Whole-process behaviour: SIGTERM, kill -9 of Trackio, distributed ranks, self-test."""

from __future__ import annotations

import json
import signal
import sys
import socket
import sqlite3
import subprocess
import time

import pytest
from pathlib import Path

from rundata.journal import read_records
from trackers.readback import trackio_db, trackio_rows

from .conftest import subprocess_env

PY = sys.executable

CHILD = """
import faulthandler, signal, sys, time, types, trackers
faulthandler.register(signal.SIGQUIT, all_threads=True)  # a test that times out asks for every thread's stack
run = trackers.init(cfg=types.SimpleNamespace(), project=sys.argv[1], run_name="r", run_dir=sys.argv[2],
                    trackers="trackio", flush_interval=0.05)
for i in range(100000):
    run.log({"train/loss": 1.0 / (i + 1)}, step=i)
    time.sleep(0.002)
"""


def _start_child(tmp_path, project, **env):
    script = tmp_path / "child.py"
    script.write_text(CHILD)
    run_dir = tmp_path / "run"
    proc = subprocess.Popen([PY, str(script), project, str(run_dir)], env=subprocess_env(**env),
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.time() + 60
    while time.time() < deadline:
        if len(list(read_records(run_dir))) >= 30:
            return proc, run_dir
        time.sleep(0.05)
    proc.kill()
    raise AssertionError(f"child did not log: {proc.stderr.read().decode()[-2000:]}")


def _wait(proc: subprocess.Popen, timeout: float) -> int:
    """``proc``'s exit status; past ``timeout``, fail with the stacks of its threads and its stderr."""
    try:
        return proc.wait(timeout)
    except subprocess.TimeoutExpired:
        proc.send_signal(signal.SIGQUIT)
        time.sleep(1)
        proc.kill()
        raise AssertionError(f"still running after {timeout:g}s:\n{proc.stderr.read().decode()[-6000:]}") from None


@pytest.mark.parametrize("trackio_handles", ["", "1"])
def test_sigterm_finishes_the_run(tmp_path, project, trackio_handles):
    """Also with Trackio's own SIGTERM handling on (TRACKIO_HANDLE_SIGTERM=1): trackio.init runs in the
    backend's thread, where Trackio installs no handler, so ktrack's finishes the run and marks it stopped."""
    proc, run_dir = _start_child(tmp_path, project, TRACKIO_HANDLE_SIGTERM=trackio_handles)
    proc.send_signal(signal.SIGTERM)
    assert _wait(proc, 90) == -signal.SIGTERM  # a backend that hangs is given up after finish_timeout (60 s)
    assert (run_dir / "summary.json").exists()
    assert json.loads((run_dir / "config.json").read_text())["end"]["state"] == "stopped"
    steps = [r["step"] for r in read_records(run_dir)]
    assert steps == list(range(len(steps)))
    db = trackio_db(project)
    assert [s for s, _ in trackio_rows(db, "r")] == steps
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as con:
        config = json.loads(con.execute("SELECT config FROM configs WHERE run_name='r'").fetchone()[0])
    # the launch command once: Trackio's own _Command, not again as provenance/command
    assert config["_Command"].endswith(f"child.py {project} {run_dir}") and "provenance/command" not in config


def test_kill_9_keeps_journal_and_database(tmp_path, project):
    proc, run_dir = _start_child(tmp_path, project)
    deadline = time.time() + 30
    while time.time() < deadline and not trackio_rows(trackio_db(project), "r"):
        time.sleep(0.05)
    seen = len(list(read_records(run_dir)))
    proc.send_signal(signal.SIGKILL)
    proc.wait(30)
    steps = [r["step"] for r in read_records(run_dir)]
    assert len(steps) >= seen and steps == list(range(len(steps)))
    con = sqlite3.connect(trackio_db(project))
    assert con.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    con.close()
    rows = trackio_rows(trackio_db(project), "r")
    assert all(s in set(steps) for s, _ in rows)


DDP = """
import os, sys, types
import torch.distributed as dist
import torch.multiprocessing as mp
import trackers

def work(rank, port, project, base):
    dist.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{port}", rank=rank, world_size=2)
    run = trackers.init(cfg=types.SimpleNamespace(), project=project, run_name="ddp",
                        run_dir=os.path.join(base, f"rank{rank}"), trackers="trackio")
    run.log({"train/loss": 1.0 + rank}, step=0)
    run.finish()
    with open(os.path.join(base, f"type{rank}"), "w") as f:
        f.write(type(run).__name__)
    dist.barrier()
    dist.destroy_process_group()

if __name__ == "__main__":
    mp.spawn(work, args=(int(sys.argv[1]), sys.argv[2], sys.argv[3]), nprocs=2)
"""


def test_only_rank_zero_tracks(tmp_path, project):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    script = tmp_path / "ddp.py"
    script.write_text(DDP)
    out = subprocess.run([PY, str(script), str(port), project, str(tmp_path)], env=subprocess_env(),
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    assert (tmp_path / "type0").read_text() == "Run" and (tmp_path / "type1").read_text() == "NoOpRun"
    assert (tmp_path / "rank0" / "metrics.jsonl").exists() and not (tmp_path / "rank1").exists()
    assert trackio_rows(trackio_db(project), "ddp") == [(0, {"train/loss": 1.0})]


@pytest.mark.parametrize("tracker", ["trackio", "wandb"])
def test_selftest(tracker, tmp_path, project):
    """The self-test proves the wiring in a scratch folder and leaves nothing where real runs live."""
    env = {**subprocess_env(), "TMPDIR": str(tmp_path / "tmp")}
    (tmp_path / "tmp").mkdir()
    before = {name: sorted(Path(env[name]).rglob("*")) for name in ("TRACKIO_DIR", "WANDB_DIR")}
    out = subprocess.run([PY, "-m", "trackers.selftest", tracker, "--steps", "40", "--project", project],
                         env=env, capture_output=True, text=True, timeout=180, cwd=tmp_path)
    assert out.returncode == 0, out.stderr[-2000:]
    assert f"project: {project}" in out.stdout and "steps verified: 40" in out.stdout
    assert "nothing kept" in out.stdout
    # no "upload later" for a run that is removed, no fake run in the user's folders or ./runs
    assert "wandb sync" not in out.stdout + out.stderr and "CONFIG_WANDB_OFFLINE" not in out.stdout + out.stderr
    assert {name: sorted(Path(env[name]).rglob("*")) for name in before} == before
    assert not (tmp_path / "runs").exists()
    assert not list((tmp_path / "tmp").iterdir()), "the scratch folder is removed"


@pytest.mark.parametrize("tracker", ["trackio", "wandb"])
def test_selftest_keep(tracker, tmp_path, project):
    """--keep DIR keeps the fake run, and says how to look at it."""
    keep = tmp_path / "kept"
    out = subprocess.run([PY, "-m", "trackers.selftest", tracker, "--steps", "20", "--project", project,
                          "--keep", str(keep)], env=subprocess_env(), capture_output=True, text=True, timeout=180,
                         cwd=tmp_path)
    assert out.returncode == 0, out.stderr[-2000:]
    if tracker == "trackio":
        assert (keep / "trackio" / f"{project}.db").is_file()
        assert f"TRACKIO_DIR={keep / 'trackio'} trackio-view --project {project}" in out.stdout
    else:
        assert list((keep / "wandb").rglob("*.wandb"))
        assert (out.stdout + out.stderr).count("wandb sync") == 1
