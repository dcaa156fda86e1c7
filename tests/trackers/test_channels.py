"""Each part of a run lands in each tracker's own place, read back from the real stores.

Metrics as series, end-of-run values as summary (Trackio: the run's config),
hardware as system metrics, configuration as config (TensorBoard: hparams),
distributions as histograms, alerts as alerts.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

import trackers
from trackers import readback
from rundata.histogram import Histogram
from rundata.journal import read_records

#: One run through every real tracker (trackio, wandb, TensorBoard), read back.
pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
GPU_FIXTURES = ROOT / "tests" / "gpu" / "fixtures"
SUMMARY = {"best_val_loss": 1.25, "final_iter": 39, "final_val_loss": 1.3, "start_val_loss": 4.0,
           "total_time_s": 2.5}
HIST = Histogram([1, 5, 3, 0], [-8, -4, -2, -1, 0])
STEPS = 40


def _trackio_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([str(Path(sys.executable).parent / "trackio"), *args], capture_output=True, text=True,
                          timeout=120, env={**os.environ})


@pytest.fixture(scope="module")
def full_run(tmp_path_factory):
    """One run to every tracker: GPU on the fake W7900 sysfs tree, histograms, a NaN, a summary."""
    tmp = tmp_path_factory.mktemp("channels")
    old_root = os.environ.get("KTRACK_SYSFS_ROOT")
    os.environ["KTRACK_SYSFS_ROOT"] = str(GPU_FIXTURES / "amd_w7900")
    project = f"chan{os.getpid()}"
    (tmp / "run").mkdir()
    (tmp / "run" / ".config").write_text("CONFIG_GPT2_N_LAYER=4\nCONFIG_TRAIN_MAX_ITERS=40\n")
    cfg = __import__("types").SimpleNamespace(MODEL="gpt2", OPTIMIZER="adamw", TRACKER_GPU_INTERVAL=0.05)
    config = {"GPT2_N_LAYER": 4, "TRAIN_MAX_ITERS": 40, "OPTIMIZER": "adamw", "n_params": 1234}
    run = trackers.init(config, cfg=cfg, project=project, run_name="r1", run_dir=tmp / "run",
                        trackers="trackio,wandb,tensorboard", log_gpu=True)
    logged = 0
    for i in range(STEPS):
        row = {"train/loss": 4.0 / (1 + i), "lr": 1e-3}
        if i == 30:
            row["train/loss"] = float("nan")
        if i % 10 == 0:
            row["numerics/hist/fc1/activation"] = HIST
        run.log(row, step=i)
        logged += 1
        if i % 10 == 9:
            run.log({"val/loss": 4.2 / (1 + i)}, step=i)
            logged += 1
        time.sleep(0.01)
    deadline = time.monotonic() + 30
    while not any(r["type"] == "system" for r in read_records(run.dir)) and time.monotonic() < deadline:
        run.journal.flush()
        time.sleep(0.05)
    run.summary(SUMMARY)
    run.finish()
    if old_root is None:
        os.environ.pop("KTRACK_SYSFS_ROOT", None)
    else:
        os.environ["KTRACK_SYSFS_ROOT"] = old_root
    meta = json.loads((run.dir / "config.json").read_text())
    return {"run": run, "project": project, "logged": logged, "meta": meta, "config": config}


def test_no_tracker_failed(full_run):
    assert not [w.error for w in full_run["run"].workers if w.error]


def test_trackio_summary_in_config_not_in_rows(full_run):
    project, logged = full_run["project"], full_run["logged"]
    db = readback.trackio_db(project)
    rows = readback.trackio_rows(db, "r1")
    assert len(rows) == logged  # the runs table counts rows: no extra one for the summary
    assert not any(k in m for _, m in rows for k in SUMMARY)
    config = readback.trackio_config(db, "r1")
    assert {k: config[f"summary/{k}"] for k in SUMMARY} == SUMMARY
    assert config["summary/gpu/name"] == "AMD Radeon Pro W7900" and config["summary/gpu/perf_state"] == "auto"
    out = _trackio_cli("get", "run", "--project", project, "--run", "r1", "--json")
    assert out.returncode == 0, out.stderr
    shown = json.loads(out.stdout)
    assert shown["num_logs"] == logged and shown["last_step"] == STEPS - 1
    assert shown["config"]["summary/best_val_loss"] == 1.25 and "best_val_loss" not in shown["metrics"]


def test_trackio_config_holds_each_value_once(full_run):
    config = readback.trackio_config(readback.trackio_db(full_run["project"]), "r1")
    mine = {k for k in config if not k.startswith(("_", "summary/", "provenance/"))}
    assert mine == set(full_run["config"])
    assert config["provenance/python"] and config["provenance/trackio"]


def test_trackio_system_metrics_and_strings(full_run):
    project = full_run["project"]
    db = readback.trackio_db(project)
    system = readback.trackio_system_rows(db, "r1")
    assert system and system[0][1]["gpu/0/utilization"] == 100.0 and system[0][1]["gpu/0/temp"] == 70.0
    assert all(isinstance(v, (int, float)) for _, m in system for v in m.values())
    rows = readback.trackio_rows(db, "r1")
    assert not any(k.startswith("gpu") for _, m in rows for k in m)  # hardware is not in the series
    out = _trackio_cli("list", "system-metrics", "--project", project, "--run", "r1", "--json")
    assert out.returncode == 0, out.stderr
    assert "gpu/0/utilization" in out.stdout and "gpu/0/power" in out.stdout


def test_trackio_histograms_and_alerts(full_run):
    db = readback.trackio_db(full_run["project"])
    hists = [(s, m["numerics/hist/fc1/activation"]) for s, m in readback.trackio_rows(db, "r1")
             if "numerics/hist/fc1/activation" in m]
    assert [s for s, _ in hists] == [0, 10, 20, 30]
    assert hists[0][1]["_type"] == "trackio.histogram"
    assert hists[0][1]["values"] == [1, 5, 3, 0] and hists[0][1]["bins"] == [-8, -4, -2, -1, 0]
    alerts = readback.trackio_alerts(db, "r1")
    assert [(a["title"], a["level"], a["step"]) for a in alerts] == [("train/loss is NaN", "error", 30)]


def test_wandb_channels(full_run):
    meta = full_run["meta"]
    w = readback.wandb_run(meta["backends"]["wandb"]["dir"])
    assert {k: w["summary"][k] for k in SUMMARY} == SUMMARY
    config = {k: v for k, v in w["config"].items() if k != "_wandb"}
    assert set(config) == set(full_run["config"]) | {"provenance"}
    assert config["provenance"]["host"] == meta["provenance"]["host"]
    assert w["stats"] and w["stats"][0]["gpu.0.gpu"] == 100.0 and w["stats"][0]["gpu.0.powerWatts"] == 240.0
    assert [a["title"] for a in w["alerts"]] == ["train/loss is NaN"]
    hist = [r for r in w["history"] if "z_numerics/hist/fc1/activation/_type" in r]  # numerics sort last
    assert len(hist) == 4 and hist[0]["z_numerics/hist/fc1/activation/values"] == [1, 5, 3, 0]
    assert not any(k.startswith("gpu") for r in w["history"] for k in r)
    assert sorted({r["_step"] for r in w["history"]}) == list(range(STEPS))


def test_wandb_own_tool_shows_one_finished_run(full_run):
    """``wandb leet inspect --summary --json`` (W&B's own reader of the offline log) agrees with ours."""
    meta = full_run["meta"]
    folder = meta["backends"]["wandb"]["dir"]
    proc = subprocess.run([str(Path(sys.executable).parent / "wandb"), "leet", "inspect", "--summary", "--json",
                           folder], capture_output=True, text=True, timeout=120, env={**os.environ})
    if proc.returncode != 0 and "No such command" in proc.stderr:
        pytest.skip("this wandb has no leet inspect")
    assert proc.returncode == 0, proc.stderr
    shown = json.loads(proc.stdout)
    assert (shown["state"], shown["exit_code"], shown["run_id"]) == ("finished", 0, meta["backends"]["wandb"]["id"])
    assert (shown["project"], shown["name"], shown["step"]) == (full_run["project"], "r1", STEPS - 1)
    assert {k: shown["summary"][k] for k in SUMMARY} == SUMMARY
    assert {k: shown["config"][k] for k in full_run["config"]} == full_run["config"]


def test_tensorboard_channels(full_run):
    run, meta = full_run["run"], full_run["meta"]
    log_dir = Path(meta["backends"]["tensorboard"]["dir"])
    assert log_dir == run.dir / "tensorboard"
    assert all(p.is_file() for p in log_dir.iterdir())  # no sub-folder named after the run
    data = readback.tensorboard_data(log_dir)
    assert data["hparams"]["GPT2_N_LAYER"] == 4 and data["hparams"]["OPTIMIZER"] == "adamw"
    assert data["hparams"].get("provenance/git_commit") == meta["provenance"].get("git_commit")
    assert data["session_ended"]
    steps, counts, limits = zip(*data["histograms"]["z_numerics/hist/fc1/activation"], strict=True)
    assert list(steps) == [0, 10, 20, 30] and counts[0] == [1, 5, 3, 0] and limits[0] == [-4, -2, -1, 0]
    assert "CONFIG_GPT2_N_LAYER=4" in data["texts"]["config"][0][1]
    assert "best_val_loss" in data["texts"]["summary"][0][1] and "python" in data["texts"]["provenance"][0][1]
    assert "train/loss is NaN" in data["texts"]["alerts"][0][1]
    assert not any("perf_state" in tag for tag in data["texts"])
    scalars = readback.tensorboard_scalars(log_dir)
    assert {t for t in scalars if t.startswith("summary/")} >= {f"summary/{k}" for k in SUMMARY}
    assert scalars["summary/best_val_loss"] == [(STEPS - 1, 1.25)]
    assert scalars["system/gpu/utilization"][0][1] == 100.0
    assert not any(t in scalars for t in SUMMARY)  # no one-point groups of their own


def test_journal_holds_every_channel(full_run):
    recs = list(read_records(full_run["run"].dir))
    kinds = {r["type"] for r in recs}
    assert kinds == {"log", "system", "alert", "summary"}
    hist = [r["metrics"]["numerics/hist/fc1/activation"] for r in recs
            if r["type"] == "log" and "numerics/hist/fc1/activation" in r["metrics"]]
    assert hist == [HIST] * 4
    (alert,) = [r for r in recs if r["type"] == "alert"]
    assert alert["step"] == 30 and alert["metrics"]["level"] == "ERROR"
    assert all(isinstance(v, float) for r in recs if r["type"] == "system" for v in r["metrics"].values())


def test_trackio_view_gpu_db_reads_system_metrics(full_run):
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    out = subprocess.run([sys.executable, "-m", "viewer", "--project", full_run["project"], "--gpu-db", "--once"],
                         capture_output=True, text=True, timeout=120, env=env, cwd=Path.cwd())
    assert out.returncode == 0, out.stderr
    assert "Trackio System Metrics" in out.stdout and "GPU 0 latest: util 100.0%" in out.stdout


def test_gpu_step_keys_still_available(cfg, tmp_path, monkeypatch):
    """TRACKER_GPU_STEP_KEYS=y also puts the numeric gpu/* keys into each logged row, never a string."""
    monkeypatch.setenv("KTRACK_SYSFS_ROOT", str(GPU_FIXTURES / "amd_w7900"))
    cfg.TRACKER_GPU_STEP_KEYS = True
    run = trackers.init(cfg=cfg, project="p", run_name="r", run_dir=tmp_path, trackers="none", log_gpu=True)
    run.log({"train/loss": 1.0}, step=0)
    run.finish()
    (row,) = [r["metrics"] for r in read_records(tmp_path) if r["type"] == "log"]
    assert row["gpu/utilization"] == 100.0 and all(isinstance(v, float) for k, v in row.items() if k != "train/loss")
