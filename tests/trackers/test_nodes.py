"""Every node's GPUs in one run: per-node files in the run folder, tailed by rank 0 (trackers.nodes).

Real parts: the gpu package on the fake sysfs trees, real files, a real run
with its journal; a fake clock only where "quiet for N intervals" is asserted.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import types
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import trackers
from gpu.fields import parse_key
from trackers.backends.system_names import trackio_system_metrics, wandb_system_metrics
from rundata.journal import read_records
from trackers.nodes import NodeTail, NodeWriter, node_file

ROOT = Path(__file__).resolve().parents[2]
MIXED = ROOT / "tests" / "gpu" / "fixtures" / "mixed"  # two cards: Intel (index 0) and AMD W7900 (index 1)


@pytest.fixture
def mixed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KTRACK_SYSFS_ROOT", str(MIXED))


def _writer(run_dir: Path, node: str) -> NodeWriter:
    return NodeWriter(run_dir, node, interval=0.05, backends=["amd", "intel"]).start()


def test_two_nodes_each_gpu_once_and_the_job_energy_is_their_sum(tmp_path: Path, mixed: None) -> None:
    a, b = _writer(tmp_path, "a"), _writer(tmp_path, "b")
    time.sleep(0.3)
    a.close()
    b.close()
    a.close()  # idempotent
    tail = NodeTail(tmp_path / "nodes", ["a", "b"], interval=0.05)
    rows, events = tail.poll(final=True)
    assert not events  # both closed their files
    keys = {k for _, m in rows for k in m}
    assert {"gpu/a/0/clock_graphics_mhz", "gpu/a/1/power_w", "gpu/b/1/power_w"} <= keys
    assert all((p := parse_key(k)) is not None and p.node for k in keys)
    total = tail.summary()
    per_gpu = [total[f"gpu/{n}/{i}/energy_wh"] for n in "ab" for i in (0, 1)]
    assert total["gpu_total/count"] == 4 and total["nodes/count"] == 2 and total["nodes/quiet"] == 0
    assert total["gpu_total/energy_wh"] == pytest.approx(sum(per_gpu)) and total["gpu_total/energy_wh"] > 0
    assert total["node/a/energy_wh"] == pytest.approx(per_gpu[0] + per_gpu[1])
    assert total["gpu/b/1/name"] == "AMD Radeon Pro W7900"
    last = json.loads(node_file(tmp_path, "b").read_text().splitlines()[-1])
    assert last["end"] is True and set(last["energy_wh"]) == {"0", "1"}


def test_a_quiet_node_is_reported_with_when_and_never_waited_for(tmp_path: Path, mixed: None) -> None:
    now = [1000.0]
    tail = NodeTail(tmp_path / "nodes", ["a", "b", "c"], interval=1.0, quiet_intervals=3, clock=lambda: now[0],
                    min_quiet_s=0)
    a, b = _writer(tmp_path, "a"), _writer(tmp_path, "b")
    b._stop.set()  # b stops writing without its last line, as a SIGKILLed node does
    rows, events = tail.poll()
    assert rows and not events
    now[0] += 2.0
    a._write()
    tail.poll()
    now[0] += 2.0  # b: 4 s (> 3 intervals) without a line; a wrote 2 s ago
    a._write()
    _, events = tail.poll()
    quiet = {text.split(":")[0]: text for title, text in events if title == "node quiet"}
    assert set(quiet) == {"node b", "node c"}  # c never wrote at all
    assert "UTC" in quiet["node b"] and "it wrote none" in quiet["node c"]
    _, again = tail.poll(final=True)
    assert [t for t, _ in again if t == "node quiet"] == ["node quiet"]  # a: not closed by now -> reported once
    a.close()
    summary = tail.summary()
    assert summary["nodes/quiet"] == 3 and summary["node/b/quiet_since"] > 0


def test_a_line_cut_short_waits_for_its_end(tmp_path: Path) -> None:
    path = node_file(tmp_path, "a")
    path.parent.mkdir(parents=True)
    line = json.dumps({"node": "a", "t": 5.0, "gpus": [{"index": 0, "metrics": {"power_w": 100.0}}],
                       "energy_wh": {"0": 1.5}, "end": True}) + "\n"
    tail = NodeTail(tmp_path / "nodes", interval=0.01)
    path.write_text(line[:20])
    assert tail.poll(final=True)[0] == []
    with path.open("a") as f:
        f.write(line[20:] + "{not json\n")
    rows, _ = tail.poll(final=True)
    assert rows == [(5.0, {"gpu/a/0/power_w": 100.0})]
    assert tail.summary()["gpu_total/energy_wh"] == 1.5


def test_node_keys_in_each_trackers_system_names() -> None:
    metrics = {"gpu/a/1/power_w": 200.0, "gpu/a/1/memory_used_gb": 1.0, "gpu/power_w": 3.0}
    assert trackio_system_metrics(metrics) == {"gpu/a/1/power": 200.0, "gpu/a/1/allocated_memory": 1.0,
                                               "gpu/0/power": 3.0}
    assert wandb_system_metrics(metrics)["gpu.a.1.powerWatts"] == 200.0
    assert parse_key("gpu/0/1/power_w") is None  # digits are a GPU index, never a node


def test_the_run_forwards_every_node_and_sums_the_job(tmp_path: Path, mixed: None, project: str) -> None:
    cfg = types.SimpleNamespace(MODEL="gpt2", OPTIMIZER="adamw")
    run = trackers.init({}, cfg=cfg, project=project, run_name="r", run_dir=tmp_path / "runs" / project / "r",
                        trackers="none", log_gpu=False)
    local = _writer(run.dir, "a")
    other = _writer(run.dir, "b")
    run.follow_nodes(NodeTail(run.dir / "nodes", ["a", "b"], interval=0.05), local)
    for i in range(5):
        run.log({"train/loss": 1.0 / (i + 1)}, step=i)
        time.sleep(0.05)
    other.close()
    run.finish()  # closes a's file, reads every last line, writes the totals
    records = list(read_records(run.dir))
    system = {k for r in records if r["type"] == "system" for k in r["metrics"]}
    assert {"gpu/a/1/power_w", "gpu/b/1/power_w"} <= system
    summary = json.loads((run.dir / "summary.json").read_text())
    parts = [summary[f"gpu/{n}/{i}/energy_wh"] for n in "ab" for i in (0, 1)]
    assert summary["gpu_total/energy_wh"] == pytest.approx(sum(parts)) and summary["nodes/quiet"] == 0
    assert not [r for r in records if r["type"] == "alert"]
    # watched from anywhere: the viewer reads the journal-only run from the (shared) run folder
    shown = subprocess.run([sys.executable, "-m", "viewer", "--gpu-db", "--once", "--project", project,
                            "--runs", str(tmp_path / "runs")], capture_output=True, text=True, timeout=120,
                           env={**os.environ, "PYTHONPATH": str(ROOT)}, cwd=tmp_path)
    assert shown.returncode == 0, shown.stderr
    assert "Nodes (2, 4 GPUs): a (2 GPUs), b (2 GPUs)" in shown.stdout and "GPU b/1 latest:" in shown.stdout
    assert "Node a:" in shown.stdout and "Node b:" in shown.stdout
    doc = json.loads(subprocess.run([sys.executable, "-m", "viewer", "--gpu-db", "--json", "--project", project,
                                     "--runs", str(tmp_path / "runs")], capture_output=True, text=True,
                                    timeout=120, env={**os.environ, "PYTHONPATH": str(ROOT)}, cwd=tmp_path,
                                    check=True).stdout)["projects"][0]
    assert doc["system"]["nodes"] == {"a": 2, "b": 2}
    assert {(g["node"], g["gpu"]) for g in doc["system"]["latest"]} == {(n, i) for n in "ab" for i in (0, 1)}
    energy = doc["energy"]
    for g in energy["gpus"]:
        assert f"  GPU {g['node']}/{g['gpu']}: {g['wh']:.3f} Wh" in shown.stdout
    assert energy["nodes"]["a"] == pytest.approx(sum(g["wh"] for g in energy["gpus"] if g["node"] == "a"))
    assert f"  Node a: {energy['nodes']['a']:.3f} Wh" in shown.stdout


@settings(max_examples=40, deadline=None)
@given(cuts=st.lists(st.integers(min_value=0, max_value=2000), max_size=12),
       powers=st.lists(st.floats(min_value=0, max_value=1000), min_size=1, max_size=6))
def test_any_way_the_writes_are_cut_every_line_is_read_once(tmp_path_factory, cuts: list[int],
                                                             powers: list[float]) -> None:
    """However a node's appends reach the reader (cut anywhere, read between any two), each line is one row."""
    folder = tmp_path_factory.mktemp("cuts")
    path = node_file(folder, "a")
    path.parent.mkdir(parents=True)
    data = "".join(json.dumps({"node": "a", "t": float(i), "gpus": [{"index": 0, "metrics": {"power_w": p}}],
                               "energy_wh": {"0": float(i)}, "end": False}) + "\n" for i, p in enumerate(powers))
    tail = NodeTail(folder / "nodes", ["a"], interval=0.01)
    got: list[tuple[float, dict[str, float]]] = []
    done = 0
    for cut in sorted(c % (len(data) + 1) for c in cuts) + [len(data)]:
        with path.open("a") as f:
            f.write(data[done:cut])
        done = max(done, cut)
        got += tail.poll(final=True)[0]
    assert got == [(float(i), {"gpu/a/0/power_w": p}) for i, p in enumerate(powers)]
    assert tail.summary()["gpu_total/energy_wh"] == float(len(powers) - 1)


def test_on_a_network_filesystem_each_line_is_synced(tmp_path: Path, mixed: None,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    """An NFS client holds appended data until fsync: each line is synced there (and only there)."""
    from ktrack import fs

    synced: list[int] = []
    real = os.fsync
    monkeypatch.setattr(os, "fsync", lambda fd: (synced.append(fd), real(fd))[1])
    local = NodeWriter(tmp_path / "local", "a", interval=10.0, backends=["amd", "intel"]).start()
    local.close()
    assert synced == []
    monkeypatch.setattr(fs, "statfs_type", lambda path: 0x6969)
    shared = NodeWriter(tmp_path / "nfs", "a", interval=10.0, backends=["amd", "intel"]).start()
    shared.close()
    assert len(synced) == 2  # the first line and the last
