"""The real one-node Slurm cluster of ``scripts/slurm-local.sh`` (``.ci/run`` brings it up).

Every test here needs it; where it is not up they skip with the reason
(``slurm-local.sh up`` writes why it could not start the cluster to
``$KTRACK_SLURM_DIR/up.log``).
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from tests.sweeps.conftest import wait_for as sweeps_wait_for

REPO = Path(__file__).resolve().parents[2]
SCRIPT = REPO / "scripts" / "slurm-local.sh"


def _why_not_up() -> str:
    log = Path(os.environ.get("KTRACK_SLURM_DIR", "/tmp/ktrack-slurm")) / "up.log"
    try:
        last = [line for line in log.read_text().splitlines() if line.strip()][-1]
    except (OSError, IndexError):
        last = "run: sudo scripts/slurm-local.sh up"
    return f"no Slurm cluster ({last})"


@pytest.fixture(scope="session")
def slurm() -> dict[str, str]:
    """The cluster's environment (``SLURM_CONF``); skips when scripts/slurm-local.sh status says it is down."""
    try:
        status = subprocess.run(["bash", str(SCRIPT), "status"], capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.TimeoutExpired) as exc:
        pytest.skip(f"no Slurm cluster ({exc})")
    if status.returncode != 0:
        pytest.skip(_why_not_up())
    env = {}
    for line in status.stdout.splitlines():
        if line.startswith("SLURM_CONF="):
            env["SLURM_CONF"] = line.split("=", 1)[1]
    os.environ.update(env)
    return env


def squeue(job_ids: list[str]) -> dict[str, str]:
    """``{job id: state}`` of the given jobs (Slurm keeps ended ones for a few minutes)."""
    cmd = ["squeue", "--noheader", "--array", "--states=all", "--format=%i|%T", f"--jobs={','.join(job_ids)}"]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
    return dict(line.strip().split("|", 1) for line in out.stdout.splitlines() if "|" in line)


def wait_for(predicate, timeout: float = 240.0, what: str = "condition") -> None:
    """:func:`tests.sweeps.conftest.wait_for` with time for jobs on a busy 2-core machine."""
    sweeps_wait_for(predicate, timeout, what, poll=0.2)
