"""A run's recorded configuration: make defconfig RUN= restores it, make diffconfig compares it."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from kconf.configure import configured
from kconf.runs import run_header, save_run_config
from tests.harness.conftest import read_py_config


def _errors(result) -> list[str]:
    return [line for line in result.stderr.splitlines() if not re.match(r"make(\[\d+\])?: ", line)]


def _fake_run(tree: Path, project: str = "lenet5-test", name: str = "r1",
              pairs: tuple[tuple[str, str], ...] = (("TRAIN_MAX_ITERS", "30"),)) -> Path:
    """A run folder as a trainer leaves it: .config and defconfig written by kconf."""
    run = tree / "runs" / project / name
    run.mkdir(parents=True)
    save_run_config(configured(tree, "lenet5-cpu", list(pairs), "trackio"), run, f"{project}/{name}")
    return run


@pytest.mark.parametrize("spec", ["lenet5-test/r1", "runs/lenet5-test/r1", "r1", "{abs}"])
def test_restore_byte_for_byte(tree: Path, make, spec: str) -> None:
    run = _fake_run(tree)
    assert make("defconfig", "DEFCONFIG=gpt2-tiny-cpu").returncode == 0
    result = make("defconfig", f"RUN={spec.format(abs=run)}")
    assert result.returncode == 0, result.stderr
    assert (tree / ".config").read_bytes() == (run / ".config").read_bytes()
    assert "byte for byte" in result.stdout and "GEN     config.py" in result.stdout
    values = read_py_config(tree)
    assert values["MODEL"] == "lenet5" and values["TRAIN_MAX_ITERS"] == 30 and values["ENABLE_TRACKIO"] is True


def test_run_config_is_what_make_defconfig_writes(tree: Path, make) -> None:
    run = _fake_run(tree, pairs=(("TRAIN_MAX_ITERS", "30"), ("TRAIN_LEARNING_RATE", "3e-3")))
    assert make("defconfig", "DEFCONFIG=lenet5-cpu", "TRACKER=trackio",
                "SET=TRAIN_MAX_ITERS=30 TRAIN_LEARNING_RATE=3e-3").returncode == 0
    assert (run / ".config").read_text() == run_header("lenet5-test/r1") + (tree / ".config").read_text()
    assert "CONFIG_TRAIN_MAX_ITERS=30" in (run / "defconfig").read_text()


@pytest.mark.parametrize("spec", ["nope/none", "none", "runs/nope"])
def test_unknown_run_is_one_line(tree: Path, make, spec: str) -> None:
    assert make("defconfig").returncode == 0
    before = (tree / ".config").read_bytes()
    result = make("defconfig", f"RUN={spec}")
    errors = _errors(result)
    assert result.returncode != 0 and len(errors) == 1 and errors[0].startswith("ktrack-config: error: no run ")
    assert (tree / ".config").read_bytes() == before


def test_restore_refuses_set_and_tracker(tree: Path, make) -> None:
    _fake_run(tree)
    result = make("defconfig", "RUN=lenet5-test/r1", "SET=TRAIN_MAX_ITERS=5")
    assert result.returncode != 0 and "drop SET=" in result.stderr


def _edit(tree: Path, name: str, old: str, new: str) -> None:
    path = tree / "kconfig" / name
    text = path.read_text()
    assert old in text, old
    path.write_text(text.replace(old, new))


def test_changed_tree_lists_each_symbol_and_touches_nothing(tree: Path, make) -> None:
    run = _fake_run(tree)
    assert make("defconfig").returncode == 0
    before = (tree / ".config").read_bytes()
    # a symbol gone, a default changed (the run left TRAIN_SEED at its default), a value no longer valid
    _edit(tree, "tracking.kconfig", "config TRACKIO_PORT\n\tint \"Trackio dashboard port\"\n\trange 1 65535\n"
          "\tdefault 7860\n", "")
    _edit(tree, "training.kconfig", "\trange 0 2147483647\n\tdefault 1337\n", "\trange 0 2147483647\n\tdefault 7\n")
    _edit(tree, "training.kconfig", "\trange 1 100000000\n\tdefault 5000\n", "\trange 1 20\n\tdefault 5\n")
    result = make("defconfig", "RUN=lenet5-test/r1")
    assert result.returncode != 0
    listed = [line.strip() for line in _errors(result) if not line.startswith("ktrack-config: error:")]
    assert sorted(line.split(":", 1)[0] for line in listed) == ["TRACKIO_PORT", "TRAIN_MAX_ITERS", "TRAIN_SEED"]
    assert any("no longer in the Kconfig tree" in line for line in listed)
    assert any("TRAIN_SEED: its default changed: the run had 1337" in line for line in listed)
    assert any("TRAIN_MAX_ITERS: no longer valid" in line for line in listed)
    assert _errors(result)[-1].startswith("ktrack-config: error: the Kconfig tree changed since run")
    assert "FORCE=1" in _errors(result)[-1]
    assert (tree / ".config").read_bytes() == before
    forced = make("defconfig", "RUN=lenet5-test/r1", "FORCE=1")
    assert forced.returncode == 0, forced.stderr
    values = read_py_config(tree)
    assert values["MODEL"] == "lenet5" and values["TRAIN_SEED"] == 1337 and "TRACKIO_PORT" not in values
    assert (tree / ".config").read_bytes() != (run / ".config").read_bytes()
    assert make("checkconfig").returncode == 0


def test_new_symbols_do_not_block_a_restore(tree: Path, make) -> None:
    run = _fake_run(tree)
    (tree / "kconfig" / "gpu.kconfig").write_text((tree / "kconfig" / "gpu.kconfig").read_text().replace(
        "endmenu", "config GPU_NEW_THING\n\tbool \"A new option\"\n\tdefault y\n\thelp\n\t  New.\n\nendmenu"))
    result = make("defconfig", "RUN=lenet5-test/r1")
    assert result.returncode == 0, result.stderr
    assert (tree / ".config").read_bytes() == (run / ".config").read_bytes()
    assert read_py_config(tree)["GPU_NEW_THING"] is True


def test_diffconfig_accepts_runs_configs_and_defconfigs(tree: Path, make) -> None:
    _fake_run(tree, name="a", pairs=(("TRAIN_MAX_ITERS", "30"),))
    _fake_run(tree, name="b", pairs=(("TRAIN_MAX_ITERS", "40"), ("OPTIMIZER", "sgd")))
    result = make("diffconfig", "A=lenet5-test/a", "B=lenet5-test/b")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert " TRAIN_MAX_ITERS 30 -> 40" in lines and ' OPTIMIZER "adamw" -> "sgd"' in lines
    assert "-ADAM_BETA1 \"0.9\"" in lines and "+SGD_MOMENTUM \"0.9\"" in lines
    assert make("defconfig", "DEFCONFIG=lenet5-cpu", "TRACKER=trackio").returncode == 0
    mixed = make("diffconfig", "A=.config", "B=runs/lenet5-test/a")
    assert mixed.stdout.splitlines() == [" TRAIN_MAX_ITERS 300 -> 30"]
    named = make("diffconfig", "A=lenet5-cpu", "B=gpt2-tiny-cpu")
    assert named.returncode == 0 and " MODEL \"lenet5\" -> \"gpt2\"" in named.stdout.splitlines()
    same = make("diffconfig", "A=default", "B=gpt2-tiny-cpu")
    assert same.stdout.strip() == "# default and gpt2-tiny-cpu have the same configuration"
    bad = make("diffconfig", "A=nothing-here", "B=default")
    errors = _errors(bad)
    assert bad.returncode != 0 and len(errors) == 1 and "no run, configuration file or defconfig" in errors[0]


def test_diffconfig_of_two_sweep_points_leaves_the_run_name_out(tree: Path, make) -> None:
    """Sweep points set TRACKER_RUN_NAME to the point's name: it always differs, so it is not listed."""
    _fake_run(tree, name="lr=1e-3", pairs=(("TRACKER_RUN_NAME", "lr=1e-3"), ("TRAIN_LEARNING_RATE", "1e-3")))
    _fake_run(tree, name="lr=3e-4", pairs=(("TRACKER_RUN_NAME", "lr=3e-4"), ("TRAIN_LEARNING_RATE", "3e-4")))
    result = make("diffconfig", "A=lenet5-test/lr=1e-3", "B=lenet5-test/lr=3e-4")
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [' TRAIN_LEARNING_RATE "1e-3" -> "3e-4"']
    same = make("diffconfig", "A=lenet5-test/lr=1e-3", "B=runs/lenet5-test/lr=1e-3")
    assert same.stdout.strip().endswith("have the same configuration")
