"""One configuration, recorded once, reproduced: every run keeps its .config, make defconfig RUN= restores it."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from kconf.configure import list_defconfigs
from kconf.load import load
from kconf.runs import run_header
from tests.training.conftest import REPO

ONE_THREAD = {"OMP_NUM_THREADS": "1"}
#: What makes any shipped defconfig train for two iterations on this CPU.
CPU = ("TRAIN_DEVICE=cpu TRAIN_DTYPE=float32 TRAIN_COMPILE=n DIST_NPROC_PER_NODE=1 TRACKER_LOG_GPU=n "
       "TRAIN_MAX_ITERS=2 TRAIN_EVAL_INTERVAL=2 TRAIN_LOG_INTERVAL=1 TRAIN_EVAL_ITERS=1 TRAIN_BATCH_SIZE=2")
GPT2_CPU = ("GPT2_N_LAYER=1 GPT2_N_HEAD=1 GPT2_N_EMBD=16 GPT2_BLOCK_SIZE=16 DATASET=stdlib "
            "DATASET_MAX_TOKENS=300000")


def _final_loss(stdout: str) -> str:
    match = re.search(r"^final validation loss: (\S+) ", stdout, re.MULTILINE)
    assert match, stdout[-2000:]
    return match.group(1)


def _ok(result: subprocess.CompletedProcess[str]) -> None:
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-3000:]


@pytest.mark.parametrize("name", sorted(list_defconfigs(REPO)))
def test_every_defconfig_trains_and_restores_byte_for_byte(tree: Path, make, isolated_env: dict[str, str],
                                                           corpus_dir: Path, name: str) -> None:
    model = load(REPO / "defconfigs" / name).MODEL
    overrides = f"{CPU} TRACKER_RUN_NAME=brief" + (f" {GPT2_CPU} DATASET_DIR={corpus_dir}" if model == "gpt2" else "")
    _ok(make("defconfig", f"DEFCONFIG={name}", f"SET={overrides}", env=ONE_THREAD))
    written = (tree / ".config").read_text()
    _ok(make("train", env=ONE_THREAD, timeout=300))
    project = json.loads((tree / "config.json").read_text())["TRACKER_PROJECT"]
    run = tree / "runs" / project / "brief"
    assert (run / ".config").read_text() == run_header(f"{project}/brief") + written
    assert (run / "defconfig").is_file()
    _ok(make("defconfig", "DEFCONFIG=lenet5-cpu" if model == "gpt2" else "DEFCONFIG=default"))
    restored = make("defconfig", f"RUN={project}/brief")
    _ok(restored)
    assert (tree / ".config").read_bytes() == (run / ".config").read_bytes()
    assert json.loads((tree / "config.json").read_text())["MODEL"] == model


def test_lenet5_restored_and_retrained_gives_the_same_loss(tree: Path, make, isolated_env: dict[str, str]) -> None:
    _ok(make("defconfig", "DEFCONFIG=lenet5-cpu", "TRACKER=trackio",
             "SET=TRAIN_MAX_ITERS=60 TRAIN_EVAL_INTERVAL=20 TRACKER_RUN_NAME=first", env=ONE_THREAD))
    first = make("train", env=ONE_THREAD, timeout=300)
    _ok(first)
    project = json.loads((tree / "config.json").read_text())["TRACKER_PROJECT"]
    _ok(make("defconfig", "DEFCONFIG=default", "SET=TRAIN_SEED=1"))
    _ok(make("defconfig", f"RUN={project}/first"))
    assert (tree / ".config").read_bytes() == (tree / "runs" / project / "first" / ".config").read_bytes()
    second = make("train", "TRAIN_ARGS=--tracker-run-name second", env=ONE_THREAD, timeout=300)
    _ok(second)
    print(f"final validation loss: first {_final_loss(first.stdout)}, restored and retrained "
          f"{_final_loss(second.stdout)}")
    assert _final_loss(first.stdout) == _final_loss(second.stdout)
    body = [(tree / "runs" / project / run / ".config").read_text().split("\n", 2)[2] for run in ("first", "second")]
    assert body[0].replace('CONFIG_TRACKER_RUN_NAME="first"', 'CONFIG_TRACKER_RUN_NAME="second"') == body[1]


def test_trainer_flags_give_what_make_defconfig_set_writes(tree: Path, make, train_env: dict[str, str]) -> None:
    _ok(make("defconfig", "DEFCONFIG=lenet5-cpu"))
    env = {**train_env, "KCONFIG_CONFIG": str(tree / ".config")}
    args = ["--set", "TRAIN_MAX_ITERS=4", "--lr", "3e-3", "--optimizer", "sgd", "--tracker", "trackio",
            "--tracker-run-name", "flags", "--set", "TRAIN_EVAL_INTERVAL=2"]
    _ok(subprocess.run([sys.executable, str(REPO / "lenet5/train.py"), *args], cwd=tree, env=env,
                       capture_output=True, text=True, timeout=300))
    _ok(make("defconfig", "DEFCONFIG=lenet5-cpu", "TRACKER=trackio",
             "SET=TRAIN_MAX_ITERS=4 TRAIN_LEARNING_RATE=3e-3 OPTIMIZER=sgd TRAIN_EVAL_INTERVAL=2 "
             "TRACKER_RUN_NAME=flags"))
    project = json.loads((tree / "config.json").read_text())["TRACKER_PROJECT"]
    run = tree / "runs" / project / "flags"
    assert (run / ".config").read_text() == run_header(f"{project}/flags") + (tree / ".config").read_text()


def _recorded(script: str, args: list[str], env: dict[str, str], cwd: Path) -> dict[str, object]:
    out = cwd / "reads.json"
    proc = subprocess.run([sys.executable, str(REPO / "tests/training/fixtures/record_reads.py"), str(out),
                           str(REPO / script), *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=300)
    _ok(proc)
    return json.loads(out.read_text())


@pytest.mark.parametrize("script, extra", [
    ("lenet5/train.py", ["--optimizer", "sgd", "--set", "PRUNING=magnitude"]),
    ("gpt2/train.py", ["--set", "GPT2_N_LAYER=1", "--set", "GPT2_N_HEAD=1", "--set", "GPT2_N_EMBD=16",
                       "--set", "GPT2_BLOCK_SIZE=16", "--set", "DATASET_MAX_TOKENS=300000",
                       "--set", "TRAIN_EVAL_ITERS=1", "--batch-size", "2"]),
])
def test_every_symbol_a_trainer_reads_comes_from_the_configuration(tmp_path: Path, train_env: dict[str, str],
                                                                   corpus_dir: Path, script: str,
                                                                   extra: list[str]) -> None:
    args = ["--max-iters", "2", "--set", "TRAIN_EVAL_INTERVAL=1", "--set", "TRAIN_LOG_INTERVAL=1",
            "--set", f"DATASET_DIR={corpus_dir}", "--out-dir", str(tmp_path / "runs"),
            "--tracker-run-name", "reads", *extra]
    reads = _recorded(script, args, train_env, tmp_path)
    run = next((tmp_path / "runs").glob("*/reads"))
    recorded = load(run / ".config").recorded()
    assert {"TRAIN_MAX_ITERS", "TRAIN_LEARNING_RATE", "OPTIMIZER", "TRAIN_SEED", "TRAIN_DEVICE"} <= reads.keys()
    for name, value in reads.items():
        assert name in recorded or value is None, f"{name} read but not in the run's configuration"
        assert recorded.get(name) == value, f"{name}: the trainer read {value!r}, the configuration says " \
                                            f"{recorded.get(name)!r}"


def test_no_table_of_defaults_in_the_trainers() -> None:
    """Values come from the tree: no DEFAULTS tables, no getattr(cfg, X, literal), no .get(X, literal) of settings."""
    sources = [*REPO.glob("training/*.py"), *REPO.glob("gpt2/*.py"), *REPO.glob("lenet5/*.py")]
    pattern = re.compile(r"DEFAULTS\b|getattr\((cfg|config|s|settings)\b|\b(s|settings|cfg)\.get\(")
    found = [f"{path.relative_to(REPO)}:{number}: {line.strip()}" for path in sources
             for number, line in enumerate(path.read_text().splitlines(), 1) if pattern.search(line)]
    assert found == []
