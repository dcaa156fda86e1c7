"""The README as a newcomer reads it: a fresh copy of the checkout, `make demo`, then every command the
README shows, in its order and as written (placeholders filled in), each exiting 0; and the viewer's
tests run from that checkout, with the demo's runs/ and TRACKIO_DIR in place, still pass.

Only the experiment's size differs from a newcomer's: the README's own `SET=` mechanism keeps the
trainings short, and a fake GPU tree (KTRACK_SYSFS_ROOT) stands in for the GPU the README's GPU
commands expect.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO_ROOT, _fake_venv

pytestmark = [pytest.mark.slow, pytest.mark.timeout(1800)]

GPU_TREE = REPO_ROOT / "tests" / "gpu" / "fixtures" / "amd_mi210"
#: Short trainings, GPU metrics from the fake tree, numerics on: the README's later commands need them.
SMALL = ("TRAIN_MAX_ITERS=12 TRAIN_EVAL_INTERVAL=6 TRAIN_LOG_INTERVAL=3 TRACKER_LOG_GPU=y NUMERICS=y "
         "NUMERICS_INTERVAL=4")
#: Commands that open a live screen or an editor: the tmux tests drive them.
INTERACTIVE = re.compile(r"^(make menuconfig|trackio-view( --project \S+)?( --compare)?|trackio-view --gpu)$")
#: The set-up block's own commands (make check is what runs this test).
SETUP = {"make demo", "make check"}


def readme_commands() -> list[str]:
    """Every command line of the README's bash blocks, comments removed, in order."""
    text = (REPO_ROOT / "README.md").read_text()
    lines: list[str] = []
    for block in re.findall(r"```bash\n(.*?)```", text, flags=re.S):
        for line in block.splitlines():
            command = re.sub(r"\s+#.*$", "", line).strip()
            if command and not command.startswith("#"):
                lines.append(command)
    return lines


def _copy_checkout(dest: Path) -> None:
    """The checkout's files as a clone has them (tracked and new, nothing ignored: no runs/, no .config)."""
    listing = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
                             cwd=REPO_ROOT, capture_output=True)
    if listing.returncode != 0:  # not a git checkout (an unpacked copy): everything but what git would ignore
        ignored = shutil.ignore_patterns(".git", ".venv", "runs", "wandb", "include", ".config*", "config.py",
                                         "config.json", "__pycache__", "*.egg-info", ".*_cache", "defconfig")
        shutil.copytree(REPO_ROOT, dest, ignore=ignored, dirs_exist_ok=True, symlinks=True)
        return
    listed = listing.stdout.decode().split("\0")
    for name in filter(None, listed):
        source = REPO_ROOT / name
        if source.is_file():
            (dest / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, dest / name, follow_symlinks=False)


def _activate_script(venv: Path, checkout: Path) -> None:
    """What `source .venv/bin/activate` does here: the venv's programs first on PATH, the copy's code imported."""
    (venv / "bin" / "activate").write_text(
        f'export PATH="{venv / "bin"}:$PATH"\nexport PYTHONPATH="{checkout}"\nexport VIRTUAL_ENV="{venv}"\n')
    for tool in ("trackio", "wandb"):
        real = Path(sys.executable).parent / tool
        if real.exists():
            (venv / "bin" / tool).write_text(f'#!/bin/sh\nexec "{real}" "$@"\n')
            (venv / "bin" / tool).chmod(0o755)


