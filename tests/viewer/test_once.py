"""--once text: exact layout at every zoom level, the documented shell snippets,
several projects, runs with the same name, --metric, --list."""
from __future__ import annotations

import os
import re
import stat
import subprocess
from pathlib import Path

import pytest

from tests.viewer.conftest import env_for, view, write
from viewer import keys

FIX = Path(__file__).parent / "fixtures"


@pytest.mark.parametrize("zoom", range(5))
def test_once_exact_text(fixed_root: Path, zoom: int) -> None:
    p = view(fixed_root, "--once", "--zoom", str(zoom), check=True)
    assert p.stdout == (FIX / f"once_zoom{zoom}.txt").read_text()
    assert "\x1b" not in p.stdout


def test_once_layout_rules(fixed_root: Path) -> None:
    lines = view(fixed_root, "--once", check=True).stdout.splitlines()
    assert lines[0] == lines[3] == "=" * 60
    assert lines[1] == "TrackIO Dashboard - Project: tracking-e97b5"
    assert lines[2] == "View: All data"
    chart = lines[-11:]
    assert chart[-1] == " " * 8 + "+" + "-" * 50
    assert all(re.fullmatch(r" *\d+\.\d\d \|[* ]*", ln) and len(ln) <= 59 for ln in chart[:-1])
    assert lines[-12] == "Loss Trend (Iterations 10 to 6000):"


@pytest.fixture()
def shell(fixed_root: Path, tmp_path: Path) -> dict[str, str]:
    """Environment where ``trackio-view`` is on PATH (a shim to python -m viewer)."""
    bindir = tmp_path / "bin"
    bindir.mkdir()
    shim = bindir / "trackio-view"
    import sys
    shim.write_text(f'#!/bin/sh\nexec "{sys.executable}" -m viewer "$@"\n')
    shim.chmod(shim.stat().st_mode | stat.S_IEXEC)
    env = env_for(fixed_root)
    env["PATH"] = f"{bindir}{os.pathsep}{env['PATH']}"
    return env


