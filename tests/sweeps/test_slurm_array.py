"""SWEEP_EXECUTOR=slurm submits a sweep's points as ONE throttled job array (``--array=0-N%JOBS``);
stopping the sweep cancels the array. Real submitit writes and submits the script; sbatch, squeue
and scancel are small stand-ins on PATH that record what they were given (no Slurm on this machine;
tests/slurm/ runs the real one when a cluster is up)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from sweeps.executors import Task
from sweeps.slurm import SlurmExecutor, queue_states

#: Real trackers (or Slurm's commands) through ktrack's own code: the end-to-end tier.
pytestmark = pytest.mark.e2e

SBATCH = """#!/bin/sh
for last; do :; done
cp "$last" "{log}/script.sh"
echo "$@" >> "{log}/sbatch.args"
echo "Submitted batch job 1234"
"""
SQUEUE = """#!/bin/sh
echo "$@" >> "{log}/squeue.args"
for i in 0 1 2 3; do echo "1234_$i|$(cat {log}/state 2>/dev/null || echo PENDING)|None"; done
"""
SCANCEL = """#!/bin/sh
echo "$@" >> "{log}/scancel.args"
echo CANCELLED > "{log}/state"
"""


@pytest.fixture
def fake_slurm(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    log = tmp_path / "slurm-log"
    log.mkdir()
    bindir = tmp_path / "bin"
    bindir.mkdir()
    for name, body in (("sbatch", SBATCH), ("squeue", SQUEUE), ("scancel", SCANCEL), ("srun", "#!/bin/sh\n")):
        (bindir / name).write_text(body.format(log=log))
        (bindir / name).chmod(0o755)
    monkeypatch.setenv("PATH", f"{bindir}{os.pathsep}{os.environ['PATH']}")
    return log


def test_points_go_as_one_throttled_array_and_stopping_cancels_it(tmp_path: Path, fake_slurm: Path) -> None:
    ex = SlurmExecutor(tmp_path / "submitit", {"timeout_min": 5, "nodes": 1, "tasks_per_node": 1, "cpus_per_task": 1},
                       cluster="slurm", array_parallelism=2)
    tasks = [Task(f"p{i}", ["true"], {}, str(tmp_path), str(tmp_path / f"p{i}.log")) for i in range(4)]
    handles = ex.start_array(tasks, "lr")
    assert len((fake_slurm / "sbatch.args").read_text().splitlines()) == 1  # one sbatch for the four points
    script = (fake_slurm / "script.sh").read_text()
    assert "#SBATCH --array=0-3%2" in script and "#SBATCH --job-name=sweep-lr" in script
    assert [ex.job_id(h) for h in handles] == [f"1234_{i}" for i in range(4)]
    assert [h.task.name for h in handles] == ["p0", "p1", "p2", "p3"]
    assert queue_states(["1234_2"])["1234_2"].state == "PENDING"
    assert "--array" in (fake_slurm / "squeue.args").read_text().split()  # each task on a line of its own
    ex.stop_all(handles, grace=5)
    assert (fake_slurm / "scancel.args").read_text().split() == ["1234"]  # the array, pending tasks included
