"""The nodes x GPUs grid (gpu.render.grid_lines): a node per row group, each of its GPUs, the node's
and the job's totals, in the workspace's system pane and in --gpu-db; one node looks as before."""
from __future__ import annotations

import argparse
import re
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gpu.render import grid_lines, readings_from_keys, wh
from rundata.store import open_project
from tests.viewer.conftest import view, write
from viewer.workspace import Workspace

POWER = {("a", 0): 100.0, ("a", 1): 200.0, ("b", 0): 300.0, ("b", 1): 400.0}
ENERGY = {("a", 0): 1.0, ("a", 1): 2.0, ("b", 0): 3.0, ("b", 1): 4.5}


def _row(lines: list[str], label: str) -> list[str]:
    """The cells of the first row labelled ``label``."""
    line = next(x for x in lines if x.startswith(label + " ") or x == label)
    return line[len(label):].split()


def test_two_nodes_of_two_gpus_and_their_sums() -> None:
    values = {f"gpu/{n}/{i}/power": p for (n, i), p in POWER.items()}  # Trackio's spelling
    values.update({f"gpu/{n}/{i}/energy_wh": wh for (n, i), wh in ENERGY.items()})
    values["gpu/a/0/utilization"] = 95.0
    lines = grid_lines(readings_from_keys(values))
    assert lines[0].split() == ["utilization", "memory", "temperature", "power", "energy"]
    assert [x for x in lines if x.startswith("node ")] == ["node a (2 GPUs)", "node b (2 GPUs)"]
    assert _row(lines, "  GPU 0")[0] == "95.0%"
    assert _row(lines, "  node a") == ["300W", "3.000", "Wh"]
    assert _row(lines, "  node b") == ["700W", "7.500", "Wh"]
    assert _row(lines, "job: 2 nodes") == [f"{sum(POWER.values()):.0f}W", f"{sum(ENERGY.values()):.3f}", "Wh"]
    assert grid_lines(readings_from_keys(values), first_node=1)[1] == "node b (2 GPUs)"  # 0-9 in the pane


def test_one_node_has_no_node_rows() -> None:
    lines = grid_lines(readings_from_keys({"gpu/0/power": 5.0, "gpu1/power_w": 6.0, "gpu/utilization": 50.0}))
    assert [x.split() for x in lines[1:]] == [["GPU", "0", "50.0%", "N/A", "N/A", "5W"],
                                              ["GPU", "1", "N/A", "N/A", "N/A", "6W"], ["total", "11W"]]
    assert len(grid_lines(readings_from_keys({"gpu/power_w": 5.0}))) == 2  # one GPU: no total


@pytest.fixture(scope="module")
def job_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A two-node job's database: every node's GPUs in system_metrics, the energy in the config."""
    root = tmp_path_factory.mktemp("gpugrid")
    write(root, f"""
        power, energy = {POWER!r}, {ENERGY!r}
        trackio.init(project="job", name="r", config={{f"gpu/{{n}}/{{i}}/energy_wh": wh
                                                      for (n, i), wh in energy.items()}})
        trackio.log({{"train/loss": 1.0}})
        for t in range(3):
            for node in "ab":
                trackio.log_system({{f"gpu/{{node}}/{{i}}/power": p + t for (n, i), p in power.items() if n == node}})
        trackio.finish()
    """)
    return root


def test_gpu_db_once_lists_every_node_in_the_grid(job_root: Path) -> None:
    out = view(job_root, "--gpu-db", "-p", "job", "--once", check=True).stdout
    assert "Nodes (2, 4 GPUs): a (2 GPUs), b (2 GPUs)" in out
    lines = [line[2:] for line in out.splitlines()]
    assert "node a (2 GPUs)" in lines and "node b (2 GPUs)" in lines
    power = sum(POWER.values()) + 4 * 2  # the newest rows: t = 2
    assert _row(lines, "job: 2 nodes") == [f"{power:.0f}W", f"{sum(ENERGY.values()):.3f}", "Wh"]


def test_the_workspace_system_pane_shows_the_grid(job_root: Path) -> None:
    pr = open_project("job", job_root / "trackio" / "job.db")
    ws = Workspace([pr], argparse.Namespace(runs=str(job_root / "runs"), zoom=0, run=None, compare=None,
                                            interval=1.0))
    ws.tick()
    ws.key("g")
    text = ws.frame(160, 48).text()
    assert re.search(r"node a \(2 GPUs\)", text) and re.search(r"node b \(2 GPUs\)", text), text
    assert re.search(r"job: 2 nodes +1008W +10\.500 Wh", text), text
    ws.key("1")  # the pane starts with the second node
    text = ws.frame(160, 48).text()
    assert "node a (2 GPUs)" not in text and "node b (2 GPUs)" in text


def test_the_live_gpu_db_screen_shows_the_grid_and_digits_pick_the_first_node(job_root: Path) -> None:
    from viewer.live import GpuDbState

    pr = open_project("job", job_root / "trackio" / "job.db")
    state = GpuDbState([pr], argparse.Namespace(run=None))
    text = state.frame(120, 60).text()
    assert "node a (2 GPUs)" in text and "node b (2 GPUs)" in text and text.rstrip().endswith("q: quit")
    assert state.key("1") and not state.key("q")
    text = state.frame(120, 60).text()
    assert "node a (2 GPUs)" not in text and "node b (2 GPUs)" in text


@settings(max_examples=60, deadline=None)
@given(st.dictionaries(st.tuples(st.sampled_from(["a", "b", "node-3", "gpu7"]), st.integers(0, 7)),
                       st.tuples(st.integers(0, 700), st.integers(0, 5000)), min_size=1, max_size=12))
def test_grid_rows_and_job_totals(gpus: dict[tuple[str, int], tuple[int, int]]) -> None:
    """Any nodes x GPUs: a group per node, a row per GPU, and the job's power and energy are the sums."""
    values: dict[str, float] = {}
    for (node, i), (power, mwh) in gpus.items():
        values[f"gpu/{node}/{i}/power_w"] = float(power)
        values[f"gpu/{node}/{i}/energy_wh"] = mwh / 1000
    lines = grid_lines(readings_from_keys(values))
    nodes = sorted({n for n, _ in gpus})
    assert [x for x in lines if x.startswith("node ")] == [
        f"node {n} ({k} GPU{'s' if k != 1 else ''})" for n in nodes if (k := sum(m == n for m, _ in gpus))]
    assert len(lines) == 1 + 2 * len(nodes) + len(gpus) + 1
    power, energy = sum(p for p, _ in gpus.values()), sum(e for _, e in gpus.values()) / 1000
    assert _row(lines, f"job: {len(nodes)} nodes") == [f"{power}W", *wh(energy).split()]
