"""Stops as terminals and clusters deliver them to `make train`: nothing lost, nothing left running.

Each route ends a LeNet-5 run in the middle; then every row of the journal is
in Trackio, W&B (offline) and TensorBoard, read back with each tool's reader
(or the run counts what a tracker missed and names the replay), summary.json
is written, config.json says the run was stopped and names the W&B run from
its first moment, and no process of the session is left.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest

from rundata.journal import read_records
from rundata.store import db_path
from trackers.readback import tensorboard_scalars, trackio_rows
from trackers.wandb_file import read_run, wait_finished

TRACKERS = "trackio,wandb,tensorboard"
LONG = "TRAIN_MAX_ITERS=100000 TRAIN_LOG_INTERVAL=1 TRAIN_EVAL_INTERVAL=1000 TRACKER_RUN_NAME=sig"


def _env(tree: Path, isolated_env: dict[str, str]) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("MAKEFLAGS", "MAKELEVEL", "MFLAGS")}
    env.update(isolated_env, OMP_NUM_THREADS="1", PYTHONPATH=str(Path(__file__).resolve().parents[2]),
               KTRACK_TEST_MARK=str(tree))
    return env


def _alive(mark: str) -> list[int]:
    """Processes (zombies excluded) whose environment holds ``KTRACK_TEST_MARK=mark``: all this test started,
    torchrun's workers (a session of their own) and W&B's service included."""
    found = []
    needle = f"KTRACK_TEST_MARK={mark}".encode() + b"\0"
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            state = (entry / "stat").read_text().rsplit(")", 1)[1].split()[0]
            if needle in (entry / "environ").read_bytes() and state != "Z":
                found.append(int(entry.name))
        except OSError:
            continue
    return found


def _trainer_pid(mark: str) -> int:
    """The trainer (torchrun's agent when there are several processes)."""
    for pid in _alive(mark):
        try:
            if b"lenet5/train.py" in Path(f"/proc/{pid}/cmdline").read_bytes():
                return pid
        except OSError:
            pass
    raise AssertionError("no trainer process")


def _log_steps(run_dir: Path) -> list[int]:
    """Steps of the journal's training rows (step 0 holds only the starting validation)."""
    try:
        return [r["step"] for r in read_records(run_dir) if r["type"] == "log" and "train/loss" in r["metrics"]]
    except FileNotFoundError:
        return []


def _wandb_steps(meta: dict) -> list[int]:
    steps: list[int] = []
    for folder in (meta["backends"]["wandb"].get("dirs") or []):
        wait_finished(folder, timeout=30.0)
        steps += [int(r["_step"]) for r in read_run(folder)["history"] if "train/loss" in r]
    return sorted(steps)


def _trackio_db(meta: dict) -> Path:
    """The database the run's Trackio wrote (its folder is in config.json; an earlier test of this process
    may have imported trackio with another TRACKIO_DIR, so trackio_db() of this process would look there)."""
    return db_path(meta["project"], Path(meta["backends"]["trackio"]["dir"]))


def _held(project: str, run_dir: Path, meta: dict) -> dict[str, list[int]]:
    return {"trackio": sorted(s for s, m in trackio_rows(_trackio_db(meta), "sig") if "train/loss" in m),
            "wandb": _wandb_steps(meta),
            "tensorboard": sorted(s for s, _ in tensorboard_scalars(run_dir / "tensorboard").get("train/loss", []))}


def _start(tree: Path, make, isolated_env: dict[str, str], nproc: int) -> tuple[subprocess.Popen, Path, str]:
    configured = make("defconfig", "DEFCONFIG=lenet5-cpu", f"TRACKER={TRACKERS}",
                      f"SET={LONG} DIST_NPROC_PER_NODE={nproc}")
    assert configured.returncode == 0, configured.stderr
    project = json.loads((tree / "config.json").read_text())["TRACKER_PROJECT"]
    run_dir = tree / "runs" / project / "sig"
    log = open(tree / "train.log", "w")
    proc = subprocess.Popen(["make", "train"], cwd=tree, env=_env(tree, isolated_env), stdin=subprocess.DEVNULL,
                            stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    deadline = time.time() + 240
    while time.time() < deadline and proc.poll() is None:
        meta = json.loads((run_dir / "config.json").read_text()) if (run_dir / "config.json").exists() else {}
        started = (meta.get("backends") or {}).get("wandb", {}).get("dir")
        if started and len(_log_steps(run_dir)) >= 40:
            return proc, run_dir, project
        time.sleep(0.3)
    proc.kill()
    raise AssertionError(f"training did not start: {(tree / 'train.log').read_text()[-2000:]}")


ROUTES = {
    "SIGHUP to make's process group (the terminal closes)": ("group", signal.SIGHUP, 1),
    "SIGTERM to make's process group": ("group", signal.SIGTERM, 1),
    "SIGINT to make's process group (Ctrl+C)": ("group", signal.SIGINT, 1),
    "SIGTERM to make's process only": ("make", signal.SIGTERM, 1),
    "SIGHUP to make's process only (make waits), then SIGTERM": ("make", signal.SIGHUP, 1),
    "SIGKILL to make's process only": ("make", signal.SIGKILL, 1),
    "SIGUSR1 to the trainer (Slurm's warning, no requeue asked)": ("trainer", signal.SIGUSR1, 1),
    "SIGTERM to the trainer's process group (W&B's service too)": ("trainer-group", signal.SIGTERM, 1),
    "SIGHUP to the trainer's process group (W&B's service too)": ("trainer-group", signal.SIGHUP, 1),
    "SIGHUP to make's process group, torchrun x2": ("group", signal.SIGHUP, 2),
    "SIGTERM to torchrun x2": ("trainer", signal.SIGTERM, 2),
    "SIGKILL to make's process only, torchrun x2": ("make", signal.SIGKILL, 2),
}


@pytest.mark.parametrize("route", list(ROUTES))
def test_stop_reaches_every_tracker_and_leaves_nothing_running(route, tree: Path, make,
                                                               isolated_env: dict[str, str]) -> None:
    target, sig, nproc = ROUTES[route]
    proc, run_dir, project = _start(tree, make, isolated_env, nproc)
    first = json.loads((run_dir / "config.json").read_text())
    mark = str(tree)
    try:
        if target == "group":
            os.killpg(proc.pid, sig)
        elif target == "make":
            os.kill(proc.pid, sig)
            if sig == signal.SIGHUP:  # GNU make forwards only SIGTERM; on SIGHUP it waits for the recipe
                time.sleep(3)
                assert proc.poll() is None and _trainer_pid(mark)
                os.kill(proc.pid, signal.SIGTERM)
        elif target == "trainer-group":
            os.killpg(_trainer_pid(mark), sig)
        else:
            os.kill(_trainer_pid(mark), sig)
        proc.wait(120)
        deadline = time.time() + 90
        while _alive(mark) and time.time() < deadline:
            time.sleep(0.2)
        left = _alive(mark)
    finally:
        for pid in _alive(mark):
            os.kill(pid, signal.SIGKILL)
    out = (tree / "train.log").read_text()
    assert not left, f"processes left behind: {left}\n{out[-2000:]}"
    if nproc == 1:  # one line at most, never a traceback (torchrun prints its own report of a stopped worker)
        assert "Traceback" not in out, out[-3000:]
    meta = json.loads((run_dir / "config.json").read_text())
    assert meta["backends"]["wandb"]["id"] == first["backends"]["wandb"]["id"]  # named from the start
    assert meta["end"]["state"] == "stopped", meta.get("end")
    assert (run_dir / "summary.json").is_file()
    journal = _log_steps(run_dir)
    assert journal == list(range(1, len(journal) + 1)) and len(journal) >= 40
    held = _held(project, run_dir, meta)
    missed = meta["end"].get("missed", {})
    for name, steps in held.items():
        if name in missed:  # counted, and the replay named, then the replay completes it
            assert f"python -m trackers replay {run_dir} --to {name}" in out
            replayed = subprocess.run([os.sys.executable, "-m", "trackers", "replay", str(run_dir), "--to", name],
                                      env=_env(tree, isolated_env), capture_output=True, text=True, timeout=300)
            assert replayed.returncode == 0, replayed.stderr
            steps = _held(project, run_dir, json.loads((run_dir / "config.json").read_text()))[name]
        assert steps == journal, f"{name}: {len(steps)} rows, the journal {len(journal)} ({missed})"


def test_resume_after_a_stop_between_checkpoints_rewinds_every_tracker(tmp_path: Path,
                                                                       isolated_env: dict[str, str]) -> None:
    """Stopped at L after the checkpoint at S < L, resumed (at another learning rate, so the new steps differ):
    the journal's final history holds the new S+1..L, and so do Trackio and TensorBoard; W&B (offline) holds
    them in the resumed part's folder."""
    import sys

    from rundata.journal import history

    env = _env(tmp_path, isolated_env)
    env["KCONFIG_CONFIG"] = str(tmp_path / "no.config")
    train = [sys.executable, str(Path(__file__).resolve().parents[2] / "lenet5" / "train.py"),
             "--out-dir", str(tmp_path / "runs"), "--tracker", TRACKERS, "--tracker-project", "rewind",
             "--tracker-run-name", "rw"]
    run_dir = tmp_path / "runs" / "rewind" / "rw"
    first = subprocess.Popen([*train, "--max-iters", "100000", "--batch-size", "512", "--set", "TRAIN_LOG_INTERVAL=1",
                              "--set", "TRAIN_EVAL_INTERVAL=50"], env=env, cwd=tmp_path,
                             stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.time() + 240
        while time.time() < deadline and first.poll() is None:
            steps = _log_steps(run_dir)
            if steps and steps[-1] >= 60 and steps[-1] % 50 > 5:
                break
            time.sleep(0.05)
        first.send_signal(signal.SIGTERM)
        assert first.wait(120) == -signal.SIGTERM, first.stderr.read().decode()[-2000:] if first.stderr else ""
    finally:
        if first.poll() is None:
            first.kill()
    import torch

    stop = _log_steps(run_dir)[-1]
    ckpt = torch.load(run_dir / "checkpoints" / "last.pt", weights_only=False)["iter"]
    assert ckpt < stop, (ckpt, stop)
    end = stop + 10
    second = subprocess.run([*train, "--resume", str(run_dir), "--max-iters", str(end), "--batch-size", "512",
                             "--set", "TRAIN_LOG_INTERVAL=1", "--set", "TRAIN_EVAL_INTERVAL=50", "--lr", "0.05"],
                            env=env, cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert second.returncode == 0, second.stderr[-2000:]
    records = list(read_records(run_dir))
    assert [r["step"] for r in records if r["type"] == "rewind"] == [ckpt]
    final = {r["step"]: r["metrics"]["train/loss"] for r in history(records)
             if r["type"] == "log" and "train/loss" in r["metrics"]}
    assert sorted(final) == list(range(1, end + 1))
    old = {r["step"]: r["metrics"]["train/loss"] for r in records[:records.index(next(
        r for r in records if r["type"] == "rewind"))] if r["type"] == "log" and "train/loss" in r["metrics"]}
    # the new trajectory differs from the first update on (step S+1's loss is taken before it)
    assert all(old[s] != final[s] for s in range(ckpt + 2, stop + 1))
    meta = json.loads((run_dir / "config.json").read_text())
    trackio = [(s, m["train/loss"]) for s, m in trackio_rows(_trackio_db(meta), "rw") if "train/loss" in m]
    assert sorted(trackio) == sorted(final.items())  # one row a step, the final one
    tensorboard = tensorboard_scalars(run_dir / "tensorboard")["train/loss"]
    assert [s for s, _ in tensorboard] == sorted(final)
    # trackio-view: one curve (the final history), the rewind said once
    shown = subprocess.run([sys.executable, "-m", "viewer", "--once", "-p", "rewind", "--runs",
                            str(run_dir.parents[1])], env=env, cwd=tmp_path, capture_output=True, text=True,
                           timeout=120)
    assert shown.returncode == 0, shown.stderr
    assert f"Rewound at iteration {ckpt} (resumed from a checkpoint" in shown.stdout
    assert f"Latest Iteration: {end}\n" in shown.stdout
    assert all(abs(v - final[s]) < 1e-6 for s, v in tensorboard)
    meta = json.loads((run_dir / "config.json").read_text())
    folders = meta["backends"]["wandb"]["dirs"]
    assert len(folders) == 2 and len({Path(f).name.rsplit("-", 1)[-1] for f in folders}) == 1  # one W&B run
    wait_finished(folders[-1], timeout=30.0)
    resumed = {int(r["_step"]): r["train/loss"] for r in read_run(folders[-1])["history"] if "train/loss" in r}
    assert resumed == {s: v for s, v in final.items() if s > ckpt}
