"""Fixtures for sweep tests: sweep files in tmp dirs, a stand-in trainer, the CLI in a subprocess."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
STANDIN = Path(__file__).with_name("fixtures") / "standin.py"


#: Two points (lr=1e-3, lr=1e-2) of the stand-in trainer, three steps each; ``{project}`` to fill in.
TWO_POINTS = """
defconfig: lenet5-cpu
tracker: none
project: {project}
set: {{TRAIN_MAX_ITERS: 3, RUNS_DIR: "{{runs}}"}}
vary:
  lr: [1e-3, 1e-2]
command: python {{standin}} {{resume}}
"""


def two_points(project: str) -> str:
    """The body of :data:`TWO_POINTS` for ``project``."""
    return TWO_POINTS.format(project=project)


def real_lenet(project: str, lrs: str) -> str:
    """A sweep of the real LeNet-5 trainer, 4 iterations a point, over the learning rates ``lrs`` ("1e-3, 3e-3")."""
    return f"""
defconfig: lenet5-cpu
tracker: none
project: {project}
set: {{TRAIN_MAX_ITERS: 4, TRAIN_EVAL_INTERVAL: 2, TRAIN_LOG_INTERVAL: 2, RUNS_DIR: "{{runs}}"}}
vary:
  lr: [{lrs}]
"""


def wait_for(predicate, timeout: float = 120.0, what: str = "condition", poll: float = 0.1) -> None:
    """Poll ``predicate`` until it is true (generous: the machine may be busy)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(poll)
    raise AssertionError(f"timed out waiting for {what}")


def points(state_file: Path) -> dict:
    """The ``points`` of a sweep's state file ({} while it is missing or being replaced)."""
    try:
        return json.loads(state_file.read_text())["points"]
    except (OSError, ValueError, KeyError):
        return {}


def interrupted_sweep(path: Path, env: dict[str, str], when, what: str, settle: float = 0.0) -> tuple[int, str]:
    """Run ``python -m sweeps run path``, send it SIGINT once ``when()`` holds (and ``settle`` s more);
    return its exit status and output."""
    full = {**os.environ, **env, "PYTHONPATH": str(REPO)}
    proc = subprocess.Popen([sys.executable, "-m", "sweeps", "run", str(path)], cwd=Path.cwd(), env=full,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        wait_for(when, what=what)
        time.sleep(settle)
        proc.send_signal(signal.SIGINT)
        out, _ = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
    return proc.returncode, out


def ctrl_c_into_a_closed_pipe(tmp_path: Path, path: Path, env: dict[str, str], args: str, when, what: str,
                              timeout: float = 120.0) -> str:
    """``python -m sweeps run PATH ARGS 2>stderr | cat >/dev/null`` in a session of its own, and once ``when()``
    holds, SIGINT to the whole group (a terminal's Ctrl+C reaches python and cat alike, so the pipe closes).
    Returns the sweep's stderr, checked to hold no traceback."""
    err = tmp_path / "stderr.txt"
    shell = f"{sys.executable} -m sweeps run {path} {args} 2>{err} | cat >/dev/null"
    proc = subprocess.Popen(["bash", "-c", shell], cwd=Path.cwd(), env=env, start_new_session=True)
    try:
        wait_for(when, timeout=timeout, what=what)
        os.killpg(proc.pid, signal.SIGINT)
        proc.wait(timeout=120)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    stderr = err.read_text()
    assert "Traceback" not in stderr and "BrokenPipeError" not in stderr, stderr
    return stderr


def write_sweep(folder: Path, name: str, body: str) -> Path:
    """Write ``folder/name.yaml`` with ``{runs}`` replaced by ``folder/runs``."""
    path = folder / f"{name}.yaml"
    path.write_text(body.replace("{runs}", str(folder / "runs")).replace("{standin}", str(STANDIN)))
    return path


def cli(*args: str, env: dict[str, str] | None = None, timeout: float = 120, cwd: Path | None = None
        ) -> subprocess.CompletedProcess:
    """``python -m sweeps ARGS`` with the repo on PYTHONPATH."""
    full = {**os.environ, **(env or {})}
    full["PYTHONPATH"] = os.pathsep.join([str(REPO), full.get("PYTHONPATH", "")])
    return subprocess.run([sys.executable, "-m", "sweeps", *args], capture_output=True, text=True, env=full,
                          timeout=timeout, cwd=cwd or Path.cwd())


@pytest.fixture
def standin_sweep(tmp_path: Path, isolated_env: dict[str, str]) -> Path:
    """A 4-point lr x opt grid run by the stand-in trainer, runs under tmp_path/runs."""
    return write_sweep(tmp_path, "grid", """
defconfig: lenet5-cpu
tracker: none
project: sweeptest
set: {TRAIN_MAX_ITERS: 3, RUNS_DIR: "{runs}"}
vary:
  lr: [1e-3, 1e-2]
  OPTIMIZER: [adamw, sgd]
command: python {standin} {resume}
""")
