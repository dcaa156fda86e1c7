"""--compare: two runs written by real trackio (trackio.init(config=...)) with a
known Kconfig difference; the symbol diff comes first, then table and chart."""
from __future__ import annotations

from pathlib import Path

import pytest

from tests.viewer.conftest import view, write

EXPECTED_HEAD = """\
Kconfig symbols that differ (2):
  symbol               lr=1e-3  lr=3e-4
  -------------------  -------  -------
  OPTIMIZER            "adamw"  "sgd"
  TRAIN_LEARNING_RATE  0.001    0.0003

  run        steps  latest loss  best loss  time
  ---------  -----  -----------  ---------  ----
  * lr=1e-3  390    1.0500       1.0500     """


@pytest.fixture(scope="module")
def cmp_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("compare")
    write(root, """
        base = {"CONFIG_MODEL": "gpt2", "CONFIG_GPT2_BIAS": True, "CONFIG_TRAIN_MAX_ITERS": 400}
        for name, lr, opt, k in (("lr=1e-3", 0.001, "adamw", 1.0), ("lr=3e-4", 0.0003, "sgd", 2.0)):
            cfg = dict(base, CONFIG_TRAIN_LEARNING_RATE=lr, CONFIG_OPTIMIZER=opt, CONFIG_TRACKER_RUN_NAME=name)
            trackio.init(project="cmp", name=name, config=cfg)
            for i in range(40):
                trackio.log({"train/loss": k * (3.0 - 0.05 * i), "lr": lr}, step=i * 10)
            trackio.finish()
    """)
    return root


def test_compare_two_runs(cmp_root: Path) -> None:
    out = view(cmp_root, "-p", "cmp", "--compare", "lr=1e-3", "lr=3e-4", "--once", check=True).stdout
    assert out.startswith(EXPECTED_HEAD), out
    lines = out.splitlines()
    assert lines[9].startswith("  o lr=3e-4  390    2.1000       2.1000")
    assert lines[-1] == "  * lr=1e-3   o lr=3e-4"
    chart = "\n".join(lines[12:-4])
    assert "*" in chart and "o" in chart and "\x1b" not in out
    assert lines[12].startswith("   6.00 |o") and lines[-3].startswith(" " * 8 + "+---")
    # no RUN: every run of the project, oldest first; same text without the cache
    assert view(cmp_root, "-p", "cmp", "--compare", "--once", check=True).stdout == out
    assert view(cmp_root, "-p", "cmp", "--compare", "--once", "--no-cache", check=True).stdout == out


def test_compare_errors(cmp_root: Path) -> None:
    p = view(cmp_root, "-p", "cmp", "--compare", "nope", "--once")
    assert p.returncode == 1 and p.stderr.strip() == (
        "trackio-view: error: no run 'nope' in project 'cmp'; runs: lr=3e-4, lr=1e-3")
    p = view(cmp_root, "--compare", "--once")
    assert p.returncode == 2 and "--compare requires --project" in p.stderr
