"""The public API with the real trackers, read back from what they wrote."""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

import trackers
from rundata.journal import read_records
from trackers.readback import tensorboard_scalars, trackio_db, trackio_rows, wandb_run
from trackers.wandb_file import finished


@pytest.mark.e2e  # real trackers
def test_fan_out_to_all_trackers_and_journal(cfg, project, tmp_path):
    run = trackers.init({"lr": 1e-3}, cfg=cfg, project=project, run_name="r1", run_dir=tmp_path / "run",
                        trackers="trackio,wandb,tensorboard")
    assert (run.project, run.name, run.dir) == (project, "r1", tmp_path / "run")
    for i in range(20):
        run.log({"train/loss": torch.tensor(1.0 / (i + 1)), "lr": np.float64(0.1), "iter": np.int64(i)}, step=i)
    run.log({"val/loss": float("nan")}, step=19)
    run.summary({"best_val_loss": 0.5, "total_time_s": 1.5})
    run.finish()
    assert not [w.error for w in run.workers if w.error]
    recs = [r for r in read_records(run.dir) if r["type"] == "log"]
    assert len(recs) == 21 and math.isnan(recs[-1]["metrics"]["val/loss"])
    assert json.loads((run.dir / "summary.json").read_text()) == {"best_val_loss": 0.5, "total_time_s": 1.5}
    meta = json.loads((run.dir / "config.json").read_text())
    assert meta["config"] == {"lr": 1e-3}  # exactly the dict given: no Kconfig values merged in
    rows = trackio_rows(trackio_db(project), "r1")
    assert [s for s, m in rows if "train/loss" in m] == list(range(20))
    assert rows[5][1]["train/loss"] == pytest.approx(1 / 6)
    assert finished(meta["backends"]["wandb"]["dir"])  # complete once finish() returned: no waiting by readers
    w = wandb_run(meta["backends"]["wandb"]["dir"])
    assert (w["project"], w["name"]) == (project, "r1")
    assert sorted(r["_step"] for r in w["history"]) == list(range(20))
    assert w["summary"]["best_val_loss"] == 0.5 and w["config"]["lr"] == 1e-3
    tb = tensorboard_scalars(meta["backends"]["tensorboard"]["dir"])
    assert [s for s, _ in tb["train/loss"]] == list(range(20))


@pytest.mark.parametrize("bad", ["", 3, None, ("a",)])
def test_bad_key_is_a_clear_error(cfg, tmp_path, bad):
    run = trackers.init(cfg=cfg, project="p", run_name="r", run_dir=tmp_path, trackers="none")
    with pytest.raises(ValueError, match="non-empty strings"):
        run.log({bad: 1.0})


def test_values_and_auto_steps(cfg, tmp_path):
    run = trackers.init(cfg=cfg, project="p", run_name="r", run_dir=tmp_path, trackers="none")
    t = torch.tensor([2.0])
    run.log({"a": t, "b": True, "c": "text", "d": float("inf"), "skip": None, "big": torch.ones(3)})
    t.add_(1)  # a later in-place change does not alter what was logged
    run.log({"a": 1})
    run.log({"a": 2}, step=10)
    run.log({"a": 3})
    run.finish()
    recs = [r for r in read_records(tmp_path) if r["type"] == "log"]
    assert [r["step"] for r in recs] == [0, 1, 10, 11]
    assert recs[0]["metrics"] == {"a": 2.0, "b": True, "c": "text", "d": math.inf}
    assert '"d":"Infinity"' in (tmp_path / "metrics.jsonl").read_text()


def test_arguments_override_config(cfg, tmp_path):
    parser = trackers.add_arguments(argparse.ArgumentParser())
    args = parser.parse_args(["--tracker", "none", "--tracker-project", "cli-proj", "--tracker-run-name", "cli-run"])
    cfg.ENABLE_TRACKIO = True
    cfg.TRACKER_PROJECT = "cfg-proj"
    run = trackers.init(cfg=cfg, args=args, run_dir=tmp_path)
    assert (run.project, run.name, run.trackers) == ("cli-proj", "cli-run", [])
    with pytest.raises(SystemExit):
        parser.parse_args(["--tracker", "wandb2"])


