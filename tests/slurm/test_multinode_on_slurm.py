"""``make train SLURM=1`` with ``DIST_NNODES=2``: a 2-node x 2-process job on the local cluster's two
nodes (two slurmd on this machine, scripts/slurm-local.sh) is one run holding both nodes' GPUs.

Each node is named by Slurm (``SLURMD_NODENAME``) and reads its own fake GPU tree: the job's
``KTRACK_SYSFS_ROOT`` holds ``%n``, which each node's task replaces with its name
(:func:`training.slurm_job.node_env`). What ``tests/training/test_multinode.py`` checks of a torchrun
job is checked where it fits: one run, ranks 0-3, both nodes' GPUs in the journal, Trackio, W&B and
TensorBoard, the job's energy the sum of its four GPUs', Slurm's job id and node list in
``config.json``, ``trackio-view --gpu-db --once`` naming both nodes.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.slurm.conftest import REPO, squeue, wait_for
from tests.slurm.conftest import nodes as cluster_nodes
from trackers import readback
from trackers.backends.tensorboard_backend import log_dir
from rundata.journal import read_records

pytestmark = [pytest.mark.slow, pytest.mark.timeout(600)]

MIXED = REPO / "tests" / "gpu" / "fixtures" / "mixed"  # two cards each: Intel (0) and AMD W7900 (1)
TINY = ("GPT2_N_LAYER=1 GPT2_N_HEAD=2 GPT2_N_EMBD=32 GPT2_BLOCK_SIZE=32 TRAIN_BATCH_SIZE=4 TRAIN_EVAL_ITERS=1 "
        "TRAIN_LOG_INTERVAL=5 TRAIN_WARMUP_ITERS=2 DATASET_MAX_TOKENS=100000 TRAIN_DEVICE=cpu TRAIN_CHECKPOINT=n "
        "DIST_NNODES=2 DIST_NPROC_PER_NODE=2 DIST_RDZV_TIMEOUT=120 SLURM_CPUS_PER_TASK=1 TRACKER_LOG_GPU=y "
        "TRACKER_GPU_INTERVAL=0.2 GPU_NVML=n WANDB_OFFLINE=y TRACKER_PROJECT=slurm-nodes TRACKER_RUN_NAME=two "
        "TRAIN_MAX_ITERS=10 TRAIN_EVAL_INTERVAL=10")


def test_two_nodes_under_slurm_are_one_run_with_both_nodes_gpus(tree: Path, make, isolated_env: dict[str, str],
                                                                 slurm: dict[str, str], tmp_path: Path) -> None:
    nodes = cluster_nodes()
    if len(nodes) < 2:
        pytest.skip(f"the Slurm cluster has {len(nodes)} node(s), this job needs 2 "
                    "(scripts/slurm-local.sh up starts two unless KTRACK_SLURM_NODES says otherwise)")
    for node in nodes:  # the job may land on any two; each gets its own copy of the two-card tree
        shutil.copytree(MIXED, tmp_path / f"sysfs-{node}")
    configured = make("defconfig", "TRACKER=trackio,wandb,tensorboard", f"SET={TINY}", env={"OMP_NUM_THREADS": "1"})
    assert configured.returncode == 0, configured.stderr
    submitted = make("train", "SLURM=1", env={"KTRACK_SYSFS_ROOT": str(tmp_path / "sysfs-%n")}, timeout=300)
    assert submitted.returncode == 0, submitted.stdout + submitted.stderr
    found = re.search(r"^Slurm job (\d+): 2 node\(s\) x 2 process\(es\), run slurm-nodes/two$", submitted.stdout,
                      re.MULTILINE)
    assert found, submitted.stdout
    job = found.group(1)
    run_dir = tree / "runs" / "slurm-nodes" / "two"
    log = run_dir / "slurm" / f"slurm-{job}.log"
    wait_for(lambda: squeue([job]).get(job) in ("COMPLETED", "FAILED", "CANCELLED", "TIMEOUT"), what="the job")
    assert squeue([job])[job] == "COMPLETED", log.read_text()[-4000:]
    assert [p.name for p in (tree / "runs" / "slurm-nodes").iterdir()] == ["two"]  # one run folder for the job

    # Slurm on the record: the job, its two nodes, each named by Slurm
    config = json.loads((run_dir / "config.json").read_text())
    prov = config["provenance"]
    used = subprocess.run(["scontrol", "show", "hostnames", prov["slurm_nodelist"]], capture_output=True,
                          text=True, timeout=60).stdout.split()
    assert prov["slurm_job_id"] == job and len(used) == 2 and set(used) <= set(nodes), prov
    assert str(prov["slurm_nodes"]) == "2" and "--nodes=2" in prov["slurm_script"]
    assert config["config"]["world_size"] == 4 and set(config["config"]["nodes"].split(",")) == set(used)
    assert prov["node"] in used

    # the journal: no step twice, ranks 0-3 timed each interval, both nodes' GPUs as system rows
    records = list(read_records(run_dir))
    steps = [r["step"] for r in records if r["type"] == "log" and "train/loss" in r["metrics"]]
    assert steps == [5, 10]
    for row in (r["metrics"] for r in records if r["type"] == "log" and "train/loss" in r["metrics"]):
        times = [row[f"straggler/rank{rank}_iter_time_ms"] for rank in range(4)]
        assert row["straggler/slowest_rank"] == times.index(max(times))
    system = {k for r in records if r["type"] == "system" for k in r["metrics"]}
    assert {f"gpu/{n}/{i}/clock_graphics_mhz" for n in used for i in (0, 1)} <= system
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["gpu_total/count"] == 4 and summary["nodes/count"] == 2 and summary["nodes/quiet"] == 0
    parts = [summary[f"gpu/{n}/{i}/energy_wh"] for n in used for i in (0, 1)]
    assert summary["gpu_total/energy_wh"] == pytest.approx(sum(parts)) and summary["gpu_total/energy_wh"] > 0

    # Trackio: one run, no step twice, both nodes' GPUs in its system metrics
    db = Path(isolated_env["TRACKIO_DIR"]) / "slurm-nodes.db"
    assert sorted(s for s, m in readback.trackio_rows(db, "two") if "train/loss" in m) == [5, 10]
    trackio_keys = {k for _, m in readback.trackio_system_rows(db, "two") for k in m}
    assert {f"gpu/{n}/{i}/power" for n in used for i in (0, 1)} <= trackio_keys

    # W&B: one offline run, both nodes' GPUs in its system stats; TensorBoard: both nodes' GPUs as scalars
    logs = list(Path(isolated_env["WANDB_DIR"]).rglob("run-*.wandb")) + list(run_dir.rglob("run-*.wandb"))
    assert len({p.parent for p in logs}) == 1
    wb = readback.wandb_run(logs[0].parent)
    assert [h["_step"] for h in wb["history"] if "train/loss" in h] == [5, 10]
    assert {f"gpu.{n}.1.powerWatts" for n in used} <= {k for s in wb["stats"] for k in s}
    scalars = readback.tensorboard_scalars(log_dir(run_dir))
    assert {f"system/gpu/{n}/1/power_w" for n in used} <= set(scalars)
    assert [s for s, _ in scalars["train/loss"]] == [5, 10]

    # trackio-view --gpu-db --once names both nodes
    shown = subprocess.run([sys.executable, "-m", "viewer", "--gpu-db", "--project", "slurm-nodes", "--once"],
                           env={**os.environ, "PYTHONPATH": str(REPO)}, capture_output=True, text=True, timeout=120)
    assert shown.returncode == 0, shown.stderr
    a, b = used
    assert f"Nodes (2, 4 GPUs): {a} (2 GPUs), {b} (2 GPUs)" in shown.stdout, shown.stdout
    assert all(f"Node {n}:" in shown.stdout for n in used)
