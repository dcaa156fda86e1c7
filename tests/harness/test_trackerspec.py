"""TRACKER= values: parse_trackers; the helper scripts."""

from __future__ import annotations

import subprocess

import pytest

from kconf import parse_trackers
from tests.conftest import home_env
from tests.harness.conftest import REPO_ROOT

GOOD = {
    "none": set(),
    "trackio": {"trackio"},
    "wandb": {"wandb"},
    "tensorboard": {"tensorboard"},
    "both": {"trackio", "wandb"},
    "wandb,trackio": {"trackio", "wandb"},
    "trackio,wandb": {"trackio", "wandb"},
    " wandb , trackio ": {"trackio", "wandb"},
    "wandb,wandb": {"wandb"},
    "both,tensorboard": {"trackio", "wandb", "tensorboard"},
    "none,trackio": {"trackio"},
    "WandB": {"wandb"},
}
BAD = ["wandb2", "wand", "trackio;wandb", "", "   ", "wandb,", "tensorboardx", "all"]


@pytest.mark.parametrize("value,expected", GOOD.items())
def test_parse_good_values(value: str, expected: set[str]) -> None:
    assert parse_trackers(value) == expected


@pytest.mark.parametrize("value", BAD)
def test_parse_bad_values(value: str) -> None:
    with pytest.raises(ValueError, match="TRACKER|tracker"):
        parse_trackers(value)


def test_check_cli_set_var() -> None:
    script = str(REPO_ROOT / "scripts/check-cli-set-var.sh")
    env = {**home_env(), "PATH": "/usr/bin:/bin", "TRACKER": "wandb"}
    assert subprocess.run([script, "TRACKER"], env=env, capture_output=True, text=True).stdout == "y\n"
    assert subprocess.run([script, "NOT_THERE"], env=env, capture_output=True, text=True).stdout == "n\n"
    bad = subprocess.run([script, "1bad"], env=env, capture_output=True, text=True)
    assert bad.returncode == 2 and "usage:" in bad.stderr


def test_check_cli_set_var_through_make() -> None:
    """make exports command-line variables to recipes, so the script sees them."""
    makefile = "probe:\n\t@scripts/check-cli-set-var.sh TRACKER\n"
    env = {**home_env(), "PATH": "/usr/bin:/bin"}
    given = subprocess.run(["make", "-f", "-", "probe", "TRACKER=both"], input=makefile, text=True,
                           capture_output=True, cwd=REPO_ROOT, env=env)
    assert given.stdout.strip() == "y"
    absent = subprocess.run(["make", "-f", "-", "probe"], input=makefile, text=True, capture_output=True,
                            cwd=REPO_ROOT, env=env)
    assert absent.stdout.strip() == "n"


def test_every_tracker_has_a_backend() -> None:
    """The one table of trackers names the backends, in their order."""
    from kconf import TRACKER_SYMBOLS
    from trackers.backends import REGISTRY

    assert list(REGISTRY)[:len(TRACKER_SYMBOLS)] == list(TRACKER_SYMBOLS)