def test_default_names_from_config(cfg, tmp_path, monkeypatch):
    cfg.TRACKER_PROJECT = "gpt2-abcde"
    cfg.RUNS_DIR = str(tmp_path)
    run = trackers.init(cfg=cfg, trackers=[])
    assert run.project == "gpt2-abcde" and run.name.startswith("gpt2_adamw_")
    assert run.dir == tmp_path / "gpt2-abcde" / run.name


def test_module_functions_forward_and_need_init(cfg, tmp_path, monkeypatch):
    monkeypatch.setattr(trackers, "_current", None)
    with pytest.raises(RuntimeError, match="init"):
        trackers.log({"a": 1})
    with trackers.init(cfg=cfg, project="p", run_name="r", run_dir=tmp_path, trackers=[]) as run:
        trackers.log({"a": 1}, step=3)
        trackers.summary({"s": 1})
    assert run.finished and run.step == 3
    trackers.log({"a": 2})  # after finish: ignored with a warning, no crash


@pytest.mark.e2e  # real trackio
def test_mlsteam_api(cfg, project, tmp_path):
    run = trackers.init(cfg=cfg, project=project, run_name="ml", run_dir=tmp_path, trackers="trackio")
    run["model/name"] = "small_bert"
    run["model/layer"] = 4
    for v in (0.9, 0.7, 0.5):
        run["loss/train"].log(v)
    run["loss/val"].log(1.0, step=7)
    run.finish()
    recs = list(read_records(tmp_path))
    series = [(r["step"], r["metrics"]) for r in recs if r["type"] == "series"]
    assert series == [(0, {"loss/train": 0.9}), (1, {"loss/train": 0.7}), (2, {"loss/train": 0.5}),
                      (7, {"loss/val": 1.0})]
    assert all(r["time"] > 0 for r in recs)
    assert json.loads((tmp_path / "summary.json").read_text()) == {"model/name": "small_bert", "model/layer": 4}
    rows = trackio_rows(trackio_db(project), "ml")
    assert [(s, m["loss/train"]) for s, m in rows if "loss/train" in m] == [(0, 0.9), (1, 0.7), (2, 0.5)]


def test_params_get_value(cfg, tmp_path, monkeypatch):
    from trackers import params

    params.reload()
    monkeypatch.setattr(params, "_cfg", lambda: cfg)
    assert params.get_value("TRAIN_BATCH_SIZE", 1) == 12
    assert params.get_value("train_batch_size", 1) == 12
    assert params.get_value("missing", 5) == 5
    sweep = tmp_path / "params.yml"
    sweep.write_text("batch: 128\nTRAIN_BATCH_SIZE: 64\n")
    monkeypatch.setenv("KTRACK_PARAMS", str(sweep))
    assert params.get_value("batch", 1) == 128 and params.get_value("TRAIN_BATCH_SIZE", 1) == 64
    sweep.write_text("[oops")
    import os

    os.utime(sweep, (1, 1))
    with pytest.raises(ValueError, match="KTRACK_PARAMS"):
        params.get_value("batch")


def test_console_capture_restores_streams(cfg, tmp_path):
    before = (sys.stdout, sys.stderr)
    run = trackers.init(cfg=cfg, project="p", run_name="r", run_dir=tmp_path, trackers=[])
    print("hello from training")
    print("an error line", file=sys.stderr)
    run.finish()
    assert (sys.stdout, sys.stderr) == before
    text = (tmp_path / "console.log").read_text()
    assert "hello from training" in text and "an error line" in text


GPU_FIXTURES = Path(__file__).resolve().parents[1] / "gpu" / "fixtures"


