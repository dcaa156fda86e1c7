"""The one driver for terminal programs under tmux (send-keys, capture-pane).

Used by the menuconfig, trackio-view and GPU tests; each driver has its own
tmux server socket so tests never touch a user's sessions.  After the
command exits the pane shows ``__EXIT_<status>__`` and then the output of
``after`` (e.g. ``stty -a``, to check that the terminal was restored).
"""

from __future__ import annotations

import shlex
import shutil
import subprocess
import time
import uuid
from collections.abc import Callable, Mapping

import pytest


def require_tmux() -> None:
    """Skip the calling test when tmux is not installed."""
    if shutil.which("tmux") is None:
        pytest.skip("tmux is not installed")


class Tmux:
    """One detached tmux session running ``command``; use as a context manager."""

    def __init__(self, command: str, cwd: str, env: Mapping[str, str] | None = None,
                 width: int = 120, height: int = 40, after: str = "") -> None:
        self.socket = f"ktrack-test-{uuid.uuid4().hex[:8]}"
        self.session = "t"
        self.width, self.height = width, height
        exports = " ".join(f"{key}={shlex.quote(value)}" for key, value in (env or {}).items())
        then = f"{after}; " if after else ""
        shell = f"cd {shlex.quote(cwd)} && env {exports} {command}; echo __EXIT_$?__; {then}sleep 60"
        self._tmux("new-session", "-d", "-s", self.session, "-x", str(width), "-y", str(height), shell)

    def _tmux(self, *args: str) -> str:
        return subprocess.run(["tmux", "-L", self.socket, *args], capture_output=True, text=True,
                              timeout=30, check=False).stdout

    def send(self, *keys: str, pause: float = 0.15) -> None:
        """Send tmux key names (``Down``, ``Enter``, ``q``, ``C-c``) one by one."""
        for key in keys:
            self._tmux("send-keys", "-t", self.session, key)
            time.sleep(pause)

    def screen(self) -> str:
        """Return the visible screen as text."""
        return self._tmux("capture-pane", "-p", "-t", self.session)

    def wait_for(self, predicate: str | Callable[[str], bool], timeout: float = 20.0) -> str:
        """Wait until the screen contains ``predicate`` (or it returns True); return the screen."""
        check = (lambda text: predicate in text) if isinstance(predicate, str) else predicate
        deadline = time.monotonic() + timeout
        text = ""
        while time.monotonic() < deadline:
            text = self.screen()
            if check(text):
                return text
            time.sleep(0.1)
        raise AssertionError(f"timed out waiting for {predicate!r}; screen was:\n{text}")

    def exit_status(self, timeout: float = 30.0) -> int:
        """Wait for the command to exit; its exit status."""
        import re

        screen = self.wait_for(lambda text: re.search(r"__EXIT_\d+__", text) is not None, timeout)
        found = re.search(r"__EXIT_(\d+)__", screen)
        assert found is not None
        return int(found.group(1))

    def close(self) -> None:
        """Kill the tmux server of this driver."""
        self._tmux("kill-server")

    def __enter__(self) -> Tmux:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
