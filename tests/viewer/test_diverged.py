"""Diverged runs: after a NaN (or infinite) loss ``--once`` says where the run is and that it diverged.

Real trackio writes the run (NaN and inf are stored as its strings); the
seed's lines stay and keep their ``awk '{print $3}'`` fields: the iteration
the run reached and ``nan``, never the last finite step as if it were the latest.
"""
from __future__ import annotations

from pathlib import Path

import pytest

from tests.viewer.conftest import view, write


@pytest.mark.parametrize("bad", ["nan", "inf"])
def test_nan_loss_says_where_the_run_is(tmp_path: Path, bad: str) -> None:
    write(tmp_path, f"""
        trackio.init(project="div", name="r")
        for s in range(61):
            loss = 2.0 - 0.1 * s if s <= 10 else float("{bad}")
            trackio.log({{"loss": loss, "lr": 1e-3}}, step=s)
            if s == 11:
                trackio.alert("loss is NaN", "loss = NaN at step 11.", level=trackio.AlertLevel.ERROR)
        trackio.finish()
    """)
    out = view(tmp_path, "--once", check=True).stdout
    lines = out.splitlines()
    assert lines[5] == "Latest Iteration: 60 (diverged: Loss not finite since iteration 11)"
    assert lines[6] == f"Latest Loss: {bad} (last finite 1.0000 at iteration 10)"
    assert lines[7].startswith("Alert (ERROR") and "loss is NaN" in lines[7]
    assert lines[8] == "Loss Change: -1.0000 (from 2.0000)"  # the finite points, as the chart
    assert "Loss Trend (Iterations 0 to 10):" in out
    assert lines[5].split()[2] == "60" and lines[6].split()[2] == bad  # the seed's awk fields


def test_recovered_run_is_not_diverged(tmp_path: Path) -> None:
    write(tmp_path, """
        trackio.init(project="rec", name="r")
        for s in range(20):
            trackio.log({"loss": float("nan") if s == 5 else 1.0 + s}, step=s)
        trackio.finish()
    """)
    out = view(tmp_path, "--once", check=True).stdout
    assert "Latest Iteration: 19\nLatest Loss: 20.0000\n" in out and "diverged" not in out
