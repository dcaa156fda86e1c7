"""Fixtures for the trackers tests: a config namespace and per-test run directories."""

from __future__ import annotations

import itertools
import os
import types
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
_ids = itertools.count()


@pytest.fixture(autouse=True)
def _clean(monkeypatch: pytest.MonkeyPatch):
    from trackers import _warn

    _warn._reset()
    monkeypatch.delenv("RANK", raising=False)
    monkeypatch.delenv("WANDB_API_KEY", raising=False)
    monkeypatch.delenv("KTRACK_PARAMS", raising=False)
    monkeypatch.setenv("WANDB_MODE", "offline")
    yield
    import trackers

    trackers.finish()


@pytest.fixture
def cfg() -> types.SimpleNamespace:
    """A config as kconf.load() would give, no trackers enabled."""
    return types.SimpleNamespace(MODEL="gpt2", OPTIMIZER="adamw", ENABLE_TRACKIO=False, ENABLE_WANDB=False,
                                 ENABLE_TENSORBOARD=False, TRACKER_PROJECT="", TRACKER_RUN_NAME="",
                                 WANDB_ENTITY="", WANDB_OFFLINE=False, TRACKER_LOG_GPU=False, TRAIN_BATCH_SIZE=12)


@pytest.fixture
def project(request: pytest.FixtureRequest) -> str:
    """A project name unique to the test (trackio's TRACKIO_DIR is shared by the session), of the
    characters a project name may have (letters, digits, '-', '_')."""
    test = "".join(c for c in request.node.name[:20] if c.isalnum() or c in "-_")
    return f"t{os.getpid()}-{next(_ids)}-{test}"


def subprocess_env(**extra: str) -> dict[str, str]:
    """This environment (already isolated by tests/conftest.py) with the repo importable."""
    env = {**os.environ, "PYTHONPATH": str(ROOT), **extra}
    env.pop("RANK", None)
    return env


@pytest.fixture
def tmpfs(tmp_path: Path):
    """``mount(size)``: a small tmpfs mounted at a fresh folder (a disk that fills up); unmounted after."""
    import subprocess

    mounted: list[Path] = []

    def mount(size: str = "64k") -> Path:
        where = tmp_path / f"tmpfs{len(mounted)}"
        where.mkdir()
        try:
            out = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(where)],
                                 capture_output=True, text=True, timeout=60)
        except (OSError, subprocess.TimeoutExpired) as exc:
            pytest.skip(f"cannot run mount here: {exc}")
        if out.returncode != 0:
            pytest.skip(f"cannot mount a tmpfs here (needs root): {out.stderr.strip()}")
        mounted.append(where)
        return where

    yield mount
    for where in mounted:
        subprocess.run(["umount", "-l", str(where)], capture_output=True)
