"""make menuconfig for real, in tmux: enable Trackio under Experiment Tracking and save."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.harness.conftest import REPO_ROOT, read_py_config
from tests.tmux_driver import Tmux, require_tmux


@pytest.mark.tmux
def test_menuconfig_enables_trackio(tree: Path, make) -> None:
    require_tmux()
    assert make("defconfig").returncode == 0
    assert read_py_config(tree)["ENABLE_TRACKIO"] is False
    env = {"PYTHONPATH": str(REPO_ROOT), "HOME": os.environ["HOME"], "TERM": "xterm-256color"}
    with Tmux("make menuconfig", cwd=str(tree), env=env) as tmux:
        tmux.wait_for("Experiment Tracking  --->")
        lines = [line.strip() for line in tmux.screen().splitlines()]
        menus = [line for line in lines if line.endswith("--->")]
        tmux.send(*["Down"] * menus.index("Experiment Tracking  --->"))
        tmux.send("Enter")
        tmux.wait_for("Enable Trackio tracking")
        tmux.send("space")
        tmux.wait_for("[*] Enable Trackio tracking")
        tmux.send("S")
        tmux.wait_for("Filename to save configuration to")
        tmux.send("Enter")
        tmux.wait_for("Configuration saved to '.config'")
        tmux.send("Enter", "Q")
        screen = tmux.wait_for("__EXIT_")
        assert "__EXIT_0__" in screen, screen
    assert "CONFIG_ENABLE_TRACKIO=y" in (tree / ".config").read_text()
    assert read_py_config(tree)["ENABLE_TRACKIO"] is True, "config.py is regenerated after menuconfig"
