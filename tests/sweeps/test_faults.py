"""Sweeps under faults and bad input, on this machine: Ctrl+C into a closed pipe, names that would
leave runs/, a point that finished while the state said "running", time summed over a resume,
values with quotes through make, and a point's folder restored with make defconfig RUN=."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from sweeps.runner import open_state
from tests.sweeps.conftest import (REPO, cli, ctrl_c_into_a_closed_pipe, interrupted_sweep, points, real_lenet,
                                    two_points, wait_for, write_sweep)

#: Faults as a user meets them: ktrack-sweep processes interrupted, resumed, run through make.
pytestmark = pytest.mark.e2e

TWO = two_points("faults")


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"


def test_ctrl_c_into_a_closed_pipe_stops_every_local_point(tmp_path: Path, isolated_env: dict[str, str]) -> None:
    """``make sweep ... | tee log`` then Ctrl+C: tee dies first, every point is still stopped and recorded."""
    path = write_sweep(tmp_path, "pipe", TWO)
    hang = tmp_path / "hang"
    hang.write_text("*")
    runs = tmp_path / "runs" / "faults"
    state_file = runs / ".sweeps" / "pipe.json"
    env = {**os.environ, "STANDIN_HANG": str(hang), "PYTHONPATH": str(REPO)}
    ctrl_c_into_a_closed_pipe(
        tmp_path, path, env, "--jobs 2",
        lambda: all((runs / n / "checkpoints" / "last.pt").is_file() for n in ("lr=1e-3", "lr=1e-2"))
        and {p.get("status") for p in points(state_file).values()} == {"running"}
        and len(points(state_file)) == 2, what="both points running")
    pids = [json.loads((runs / n / "process.json").read_text())["pid"] for n in ("lr=1e-3", "lr=1e-2")]
    assert {p["status"] for p in points(state_file).values()} == {"interrupted"}
    wait_for(lambda: not any(alive(pid) for pid in pids), timeout=30, what="the points' processes to end")


@pytest.mark.parametrize("line", ["project: ../..", "project: {abs}/outside", "name: ../escape", "project: my.model",
                                  "project: " + "p" * 260])
def test_names_that_leave_runs_are_refused_before_anything_is_written(
        tmp_path: Path, isolated_env: dict[str, str], line: str) -> None:
    sweep_dir = tmp_path / "sweeps" / "deep"
    sweep_dir.mkdir(parents=True)
    line = line.replace("{abs}", str(tmp_path))
    body = TWO.replace("project: faults", line) if line.startswith("project") else TWO + line + "\n"
    path = write_sweep(sweep_dir, "bad", body)
    before = sorted(p for p in tmp_path.rglob("*"))
    result = cli("run", str(path))
    assert result.returncode == 1, result.stdout + result.stderr
    assert result.stderr.count("\n") == 1 and result.stderr.startswith("ktrack-sweep: error: "), result.stderr
    assert "name" in result.stderr or "project" in result.stderr
    assert sorted(p for p in tmp_path.rglob("*")) == before  # nothing written anywhere under the test folder
    assert not (tmp_path.parent / ".sweeps").exists()


def test_a_run_name_too_long_is_one_line(tmp_path: Path, isolated_env: dict[str, str]) -> None:
    long_value = "x" * 300
    path = write_sweep(tmp_path, "long", TWO.replace("lr: [1e-3, 1e-2]", f"TRAIN_DEVICE: [{long_value}]"))
    result = cli("run", str(path))
    assert result.returncode == 1 and result.stderr.count("\n") == 1, result.stderr
    assert "the longest allowed is 255 bytes" in result.stderr
    assert not (tmp_path / "runs").exists()


def test_a_point_that_finished_while_the_state_said_running_is_not_run_again(
        tmp_path: Path, isolated_env: dict[str, str]) -> None:
    path = write_sweep(tmp_path, "again", TWO)
    first = cli("run", str(path))
    assert first.returncode == 0, first.stdout + first.stderr
    state_file = tmp_path / "runs" / "faults" / ".sweeps" / "again.json"
    state = json.loads(state_file.read_text())
    for record in state["points"].values():  # as a sweep killed after its points finished leaves it
        record["status"] = "running"
    state_file.write_text(json.dumps(state))
    rerun = cli("run", str(path))
    assert rerun.returncode == 0, rerun.stdout + rerun.stderr
    assert "0 done, 2 skipped" in rerun.stdout and "resume" not in rerun.stdout
    for name in ("lr=1e-3", "lr=1e-2"):
        run = tmp_path / "runs" / "faults" / name
        assert (run / "invocations.txt").read_text().splitlines() == [""]
        assert sum('"summary"' in line for line in (run / "metrics.jsonl").read_text().splitlines()) == 1
    assert {p["status"] for p in json.loads(state_file.read_text())["points"].values()} == {"done"}


def test_a_final_checkpoint_without_a_summary_counts_as_finished(tmp_path: Path, isolated_env: dict[str, str]) -> None:
    """The real LeNet-5, killed after its last checkpoint: a rerun must not train from that checkpoint again."""
    path = write_sweep(tmp_path, "final", real_lenet("final", "1e-3"))
    first = cli("run", str(path), env={"OMP_NUM_THREADS": "1"}, timeout=240)
    assert first.returncode == 0, first.stdout + first.stderr
    run = tmp_path / "runs" / "final" / "lr=1e-3"
    (run / "summary.json").unlink()  # killed after the final checkpoint, before the summary
    journal = run / "metrics.jsonl"
    journal.write_text("".join(line for line in journal.read_text().splitlines(keepends=True)
                               if '"summary"' not in line))
    state_file = tmp_path / "runs" / "final" / ".sweeps" / "final.json"
    state = json.loads(state_file.read_text())
    state["points"]["lr=1e-3"]["status"] = "running"
    state_file.write_text(json.dumps(state))
    log_lines = len((run / "sweep.log").read_text().splitlines())
    rerun = cli("run", str(path), timeout=240)
    assert rerun.returncode == 0 and "1 skipped" in rerun.stdout, rerun.stdout + rerun.stderr
    assert len((run / "sweep.log").read_text().splitlines()) == log_lines  # the trainer did not start
    assert not any('"summary"' in line for line in journal.read_text().splitlines())


def test_time_of_a_resumed_point_sums_every_attempt(tmp_path: Path, isolated_env: dict[str, str]) -> None:
    path = write_sweep(tmp_path, "timed", TWO.replace("lr: [1e-3, 1e-2]", "lr: [1e-3]"))
    hang = tmp_path / "hang"
    hang.write_text("*")
    run = tmp_path / "runs" / "faults" / "lr=1e-3"
    rc, out = interrupted_sweep(path, {"STANDIN_HANG": str(hang)}, (run / "checkpoints" / "last.pt").is_file,
                                "the first step", settle=1.5)  # the first attempt runs at least 1.5 s
    assert rc == 130, out
    hang.unlink()
    again = cli("run", str(path))
    assert again.returncode == 0 and "resume" in again.stdout, again.stdout + again.stderr
    from sweeps import summary

    sweep, state = open_state(path)
    (row,) = summary.rows(state, sweep.metric)
    assert row.time_s is not None and row.time_s > 1.5  # the trainer's own figure (0.5 s) covers only its part
    assert row.time_s == pytest.approx(state.points["lr=1e-3"]["elapsed_s"])


def test_make_sweep_passes_values_with_quotes_intact(tree: Path, make, isolated_env: dict[str, str]) -> None:
    evil = "x'; touch pwned; echo '"
    result = make("sweep", f"SWEEP={evil}")
    assert result.returncode != 0
    assert not (tree / "pwned").exists()
    assert f"sweep file {evil!r} does not exist" in result.stderr
    jobs = make("sweep", "SWEEP=none.yaml", "JOBS=2; touch pwned2")
    assert jobs.returncode != 0 and not (tree / "pwned2").exists()


def test_a_sweep_point_restores_with_make_defconfig_run(tree: Path, make, isolated_env: dict[str, str]) -> None:
    """A point's run folder has the layout of every run and ``make defconfig RUN=<project>/<point>`` restores it."""
    if make("defconfig", "RUN=no-such-project/no-such-run").returncode == 0:
        pytest.skip("make defconfig RUN= is not in this tree yet (it must refuse an unknown run)")
    path = write_sweep(tree, "restore", TWO.replace('RUNS_DIR: "{runs}"', 'RUNS_DIR: "runs"')
                       .replace("{runs}", str(tree / "runs")))
    ran = cli("run", str(path), cwd=tree)
    assert ran.returncode == 0, ran.stdout + ran.stderr
    point = tree / "runs" / "faults" / "lr=1e-2"
    assert {".config", "defconfig", "config.json", "metrics.jsonl", "summary.json"} <= {p.name for p in point.iterdir()}
    restored = make("defconfig", "RUN=faults/lr=1e-2")
    assert restored.returncode == 0, restored.stderr

    def body(p: Path) -> list[str]:
        return [line for line in p.read_text().splitlines() if not line.startswith("#")]

    assert body(tree / ".config") == body(point / ".config")
