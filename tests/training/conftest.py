"""Fixtures for the training tests: a cached small stdlib corpus and a runner
that starts the trainers as subprocesses with private tracker folders."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]

# a very small GPT-2 that still learns visibly in 20 iterations on a CPU
TINY = ["--set", "GPT2_N_LAYER=2", "--set", "GPT2_N_HEAD=2", "--set", "GPT2_N_EMBD=64",
        "--set", "GPT2_BLOCK_SIZE=64", "--batch-size", "8", "--set", "TRAIN_EVAL_ITERS=4",
        "--set", "TRAIN_LOG_INTERVAL=5", "--set", "TRAIN_EVAL_INTERVAL=10",
        "--set", "TRAIN_WARMUP_ITERS=5", "--lr", "3e-3", "--set", "DATASET_MAX_TOKENS=300000"]


def stdlib_spec(max_tokens: int):
    """The data spec ``defconfigs/default`` gives with ``DATASET_MAX_TOKENS=max_tokens`` (read through kconf)."""
    from gpt2 import data
    from kconf.configure import configured
    from training.settings import Settings

    tree = configured(REPO, "default", [("DATASET_MAX_TOKENS", str(max_tokens))])
    return data.spec_from(Settings(tree, "default"))


@pytest.fixture(scope="session")
def corpus_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A DATASET_DIR holding the small stdlib cache the TINY runs use, built once per session."""
    from gpt2 import data

    folder = tmp_path_factory.mktemp("data")
    data.build(stdlib_spec(300_000), folder)
    return folder


@pytest.fixture
def train_env(tmp_path: Path, isolated_env: dict[str, str]) -> dict[str, str]:
    """Environment for a trainer subprocess: private trackers, no .config, 1 thread."""
    env = {**os.environ, **isolated_env}
    env.update(KCONFIG_CONFIG=str(tmp_path / "no.config"), OMP_NUM_THREADS="1",
               PYTHONPATH=os.pathsep.join([str(REPO), env.get("PYTHONPATH", "")]))
    return env


def run_trainer(script: str, args: list[str], env: dict[str, str], cwd: Path,
                torchrun: int = 0, timeout: float = 120) -> subprocess.CompletedProcess:
    """Run ``<script>`` (e.g. ``gpt2/train.py``) and return the finished process."""
    path = str(REPO / script)
    if torchrun:
        cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone",
               f"--nproc_per_node={torchrun}", path, *args]
    else:
        cmd = [sys.executable, path, *args]
    return subprocess.run(cmd, env=env, cwd=cwd, capture_output=True, text=True, timeout=timeout)


def trackio_rows(trackio_dir: str, project: str) -> list[tuple[str, int, dict]]:
    """``(run_name, step, metrics)`` rows from Trackio's SQLite file, in order (via ``rundata.store``)."""
    from rundata.store import db_path, read_rows

    return [(r.run_name, r.step, r.metrics) for r in read_rows(db_path(project, Path(trackio_dir)))]
