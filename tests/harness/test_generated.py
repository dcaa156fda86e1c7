"""Generated files: config.py types, config.json, autoconf.h, only rewritten on change."""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from kconf import ConfigError, load
from tests.harness.conftest import read_py_config


def test_types_in_config_py(tree: Path, kconf_cli) -> None:
    result = kconf_cli("defconfig", "gpt2-finewebedu-a10gx4", "--tracker", "wandb,trackio")
    assert result.returncode == 0, result.stderr
    values = read_py_config(tree)
    assert values["ENABLE_TRACKIO"] is True and values["ENABLE_WANDB"] is True
    assert values["ENABLE_TENSORBOARD"] is False
    assert isinstance(values["TRAIN_MAX_ITERS"], int) and not isinstance(values["TRAIN_MAX_ITERS"], bool)
    assert values["TRAIN_LEARNING_RATE"] == 6e-4 and isinstance(values["TRAIN_LEARNING_RATE"], float)
    assert isinstance(values["TRACKER_PROJECT"], str) and values["TRACKER_PROJECT"].startswith("gpt2-")
    assert values["TRACKIO_PORT"] == 7860
    assert values["TRACKER_RUN_NAME"] == "" and values["WANDB_ENTITY"] == ""
    assert "DIST_RDZV_ENDPOINT" not in values, "symbols with unmet dependencies are absent"
    assert "NUMERICS_INTERVAL" not in values
    assert json.loads((tree / "config.json").read_text()) == values
    header = (tree / "include/generated/autoconf.h").read_text()
    assert "#define CONFIG_ENABLE_TRACKIO 1" in header and "#define CONFIG_TRACKIO_PORT 7860" in header


def test_from_config_import_config(tree: Path, kconf_cli) -> None:
    assert kconf_cli("defconfig", "default", "--tracker", "trackio").returncode == 0
    code = ("from config import config; "
            "print(config.ENABLE_TRACKIO, getattr(config, 'ENABLE_WANDB', None), "
            "getattr(config, 'NOT_A_SYMBOL', 'dflt'), type(config.TRAIN_MIN_LR).__name__)")
    out = subprocess.run([sys.executable, "-c", code], cwd=tree, capture_output=True, text=True)
    assert out.stdout.split() == ["True", "False", "dflt", "float"], out.stderr


def test_quotes_and_backslashes_cannot_break_config_py(tree: Path, kconf_cli) -> None:
    nasty = 'a "b" \\ c\'d """ \\n'
    result = kconf_cli("defconfig", "default", "--set", "TRACKER_RUN_NAME=" + shlex.quote(nasty))
    assert result.returncode == 0, result.stderr
    assert read_py_config(tree)["TRACKER_RUN_NAME"] == nasty
    assert json.loads((tree / "config.json").read_text())["TRACKER_RUN_NAME"] == nasty


def test_load_matches_config_py(tree: Path, kconf_cli) -> None:
    assert kconf_cli("defconfig", "lenet5-cpu", "--tracker", "both").returncode == 0
    assert load(tree / ".config").recorded() == read_py_config(tree)


def test_generated_only_rewritten_on_change(tree: Path, kconf_cli) -> None:
    assert kconf_cli("defconfig", "default").returncode == 0
    outputs = [tree / ".config", tree / "config.py", tree / "config.json", tree / "include/generated/autoconf.h"]
    for path in outputs:
        os.utime(path, (1_000_000, 1_000_000))
    again = kconf_cli("defconfig", "default")
    assert again.returncode == 0 and "GEN" not in again.stdout
    assert all(path.stat().st_mtime == 1_000_000 for path in outputs)
    changed = kconf_cli("defconfig", "default", "--tracker", "trackio")
    assert "GEN     config.py" in changed.stdout
    assert (tree / ".config.old").exists()


def test_corrupt_config_names_the_line(tree: Path, kconf_cli) -> None:
    assert kconf_cli("defconfig", "default").returncode == 0
    before = (tree / "config.py").read_bytes()
    lines = (tree / ".config").read_text().splitlines()
    for bad in ("CONFIG_TRAIN_MAX_ITERS=12x", "CONFIG_ENABLE_WANDB=maybe", "garbage here",
                'CONFIG_TRACKER_RUN_NAME="oops', "CONFIG_NO_SUCH=y", 'CONFIG_TRAIN_LEARNING_RATE="abc"',
                'CONFIG_TRAIN_LEARNING_RATE="nan"', 'CONFIG_ADAM_BETA2="1.5"', 'CONFIG_OPTIMIZER="sgd"'):
        (tree / ".config").write_text("\n".join(lines + [bad]) + "\n")
        result = kconf_cli("genconfig")
        assert result.returncode == 1
        assert result.stderr.startswith(f"ktrack-config: error: .config:{len(lines) + 1}: "), result.stderr
        assert len(result.stderr.strip().splitlines()) == 1 and "Traceback" not in result.stderr
    assert (tree / "config.py").read_bytes() == before


def test_missing_config_says_what_to_do(tree: Path, kconf_cli) -> None:
    result = kconf_cli("genconfig")
    assert result.returncode == 1 and "make defconfig" in result.stderr


def test_load_without_config(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("KCONFIG_CONFIG", str(tmp_path / "absent"))
    assert load().recorded() == {}
    with pytest.raises(ConfigError, match="make defconfig"):
        load(tmp_path / "absent")


def test_other_config_generates_beside_it(tree: Path, tmp_path: Path, kconf_cli) -> None:
    """KCONFIG_CONFIG elsewhere (a sweep point) never rewrites the checkout's config.py."""
    assert kconf_cli("defconfig", "default").returncode == 0
    before = (tree / "config.py").read_bytes()
    point = tmp_path / "point"
    point.mkdir()
    result = kconf_cli("defconfig", "lenet5-cpu", env={"KCONFIG_CONFIG": str(point / ".config")})
    assert result.returncode == 0, result.stderr
    assert read_py_config(point)["MODEL"] == "lenet5"
    assert (tree / "config.py").read_bytes() == before
