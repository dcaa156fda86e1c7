"""Sweeps against the real Slurm cluster (two nodes on this machine): sbatch with nothing but
SWEEP_EXECUTOR=slurm, scancel then rerun, Ctrl+C into a closed pipe, requests that can never start,
jobs cancelled while pending, OMP_NUM_THREADS from the CPUs asked for."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from tests.slurm.conftest import one_node_free, squeue, wait_for
from tests.sweeps.conftest import REPO, cli, ctrl_c_into_a_closed_pipe, points, real_lenet, two_points, write_sweep
from rundata.journal import read_records

pytestmark = pytest.mark.slow

STANDIN_TWO = two_points("onslurm")
NAMES = ("lr=1e-3", "lr=1e-2")


def hanging_sweep(tmp_path: Path, name: str, hang_on: str) -> tuple[Path, Path, Path, Path, dict[str, str]]:
    """Sweep ``name`` of STANDIN_TWO whose points matching ``hang_on`` wait while the file ``hang`` exists.

    Returns the sweep file, ``hang``, the project's runs folder, the sweep's state file and the environment.
    """
    path = write_sweep(tmp_path, name, STANDIN_TWO)
    hang = tmp_path / "hang"
    hang.write_text(hang_on)
    runs = tmp_path / "runs" / "onslurm"
    env = {**os.environ, "STANDIN_HANG": str(hang), "PYTHONPATH": str(REPO)}
    return path, hang, runs, runs / ".sweeps" / f"{name}.json", env


def start(path: Path, env: dict[str, str], *extra: str, quiet: bool = False) -> subprocess.Popen:
    """``python -m sweeps run PATH --executor slurm EXTRA...``, its output piped as text (or dropped)."""
    cmd = [sys.executable, "-m", "sweeps", "run", str(path), "--executor", "slurm", *extra]
    if quiet:
        return subprocess.Popen(cmd, cwd=Path.cwd(), env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return subprocess.Popen(cmd, cwd=Path.cwd(), env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def job_ids(state_file: Path) -> list[str]:
    return [str(p["job_id"]) for p in points(state_file).values() if p.get("job_id")]


def test_two_points_through_sbatch_with_nothing_but_the_executor(
        tmp_path: Path, isolated_env: dict[str, str], slurm: dict[str, str]) -> None:
    path = write_sweep(tmp_path, "lenet", real_lenet("onslurm", "1e-3, 3e-3"))
    env = {k: v for k, v in os.environ.items() if k != "OMP_NUM_THREADS"}
    result = cli("run", str(path), env={**env, "SWEEP_EXECUTOR": "slurm"}, timeout=600)
    out = result.stdout + result.stderr
    assert result.returncode == 0, out
    assert "executor slurm" in result.stdout and "2 done" in result.stdout and "(Slurm job " in result.stdout
    assert "Bypassing sacct" not in out and "Traceback" not in out
    state_file = tmp_path / "runs" / "onslurm" / ".sweeps" / "lenet.json"
    ids = job_ids(state_file)
    assert len(ids) == 2 and set(squeue(ids).values()) <= {"COMPLETED"}
    for name in ("lr=1e-3", "lr=3e-3"):
        assert json.loads((tmp_path / "runs" / "onslurm" / name / "summary.json").read_text())["final_iter"] == 4


def test_threads_follow_the_cpus_asked_for(tmp_path: Path, isolated_env: dict[str, str],
                                           slurm: dict[str, str]) -> None:
    path = write_sweep(tmp_path, "omp", STANDIN_TWO.replace("lr: [1e-3, 1e-2]", "lr: [1e-3]"))
    env = {k: v for k, v in os.environ.items() if k != "OMP_NUM_THREADS"}
    result = cli("run", str(path), "--executor", "slurm", "--set", "SLURM_CPUS_PER_TASK=2", env=env, timeout=600)
    assert result.returncode == 0, result.stdout + result.stderr
    seen = json.loads((tmp_path / "runs" / "onslurm" / "lr=1e-3" / "process.json").read_text())
    assert seen["omp"] == "2" and seen["slurm_job"]


def test_scancel_of_one_point_then_rerun_resumes_it(tmp_path: Path, isolated_env: dict[str, str],
                                                    slurm: dict[str, str]) -> None:
    path, hang, runs, state_file, env = hanging_sweep(tmp_path, "cancel", "lr=1e-2")
    proc = start(path, env)
    try:
        wait_for(lambda: (runs / "lr=1e-2" / "checkpoints" / "last.pt").is_file()
                 and points(state_file).get("lr=1e-3", {}).get("status") == "done", what="point 2 hanging")
        victim = str(points(state_file)["lr=1e-2"]["job_id"])
        subprocess.run(["scancel", victim], check=True, timeout=60)
        out, _ = proc.communicate(timeout=300)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 1, out
    assert "failed  [2/2] lr=1e-2" in out and f"Slurm job {victim}" in out and "Traceback" not in out
    assert points(state_file)["lr=1e-2"]["status"] == "failed"

    hang.unlink()
    rerun = cli("run", str(path), "--executor", "slurm", env={"STANDIN_HANG": str(hang)}, timeout=600)
    assert rerun.returncode == 0, rerun.stdout + rerun.stderr
    assert "skip    [1/2] lr=1e-3" in rerun.stdout and "resume  [2/2] lr=1e-2" in rerun.stdout
    assert "1 done, 1 skipped, 0 failed" in rerun.stdout
    second = runs / "lr=1e-2"
    assert (second / "invocations.txt").read_text().splitlines() == ["", f"--resume {second}"]
    assert (runs / "lr=1e-3" / "invocations.txt").read_text().splitlines() == [""]  # not submitted again
    steps = [rec["step"] for rec in read_records(second) if rec["type"] == "log"]
    assert steps == [1, 2, 3]


def test_ctrl_c_into_a_closed_pipe_cancels_every_job(tmp_path: Path, isolated_env: dict[str, str],
                                                     slurm: dict[str, str]) -> None:
    path, hang, runs, state_file, env = hanging_sweep(tmp_path, "pipe", "*")
    ctrl_c_into_a_closed_pipe(
        tmp_path, path, env, "--executor slurm",
        lambda: len(job_ids(state_file)) == 2 and set(squeue(job_ids(state_file)).values()) == {"RUNNING"}
        and all((runs / n / "checkpoints" / "last.pt").is_file() for n in NAMES), what="both jobs running",
        timeout=240)
    ids = job_ids(state_file)
    wait_for(lambda: set(squeue(ids).values()) <= {"CANCELLED", "COMPLETED", "FAILED"}, timeout=60,
             what="every job to end")
    assert {p["status"] for p in points(state_file).values()} == {"interrupted"}


def _one_error_line(result: subprocess.CompletedProcess) -> str:
    lines = result.stderr.splitlines()
    assert result.returncode == 1 and len(lines) == 1, result.stdout + result.stderr
    assert lines[0].startswith("ktrack-sweep: error: ")
    return lines[0]


def test_a_request_that_can_never_start_stops_with_one_line(tmp_path: Path, isolated_env: dict[str, str],
                                                             slurm: dict[str, str]) -> None:
    path = write_sweep(tmp_path, "huge", STANDIN_TWO)
    too_many = str(4 * (os.cpu_count() or 1))
    result = cli("run", str(path), "--executor", "slurm", "--set", f"SLURM_CPUS_PER_TASK={too_many}", timeout=300)
    line = _one_error_line(result)
    assert "can never start" in line and "PartitionConfig" in line and "SLURM_CPUS_PER_TASK" in line
    ids = job_ids(tmp_path / "runs" / "onslurm" / ".sweeps" / "huge.json")
    assert ids and set(squeue(ids).values()) <= {"CANCELLED"}  # nothing left waiting in the queue
    refused = cli("run", str(path), "--executor", "slurm", "--set", "SLURM_GPUS_PER_NODE=1", timeout=300)
    assert "Slurm refused the job" in _one_error_line(refused)


def test_a_job_cancelled_while_pending_ends_its_point(tmp_path: Path, isolated_env: dict[str, str],
                                                      slurm: dict[str, str]) -> None:
    """Each point asks for every CPU of a node and one node is free: the second waits (its reason is
    shown); cancelled there, it is failed."""
    path, hang, runs, state_file, env = hanging_sweep(tmp_path, "pending", "lr=1e-3")
    cpus = str(os.cpu_count() or 1)
    with one_node_free():
        proc = start(path, env, "--set", f"SLURM_CPUS_PER_TASK={cpus}")
        lines: list[str] = []
        reader = threading.Thread(target=lambda: lines.extend(proc.stdout or ()), daemon=True)
        reader.start()
        try:
            wait_for(lambda: (runs / "lr=1e-3" / "checkpoints" / "last.pt").is_file()
                     and len(job_ids(state_file)) == 2, what="the first point running")
            first, second = (str(points(state_file)[n]["job_id"]) for n in NAMES)
            # Slurm gives a new job the reason "None" until its scheduler has looked at it; the
            # sweep shows the reason once there is one, so cancel only after it was shown.
            wait_for(lambda: any("pending [2/2] lr=1e-2: Resources" in line for line in lines),
                     what="the second job shown pending for Resources")
            subprocess.run(["scancel", second], check=True, timeout=60)
            wait_for(lambda: points(state_file).get("lr=1e-2", {}).get("status") == "failed", timeout=120,
                     what="the cancelled point to be failed")
            subprocess.run(["scancel", first], check=True, timeout=60)
            proc.wait(timeout=300)
            reader.join(timeout=60)
        finally:
            if proc.poll() is None:
                proc.kill()
    out = "".join(lines)
    assert proc.returncode == 1, out
    assert "pending [2/2] lr=1e-2: Resources" in out, out
    failed = next(line for line in out.splitlines() if "failed  [2/2] lr=1e-2" in line)
    assert f"Slurm job {second} CANCELLED before it started, no log written" in failed
    assert "sweep.log" not in failed  # it never ran, so there is no such log to name


def test_a_rerun_after_the_sweep_was_killed_follows_its_queued_jobs(
        tmp_path: Path, isolated_env: dict[str, str], slurm: dict[str, str]) -> None:
    """kill -9 of ``make sweep`` leaves its jobs running; the rerun attaches to them instead of submitting twice."""
    path, hang, runs, state_file, env = hanging_sweep(tmp_path, "attach", "*")
    first = start(path, env, quiet=True)
    try:
        wait_for(lambda: all((runs / n / "checkpoints" / "last.pt").is_file() for n in NAMES)
                 and len(job_ids(state_file)) == 2, what="both points hanging")
    finally:
        first.kill()
        first.wait()
    ids = job_ids(state_file)
    assert set(squeue(ids).values()) == {"RUNNING"}
    rerun = start(path, env)
    seen: list[str] = []
    try:
        assert rerun.stdout is not None
        while sum(line.startswith("  attach ") for line in seen) < 2:
            line = rerun.stdout.readline()
            assert line, "".join(seen)
            seen.append(line)
        hang.unlink()  # the first jobs now train to the end
        out, _ = rerun.communicate(timeout=300)
    finally:
        if rerun.poll() is None:
            rerun.kill()
    out = "".join(seen) + out
    assert rerun.returncode == 0, out
    assert "  start " not in out and "2 done" in out, out
    assert sorted(job_ids(state_file)) == sorted(ids)  # the same two jobs, none submitted again
    for name in NAMES:
        assert (runs / name / "invocations.txt").read_text().splitlines() == [""]
