"""Two commands at once in one checkout: ``.config`` and its generated files always describe one experiment."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

from kconf.errors import ConfigError
from kconf.files import config_lock
from tests.conftest import _env
from tests.harness.conftest import read_py_config

#: Two experiments that differ in the model and in a number every generated file holds.
EXPERIMENTS = (("gpt2-tiny-cpu", "TRAIN_MAX_ITERS=111"), ("lenet5-cpu", "TRAIN_MAX_ITERS=222"))
ROUNDS = 30  # without the lock, the files disagree in most runs of this many rounds


def _start(tree: Path, defconfig: str, assign: str) -> subprocess.Popen[str]:
    return subprocess.Popen(["make", "defconfig", f"DEFCONFIG={defconfig}"], cwd=tree, text=True,
                            env=_env({"SET": assign}), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            stdin=subprocess.DEVNULL)


def _described(tree: Path) -> set[tuple[str, int]]:
    """(model, max iters) as each of .config, config.py, config.json and autoconf.h says."""
    config = (tree / ".config").read_text()
    header = (tree / "include" / "generated" / "autoconf.h").read_text()
    py, js = read_py_config(tree), json.loads((tree / "config.json").read_text())

    def grab(pattern: str, text: str) -> str:
        match = re.search(pattern, text, re.M)
        assert match, pattern
        return match.group(1)

    return {
        (grab(r'^CONFIG_MODEL="(\w+)"', config), int(grab(r"^CONFIG_TRAIN_MAX_ITERS=(\d+)", config))),
        (str(py["MODEL"]), int(py["TRAIN_MAX_ITERS"])),  # type: ignore[call-overload]
        (str(js["MODEL"]), int(js["TRAIN_MAX_ITERS"])),
        (grab(r'^#define CONFIG_MODEL "(\w+)"', header), int(grab(r"^#define CONFIG_TRAIN_MAX_ITERS (\d+)", header))),
    }


def test_two_defconfigs_at_once_leave_one_consistent_experiment(tree: Path) -> None:
    assert subprocess.run(["make", "defconfig"], cwd=tree, env=_env(), capture_output=True).returncode == 0
    seen = set()
    for _ in range(ROUNDS):
        procs = [_start(tree, *experiment) for experiment in EXPERIMENTS]
        for proc in procs:
            out, err = proc.communicate(timeout=180)
            assert proc.returncode == 0, err
        described = _described(tree)
        assert len(described) == 1, described  # every file tells the same experiment
        seen |= described
    assert seen <= {("gpt2", 111), ("lenet5", 222)}


def _hold(tree: Path, seconds: float) -> subprocess.Popen[str]:
    """A process holding the configuration's lock for ``seconds`` (as a long ``make defconfig`` would)."""
    holder = subprocess.Popen([sys.executable, "-c", (
        "import time; from kconf.files import config_lock\n"
        "with config_lock('.config'):\n"
        f"    print('held', flush=True); time.sleep({seconds})\n")], cwd=tree, env=_env(), stdout=subprocess.PIPE,
        text=True)
    assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
    return holder


def test_a_command_waits_for_the_lock_then_runs(tree: Path, kconf_cli) -> None:
    holder = _hold(tree, 3)
    start = time.monotonic()
    result = kconf_cli("defconfig", "lenet5-cpu")
    waited = time.monotonic() - start
    holder.wait(timeout=30)
    assert result.returncode == 0, result.stderr
    assert waited >= 1.5, waited  # it waited for the holder (3 s, less its start-up)


def test_a_lock_held_too_long_is_one_line(tree: Path) -> None:
    holder = _hold(tree, 5)
    with pytest.raises(ConfigError, match=rf"in use by another command for 0.3s \({re.escape(str(tree))} is locked\)"):
        with config_lock(tree / ".config", wait=0.3):
            pass
    holder.wait(timeout=30)
