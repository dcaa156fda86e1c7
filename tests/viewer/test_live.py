"""Live mode driven in tmux (tests/tmux_driver.py): the workspace appears, + / - zoom,
p cycles projects, q and Ctrl+C quit with the terminal restored, a writer's new steps appear."""
from __future__ import annotations

import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.tmux_driver import Tmux, require_tmux
from tests.viewer.conftest import PRELUDE, env_for

pytestmark = pytest.mark.tmux
STTY = "stty -a | tr ' ;' '\\n\\n' | grep -x -e icanon -e echo -e -icanon -e -echo"


def pane(root: Path, args: str) -> Tmux:
    """``python -m viewer ARGS`` in a 100x36 tmux window with ``root``'s environment."""
    require_tmux()
    env = {k: v for k, v in env_for(root).items()
           if k in ("TRACKIO_DIR", "HOME", "HF_HOME", "XDG_CACHE_HOME", "PYTHONPATH", "TERM")}
    return Tmux(f"{shlex.quote(sys.executable)} -m viewer {args}", cwd=str(root), env=env, width=100, height=36,
                after=STTY)


def restored(t: Tmux) -> str:
    assert t.exit_status() == 0
    return t.wait_for(lambda x: "icanon" in x.split() or "-icanon" in x.split())


@pytest.fixture()
def live_root(fixed_root: Path, tmp_path: Path) -> Path:
    (tmp_path / "trackio").mkdir()
    shutil.copy(fixed_root / "trackio" / "tracking-e97b5.db", tmp_path / "trackio" / "tracking-e97b5.db")
    return tmp_path


def test_live_zoom_and_quit_restores_terminal(live_root: Path) -> None:
    with pane(live_root, "-p tracking-e97b5 -i 0.5") as t:
        s = t.wait_for("TrackIO Dashboard - Project: tracking-e97b5", timeout=60)
        s = t.wait_for("train/loss  3.76")
        assert "View: All data" in s
        assert any("\u2800" < ch <= "\u28ff" for ch in s)  # braille chart
        t.send("+")
        t.wait_for("View: Last 500")
        t.send("+", "+", "+", "+")
        t.wait_for(lambda x: "View: Last 50" in x and "View: Last 500" not in x)
        t.send("-")
        t.wait_for("View: Last 100")
        t.send("q")
        s = restored(t)
        assert "icanon" in s.split() and "echo" in s.split()  # cooked mode again
        assert "TrackIO Dashboard" not in s  # alternate screen left


def test_live_ctrl_c(live_root: Path) -> None:
    with pane(live_root, "-i 0.5") as t:
        t.wait_for("train/loss", timeout=60)
        t.send("C-c")
        assert "icanon" in restored(t).split()


def test_live_sees_writer_steps(live_root: Path) -> None:
    with pane(live_root, "-p tracking-e97b5 -i 0.3 --zoom 4") as t:
        t.wait_for("600 steps", timeout=60)
        code = PRELUDE + """
import time
for k in range(5):
    steps = list(range(6010 + 100 * k, 6110 + 100 * k, 10))
    bulk("tracking-e97b5", "run-a", [{"train/loss": 2.5, "lr": 6e-5} for _ in steps], steps,
         run_id="run-a-id")
    time.sleep(0.2)
"""
        subprocess.run([sys.executable, "-c", code], env=env_for(live_root), check=True, timeout=120)
        s = t.wait_for("650 steps", timeout=30)
        s = t.wait_for("train/loss  2.5")
        assert "6500" in s  # the chart's last step
        t.send("q")
        restored(t)


def test_live_cycles_projects(multi_root: Path) -> None:
    with pane(multi_root, "-i 0.5") as t:
        t.wait_for("Project: no-loss", timeout=60)
        t.send("p")
        t.wait_for("Project: newer-proj")
        t.send("p")
        t.wait_for("Project: older-proj")
        t.send("q")
        restored(t)


def test_live_gpu_db(multi_root: Path) -> None:
    with pane(multi_root, "--gpu-db -p older-proj -i 0.5") as t:
        t.wait_for("has no GPU metrics", timeout=60)
        t.send("q")
        restored(t)
