"""config.json holds each value once plus provenance; a resumed run continues one experiment in every tracker."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

import trackers
from trackers import provenance, readback
from rundata.journal import read_records

#: Runs recorded by the real trackers (trackio, wandb, TensorBoard), read back.
pytestmark = pytest.mark.e2e

CONFIG = {"GPT2_N_LAYER": 4, "TRAIN_MAX_ITERS": 20, "TRAIN_LEARNING_RATE": 6e-4, "n_params": 100, "world_size": 1}


def _git(cwd: Path, *args: str) -> str:
    return subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@e", *args], cwd=cwd, check=True,
                          capture_output=True, text=True).stdout


@pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed")
def test_provenance_records_commit_and_saves_the_diff(tmp_path):
    repo = tmp_path / "repo"
    repo.mkdir()
    _git(repo, "init", "-q")
    (repo / "train.py").write_text("lr = 1\n")
    _git(repo, "add", "train.py")
    _git(repo, "commit", "-q", "-m", "one")
    head = _git(repo, "rev-parse", "HEAD").strip()
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    clean = provenance.collect(run_dir, cwd=repo, world=2)
    assert clean["git_commit"] == head and clean["git_dirty"] is False and "git_diff" not in clean
    assert clean["world_size"] == 2 and clean["python"] and clean["kconfiglib"] and clean["host"]
    (repo / "train.py").write_text("lr = 2\n")
    dirty = provenance.collect(run_dir, cwd=repo)
    assert dirty["git_dirty"] is True and dirty["git_diff"] == "git.diff"
    assert "+lr = 2" in (run_dir / "git.diff").read_text()
    outside = tmp_path / "outside"
    outside.mkdir()
    assert "git_commit" not in provenance.collect(run_dir, cwd=outside)  # no git tree: no git fields


def test_each_value_once_in_config_json_and_trackers(cfg, project, tmp_path):
    cfg.GPT2_N_LAYER = 12  # a Kconfig value the caller did not pass: not added
    run = trackers.init(dict(CONFIG), cfg=cfg, project=project, run_name="once", run_dir=tmp_path,
                        trackers="trackio,wandb")
    run.log({"train/loss": 1.0}, step=0)
    run.finish()
    meta = json.loads((tmp_path / "config.json").read_text())
    assert meta["config"] == CONFIG
    assert {"command", "host", "python", "world_size", "trackio", "wandb"} <= set(meta["provenance"])
    tio = readback.trackio_config(readback.trackio_db(project), "once")
    assert {k: tio[k] for k in CONFIG} == CONFIG and not any(k.startswith("CONFIG_") for k in tio)
    w = readback.wandb_run(meta["backends"]["wandb"]["dir"])
    assert set(w["config"]) == set(CONFIG) | {"provenance", "_wandb"}
    assert {k: w["config"][k] for k in CONFIG} == CONFIG


def test_underscore_keys_renamed_for_trackio_only(cfg, project, tmp_path):
    """Trackio refuses config keys starting with ``_`` (Hugging Face's ``_name_or_path``); its backend drops
    the underscores, and ``name_or_path_`` when taken; config.json, W&B and TensorBoard keep the keys."""
    given = {"_name_or_path": "tiny-gpt2", "_attn_implementation": "eager", "__x": 1, "x": 2, "lr": 0.1}
    run = trackers.init(dict(given), cfg=cfg, project=project, run_name="underscore", run_dir=tmp_path,
                        trackers="trackio,wandb,tensorboard")
    run.log({"train/loss": 1.0}, step=0)
    run.finish()
    meta = json.loads((tmp_path / "config.json").read_text())
    assert meta["config"] == given and meta["trackers"] == ["trackio", "wandb", "tensorboard"]
    tio = readback.trackio_config(readback.trackio_db(project), "underscore")
    assert {k: tio[k] for k in ("name_or_path", "attn_implementation", "x", "x_", "lr")} == {
        "name_or_path": "tiny-gpt2", "attn_implementation": "eager", "x": 2, "x_": 1, "lr": 0.1}
    assert not {"_name_or_path", "_attn_implementation", "__x"} & set(tio)
    w = readback.wandb_run(meta["backends"]["wandb"]["dir"])
    assert {k: w["config"][k] for k in given} == given
    hparams = readback.tensorboard_data(meta["backends"]["tensorboard"]["dir"])["hparams"]
    assert hparams["_name_or_path"] == "tiny-gpt2" and hparams["__x"] == 1


def test_resume_continues_one_experiment_everywhere(cfg, project, tmp_path):
    run_dir = tmp_path / "run"
    first = trackers.init(dict(CONFIG), cfg=cfg, project=project, run_name="res", run_dir=run_dir,
                          trackers="trackio,wandb,tensorboard")
    for i in range(5):
        first.log({"train/loss": 2.0 - i * 0.1}, step=i)
    first.summary({"start_val_loss": 4.0, "total_time_s": 1.0})
    first.finish()
    meta1 = json.loads((run_dir / "config.json").read_text())
    wandb_id = meta1["backends"]["wandb"]["id"]

    second = trackers.init(dict(CONFIG), cfg=cfg, project=project, run_name="res", run_dir=run_dir,
                           trackers="trackio,wandb,tensorboard", resume="allow")
    assert second.previous_summary == {"start_val_loss": 4.0, "total_time_s": 1.0}
    for i in range(5, 10):
        second.log({"train/loss": 2.0 - i * 0.1}, step=i)
    second.summary({"total_time_s": second.previous_summary["total_time_s"] + 1.5})
    second.finish()
    assert not [w.error for w in second.workers if w.error]

    meta2 = json.loads((run_dir / "config.json").read_text())
    assert meta2["backends"]["wandb"]["id"] == wandb_id  # not overwritten with a new id
    assert meta2["created"] == meta1["created"] and meta2["provenance"] == meta1["provenance"]
    assert len(meta2["resumes"]) == 1
    dirs = meta2["backends"]["wandb"]["dirs"]
    assert len(dirs) == 2 and all(readback.wandb_run(d)["id"] == wandb_id for d in dirs)
    steps = sorted(r["_step"] for d in dirs for r in readback.wandb_run(d)["history"])
    assert steps == list(range(10))

    rows = readback.trackio_rows(readback.trackio_db(project), "res")
    assert [s for s, m in rows if "train/loss" in m] == list(range(10))
    scalars = readback.tensorboard_scalars(run_dir / "tensorboard")
    assert [s for s, _ in scalars["train/loss"]] == list(range(10))
    # each part's summary once, at its last step (the earlier part's values re-sent on resume make no step-0 point)
    assert scalars["summary/total_time_s"] == [(4, 1.0), (9, 2.5)]

    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary == {"start_val_loss": 4.0, "total_time_s": 2.5}
    tio = readback.trackio_config(readback.trackio_db(project), "res")
    assert tio["summary/start_val_loss"] == 4.0 and tio["summary/total_time_s"] == 2.5
    assert [r["type"] for r in read_records(run_dir)].count("log") == 10
