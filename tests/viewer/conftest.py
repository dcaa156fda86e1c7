"""Fixtures for the viewer tests: Trackio databases written by real trackio.

Trackio reads TRACKIO_DIR once at import, so every database is written by a
fresh subprocess with TRACKIO_DIR (and HOME, HF_HOME...) pointing at tmp.
"""
from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]

PRELUDE = """
import math, sys, trackio
from trackio.sqlite_storage import SQLiteStorage
def bulk(project, run, rows, steps=None, run_id=None):
    SQLiteStorage.bulk_log(project, run, rows, steps=steps, run_id=run_id or run + "-id")
"""


def env_for(root: Path) -> dict[str, str]:
    """An environment that keeps trackio and the viewer inside ``root``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TRACKIO", "HF_", "XDG_"))}
    env.update(TRACKIO_DIR=str(root / "trackio"), HOME=str(root / "home"), HF_HOME=str(root / "hf"),
               XDG_CACHE_HOME=str(root / "cache"), HF_HUB_OFFLINE="1", WANDB_MODE="offline",
               WANDB_DIR=str(root / "wandb"), PYTHONPATH=str(REPO), TERM="xterm-256color")
    return env


def write(root: Path, code: str) -> None:
    """Run ``code`` (after PRELUDE) with trackio writing into ``root``/trackio."""
    subprocess.run([sys.executable, "-c", PRELUDE + textwrap.dedent(code)], env=env_for(root),
                   check=True, capture_output=True, timeout=120)


def view(root: Path, *args: str, check: bool = False, cwd: Path | None = None) -> subprocess.CompletedProcess:
    """Run ``trackio-view`` (python -m viewer) with ``root``'s environment, in ``cwd``
    (default ``root``: never the checkout, whose ``.config`` would name a project)."""
    p = subprocess.run([sys.executable, "-m", "viewer", *args], env=env_for(root),
                       capture_output=True, text=True, timeout=60, cwd=cwd or root)
    if check:
        assert p.returncode == 0, p.stderr
    return p


# 600 points, steps 10..6000, a loss that falls and wiggles (exact in binary
# floating point is not needed: the expected text below was checked by hand).
FIXED = """
rows, steps = [], []
for i in range(600):
    s = 10 * (i + 1)
    rows.append({"train/loss": round(3.7 + 7.1 * math.exp(-s / 400) + 0.02 * ((i * 7) % 5), 4),
                 "lr": 6e-5, "sparsity": 0.005})
    steps.append(s)
bulk("tracking-e97b5", "run-a", rows, steps)
"""


@pytest.fixture(scope="session")
def fixed_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One project, one run of 600 points; written once per session."""
    root = tmp_path_factory.mktemp("fixed")
    write(root, FIXED)
    return root


@pytest.fixture(scope="session")
def multi_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Three projects (via trackio.init/log/finish), two runs with one name."""
    root = tmp_path_factory.mktemp("multi")
    write(root, """
        import time
        for name, loss in (("older-proj", 2.0), ("newer-proj", 1.0)):
            trackio.init(project=name, name="same")
            for i in range(20):
                trackio.log({"loss": loss + 1.0 / (i + 1), "learning_rate": 1e-3})
            trackio.finish()
            time.sleep(0.05)
        trackio.init(project="newer-proj", name="same")
        for i in range(30):
            trackio.log({"loss": 0.5 - 0.01 * i, "learning_rate": 2e-3, "iteration": 1000 + 10 * i})
        trackio.finish()
        trackio.init(project="no-loss", name="r")
        trackio.log({"acc": 0.5, "val/acc": 0.4})
        trackio.finish()
    """)
    return root
