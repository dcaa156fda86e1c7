"""Shared fixtures: every test runs with a private HOME and private tracker dirs.

The environment is redirected at configure time, before any test module can
import trackio or wandb (both read their directories at import), so no test
writes to the real home directory.
"""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent
_SESSION_DIR = Path(tempfile.mkdtemp(prefix="ktrack-tests-"))


#: The variables that point programs at the test's private home and tracker folders.
HOME_VARIABLES = ("HOME", "XDG_CACHE_HOME", "XDG_CONFIG_HOME", "XDG_DATA_HOME", "XDG_STATE_HOME", "XDG_RUNTIME_DIR",
                  "HF_HOME", "TRACKIO_DIR", "WANDB_DIR", "WANDB_CACHE_DIR", "WANDB_CONFIG_DIR", "WANDB_DATA_DIR",
                  "MPLCONFIGDIR")


def home_env() -> dict[str, str]:
    """The private home and tracker folders in force now, for a subprocess given an environment of its own."""
    return {key: os.environ[key] for key in HOME_VARIABLES if key in os.environ}


def _isolate(base: Path) -> dict[str, str]:
    env = {
        "HOME": base / "home",
        "XDG_CACHE_HOME": base / "home" / ".cache",
        "XDG_CONFIG_HOME": base / "home" / ".config",
        "XDG_DATA_HOME": base / "home" / ".local" / "share",
        "XDG_STATE_HOME": base / "home" / ".local" / "state",
        "XDG_RUNTIME_DIR": base / "runtime",  # GLib programs (dconf) keep their shared memory here
        "HF_HOME": base / "hf",
        "TRACKIO_DIR": base / "trackio",
        "WANDB_DIR": base / "wandb",
        "WANDB_CACHE_DIR": base / "wandb-cache",
        "WANDB_CONFIG_DIR": base / "wandb-config",
        "WANDB_DATA_DIR": base / "wandb-data",
        "MPLCONFIGDIR": base / "mpl",
    }
    for path in env.values():
        path.mkdir(parents=True, exist_ok=True)
    env["XDG_RUNTIME_DIR"].chmod(0o700)
    values = {key: str(path) for key, path in env.items()}
    values.update(WANDB_MODE="offline", WANDB_SILENT="true", WANDB_DISABLE_GIT="true",
                  HF_HUB_OFFLINE="1", HF_DATASETS_OFFLINE="1", TRACKIO_NO_BROWSER="1",
                  GRADIO_ANALYTICS_ENABLED="False", DO_NOT_TRACK="1", BROWSER="true")
    return values


#: What a desktop session exports: without them nothing a test starts opens a window, a browser or a D-Bus
#: session (GLib and GTK programs write under the real home through those).
_DESKTOP = ("DISPLAY", "WAYLAND_DISPLAY", "DBUS_SESSION_BUS_ADDRESS", "XAUTHORITY")


def _home_entries() -> set[str]:
    """Names in the real home directory and in its usual cache and config folders."""
    home = Path(pwd.getpwuid(os.getuid()).pw_dir)
    names: set[str] = set()
    for folder in (home, home / ".cache", home / ".config", home / ".local" / "share"):
        try:
            names.update(str(p) for p in folder.iterdir())
        except OSError:
            pass
    return names


_HOME_BEFORE = _home_entries()


#: Prefixes of the variables through which a user's own set-up reaches trackers, GPUs, Slurm and the
#: Hugging Face libraries; none of them may steer a test (they are replaced by the private values below).
_USER_PREFIXES = ("TRACKIO_", "WANDB_", "HF_", "KTRACK_", "SLURM_", "SBATCH_", "SRUN_", "TRANSFORMERS_",
                  "TORCHELASTIC_")


