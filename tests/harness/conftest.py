"""Helpers for the harness tests: run ``python -m kconf`` and ``make`` in a tree copy."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]


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
    def run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
        return subprocess.run(["make", *args], cwd=tree, env=_env(env), capture_output=True,
                              text=True, timeout=120, stdin=subprocess.DEVNULL)
    return run


def read_py_config(root: Path) -> dict[str, object]:
    """Import the generated config.py of ``root`` and return its CONFIG dict."""
    namespace: dict[str, object] = {}
    exec(compile((root / "config.py").read_text(), str(root / "config.py"), "exec"), namespace)
    return namespace["CONFIG"]  # type: ignore[return-value]
