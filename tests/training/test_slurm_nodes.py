"""``make train SLURM=1`` with DIST_NNODES > 1: one torchrun per node under srun (the script and each
node's command; tests/slurm/test_multinode_on_slurm.py runs such a job on the local two-node cluster)."""

from __future__ import annotations

import types
from pathlib import Path

from training import slurm_job


def _cfg(**values: object) -> types.SimpleNamespace:
    base = {"DIST_NNODES": 2, "DIST_NPROC_PER_NODE": 4, "DIST_RDZV_TIMEOUT": 120, "SLURM_CPUS_PER_TASK": 2,
            "SLURM_GPUS_PER_NODE": 4, "SLURM_MEM_GB": 0, "SLURM_TIME_MIN": 60, "SLURM_PARTITION": "gpu",
            "SLURM_ACCOUNT": "", "SLURM_QOS": "", "SLURM_REQUEUE": True, "TRAIN_CHECKPOINT": True,
            "SLURM_SIGNAL_S": 120}
    return types.SimpleNamespace(**{**base, **values})


def test_multi_node_job_runs_one_torchrun_task_per_node(tmp_path: Path) -> None:
    req = slurm_job.request(_cfg())
    argv = ["python", "-m", "training.launch", "--slurm-task", "--model", "gpt2"]
    script = slurm_job.job_script(req, tmp_path, tmp_path / "job.config", argv, "p/r")
    assert "#SBATCH --nodes=2" in script and "#SBATCH --ntasks-per-node=1" in script
    assert "#SBATCH --cpus-per-task=8" in script  # the node's 4 processes x 2 CPUs
    assert "srun python -m training.launch --slurm-node --model gpt2" in script
    assert f"export {slurm_job.NPROC_ENV}=4" in script and f"export {slurm_job.RDZV_TIMEOUT_ENV}=120" in script
    one = slurm_job.job_script(slurm_job.request(_cfg(DIST_NNODES=1)), tmp_path, tmp_path / "c", argv, "n")
    assert "#SBATCH --ntasks-per-node=4" in one and "--slurm-task" in one  # one node: a task per process


def test_each_node_rendezvouses_on_the_first(tmp_path: Path) -> None:
    env = {"SLURM_JOB_NUM_NODES": "2", slurm_job.NPROC_ENV: "4", "MASTER_ADDR": "gpu01", "MASTER_PORT": "24242",
           "SLURM_JOB_ID": "4242", slurm_job.RDZV_TIMEOUT_ENV: "120"}
    cmd = slurm_job.node_command("gpt2", ["--max-iters", "5"], env)
    assert {"--nnodes=2", "--nproc_per_node=4", "--rdzv_backend=c10d", "--rdzv_endpoint=gpu01:24242",
            "--rdzv_id=4242", "--rdzv_conf=join_timeout=120"} <= set(cmd)
    assert cmd[-3].endswith("gpt2/train.py") and cmd[-2:] == ["--max-iters", "5"]
    (tmp_path / "checkpoints").mkdir()
    (tmp_path / "checkpoints" / "last.pt").write_bytes(b"x")
    again = slurm_job.node_command("gpt2", [], {**env, "SLURM_RESTART_COUNT": "1",
                                                slurm_job.RUN_DIR_ENV: str(tmp_path)})
    assert again[-2:] == ["--resume", str(tmp_path)]


def test_requeue_mark(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("SLURM_JOB_ID", "77")
    slurm_job.requeue_mark(tmp_path)
    assert (tmp_path / "slurm" / "requeue-77").is_file()


def test_the_rendezvous_host_is_the_first_nodes_address(tmp_path: Path) -> None:
    script = slurm_job.job_script(slurm_job.request(_cfg()), tmp_path, tmp_path / "c", ["python"], "n")
    assert 'scontrol show node -o "$MASTER_NODE"' in script and 'MASTER_ADDR="${MASTER_ADDR:-$MASTER_NODE}"' in script


def test_each_node_reads_its_own_gpu_tree() -> None:
    env = slurm_job.node_env({"KTRACK_SYSFS_ROOT": "/trees/%n", "SLURMD_NODENAME": "node2"})
    assert env["KTRACK_SYSFS_ROOT"] == "/trees/node2"
    task = slurm_job.task_env({"KTRACK_SYSFS_ROOT": "/trees/%n", "SLURMD_NODENAME": "b"})
    assert task["KTRACK_SYSFS_ROOT"] == "/trees/b"
    assert slurm_job.node_env({"KTRACK_SYSFS_ROOT": "/trees/%n"})["KTRACK_SYSFS_ROOT"] == "/trees/%n"  # not under Slurm
