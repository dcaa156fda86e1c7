"""A 2-node x 2-process job on one machine: two `make train` in one checkout copy form one job.

Each "node" is one `make train` with its own ``KTRACK_NODE_NAME`` and fake GPU
tree (``KTRACK_SYSFS_ROOT``: the two-card ``mixed`` tree), joined through
torchrun's c10d rendezvous on 127.0.0.1. The record is read back with each
tracker's own reader; then one node is SIGKILLed mid-training and the other's
record must say so, without hanging past the rendezvous timeout.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

from trackers import readback
from trackers.backends.tensorboard_backend import log_dir
from rundata.journal import read_records
from trackers.nodes import node_file

pytestmark = [pytest.mark.slow, pytest.mark.timeout(900)]  # 2 launchers x 2 trainers on 2 cores

REPO = Path(__file__).resolve().parents[2]
MIXED = REPO / "tests" / "gpu" / "fixtures" / "mixed"  # two cards each: Intel (0) and AMD W7900 (1)
RDZV_TIMEOUT = 60
TINY = ("GPT2_N_LAYER=1 GPT2_N_HEAD=2 GPT2_N_EMBD=32 GPT2_BLOCK_SIZE=32 TRAIN_BATCH_SIZE=4 TRAIN_EVAL_ITERS=1 "
        "TRAIN_LOG_INTERVAL=5 TRAIN_WARMUP_ITERS=2 DATASET_MAX_TOKENS=100000 TRAIN_DEVICE=cpu TRAIN_CHECKPOINT=n "
        "DIST_NNODES=2 DIST_NPROC_PER_NODE=2 TRACKER_LOG_GPU=y TRACKER_GPU_INTERVAL=0.2 GPU_NVML=n WANDB_OFFLINE=y "
        f"DIST_RDZV_TIMEOUT={RDZV_TIMEOUT}")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _configure(tree: Path, make, run: str, iters: int) -> str:
    out = make("defconfig", "TRACKER=trackio,wandb,tensorboard",
               f"SET={TINY} TRACKER_RUN_NAME={run} TRAIN_MAX_ITERS={iters} TRAIN_EVAL_INTERVAL={iters} "
               f"DIST_RDZV_ENDPOINT=127.0.0.1:{_free_port()}", env={"OMP_NUM_THREADS": "1"})
    assert out.returncode == 0, out.stderr
    return json.loads((tree / "config.json").read_text())["TRACKER_PROJECT"]


def _start_nodes(tree: Path, tmp: Path) -> dict[str, subprocess.Popen]:
    procs = {}
    for node in ("a", "b"):
        sysfs = tmp / f"sysfs-{node}"
        if not sysfs.exists():
            shutil.copytree(MIXED, sysfs)
        env = {k: v for k, v in os.environ.items() if k not in ("MAKEFLAGS", "MAKELEVEL", "MFLAGS", "RANK")}
        env.update(PYTHONPATH=str(REPO), OMP_NUM_THREADS="1", KTRACK_NODE_NAME=node, KTRACK_SYSFS_ROOT=str(sysfs))
        procs[node] = subprocess.Popen(["make", "train"], cwd=tree, env=env, stdout=subprocess.PIPE,
                                       stderr=subprocess.STDOUT, text=True, stdin=subprocess.DEVNULL,
                                       start_new_session=True)
    return procs


def _kill_tree(proc: subprocess.Popen) -> None:
    """SIGKILL a node: its make, launcher, torchrun agent and trainers."""
    try:
        family = psutil.Process(proc.pid).children(recursive=True) + [psutil.Process(proc.pid)]
    except psutil.NoSuchProcess:
        return
    for p in family:
        try:
            p.send_signal(signal.SIGKILL)
        except psutil.NoSuchProcess:
            pass


def _wait(procs: dict[str, subprocess.Popen], timeout: float) -> dict[str, tuple[int, str]]:
    deadline = time.monotonic() + timeout
    out = {}
    try:
        for node, proc in procs.items():
            text, _ = proc.communicate(timeout=max(1.0, deadline - time.monotonic()))
            out[node] = (proc.returncode, text)
    finally:
        for proc in procs.values():
            if proc.poll() is None:
                _kill_tree(proc)
    return out


def _view(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "viewer", *args], env={**os.environ, "PYTHONPATH": str(REPO)},
                          capture_output=True, text=True, timeout=120)


def test_two_nodes_make_one_run_in_every_tracker(tree: Path, make, isolated_env: dict[str, str],
                                                 tmp_path: Path) -> None:
    project = _configure(tree, make, "mn", 10)
    done = _wait(_start_nodes(tree, tmp_path), timeout=500)
    for node, (rc, text) in done.items():
        assert rc == 0, f"node {node}:\n{text[-3000:]}"
    assert [p.name for p in (tree / "runs" / project).iterdir()] == ["mn"]  # one run folder for the job
    run_dir = tree / "runs" / project / "mn"

    # the journal: no duplicate steps, every node's GPUs as system rows, straggler figures each interval
    records = list(read_records(run_dir))
    steps = [r["step"] for r in records if r["type"] == "log" and "train/loss" in r["metrics"]]
    assert steps == [5, 10]
    system = {k for r in records if r["type"] == "system" for k in r["metrics"]}
    assert {f"gpu/{n}/{i}/clock_graphics_mhz" for n in "ab" for i in (0, 1)} <= system
    assert not any(k.startswith(("gpu1/", "gpu/power")) for k in system)  # rank 0 does not sample on its own
    logged = [r["metrics"] for r in records if r["type"] == "log" and "train/loss" in r["metrics"]]
    for row in logged:
        times = [row[f"straggler/rank{r}_iter_time_ms"] for r in range(4)]
        assert row["straggler/spread_ms"] == pytest.approx(max(times) - min(times))
        assert row["straggler/slowest_rank"] == times.index(max(times))
        assert row["iter_time_ms"] == pytest.approx(sum(times) / 4)

    # the job's totals: energy per GPU, per node and for the job
    summary = json.loads((run_dir / "summary.json").read_text())
    parts = [summary[f"gpu/{n}/{i}/energy_wh"] for n in "ab" for i in (0, 1)]
    assert summary["gpu_total/energy_wh"] == pytest.approx(sum(parts)) and summary["gpu_total/energy_wh"] > 0
    assert summary["node/a/energy_wh"] == pytest.approx(parts[0] + parts[1])
    assert summary["gpu_total/count"] == 4 and summary["nodes/count"] == 2 and summary["nodes/quiet"] == 0
    assert summary["straggler/spread_ms_max"] >= 0 and summary["straggler/slowest_node"] in ("a", "b")
    for node in "ab":
        assert json.loads(node_file(run_dir, node).read_text().splitlines()[-1])["end"] is True
    config = json.loads((run_dir / "config.json").read_text())
    assert config["config"]["nodes"] in ("a,b", "b,a") and config["provenance"]["node"] in ("a", "b")

    # Trackio: one run, no duplicate steps, both nodes' GPUs in its system metrics
    db = Path(isolated_env["TRACKIO_DIR"]) / f"{project}.db"
    rows = readback.trackio_rows(db, "mn")
    assert sorted(s for s, m in rows if "train/loss" in m) == [5, 10]
    sysrows = readback.trackio_system_rows(db, "mn")
    trackio_keys = {k for _, m in sysrows for k in m}
    assert {"gpu/a/1/power", "gpu/b/1/power", "gpu/a/0/sm_clock", "gpu/b/0/sm_clock"} <= trackio_keys

    # W&B: one offline run, both nodes' GPUs in its system stats
    logs = list(Path(isolated_env["WANDB_DIR"]).rglob("run-*.wandb")) + list(run_dir.rglob("run-*.wandb"))
    assert len({p.parent for p in logs}) == 1
    wb = readback.wandb_run(logs[0].parent)
    assert [h["_step"] for h in wb["history"] if "train/loss" in h] == [5, 10]
    stats = {k for s in wb["stats"] for k in s}
    assert {"gpu.a.1.powerWatts", "gpu.b.1.powerWatts"} <= stats
    assert wb["summary"]["gpu_total/energy_wh"] == pytest.approx(sum(parts))

    # TensorBoard: both nodes' GPUs as system scalars
    scalars = readback.tensorboard_scalars(log_dir(run_dir))
    assert {"system/gpu/a/1/power_w", "system/gpu/b/1/power_w"} <= set(scalars)
    assert [s for s, _ in scalars["train/loss"]] == [5, 10]

    # trackio-view --gpu-db --once names both nodes and sums the job's energy
    shown = _view("--gpu-db", "--project", project, "--once")
    assert shown.returncode == 0, shown.stderr
    assert "Nodes (2, 4 GPUs): a (2 GPUs), b (2 GPUs)" in shown.stdout
    assert "GPU a/1 latest:" in shown.stdout and "GPU b/1 latest:" in shown.stdout
    assert "Node a:" in shown.stdout and "Node b:" in shown.stdout and "Total:" in shown.stdout


@pytest.mark.parametrize("kill", ["other", "main"])
def test_a_killed_node_is_recorded_and_nothing_hangs(tree: Path, make, isolated_env: dict[str, str],
                                                     tmp_path: Path, kill: str) -> None:
    """``other``: the node without rank 0 dies; rank 0's record says which and when. ``main``: rank 0's
    node dies; the other ends too. Either way no process outlives the rendezvous timeout."""
    project = _configure(tree, make, "kill", 100000)
    procs = _start_nodes(tree, tmp_path)
    run_dir = tree / "runs" / project / "kill"
    try:
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline:
            if (run_dir / "metrics.jsonl").is_file() and any(
                    r["type"] == "log" and "train/loss" in r["metrics"] for r in read_records(run_dir)):
                break
            assert all(p.poll() is None for p in procs.values()), "a node ended before training started"
            time.sleep(0.5)
        else:
            pytest.fail("training did not log its first interval")
        main = json.loads((run_dir / "config.json").read_text())["provenance"]["node"]
        other = "b" if main == "a" else "a"
        victim, survivor = (other, procs[main]) if kill == "other" else (main, procs[other])
        family = psutil.Process(survivor.pid).children(recursive=True)
        _kill_tree(procs[victim])
        t_kill = time.monotonic()
        said, _ = survivor.communicate(timeout=RDZV_TIMEOUT + 90)
        took = time.monotonic() - t_kill
    finally:
        for p in procs.values():
            if p.poll() is None:
                _kill_tree(p)
    assert survivor.returncode != 0 and took < RDZV_TIMEOUT + 90
    time.sleep(1.0)
    assert not [p.pid for p in family if p.is_running() and p.status() != psutil.STATUS_ZOMBIE], "left behind"
    if kill == "main":
        return
    alerts = [r for r in read_records(run_dir) if r["type"] == "alert"]
    quiet = [a for a in alerts if a["metrics"]["title"] == "node quiet"]
    assert any(f"node {victim}:" in a["metrics"]["text"] and "UTC" in a["metrics"]["text"] for a in quiet), alerts
    assert (run_dir / "summary.json").is_file(), said[-4000:]
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary[f"node/{victim}/quiet_since"] > 0 and summary["nodes/quiet"] >= 1
