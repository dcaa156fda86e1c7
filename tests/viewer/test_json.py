"""``--json``: one document per command with the numbers the text shows, NaN as null.

Each test runs the same command with and without ``--json`` and formats the
document's numbers the way the text does, so the two can only agree.
"""
from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.viewer.conftest import view, write
from tests.viewer.test_gpu import TREES, gpu_env
from tests.viewer.test_gpu_db import gpu_root  # noqa: F401 - the fixture
from viewer.chart import star_lines


def both(root: Path, *args: str) -> tuple[str, Any]:
    text = view(root, *args, check=True).stdout
    p = view(root, *args, "--json", check=True)
    return text, json.loads(p.stdout)


@pytest.mark.parametrize("zoom", ["0", "4"])
def test_once_json_matches_text(fixed_root: Path, zoom: str) -> None:
    text, doc = both(fixed_root, "--once", "--zoom", zoom)
    assert doc["kind"] == "once" and len(doc["projects"]) == 1
    d = doc["projects"][0]
    lines = text.splitlines()
    assert lines[1] == f"TrackIO Dashboard - Project: {d['project']}" and lines[2] == f"View: {d['view']}"
    change = d["change"]
    assert lines[5:12] == [f"Latest Iteration: {d['latest_iteration']}", f"Latest Loss: {d['latest_value']:.4f}",
                           f"Loss Change: {'+' if change >= 0 else ''}{change:.4f} (from {d['first_value']:.4f})",
                           f"Min Loss: {d['min']:.4f}", f"Max Loss: {d['max']:.4f}",
                           f"Learning Rate: {d['learning_rate']:.2e}", f"Sparsity: {d['sparsity_percent']:.1f}%"]
    assert lines[13] == f"Loss Trend (Iterations {d['first_iteration']} to {d['latest_iteration']}):"
    assert lines[14:] == star_lines(d["chart"]["rows"], d["chart"]["labels"])
    assert d["diverged"] is None and d["skipped_rows"] == 0 and d["run"] == "run-a"


def test_once_json_several_projects_and_errors(multi_root: Path) -> None:
    text, doc = both(multi_root, "--once")
    names = re.findall(r"^TrackIO Dashboard - Project: (.*)$", text, re.M)
    assert [d["project"] for d in doc["projects"]] == names
    failed = [d for d in doc["projects"] if "error" in d]
    assert [d["project"] for d in failed] == ["no-loss"] and "has no loss metric" in failed[0]["error"]


def test_diverged_json_has_null_for_nan(tmp_path: Path) -> None:
    write(tmp_path, """
        trackio.init(project="div", name="r")
        for s in range(61):
            trackio.log({"loss": 2.0 - 0.1 * s if s <= 10 else float("nan")}, step=s)
        trackio.finish()
    """)
    text, doc = both(tmp_path, "--once")
    raw = view(tmp_path, "--once", "--json").stdout
    assert "NaN" not in raw and "Infinity" not in raw
    d = doc["projects"][0]
    assert d["latest_iteration"] == 60 and d["latest_value"] is None
    assert d["diverged"] == {"since_iteration": 11, "value": "nan", "last_finite_iteration": 10,
                             "last_finite_value": 1.0}
    assert f"Latest Iteration: 60 (diverged: Loss not finite since iteration {d['diverged']['since_iteration']})" \
        in text


def test_list_json_matches_text(multi_root: Path) -> None:
    text, doc = both(multi_root, "--list")
    assert doc["kind"] == "list"
    for pr in doc["projects"]:
        assert f"{pr['project']}  ({pr['path']})" in text and pr["skipped_rows"] == 0
        for r in pr["runs"]:
            line = next(ln for ln in text.splitlines() if ln.endswith(f"id {r['run_id']}"))
            assert re.search(rf"\s{r['steps']} steps  last step\s+{r['last_step']}  ", line), line


def test_compare_json_matches_text(multi_root: Path) -> None:
    text, doc = both(multi_root, "--compare", "--once", "-p", "newer-proj")
    assert doc["kind"] == "compare" and doc["project"] == "newer-proj" and len(doc["runs"]) == 2
    for r in doc["runs"]:
        row = next(ln for ln in text.splitlines() if re.match(rf"\s+. {re.escape(r['run'])}\s", ln))
        cells = row[row.index(r["run"]) + len(r["run"]):].split()
        assert cells[:3] == [str(r["steps"]), f"{r['latest_loss']:.4f}", f"{r['best_loss']:.4f}"]


def test_gpu_db_json_matches_text(gpu_root: Path) -> None:  # noqa: F811 - the fixture
    text, doc = both(gpu_root, "--gpu-db", "-p", "my-training", "--once")
    d = doc["projects"][0]
    assert doc["kind"] == "gpu-db" and d["project"] == "my-training"
    first = d["steps"]["latest"][0]
    assert f"Latest GPU Status (Step {first['step']}):" in text
    assert f"  GPU Utilization: {first['utilization']:.1f}%" in text
    assert f"  Memory Usage: {first['memory_used_gb']:.1f} GB ({first['memory_percent']:.1f}%)" in text
    h = d["steps"]["history"]["power_w"]
    assert f"  Power: {h['min']:.0f}W - {h['max']:.0f}W (avg: {h['avg']:.0f}W)" in text
    assert f"Data Range: Steps {d['steps']['first_step']} - {d['steps']['last_step']}" in text
    for key, n in d["steps"]["metrics"].items():
        assert f"  - {key} ({n} data points)" in text
    assert d["system"]["entries"] == 3 and f"  - gpu/0/utilization ({d['system']['metrics']['gpu/0/utilization']} " \
        "data points)" in text


@pytest.mark.skipif(not (TREES / "amd_w7900").is_dir(), reason="no amd_w7900 fixture tree")
def test_gpu_once_json_matches_text(tmp_path: Path) -> None:
    env = gpu_env(tmp_path, "amd_w7900")
    run = [sys.executable, "-m", "viewer", "--gpu", "--once"]
    text = subprocess.run(run, env=env, capture_output=True, text=True, timeout=60, cwd=tmp_path).stdout
    doc = json.loads(subprocess.run([*run, "--json"], env=env, capture_output=True, text=True, timeout=60,
                                    cwd=tmp_path).stdout)
    (g,) = doc["gpus"]
    assert doc["kind"] == "gpu" and g["name"] in text
    assert f"  Utilization: {g['utilization']:.1f}%" in text
    assert f"  Memory: {g['memory_used_gb']:.1f}/{g['memory_total_gb']:.1f} GB ({g['memory_percent']:.1f}%)" in text
    assert f"  GPU Clock: {g['clock_graphics_mhz']:.0f} MHz" in text and f"Perf State: {g['perf_state']}" in text


def test_json_never_needs_a_terminal(fixed_root: Path) -> None:
    """--json implies --once: no live view, so a pipe is fine."""
    p = view(fixed_root, "--json", check=True)
    assert json.loads(p.stdout)["kind"] == "once"
