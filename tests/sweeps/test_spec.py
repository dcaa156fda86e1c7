"""Sweep files: grid and random expansion, run names, validation before anything runs."""

from __future__ import annotations

from pathlib import Path

import pytest

from sweeps import spec
from sweeps.__main__ import main
from sweeps.errors import SweepError
from sweeps.points import Configurator, plan
from tests.sweeps.conftest import REPO, write_sweep


def run_main(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str]:
    """``ktrack-sweep ARGS`` in this process: its exit status and stderr (tests/ktrack/test_cli_errors.py checks
    the same one-line errors from a real process)."""
    with pytest.raises(SystemExit) as exit_info:
        main(list(args))
    return int(exit_info.value.code or 0), capsys.readouterr().err


def test_grid_and_names(tmp_path: Path) -> None:
    path = write_sweep(tmp_path, "g",
                       "defconfig: gpt2-tiny-cpu\nvary:\n  lr: [3e-4, 1e-3]\n  OPTIMIZER: [adamw, sgd]\n")
    sweep = spec.load(path)
    points = spec.expand(sweep)
    assert [spec.run_name(p) for p in points] == ["lr=3e-4,opt=adamw", "lr=3e-4,opt=sgd",
                                                  "lr=1e-3,opt=adamw", "lr=1e-3,opt=sgd"]
    assert spec.run_name({"TRAIN_LEARNING_RATE": 0.0003, "PRUNING_TARGET_SPARSITY": 0.5}) == "lr=3e-4,sparsity=0.5"


def test_random_search_is_seeded(tmp_path: Path) -> None:
    body = "defconfig: gpt2-tiny-cpu\nseed: 7\nvary:\n  OPTIMIZER: [adamw, sgd]\n" \
           "  TRAIN_LEARNING_RATE: {min: 1e-4, max: 1e-2, count: 3, log: true}\n"
    sweep = spec.load(write_sweep(tmp_path, "r", body))
    first, again = spec.expand(sweep), spec.expand(sweep)
    assert first == again and len(first) == 6
    assert all(1e-4 <= p["TRAIN_LEARNING_RATE"] <= 1e-2 for p in first)


def test_points_are_full_validated_configs(tmp_path: Path) -> None:
    sweep = spec.load(write_sweep(tmp_path, "v", "defconfig: lenet5-cpu\nproject: p1\nvary:\n  OPTIMIZER: [sgd]\n"))
    conf = Configurator(sweep, REPO)
    (point,) = plan(conf, spec.expand(sweep), tmp_path)
    assert point.run_dir == tmp_path / "runs" / "p1" / "opt=sgd"
    assert point.params["OPTIMIZER"] == "sgd" and point.params["sweep"] == "v"
    assert conf.value("OPTIMIZER_SGD") is True and conf.value("TRACKER_RUN_NAME") == "opt=sgd"


@pytest.mark.parametrize("vary, needle", [
    ("NOT_A_SYMBOL: [1, 2]", "NOT_A_SYMBOL"),
    ("TRAIN_MAX_ITERS: [10, lots]", "TRAIN_MAX_ITERS"),
    ("TRAIN_LEARNING_RATE: [1e-3, fast]", "TRAIN_LEARNING_RATE"),
    ("OPTIMIZER: [adamw, lion]", "OPTIMIZER"),
])
def test_bad_symbol_or_value_stops_before_running(tmp_path: Path, capsys: pytest.CaptureFixture[str], vary: str,
                                                  needle: str) -> None:
    path = write_sweep(tmp_path, "bad", f"defconfig: lenet5-cpu\nset: {{RUNS_DIR: \"{{runs}}\"}}\n"
                                        f"vary:\n  {vary}\ncommand: python -c 'raise SystemExit(3)'\n")
    with pytest.raises(SweepError, match=needle):
        plan(Configurator(spec.load(path), REPO), spec.expand(spec.load(path)), tmp_path)
    code, stderr = run_main(capsys, "run", str(path))
    assert code == 1
    lines = stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("ktrack-sweep: error:") and needle in lines[0]
    assert not (tmp_path / "runs").exists()  # nothing ran, nothing written


def test_unknown_key_and_missing_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SweepError, match="unknown key"):
        spec.load(write_sweep(tmp_path, "k", "defconfig: lenet5-cpu\nvari: {}\n"))
    code, stderr = run_main(capsys, "run", str(tmp_path / "missing.yaml"))
    assert code == 1 and "does not exist" in stderr


def test_parallel_points_share_the_cores(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """JOBS=2 gives each point half the cores, so two points do not fight over them."""
    import os
    import types

    from sweeps.commands import local_threads, point_env
    from sweeps.points import Point

    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    point = Point(0, "lr=1e-3", {"TRAIN_LEARNING_RATE": "1e-3"}, tmp_path / "run")
    sweep = types.SimpleNamespace(name="grid")
    env = point_env(point, sweep, REPO, resume=False, threads=local_threads(2))
    assert env["OMP_NUM_THREADS"] == str(max(1, (os.cpu_count() or 1) // 2))
    assert env["KTRACK_GROUP"] == "grid" and env["KCONFIG_CONFIG"] == str(point.config_path)
    assert "OMP_NUM_THREADS" not in point_env(point, sweep, REPO, resume=False, threads=local_threads(1))
