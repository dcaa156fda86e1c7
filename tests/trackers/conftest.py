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
    """A project name unique to the test (trackio's TRACKIO_DIR is shared by the session)."""
    return f"t{os.getpid()}-{next(_ids)}-{request.node.name[:20].replace('[', '').replace(']', '')}"
