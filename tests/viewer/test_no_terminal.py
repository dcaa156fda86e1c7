"""No terminal: every live view refuses in one line that suggests --once, and exits.

Run as cron or a pipe would run it (stdout a pipe, stdin /dev/null), and on a
real terminal (a pty) whose TERM is ``dumb`` or unset; each process gets a
timeout, so a view that never ends fails the test instead of hanging it.
"""
from __future__ import annotations

import os
import pty
import subprocess
import sys
from pathlib import Path

import pytest

from tests.viewer.conftest import env_for

LIVE = [(), ("-p", "tracking-e97b5"), ("--gpu",), ("--gpu-db", "-p", "tracking-e97b5"),
        ("--compare", "-p", "tracking-e97b5")]


def check_refusal(code: int, out: bytes, err: bytes) -> str:
    assert code == 1, (out, err)
    assert b"\x1b" not in out + err and out == b""
    lines = err.decode().strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("trackio-view: error: the live view needs a terminal")
    assert "--once" in lines[0]
    return lines[0]


@pytest.mark.parametrize("args", LIVE)
def test_pipe_refused(fixed_root: Path, args: tuple[str, ...]) -> None:
    p = subprocess.run([sys.executable, "-m", "viewer", *args], env=env_for(fixed_root), stdin=subprocess.DEVNULL,
                       capture_output=True, timeout=30)
    assert "not a terminal" in check_refusal(p.returncode, p.stdout, p.stderr)


@pytest.mark.parametrize("term", ["dumb", None])
def test_dumb_terminal_refused(fixed_root: Path, term: str | None) -> None:
    env = env_for(fixed_root)
    if term is None:
        del env["TERM"]
    else:
        env["TERM"] = term
    main, sub = pty.openpty()
    try:
        p = subprocess.run([sys.executable, "-m", "viewer"], env=env, stdin=sub, stdout=sub,
                           stderr=subprocess.PIPE, timeout=30)
        os.close(sub)
        out = b""
        try:
            while chunk := os.read(main, 4096):
                out += chunk
        except OSError:  # EIO: the pty is closed and drained
            pass
    finally:
        os.close(main)
    line = check_refusal(p.returncode, out, p.stderr)
    assert f"TERM={term or '(unset)'}" in line


def test_once_and_list_need_no_terminal(fixed_root: Path) -> None:
    env = dict(env_for(fixed_root), TERM="dumb")
    for args in (("--once",), ("--list",), ("--compare", "--once", "-p", "tracking-e97b5")):
        p = subprocess.run([sys.executable, "-m", "viewer", *args], env=env, stdin=subprocess.DEVNULL,
                           capture_output=True, timeout=60)
        assert p.returncode == 0 and b"\x1b" not in p.stdout, p.stderr