def pytest_configure(config: pytest.Config) -> None:
    for name in _DESKTOP:
        os.environ.pop(name, None)
    for name in [key for key in os.environ if key.startswith(_USER_PREFIXES)]:
        os.environ.pop(name, None)
    os.environ.update(_isolate(_SESSION_DIR))
    # The viewer reads ./runs and kconf reads ./.config: a test that forgets a cwd must find an empty
    # folder, not the checkout where `make demo` left its runs and configuration.
    cwd = _SESSION_DIR / "cwd"
    cwd.mkdir()
    os.chdir(cwd)
    # make exports its user variables (empty when not given) to the recipes, make check's pytest included
    for name in ("TRACKER", "SET", "DEFCONFIG", "KCONFIG_CONFIG", "WANDB_API_KEY", "RUN", "FORCE", "A", "B",
                 "SWEEP", "JOBS", "SWEEP_EXECUTOR", "TRAIN_ARGS"):
        os.environ.pop(name, None)
    for name in [key for key in os.environ if key.startswith("KTRACK_RAW_")]:
        os.environ.pop(name, None)


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """Name what appeared in the real home during the run (tests must write only under their tmp dirs;
    another program of the same user may also have written there meanwhile)."""
    new = sorted(_home_entries() - _HOME_BEFORE)
    if new:
        terminalreporter.write_line(f"WARNING: the real home got new entries during the tests: {', '.join(new)}",
                                    yellow=True)


def pytest_unconfigure(config: pytest.Config) -> None:
    shutil.rmtree(_SESSION_DIR, ignore_errors=True)


@pytest.fixture
def isolated_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """Fresh HOME, TRACKIO_DIR, WANDB_DIR … under tmp_path for one test.

    Returns the variables set; pass ``{**os.environ}`` to subprocesses.
    """
    values = _isolate(tmp_path / "env")
    for key, value in values.items():
        monkeypatch.setenv(key, value)
    return values


def _fake_venv(target: Path) -> None:
    """A .venv whose python is this interpreter and whose install stamps are fresh."""
    bindir = target / "bin"
    bindir.mkdir(parents=True)
    real_bin = Path(sys.executable).parent
    for tool in ("python", "shellcheck", "trackio-view", "ktrack-config"):
        real = Path(sys.executable) if tool == "python" else real_bin / tool
        if real.exists():
            wrapper = bindir / tool
            wrapper.write_text(f'#!/bin/sh\nexec "{real}" "$@"\n')
            wrapper.chmod(0o755)
    (target / ".ktrack-installed").touch()
    (target / ".ktrack-test-installed").touch()


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    """A private copy of the Kconfig tree, defconfigs, scripts and Makefile.

    ``make`` and ``python -m kconf`` can run in it without touching the
    checkout's ``.config``; its ``.venv`` runs this interpreter.
    """
    root = tmp_path / "exp"
    root.mkdir()
    for name in ("Kconfig", "Makefile", "pyproject.toml"):
        shutil.copy2(REPO_ROOT / name, root / name)
    for name in ("kconfig", "scripts"):
        shutil.copytree(REPO_ROOT / name, root / name)
    shutil.copytree(REPO_ROOT / "defconfigs", root / "defconfigs", symlinks=True)
    _fake_venv(root / ".venv")
    return root


def _env(extra: dict[str, str] | None = None) -> dict[str, str]:
    # A make that runs the tests (make check) must not leak its flags into ours.
    env = {k: v for k, v in os.environ.items() if k not in ("MAKEFLAGS", "MAKELEVEL", "MFLAGS")}
    env["PYTHONPATH"] = str(REPO_ROOT)
    env.update(extra or {})
    return env


@pytest.fixture
def kconf_cli(tree: Path):
    """Run ``python -m kconf ARGS`` inside the tree copy; returns CompletedProcess."""
    def run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "kconf", *args], cwd=tree, env=_env(env),
                              capture_output=True, text=True, timeout=120)
    return run


@pytest.fixture
def make(tree: Path):
    """Run ``make ARGS`` inside the tree copy; returns CompletedProcess."""
    def run(*args: str, env: dict[str, str] | None = None, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        return subprocess.run(["make", *args], cwd=tree, env=_env(env), capture_output=True,
                              text=True, timeout=timeout, stdin=subprocess.DEVNULL)
    return run
