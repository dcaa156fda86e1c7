"""Every command-line program ends a mistake the same way.

``prog: error: ...`` as the last line on stderr, exit 2 for a command-line
usage mistake (argparse's own errors included, under the same ``prog``) and
exit 1, with that one line alone, for bad input; never a traceback.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]

#: What a user sees is a whole process: its exit status, its last stderr line, no traceback.
pytestmark = pytest.mark.e2e

#: (prog, argv after the interpreter) for a usage mistake: exit 2.
USAGE = [
    ("ktrack-config", ["-m", "kconf", "no-such-command"]),
    ("ktrack-sweep", ["-m", "sweeps", "no-such-command"]),
    ("numerics", ["-m", "numerics", "plot", "{tmp}", "--stat", "no-such-stat"]),
    ("gpu", ["-m", "gpu", "--no-such-flag"]),
    ("python -m trackers", ["-m", "trackers", "no-such-command"]),
    ("python -m trackers replay", ["-m", "trackers", "replay", "{tmp}"]),
    ("python -m trackers.dashboards", ["-m", "trackers.dashboards", "no-such-command"]),
    ("trackio-view", ["-m", "viewer", "-i", "nan"]),
    ("gpt2/train.py", ["{repo}/gpt2/train.py", "--no-such-flag"]),
    ("lenet5/train.py", ["{repo}/lenet5/train.py", "--no-such-flag"]),
    ("training.launch", ["-m", "training.launch", "--trainer-args", "'unclosed"]),
]

#: (prog, argv, words the one line holds) for bad input: exit 1.
ERRORS = [
    ("ktrack-config", ["-m", "kconf", "check"], "no Kconfig file"),
    ("ktrack-sweep", ["-m", "sweeps", "run", "{tmp}/missing.yaml"], "missing.yaml"),
    ("numerics", ["-m", "numerics", "plot", "{tmp}/no-run"], "does not exist"),
    ("python -m trackers", ["-m", "trackers", "replay", "{tmp}/no-run", "--to", "trackio"], "no-run"),
    ("trackio-view", ["-m", "viewer", "--once", "--project", "no-such-project"], "no project 'no-such-project'"),
    ("gpt2/train.py", ["{repo}/gpt2/train.py", "--lr", "abc"], "TRAIN_LEARNING_RATE='abc' is not a number"),
    ("lenet5/train.py", ["{repo}/lenet5/train.py", "--max-iters", "x"], "TRAIN_MAX_ITERS"),
]


def _run(argv: list[str], tmp_path: Path) -> subprocess.CompletedProcess[str]:
    argv = [a.format(tmp=tmp_path, repo=REPO) for a in argv]
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    return subprocess.run([sys.executable, *argv], cwd=tmp_path, env=env, capture_output=True, text=True,
                          timeout=180, stdin=subprocess.DEVNULL)


@pytest.mark.parametrize("prog, argv", USAGE, ids=[" ".join(a[-2:]) for _, a in USAGE])
def test_usage_mistake_exits_2_under_the_programs_name(tmp_path: Path, prog: str, argv: list[str]) -> None:
    proc = _run(argv, tmp_path)
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.strip().splitlines()[-1].startswith(f"{prog}: error: "), proc.stderr
    assert "Traceback" not in proc.stderr


@pytest.mark.parametrize("prog, argv, words", ERRORS, ids=[" ".join(a[-2:]) for _, a, _ in ERRORS])
def test_bad_input_is_one_line_and_exit_1(tmp_path: Path, prog: str, argv: list[str], words: str) -> None:
    proc = _run(argv, tmp_path)
    assert proc.returncode == 1, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"{prog}: error: ") and words in lines[0], proc.stderr
    assert [p.name for p in tmp_path.iterdir()] == [], "a failed command wrote files"
