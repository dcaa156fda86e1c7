"""The real Slurm cluster of ``scripts/slurm-local.sh``: two nodes on this machine (``.ci/run`` brings it up).

Every test here needs it; where it is not up they skip with the reason
(``slurm-local.sh up`` writes why it could not start the cluster to
``$KTRACK_SLURM_DIR/up.log``).
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
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


def nodes() -> list[str]:
    """The cluster's node names, sorted."""
    out = subprocess.run(["sinfo", "-h", "-N", "-o", "%N"], capture_output=True, text=True, timeout=60)
    return sorted(set(out.stdout.split()))


@contextmanager
def one_node_free() -> Iterator[None]:
    """Every node but the first held by a job that takes all its CPUs, as if the cluster had one node
    (for tests of a job that waits for resources); the holding jobs are cancelled after."""
    held: list[str] = []
    try:
        for node in nodes()[1:]:
            out = subprocess.run(["sbatch", "--parsable", f"--nodelist={node}", "--job-name=hold",
                                  f"--cpus-per-task={os.cpu_count() or 1}", "--output=/dev/null", "--wrap=sleep 900"],
                                 capture_output=True, text=True, timeout=60, check=True)
            held.append(out.stdout.strip().split(";")[0])
        wait_for(lambda: list(squeue(held).values()) == ["RUNNING"] * len(held), what="the other nodes held")
        yield
    finally:
        if held:
            subprocess.run(["scancel", *held], timeout=60)
