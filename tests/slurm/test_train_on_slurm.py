"""``make train SLURM=1`` against the real local cluster: 2 processes on one node under srun are one tracked
run with no step twice; SIGUSR1 before the limit checkpoints, requeues and resumes the same run;
trackio-view follows it; a request no node can meet is one line."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import pytest

from tests.slurm.conftest import squeue, wait_for
from tests.training.conftest import trackio_rows
from rundata.journal import read_records

pytestmark = pytest.mark.slow

SMALL = ("GPT2_N_LAYER=1 GPT2_N_HEAD=2 GPT2_N_EMBD=32 GPT2_BLOCK_SIZE=32 TRAIN_BATCH_SIZE=4 TRAIN_EVAL_ITERS=2 "
         "TRAIN_LOG_INTERVAL=5 TRAIN_WARMUP_ITERS=2 DATASET_MAX_TOKENS=100000 DIST_NPROC_PER_NODE=2 "
         "SLURM_CPUS_PER_TASK=1 TRACKER_PROJECT=slurm-train")


def submit(make, settings: str) -> tuple[str, Path, str]:
    """``make defconfig`` (tiny GPT-2, 2 processes, Trackio) then ``make train SLURM=1``: job id, log, run name."""
    configured = make("defconfig", "TRACKER=trackio", f"SET={SMALL} {settings}", env={"OMP_NUM_THREADS": "1"})
    assert configured.returncode == 0, configured.stderr
    submitted = make("train", "SLURM=1", timeout=300)
    assert submitted.returncode == 0, submitted.stdout + submitted.stderr
    job = re.search(r"^Slurm job (\d+): 1 node\(s\) x 2 process\(es\), run slurm-train/(\S+)$", submitted.stdout,
                    re.MULTILINE)
    log = re.search(r"^  log:\s+(\S+)$", submitted.stdout, re.MULTILINE)
    assert job and log and "trackio-view --project slurm-train" in submitted.stdout, submitted.stdout
    return job.group(1), Path(log.group(1)), job.group(2)


def logged_steps(run_dir: Path) -> list[int]:
    """Steps of the journal's log records; a line the trainer is still writing is not one yet
    (this is polled while the job runs)."""
    return [r["step"] for r in read_records(run_dir) if r["type"] == "log"]


def one_run(trackio_dir: str, run: str) -> list[tuple[int, str]]:
    """(step, key) of every training metric in Trackio, after checking the project holds one run only."""
    rows = trackio_rows(trackio_dir, "slurm-train")
    assert {name for name, _, _ in rows} == {run}  # exactly one tracked run: rank 0's
    return [(step, key) for _, step, metrics in rows for key in metrics if key in ("train/loss", "val/loss", "lr")]


def test_two_processes_under_srun_are_one_run(tree: Path, make, isolated_env: dict[str, str],
                                             slurm: dict[str, str]) -> None:
    job, log, run = submit(make, "TRAIN_MAX_ITERS=20 TRAIN_EVAL_INTERVAL=10 TRACKER_RUN_NAME=srun2")
    assert run == "srun2"
    wait_for(lambda: squeue([job]).get(job) in ("COMPLETED", "FAILED", "CANCELLED", "TIMEOUT"), what="the job")
    assert squeue([job])[job] == "COMPLETED", log.read_text()[-3000:]
    run_dir = tree / "runs" / "slurm-train" / "srun2"
    assert log == run_dir / "slurm" / f"slurm-{job}.log" and "2 process(es)" in log.read_text()
    steps = logged_steps(run_dir)
    assert steps == sorted(set(steps)) and steps[-1] == 20
    logged = one_run(isolated_env["TRACKIO_DIR"], "srun2")
    assert len(logged) == len(set(logged)) and max(logged)[0] == 20
    assert json.loads((run_dir / "config.json").read_text())["config"].get("world_size") == 2
    view = subprocess.run([str(tree / ".venv" / "bin" / "trackio-view"), "--once", "--project", "slurm-train"],
                          capture_output=True, text=True, timeout=120)
    assert view.returncode == 0 and "Latest Iteration: 20" in view.stdout, view.stdout + view.stderr


def test_the_signal_before_the_limit_checkpoints_and_requeues_the_same_run(
        tree: Path, make, isolated_env: dict[str, str], slurm: dict[str, str]) -> None:
    job, log, run = submit(make, "TRAIN_MAX_ITERS=400 TRAIN_EVAL_INTERVAL=100 TRACKER_RUN_NAME=requeued")
    run_dir = tree / "runs" / "slurm-train" / run
    wait_for(lambda: (run_dir / "metrics.jsonl").is_file() and len(logged_steps(run_dir)) >= 4,
             what="training to log a few steps")
    subprocess.run(["scancel", "--signal=USR1", job], check=True, timeout=60)  # what --signal=USR1@S sends
    wait_for(lambda: "requeueing job" in log.read_text(), what="the job to checkpoint and requeue itself")
    # Slurm holds a requeued job for cred_expire seconds (BeginTime; 20 s on the local cluster)
    wait_for(lambda: squeue([job]).get(job) in ("COMPLETED", "FAILED", "CANCELLED", "TIMEOUT")
             and "restart 1" in log.read_text(), what="the resumed job to end")
    text = log.read_text()
    assert squeue([job])[job] == "COMPLETED", text[-3000:]
    stopped = int(re.search(r"checkpoint saved at iteration (\d+)", text).group(1))
    assert 0 < stopped < 400 and f"(iter {stopped})" in text
    steps = logged_steps(run_dir)
    assert steps == sorted(set(steps)) and steps[-1] == 400  # no step twice, trained to the end
    logged = one_run(isolated_env["TRACKIO_DIR"], run)
    assert len(logged) == len(set(logged)) and max(logged)[0] == 400
    assert json.loads((run_dir / "summary.json").read_text())["final_iter"] == 400


def test_a_request_no_node_can_meet_is_one_line(tree: Path, make, isolated_env: dict[str, str],
                                               slurm: dict[str, str]) -> None:
    import os

    configured = make("defconfig", "DEFCONFIG=lenet5-cpu",
                      f"SET=SLURM_CPUS_PER_TASK={4 * (os.cpu_count() or 1)} TRACKER_PROJECT=slurm-huge")
    assert configured.returncode == 0, configured.stderr
    result = make("train", "SLURM=1")
    errors = [line for line in result.stderr.splitlines() if not line.startswith("make")]
    assert result.returncode != 0 and len(errors) == 1, result.stdout + result.stderr
    assert errors[0].startswith("training.launch: error: Slurm refused the job") and "SLURM_" in errors[0]


def _train_rows(run_dir: Path) -> dict[int, float]:
    """``{step: train/loss}`` of the journal's final history (after any rewind)."""
    from rundata.journal import history

    return {r["step"]: r["metrics"]["train/loss"] for r in history(read_records(run_dir))
            if r["type"] == "log" and "train/loss" in r["metrics"]}


