"""GPU energy in the run summary, throttle alerts from samples, and replay of the new channels.

The sampler here is a stand-in with the agreed interface (``devices``,
``latest()``, ``energy_wh()``, ``stop()``; samples with ``throttle``), injected
with ``trackers.init(gpu_sampler=...)``; with the real gpu package the same
path takes ``gpu.Sampler``.
"""

from __future__ import annotations

import json
import time

import pytest

import trackers
from gpu.sample import make_sample
from trackers import readback
from trackers.gpu_metrics import TOTAL_ENERGY_KEY, energy_summary
from rundata.histogram import Histogram
from rundata.journal import read_records
from trackers.replay import replay


class StandInSampler:
    """Two GPUs; GPU 1 throttles (thermal, power) from the second sample on."""

    def __init__(self) -> None:
        self.devices = ["gpu0", "gpu1"]
        self.calls = 0
        self.stopped = False

    def latest(self):
        self.calls += 1
        t = 1000.0 + self.calls
        out = []
        for index in (0, 1):
            throttle = "thermal,power" if index == 1 and self.calls > 1 else ""
            out.append(make_sample(index, "nvidia", f"Stand-in {index}", t, utilization=50.0 + index, power_w=100.0,
                                   perf_state="P2", throttle=throttle))
        return out

    def energy_wh(self) -> dict[int, float]:
        return {0: 1.5, 1: 2.25}

    def stop(self) -> None:
        self.stopped = True


def _wait(predicate, timeout: float = 30.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and not predicate():
        time.sleep(0.02)
    return predicate()


def test_energy_summary_keys():
    assert energy_summary({0: 1.0, 2: 0.5}) == {"gpu/energy_wh": 1.0, "gpu2/energy_wh": 0.5, TOTAL_ENERGY_KEY: 1.5}
    assert energy_summary({}) == {}


@pytest.mark.e2e  # real trackers
def test_energy_and_gpu_strings_reach_every_summary(cfg, project, tmp_path):
    sampler = StandInSampler()
    run = trackers.init(cfg=cfg, project=project, run_name="energy", run_dir=tmp_path,
                        trackers="trackio,wandb,tensorboard", gpu_sampler=sampler)
    for i in range(3):
        run.log({"train/loss": 1.0}, step=i)
    assert _wait(lambda: sampler.calls > 3)
    run.finish()
    assert sampler.stopped
    expected = {"gpu/energy_wh": 1.5, "gpu1/energy_wh": 2.25, TOTAL_ENERGY_KEY: 3.75}
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert {k: summary[k] for k in expected} == expected
    assert summary["gpu/name"] == "Stand-in 0" and summary["gpu1/perf_state"] == "P2"
    tio = readback.trackio_config(readback.trackio_db(project), "energy")
    assert tio["summary/gpu_total/energy_wh"] == 3.75 and tio["summary/gpu1/energy_wh"] == 2.25
    w = readback.wandb_run(run.ctx.info["wandb"]["dir"])
    assert {k: w["summary"][k] for k in expected} == expected
    assert readback.tensorboard_scalars(tmp_path / "tensorboard")["summary/gpu_total/energy_wh"][0][1] == 3.75
    sys_rows = readback.trackio_system_rows(readback.trackio_db(project), "energy")
    assert sys_rows[0][1]["gpu/1/utilization"] == 51.0 and sys_rows[0][1]["gpu/1/power"] == 100.0


def test_throttle_alerts_from_samples(cfg, tmp_path):
    sampler = StandInSampler()
    run = trackers.init(cfg=cfg, project="p", run_name="t", run_dir=tmp_path, trackers="none", gpu_sampler=sampler)
    run.log({"train/loss": 1.0}, step=0)
    assert _wait(lambda: sampler.calls > 3)
    run.finish()
    alerts = [r["metrics"]["title"] for r in read_records(tmp_path) if r["type"] == "alert"]
    assert alerts == ["GPU 1 throttled (thermal)", "GPU 1 throttled (power)"]
    assert not run.stop_requested


@pytest.mark.e2e  # real trackers
def test_replay_sends_histograms_system_rows_and_alerts(cfg, project, tmp_path):
    run = trackers.init(cfg=cfg, project=project, run_name="rp", run_dir=tmp_path, trackers="none")
    hist = Histogram([2, 1], [0.0, 0.5, 1.0])
    for i in range(3):
        run.log({"train/loss": float("nan") if i == 2 else 1.0, "h": hist}, step=i)
    run.log_system({"gpu/utilization": 42.0, "gpu/perf_state": "P0"}, timestamp=1000.0)
    run.summary({"best_val_loss": 1.0})
    run.finish()
    (system,) = [r for r in read_records(tmp_path) if r["type"] == "system"]
    assert system["metrics"] == {"gpu/utilization": 42.0} and system["time"] == 1000.0  # no strings in series
    first = replay(tmp_path, "trackio")
    assert first == {"sent": 5, "skipped": 0, "unstorable": 0}  # 3 rows, 1 system row, 1 alert
    assert replay(tmp_path, "trackio") == {"sent": 0, "skipped": 5, "unstorable": 0}
    db = readback.trackio_db(project)
    rows = readback.trackio_rows(db, "rp")
    assert rows[0][1]["h"]["values"] == [2, 1] and len(rows) == 3
    assert readback.trackio_system_rows(db, "rp")[0][1] == {"gpu/0/utilization": 42.0}
    assert [a["title"] for a in readback.trackio_alerts(db, "rp")] == ["train/loss is NaN"]
    assert readback.trackio_config(db, "rp")["summary/best_val_loss"] == 1.0
    assert replay(tmp_path, "tensorboard")["sent"] == 5  # alerts as text
    data = readback.tensorboard_data(tmp_path / "tensorboard")
    assert [s for s, _, _ in data["histograms"]["h"]] == [0, 1, 2]
