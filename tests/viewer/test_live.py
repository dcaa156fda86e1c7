"""Live mode driven in tmux: dashboard appears, + / - zoom, p cycles projects,
q and Ctrl+C quit with the terminal restored, a writer's new steps appear."""
from __future__ import annotations

import shlex
import shutil
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

from tests.viewer.conftest import PRELUDE, env_for

pytestmark = [pytest.mark.tmux,
              pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux not installed")]


class Pane:
    """A private tmux server running one command in an 100x36 window."""

    def __init__(self, root: Path, args: str) -> None:
        self.sock = f"ktv-{uuid.uuid4().hex[:8]}"
        env = env_for(root)
        exports = " ".join(f"{k}={shlex.quote(v)}" for k, v in env.items()
                           if k in ("TRACKIO_DIR", "HOME", "HF_HOME", "XDG_CACHE_HOME", "PYTHONPATH", "TERM"))
        cmd = (f"env {exports} {shlex.quote(sys.executable)} -m viewer {args}; "
               f"echo EXITED rc=$?; stty -a | tr ' ;' '\\n\\n' | grep -x -e icanon -e echo -e -icanon -e -echo; "
               f"sleep 60")
        self.tmux("new-session", "-d", "-x", "100", "-y", "36", cmd)

    def tmux(self, *a: str) -> str:
        return subprocess.run(["tmux", "-L", self.sock, *a], capture_output=True, text=True,
                              timeout=10).stdout

    def screen(self) -> str:
        return self.tmux("capture-pane", "-p")

    def wait(self, text: str, timeout: float = 15.0) -> str:
        end = time.time() + timeout
        while time.time() < end:
            s = self.screen()
            if text in s:
                return s
            time.sleep(0.1)
        raise AssertionError(f"{text!r} not on screen:\n{self.screen()}")

    def keys(self, *k: str) -> None:
        self.tmux("send-keys", *k)

    def close(self) -> None:
        self.tmux("kill-server")


@pytest.fixture()
def live_root(fixed_root: Path, tmp_path: Path) -> Path:
    (tmp_path / "trackio").mkdir()
    shutil.copy(fixed_root / "trackio" / "tracking-e97b5.db", tmp_path / "trackio" / "tracking-e97b5.db")
    return tmp_path


def test_live_zoom_and_quit_restores_terminal(live_root: Path) -> None:
    pane = Pane(live_root, "-p tracking-e97b5 -i 0.5")
    try:
        s = pane.wait("TrackIO Dashboard - Project: tracking-e97b5")
        assert "View: All data" in s and "Latest Loss: 3.7600" in s
        assert any("\u2800" < ch <= "\u28ff" for ch in s)  # braille chart
        pane.keys("+")
        pane.wait("View: Last 500")
        pane.keys("+", "+", "+", "+")
        pane.wait("View: Last 50")
        pane.keys("-")
        pane.wait("View: Last 100")
        pane.keys("q")
        s = pane.wait("EXITED rc=0")
        assert "icanon" in s.split() and "echo" in s.split()  # cooked mode again
        assert "TrackIO Dashboard" not in s  # alternate screen left
    finally:
        pane.close()


def test_live_ctrl_c(live_root: Path) -> None:
    pane = Pane(live_root, "-i 0.5")
    try:
        pane.wait("Latest Loss")
        pane.keys("C-c")
        s = pane.wait("EXITED rc=0")
        assert "icanon" in s.split()
    finally:
        pane.close()


def test_live_sees_writer_steps(live_root: Path) -> None:
    pane = Pane(live_root, "-p tracking-e97b5 -i 0.3 --zoom 4")
    try:
        pane.wait("Latest Iteration: 6000")
        code = PRELUDE + """
import time
for k in range(5):
    steps = list(range(6010 + 100 * k, 6110 + 100 * k, 10))
    bulk("tracking-e97b5", "run-a", [{"train/loss": 2.5, "lr": 6e-5} for _ in steps], steps,
         run_id="run-a-id")
    time.sleep(0.2)
"""
        subprocess.run([sys.executable, "-c", code], env=env_for(live_root), check=True, timeout=60)
        s = pane.wait("Latest Iteration: 6500")
        assert "Latest Loss: 2.5000" in s
        pane.keys("q")
        pane.wait("EXITED rc=0")
    finally:
        pane.close()


def test_live_cycles_projects(multi_root: Path) -> None:
    pane = Pane(multi_root, "-i 0.5")
    try:
        pane.wait("Project: no-loss")
        pane.keys("p")
        pane.wait("Project: newer-proj")
        pane.keys("p")
        pane.wait("Project: older-proj")
        pane.keys("q")
        pane.wait("EXITED rc=0")
    finally:
        pane.close()


def test_live_gpu_db(multi_root: Path) -> None:
    pane = Pane(multi_root, "--gpu-db -p older-proj -i 0.5")
    try:
        pane.wait("has no GPU metrics")
        pane.keys("q")
        pane.wait("EXITED rc=0")
    finally:
        pane.close()