def test_gpu_metrics_merged(cfg, tmp_path, monkeypatch, capfd):
    """The real gpu package on the fixture W7900 sysfs tree feeds numeric gpu/* keys to each step
    (with TRACKER_GPU_STEP_KEYS) and to the system rows; strings go to the summary."""

    def one_step(tree: str) -> Path:
        monkeypatch.setenv("KTRACK_SYSFS_ROOT", str(GPU_FIXTURES / tree))
        run = trackers.init(cfg=cfg, project="p", run_name="r", run_dir=tmp_path / tree, trackers=[], log_gpu=True)
        run.log({"train/loss": 1.0})
        run.finish()
        return run.dir

    cfg.TRACKER_GPU_STEP_KEYS = True
    run_dir = one_step("amd_w7900")
    (rec,) = [r for r in read_records(run_dir) if r["type"] == "log"]
    metrics = rec["metrics"]
    assert metrics["train/loss"] == 1.0
    assert metrics["gpu/utilization"] == 100.0 and metrics["gpu/memory_percent"] == pytest.approx(60.8, abs=0.05)
    assert metrics["gpu/temperature_c"] == 70 and metrics["gpu/fan_rpm"] == 1938
    assert "gpu/perf_state" not in metrics
    assert json.loads((run_dir / "summary.json").read_text())["gpu/perf_state"] == "auto"
    assert not any(key.startswith("gpu1/") for key in metrics)
    assert [r["metrics"]["gpu/utilization"] for r in read_records(run_dir) if r["type"] == "system"][:1] == [100.0]

    cfg.GPU_NVML = False
    (rec,) = [r for r in read_records(one_step("mixed")) if r["type"] == "log"]
    assert any(k.startswith("gpu/") for k in rec["metrics"]) and any(k.startswith("gpu1/") for k in rec["metrics"])

    run_dir = one_step("empty")
    assert "no GPU was found" in capfd.readouterr().err
    assert [r["metrics"] for r in read_records(run_dir)] == [{"train/loss": 1.0}]


@pytest.mark.e2e  # real trackers
def test_tensorboard_files_import_into_trackio(cfg, project, tmp_path):
    import tbparse  # noqa: F401 - trackio.import_tf_events needs it
    import trackio

    run = trackers.init(cfg=cfg, project=project, run_name="tb", run_dir=tmp_path, trackers="tensorboard")
    for i in range(5):
        run.log({"train/loss": 1.0 / (i + 1)}, step=i)
    run.finish()
    assert not (tmp_path / "tensorboard" / "tb").exists()  # the run folder is the TensorBoard run
    trackio.import_tf_events(tmp_path / "tensorboard", project=project + "-tb", name="tb")
    rows = [m for _, m in trackio_rows(trackio_db(project + "-tb"), "tb_main") if "train/loss" in m]
    assert len(rows) == 5


def test_group_and_spaces_ids_reach_trackio(cfg, tmp_path, monkeypatch):
    """KTRACK_GROUP and CONFIG_TRACKIO_SPACE_ID/DATASET_ID are passed to trackio.init (no network:
    trackio.init itself is replaced by a recorder here)."""
    import trackio

    seen: dict = {}

    class _Run:
        def log(self, *a, **k):
            pass

        def finish(self):
            pass

    def fake_init(**kwargs):
        seen.update(kwargs)
        return _Run()

    monkeypatch.setattr(trackio, "init", fake_init)
    monkeypatch.setenv("KTRACK_GROUP", "sweep-lr")
    cfg.TRACKIO_SPACE_ID = "me/space"
    cfg.TRACKIO_DATASET_ID = "me/data"
    run = trackers.init(cfg=cfg, project="p", run_name="r", run_dir=tmp_path, trackers="trackio")
    run.log({"train/loss": 1.0}, step=1)
    run.finish()
    assert seen["group"] == "sweep-lr"
    assert seen["space_id"] == "me/space" and seen["dataset_id"] == "me/data"
