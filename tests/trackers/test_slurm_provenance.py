"""Slurm on the record: the job's ids, nodes, partition, account, time limit and batch script in the
run's provenance (config.json) and in every tracker's config, read back with each tracker's reader.

Slurm's commands are small scripts on PATH answering as squeue and scontrol do
(the real ones are exercised under tests/slurm/ when a cluster is up).
"""

from __future__ import annotations

import json
import os
import types
from pathlib import Path

import pytest

import trackers
from trackers import provenance, readback
from trackers.backends.tensorboard_backend import log_dir

#: Real trackers (or Slurm's commands) through ktrack's own code: the end-to-end tier.
pytestmark = pytest.mark.e2e

SCRIPT = "#!/bin/bash\n#SBATCH --nodes=2\nsrun python -m training.launch --slurm-task\n"
JOB = {"SLURM_JOB_ID": "4242", "SLURM_ARRAY_JOB_ID": "4240", "SLURM_ARRAY_TASK_ID": "2",
       "SLURM_JOB_NODELIST": "gpu[01-02]", "SLURM_JOB_PARTITION": "gpu", "SLURM_JOB_ACCOUNT": "ml",
       "SLURM_JOB_NUM_NODES": "2"}


@pytest.fixture
def slurm_job(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    bindir = tmp_path / "bin"
    bindir.mkdir()
    (bindir / "squeue").write_text('#!/bin/sh\necho "1-00:00:00"\n')
    (bindir / "scontrol").write_text(f"#!/bin/sh\n[ \"$1 $2 $3\" = 'write batch_script 4242' ] && "
                                     f"printf '%s' '{SCRIPT}'\n")
    for tool in bindir.iterdir():
        tool.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bindir}{os.pathsep}{os.environ['PATH']}")
    for key, value in JOB.items():
        monkeypatch.setenv(key, value)


def test_outside_slurm_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    assert provenance.slurm({}) == {}


def test_the_script_falls_back_to_the_run_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))  # no squeue, no scontrol
    (tmp_path / "slurm").mkdir()
    (tmp_path / "slurm" / "train.sbatch").write_text(SCRIPT)
    got = provenance.slurm({"SLURM_JOB_ID": "7", "SLURM_JOB_TIME_LIMIT": "30", "KTRACK_SLURM_RUN_DIR": str(tmp_path)})
    assert got == {"slurm_job_id": "7", "slurm_time_limit": "30", "slurm_script": SCRIPT}


def test_slurm_in_config_json_and_every_tracker(tmp_path: Path, slurm_job: None, project: str) -> None:
    cfg = types.SimpleNamespace(MODEL="gpt2", OPTIMIZER="adamw")
    run = trackers.init({"lr": 0.1}, cfg=cfg, project=project, run_name="s", run_dir=tmp_path / "run",
                        trackers="trackio,wandb,tensorboard", log_gpu=False)
    run.log({"train/loss": 1.0}, step=1)
    run.finish()
    origin = json.loads((run.dir / "config.json").read_text())["provenance"]
    want = {"slurm_job_id": "4242", "slurm_array_job_id": "4240", "slurm_array_task_id": "2",
            "slurm_nodelist": "gpu[01-02]", "slurm_partition": "gpu", "slurm_account": "ml",
            "slurm_time_limit": "1-00:00:00", "slurm_script": SCRIPT}
    assert {k: origin.get(k) for k in want} == want
    trackio = readback.trackio_config(readback.trackio_db(project), "s")
    assert trackio["provenance/slurm_job_id"] == "4242" and trackio["provenance/slurm_script"] == SCRIPT
    logs = list(Path(run.ctx.info["wandb"]["dir"]).rglob("run-*.wandb"))  # this run's, not an earlier test's
    wb = readback.wandb_run(logs[0].parent)["config"]["provenance"]
    assert wb["slurm_array_task_id"] == "2" and wb["slurm_partition"] == "gpu"
    tb = readback.tensorboard_data(log_dir(run.dir))
    assert tb["hparams"]["provenance/slurm_job_id"] == "4242"
    assert "srun python -m training.launch" in tb["texts"]["slurm_script"][0][1]
    assert "gpu[01-02]" in tb["texts"]["provenance"][0][1]
