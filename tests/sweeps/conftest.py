"""Fixtures for sweep tests: sweep files in tmp dirs, a stand-in trainer, the CLI in a subprocess."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
STANDIN = Path(__file__).with_name("fixtures") / "standin.py"


def write_sweep(folder: Path, name: str, body: str) -> Path:
    """Write ``folder/name.yaml`` with ``{runs}`` replaced by ``folder/runs``."""
    path = folder / f"{name}.yaml"
    path.write_text(body.replace("{runs}", str(folder / "runs")).replace("{standin}", str(STANDIN)))
    return path


def cli(*args: str, env: dict[str, str] | None = None, timeout: float = 120, cwd: Path | None = None
        ) -> subprocess.CompletedProcess:
    """``python -m sweeps ARGS`` with the repo on PYTHONPATH."""
    full = {**os.environ, **(env or {})}
    full["PYTHONPATH"] = os.pathsep.join([str(REPO), full.get("PYTHONPATH", "")])
    return subprocess.run([sys.executable, "-m", "sweeps", *args], capture_output=True, text=True, env=full,
                          timeout=timeout, cwd=cwd or REPO)


@pytest.fixture
def standin_sweep(tmp_path: Path, isolated_env: dict[str, str]) -> Path:
    """A 4-point lr x opt grid run by the stand-in trainer, runs under tmp_path/runs."""
    return write_sweep(tmp_path, "grid", """
defconfig: lenet5-cpu
tracker: none
project: sweeptest
set: {TRAIN_MAX_ITERS: 3, RUNS_DIR: "{runs}"}
vary:
  lr: [1e-3, 1e-2]
  OPTIMIZER: [adamw, sgd]
command: python {standin} {resume}
""")