def sh(script: str, env: dict[str, str], cwd: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(["bash", "-c", script], env=env, capture_output=True, text=True,
                          timeout=60, cwd=cwd)


def test_seed_snippet_latest_loss(shell: dict[str, str]) -> None:
    p = sh('trackio-view --once | grep "Latest Loss:" | awk \'{print $3}\'', shell)
    assert p.stdout == "3.7600\n"


def test_seed_snippet_converged(shell: dict[str, str]) -> None:
    script = '''
change=$(trackio-view --once --zoom 3 | grep "Loss Change:" | awk '{print $3}')
if (( $(echo "$change < 0.001 && $change > -0.001" | bc -l) )); then
  echo "Training has converged"
else
  echo "still moving $change"
fi
'''
    assert sh(script, shell).stdout == "still moving +0.0600\n"


def test_seed_snippet_ci_threshold(shell: dict[str, str]) -> None:
    script = '''trackio-view --project tracking-e97b5 --once | grep "Latest Loss:" | awk '{print $3}' | \\
  awk '{if ($1 < 0.5) exit 0; else exit 1}' '''
    assert sh(script, shell).returncode == 1
    ok = script.replace("0.5", "5")
    assert sh(ok, shell).returncode == 0


def test_seed_snippet_iter_and_loss(shell: dict[str, str], tmp_path: Path) -> None:
    script = '''metrics=$(trackio-view --once)
iter=$(echo "$metrics" | grep "Latest Iteration:" | awk '{print $3}')
loss=$(echo "$metrics" | grep "Latest Loss:" | awk '{print $3}')
echo "series=training.loss&value=$loss&tags=iteration:$iter"
trackio-view --once >> training_progress.log
trackio-view --once > "metrics_$(date +%Y%m%d_%H%M%S).txt"
'''
    p = sh(script, shell, cwd=tmp_path)
    assert p.stdout == "series=training.loss&value=3.7600&tags=iteration:6000\n"
    assert (tmp_path / "training_progress.log").read_text().startswith("=" * 60)
    assert len(list(tmp_path.glob("metrics_*.txt"))) == 1


def test_all_projects_newest_first(multi_root: Path) -> None:
    out = view(multi_root, "--once", check=True).stdout
    names = re.findall(r"^TrackIO Dashboard - Project: (.*)$", out, re.M)
    assert names == ["no-loss", "newer-proj", "older-proj"]
    aliases = ", ".join(keys.ALIASES["loss"])
    assert f"has no loss metric ({aliases}); metrics logged: acc, val/acc" in out
    assert "\n\n" + "=" * 60 in out


def test_same_name_runs_most_recent_and_iteration_key(multi_root: Path) -> None:
    out = view(multi_root, "-p", "newer-proj", "--once", check=True).stdout
    assert "Latest Iteration: 1290" in out  # logged 'iteration' key, no steps given
    assert "Loss Trend (Iterations 1000 to 1290):" in out
    assert "Learning Rate: 2.00e-03" in out and "Sparsity" not in out
    lst = view(multi_root, "--list", check=True).stdout
    block = lst.split("newer-proj", 1)[1].split("older-proj")[0]
    assert re.findall(r"same\s+(\d+) steps", block) == ["30", "20"]


def test_run_by_id_and_metric(multi_root: Path) -> None:
    lst = view(multi_root, "--list", check=True).stdout
    block = lst.split("newer-proj", 1)[1].split("older-proj")[0]
    old_id = re.findall(r"id (\w+)", block)[1]
    out = view(multi_root, "-p", "newer-proj", "--run", old_id, "--once", check=True).stdout
    assert "Latest Loss: 1.0500" in out and "Latest Iteration: 19" in out
    out = view(multi_root, "-p", "no-loss", "--metric", "val/acc", "--once", check=True).stdout
    assert "Latest val/acc: 0.4000" in out


def test_help_lists_seed_options() -> None:
    import sys
    p = subprocess.run([sys.executable, "-m", "viewer", "-h"], capture_output=True, text=True,
                       env=env_for(Path("/nonexistent")))
    for opt in ("-p TEXT, --project TEXT", "-i INT, --interval INT", "--once", "--gpu-db",
                "-z {0,1,2,3,4}, --zoom {0,1,2,3,4}", "--run", "--metric", "--list", "--dir"):
        assert opt in p.stdout


def test_metric_with_tiny_values_keeps_rows_apart(tmp_path: Path) -> None:
    """--metric on a numerics statistic (values near 1e-3): labels and values stay readable."""
    write(tmp_path, """
        key = "numerics/blocks.0.attn/activation/rms"
        bulk("tiny", "r", [{key: 0.004 + 1e-5 * i, "train/loss": 1.0} for i in range(100)], steps=list(range(100)))
    """)
    out = view(tmp_path, "--once", "--project", "tiny", "--metric", "numerics/blocks.0.attn/activation/rms",
               check=True).stdout
    labels = [line.split("|")[0].strip() for line in out.splitlines() if "|" in line]
    assert len(labels) == 10 and len(set(labels)) == 10
    assert "Latest numerics/blocks.0.attn/activation/rms: 0.0050" in out or "4.99" in out


def test_list_columns_line_up(tmp_path: Path) -> None:
    """--list: long run names and wide step numbers widen their column for every row, in every project;
    short ones keep the seed's widths (28 and 9)."""
    write(tmp_path, """
        bulk("wide", "a-run-name-longer-than-twenty-eight-characters", [{"loss": 1.0}] * 3,
             [1, 2, 123456789012])
        bulk("wide", "short", [{"loss": 1.0}], [7])
        bulk("narrow", "\\x1bx", [{"loss": 1.0}] * 2, [0, 1])
    """)
    rows = [line for line in view(tmp_path, "--list", check=True).stdout.splitlines() if line.startswith("  ")]
    assert len(rows) == 3
    for word in (" steps ", "last step", "updated", " id "):
        assert len({line.index(word) for line in rows}) == 1, (word, rows)
    assert "123456789012  updated" in "".join(rows)
    assert any("\\x1bx" in line for line in rows)
    write(tmp_path / "seed", 'bulk("p", "r", [{"loss": 1.0}], [5])')
    (row,) = view(tmp_path / "seed", "--list", check=True).stdout.splitlines()[1:]
    assert row.startswith("  r" + " " * 27 + " " * 9 + "1 steps  last step " + " " * 8 + "5  updated ")
