"""The Makefile as a user drives it: help, defconfig, overrides, generated files."""

from __future__ import annotations

import os
import re
import time
from pathlib import Path

import pytest

from kconf import project_name
from kconf.configure import defconfig, list_defconfigs, savedefconfig
from tests.harness.conftest import REPO_ROOT, read_py_config


def test_help_is_default_and_lists_everything(make) -> None:
    result = make()
    assert result.returncode == 0
    for target in ("demo", "check", "defconfig", "menuconfig", "savedefconfig", "olddefconfig",
                   "list-defconfigs", "train", "trackio-test", "wandb-test", "bench", "clean"):
        assert f"  {target} " in result.stdout, target
    for name, description in list_defconfigs(REPO_ROOT).items():
        if not (REPO_ROOT / "defconfigs" / name).is_symlink():
            assert f"  {name}" in result.stdout and description in result.stdout


def test_multi_gpu_defconfig_with_both_trackers(tree: Path, make) -> None:
    """A defconfig and TRACKER=wandb,trackio: both trackers on, the project gpt2-xxxxx, 4 processes."""
    result = make("defconfig", "DEFCONFIG=gpt2-finewebedu-a10gx4", "TRACKER=wandb,trackio")
    assert result.returncode == 0, result.stderr
    values = read_py_config(tree)
    assert values["ENABLE_WANDB"] is True and values["ENABLE_TRACKIO"] is True
    assert values["TRACKER_PROJECT"] == project_name("gpt2", tree)
    assert values["DIST_NPROC_PER_NODE"] == 4
    assert "GEN     config.py" in result.stdout


def test_quiet_by_default_verbose_with_v1(make) -> None:
    quiet = make("defconfig")
    assert quiet.returncode == 0 and "-m kconf" not in quiet.stdout
    verbose = make("defconfig", "V=1", "TRACKER=trackio")
    assert "-m kconf defconfig" in verbose.stdout


def test_defconfig_targets_and_set(tree: Path, make) -> None:
    result = make("defconfig-lenet5-cpu", 'SET=TRAIN_MAX_ITERS=42 TRACKER_RUN_NAME="a b"', "TRACKER=trackio")
    assert result.returncode == 0, result.stderr
    values = read_py_config(tree)
    assert values["MODEL"] == "lenet5" and values["TRAIN_MAX_ITERS"] == 42
    assert values["TRACKER_RUN_NAME"] == "a b" and values["ENABLE_TRACKIO"] is True
    listing = make("list-defconfigs")
    assert "gpt2-finewebedu-a10gx4" in listing.stdout


@pytest.mark.parametrize("args,needle", [
    (("DEFCONFIG=nope",), "unknown defconfig 'nope'; available:"),
    (("TRACKER=wandb2",), "unknown tracker 'wandb2'"),
    (("SET=NOPE=1",), "unknown Kconfig symbol 'NOPE'"),
])
def test_bad_input_one_line_nonzero_untouched(tree: Path, make, args: tuple[str, ...], needle: str) -> None:
    assert make("defconfig", "TRACKER=trackio").returncode == 0
    before = {p: (tree / p).read_bytes() for p in (".config", "config.py", "config.json")}
    result = make("defconfig", *args)
    assert result.returncode != 0
    errors = [line for line in result.stderr.splitlines() if not re.match(r"make(\[\d+\])?: ", line)]
    assert len(errors) == 1 and needle in errors[0] and errors[0].startswith("ktrack-config: ")
    assert {p: (tree / p).read_bytes() for p in before} == before


def test_generated_files_follow_config_edits(tree: Path, make) -> None:
    assert make("defconfig").returncode == 0
    assert "GEN" not in make("genconfig").stdout  # up to date: nothing to do
    config = tree / ".config"
    text = config.read_text().replace("# CONFIG_ENABLE_WANDB is not set", "CONFIG_ENABLE_WANDB=y")
    time.sleep(0.01)
    config.write_text(text)
    os.utime(config, (time.time() + 2, time.time() + 2))
    result = make("genconfig")
    assert result.returncode == 0, result.stderr
    assert read_py_config(tree)["ENABLE_WANDB"] is True


def test_missing_config_message(make) -> None:
    result = make("genconfig")
    assert result.returncode != 0 and "run 'make defconfig'" in result.stderr


def test_olddefconfig_keeps_values(tree: Path, make) -> None:
    assert make("defconfig", "TRACKER=wandb").returncode == 0
    config = tree / ".config"
    config.write_text("\n".join(line for line in config.read_text().splitlines()
                                if "TRACKIO_PORT" not in line) + "\n")
    assert make("olddefconfig").returncode == 0
    assert "CONFIG_TRACKIO_PORT=7860" in config.read_text() and "CONFIG_ENABLE_WANDB=y" in config.read_text()


@pytest.mark.parametrize("name", sorted(list_defconfigs(REPO_ROOT)))
def test_savedefconfig_round_trip(tree: Path, name: str) -> None:
    """defconfig, savedefconfig, then the saved file as a defconfig: same settings."""
    first = tree / ".config"
    defconfig(tree, name, first, tracker="trackio")
    saved = tree / "defconfigs" / "saved"
    savedefconfig(tree, first, saved)
    second = tree / "second.config"
    defconfig(tree, "saved", second)
    strip = lambda p: [line for line in p.read_text().splitlines() if not line.startswith("#") or "is not set" in line]  # noqa: E731
    assert strip(first) == strip(second)
    assert "TRACKER_PROJECT" not in saved.read_text(), "the machine-specific default is not saved"


def test_make_savedefconfig(tree: Path, make) -> None:
    assert make("defconfig", "DEFCONFIG=lenet5-cpu").returncode == 0
    assert make("savedefconfig").returncode == 0
    assert "CONFIG_MODEL_LENET5=y" in (tree / "defconfig").read_text()