def test_scancel_stops_the_run_with_every_row_in_the_trackers(tree: Path, make, isolated_env: dict[str, str],
                                                               slurm: dict[str, str]) -> None:
    """``scancel`` (SIGTERM to every task): the run is finished, marked stopped, Trackio holds the journal's rows."""
    job, log, run = submit(make, "TRAIN_MAX_ITERS=100000 TRAIN_EVAL_INTERVAL=1000 TRACKER_RUN_NAME=cancelled")
    run_dir = tree / "runs" / "slurm-train" / run
    wait_for(lambda: (run_dir / "metrics.jsonl").is_file() and len(logged_steps(run_dir)) >= 4,
             what="training to log a few steps")
    subprocess.run(["scancel", job], check=True, timeout=60)
    wait_for(lambda: squeue([job]).get(job) in ("CANCELLED", "COMPLETED", "FAILED")
             and "end" in json.loads((run_dir / "config.json").read_text()), what="the run to end")
    end = json.loads((run_dir / "config.json").read_text())["end"]
    assert end["state"] == "stopped" and end["signal"] == "SIGTERM" and not end.get("missed"), end
    assert (run_dir / "summary.json").is_file()
    journal = _train_rows(run_dir)
    trackio = {step: m["train/loss"] for name, step, m in trackio_rows(isolated_env["TRACKIO_DIR"], "slurm-train")
               if name == run and "train/loss" in m}
    assert trackio == journal and journal


def test_scontrol_requeue_between_checkpoints_resumes_one_run_rewound(
        tree: Path, make, isolated_env: dict[str, str], slurm: dict[str, str]) -> None:
    """``scontrol requeue`` after the checkpoint at 100 (SIGTERM, the job comes back): the requeued job
    resumes from 100, the steps after it are trained again and replace the first ones, one run, no step twice."""
    job, log, run = submit(make, "TRAIN_MAX_ITERS=200 TRAIN_EVAL_INTERVAL=100 TRACKER_RUN_NAME=requeue2")
    run_dir = tree / "runs" / "slurm-train" / run
    wait_for(lambda: (run_dir / "metrics.jsonl").is_file() and max(logged_steps(run_dir) or [0]) >= 110,
             what="training past its first checkpoint")
    subprocess.run(["scontrol", "requeue", job], check=True, timeout=60)
    wait_for(lambda: squeue([job]).get(job) in ("COMPLETED", "FAILED", "CANCELLED", "TIMEOUT")
             and "restart 1" in log.read_text(), what="the requeued job to end")
    assert squeue([job])[job] == "COMPLETED", log.read_text()[-3000:]
    records = list(read_records(run_dir))
    assert [r["step"] for r in records if r["type"] == "rewind"] == [100]
    journal = _train_rows(run_dir)
    assert sorted(journal) == [s for s in range(5, 201, 5)]  # TRAIN_LOG_INTERVAL=5
    logged = one_run(isolated_env["TRACKIO_DIR"], run)
    assert len(logged) == len(set(logged))  # no step twice in Trackio
    trackio = {step: m["train/loss"] for _, step, m in trackio_rows(isolated_env["TRACKIO_DIR"], "slurm-train")
               if "train/loss" in m}
    assert trackio == journal
