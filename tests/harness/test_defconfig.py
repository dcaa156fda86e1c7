"""make defconfig semantics: DEFCONFIG × TRACKER, SET= overrides, bad input."""

from __future__ import annotations

from pathlib import Path

import pytest

from kconf import ConfigError
from kconf.configure import defconfig, list_defconfigs, parse_assignments
from tests.harness.conftest import REPO_ROOT, read_py_config

DEFCONFIGS = sorted(list_defconfigs(REPO_ROOT))
TRACKERS = {
    None: None,  # keep what the defconfig says
    "none": (False, False),
    "trackio": (True, False),
    "wandb": (False, True),
    "both": (True, True),
    "wandb,trackio": (True, True),
    "trackio,wandb": (True, True),
    "trackio, trackio": (True, False),
}


def test_required_defconfigs_exist() -> None:
    for name in ("default", "gpt2-tiny-cpu", "gpt2-finewebedu-a10gx4", "lenet5-cpu"):
        assert name in DEFCONFIGS
    assert (REPO_ROOT / "defconfigs/default").resolve().name == "gpt2-tiny-cpu"
    assert all(list_defconfigs(REPO_ROOT).values()), "every defconfig needs a description comment"


@pytest.mark.parametrize("tracker", TRACKERS)
@pytest.mark.parametrize("name", DEFCONFIGS)
def test_defconfig_tracker_matrix(tree: Path, name: str, tracker: str | None) -> None:
    config = tree / ".config"
    defconfig(tree, name, config, tracker=tracker)
    values = read_py_config(tree) if (tree / "config.py").exists() else None
    text = config.read_text()
    expected = TRACKERS[tracker] or (False, False)  # shipped defconfigs track nothing
    assert ("CONFIG_ENABLE_TRACKIO=y" in text) == expected[0]
    assert ("CONFIG_ENABLE_WANDB=y" in text) == expected[1]
    assert "TRACKER=" not in text, "no second copy of the raw TRACKER string"
    assert values is None  # defconfig() alone writes only .config; the CLI generates


def test_tracker_beats_defconfig(tree: Path) -> None:
    (tree / "defconfigs/tracked").write_text("# tracked\nCONFIG_ENABLE_WANDB=y\nCONFIG_ENABLE_TRACKIO=y\n")
    defconfig(tree, "tracked", tree / ".config", tracker="trackio")
    text = (tree / ".config").read_text()
    assert "CONFIG_ENABLE_TRACKIO=y" in text and "# CONFIG_ENABLE_WANDB is not set" in text
    defconfig(tree, "tracked", tree / ".config")
    assert "CONFIG_ENABLE_WANDB=y" in (tree / ".config").read_text()


def test_tensorboard_tracker(tree: Path) -> None:
    defconfig(tree, "default", tree / ".config", tracker="tensorboard,wandb")
    text = (tree / ".config").read_text()
    assert "CONFIG_ENABLE_TENSORBOARD=y" in text and "CONFIG_ENABLE_WANDB=y" in text


def test_set_overrides(tree: Path) -> None:
    defconfig(tree, "default", tree / ".config",
              assignments='TRAIN_MAX_ITERS=200 CONFIG_TRAIN_LEARNING_RATE=3e-4 OPTIMIZER=sgd '
                          'TRACKER_RUN_NAME="run \\"one\\" \\\\ two"')
    text = (tree / ".config").read_text()
    assert "CONFIG_TRAIN_MAX_ITERS=200" in text
    assert 'CONFIG_TRAIN_LEARNING_RATE="3e-4"' in text
    assert "CONFIG_OPTIMIZER_SGD=y" in text and 'CONFIG_OPTIMIZER="sgd"' in text


def test_set_switches_model_and_project(tree: Path) -> None:
    defconfig(tree, "default", tree / ".config", assignments="MODEL=lenet5")
    text = (tree / ".config").read_text()
    assert "CONFIG_MODEL_LENET5=y" in text and 'CONFIG_TRACKER_PROJECT="lenet5-' in text


BAD_SETS = {
    "NO_SUCH_SYMBOL=1": "unknown Kconfig symbol",
    "TRAIN_MAX_ITERS=abc": "invalid value",
    "TRAIN_MAX_ITERS=0": "range",
    "GPT2_BIAS=maybe": "invalid value",
    "DIST_RDZV_ENDPOINT=head:29500": "depends on",
    "OPTIMIZER=lion": "not one of its values: use adamw, adam, sgd",
    "MODEL=lenet5x": "not one of its values",
    "JUSTAWORD": "SYMBOL=value",
    'TRACKER_RUN_NAME="unterminated': "cannot parse",
}


@pytest.mark.parametrize("assignment,message", BAD_SETS.items())
def test_bad_set_is_an_error_and_writes_nothing(tree: Path, assignment: str, message: str) -> None:
    config = tree / ".config"
    defconfig(tree, "default", config, tracker="trackio")
    before = config.read_bytes()
    with pytest.raises(ConfigError, match=message):
        defconfig(tree, "gpt2-finewebedu-a10gx4", config, tracker="wandb", assignments=assignment)
    assert config.read_bytes() == before


def test_bad_tracker_and_defconfig_write_nothing(tree: Path) -> None:
    config = tree / ".config"
    defconfig(tree, "default", config, tracker="trackio")
    before = config.read_bytes()
    with pytest.raises(ConfigError, match="unknown tracker 'wandb2'.*none, trackio, wandb"):
        defconfig(tree, "default", config, tracker="wandb2")
    with pytest.raises(ConfigError, match="unknown defconfig 'nope'; available: .*gpt2-tiny-cpu"):
        defconfig(tree, "nope", config)
    assert config.read_bytes() == before


def test_tracker_and_set_enable_conflict(tree: Path) -> None:
    with pytest.raises(ConfigError, match="not both"):
        defconfig(tree, "default", tree / ".config", tracker="wandb", assignments="ENABLE_TRACKIO=y")


def test_parse_assignments_shell_quoting() -> None:
    assert parse_assignments("A=1 B='x y' CONFIG_C=\"q\"") == [("A", "1"), ("B", "x y"), ("C", "q")]