@pytest.fixture(scope="module")
def newcomer(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, str]]:
    """A fresh copy of the checkout after `make demo`, and the user's environment (own TRACKIO_DIR, WANDB_DIR)."""
    base = tmp_path_factory.mktemp("newcomer")
    checkout = base / "ktrack"
    checkout.mkdir()
    _copy_checkout(checkout)
    _fake_venv(checkout / ".venv")
    _activate_script(checkout / ".venv", checkout)
    env = {k: v for k, v in os.environ.items() if k not in ("MAKEFLAGS", "MAKELEVEL", "MFLAGS")}
    env.update(TRACKIO_DIR=str(base / "user" / "trackio"), WANDB_DIR=str(base / "user" / "wandb"),
               PYTHONPATH=str(checkout), KTRACK_SYSFS_ROOT=str(GPU_TREE))
    demo = subprocess.run(["make", "demo", f"SET={SMALL}"], cwd=checkout, env=env, capture_output=True, text=True,
                          timeout=600, stdin=subprocess.DEVNULL)
    assert demo.returncode == 0, demo.stdout[-3000:] + demo.stderr[-3000:]
    assert "source .venv/bin/activate" in demo.stdout, "make demo says how to use .venv"
    assert "Latest Loss:" in demo.stdout
    return checkout, env


def _shell(checkout: Path, env: dict[str, str], command: str, timeout: float = 600) -> subprocess.CompletedProcess:
    return subprocess.run(["bash", "-c", f"set -eo pipefail; source .venv/bin/activate; {command}"], cwd=checkout,
                          env=env, capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL)


def _fill(command: str, checkout: Path) -> str:
    """The README's placeholders filled in the way its text says: the configured project, its runs."""
    if "<" not in command:
        return command
    project = json_value(checkout / "config.json", "TRACKER_PROJECT")
    runs = sorted((p for p in (checkout / "runs" / project).iterdir() if (p / ".config").is_file()),
                  key=lambda p: p.stat().st_mtime)
    if "runs/<project>/<run>" in command:
        numerics = [p for p in runs if (p / "numerics.parquet").exists()]  # a folder of parquet parts
        assert numerics, f"no run of {project} has numerics.parquet for: {command}"
        command = command.replace("runs/<project>/<run>", str(numerics[-1].relative_to(checkout)))
    command = command.replace("<project>/<run>", f"{project}/{runs[-1].name}")
    command = command.replace("A=<run> B=<run>", f"A={shlex.quote(runs[0].name)} B={shlex.quote(runs[-1].name)}")
    return command.replace("<project>", project).replace("<name>", project)


def json_value(path: Path, key: str) -> str:
    import json

    return str(json.loads(path.read_text())[key])


def test_every_readme_command_exits_0(newcomer: tuple[Path, dict[str, str]]) -> None:
    checkout, env = newcomer
    ran = []
    for command in readme_commands():
        if command in SETUP or INTERACTIVE.match(command):
            continue
        if command.startswith("make defconfig") and "RUN=" not in command:
            # short trainings (appended to the command's own SET=, last wins); otherwise as written
            command = re.sub(r'SET="([^"]*)"', lambda m: f'SET="{m.group(1)} {SMALL}"', command) \
                if 'SET="' in command else command + f' SET="{SMALL}"'
        if command.startswith("make sweep "):
            command += ' SET="TRAIN_MAX_ITERS=3 TRAIN_EVAL_INTERVAL=3"'
        command = _fill(command, checkout)
        result = _shell(checkout, env, command)
        assert result.returncode == 0, f"{command}\n{result.stdout[-2000:]}\n{result.stderr[-2000:]}"
        ran.append(command)
    assert any(c.startswith("python gpt2/train.py") for c in ran) and any("numerics plot" in c for c in ran)
    assert any(c.startswith("trackio-view --gpu-db") for c in ran) and any(c == "python -m gpu" for c in ran)


def test_the_suite_ignores_the_demo(newcomer: tuple[Path, dict[str, str]]) -> None:
    """The viewer's and sweep's tests, run from the demo's checkout with the user's TRACKIO_DIR and WANDB_DIR
    pointing at its data (the order the README gives: make demo, then make check), pass."""
    checkout, env = newcomer
    assert any((checkout / "runs").iterdir()) and (checkout / ".config").is_file()
    tests = ["tests/viewer/test_errors.py", "tests/viewer/test_once.py::test_once_exact_text",
             "tests/viewer/test_once.py::test_all_projects_newest_first"]
    result = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *tests], cwd=checkout,
                            env=env, capture_output=True, text=True, timeout=900, stdin=subprocess.DEVNULL)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
