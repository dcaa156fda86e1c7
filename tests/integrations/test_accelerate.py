"""KtrackTracker against accelerate's ``log_with="trackio"`` on a tiny GPT-2 built in code."""

from __future__ import annotations

import json
import types
from pathlib import Path

import pytest
import torch
from accelerate import Accelerator
# Imported while collecting, so trackio fixes its folder to the session's TRACKIO_DIR (tests/conftest.py)
# and not to the one a test's isolated_env sets: later tests read that folder.
from trackio.utils import TRACKIO_DIR

from tests.integrations.conftest import assert_same, flatten, ktrack_stores, own_config, series, trackio_config
from tests.integrations.hf_job import Tokens, tiny_gpt2
from trackers.backends.trackio_backend import trackio_keys
from rundata.journal import read_records
from trackers.readback import trackio_rows

#: Real accelerate and Trackio runs, read back.
pytestmark = pytest.mark.e2e

HPARAMS = {"lr": 1e-3, "batch_size": 2, "model": "tiny-gpt2", "schedule": {"kind": "constant", "warmup": 0}}


def _train(accelerator: Accelerator, steps: int = 4) -> None:
    """A few optimizer steps, logging like an accelerate script does; evaluation every 2 steps."""
    model = tiny_gpt2()
    optimizer = torch.optim.AdamW(model.parameters(), lr=HPARAMS["lr"])
    model, optimizer = accelerator.prepare(model, optimizer)
    batches, held_out = Tokens(2 * steps, 1), Tokens(2, 2)
    for step in range(1, steps + 1):
        ids = batches.ids[2 * step - 2:2 * step]
        loss = model(input_ids=ids, labels=ids).loss
        accelerator.backward(loss)
        optimizer.step()
        optimizer.zero_grad()
        accelerator.log({"train_loss": loss.item(), "lr": HPARAMS["lr"]}, step=step)
        if step % 2 == 0:
            with torch.no_grad():
                val = model(input_ids=held_out.ids, labels=held_out.ids).loss
            accelerator.log({"eval_loss": val.item()}, step=step)
    accelerator.end_training()




def test_tracker_run_holds_what_trackio_tracker_records(tmp_path: Path, isolated_env: dict[str, str],
                                                        kconfig_file: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from trackers.integrations.accelerate_tracker import KtrackTracker  # importing registers log_with="ktrack"

    theirs_acc = Accelerator(log_with="trackio", cpu=True)
    theirs_acc.init_trackers("acc-trackio", config=HPARAMS, init_kwargs={"trackio": {"name": "tiny"}})
    _train(theirs_acc)
    db = Path(TRACKIO_DIR) / "acc-trackio.db"
    theirs, their_config = trackio_rows(db, "tiny"), flatten(trackio_config(db, "tiny"))

    monkeypatch.setenv("KCONFIG_CONFIG", str(kconfig_file))  # a harness run: Kconfig values join the config
    ours_acc = Accelerator(log_with="ktrack", cpu=True)
    ours_acc.init_trackers("acc-ktrack", config=HPARAMS, init_kwargs={"ktrack": {"run_name": "tiny"}})
    assert isinstance(ours_acc.get_tracker("ktrack"), KtrackTracker)
    run = ours_acc.get_tracker("ktrack", unwrap=True)
    _train(ours_acc)
    ours = ktrack_stores(tmp_path / "runs" / "acc-ktrack" / "tiny")  # init_trackers' name beats kconf-project

    config = ours["meta"]["config"]
    assert run.config == config and own_config(ours["trackio_config"]) == trackio_keys(config)
    for key, value in their_config.items():
        assert config[key] == value, key
    assert config["schedule.kind"] == "constant" and not [k for k in config if k.startswith("versions/")]
    assert ours["meta"]["provenance"]["accelerate"] == ours["trackio_config"]["provenance/accelerate"]
    assert config["GPT2_N_LAYER"] == 12 and config["TRACKER_PROJECT"] == "kconf-project"

    assert [s for s, _ in series(theirs, "train_loss")] == [1, 2, 3, 4]
    assert_same(series(ours["trackio"], "train/loss"), series(theirs, "train_loss"))
    assert_same(series(ours["trackio"], "lr"), series(theirs, "lr"))
    assert_same(series(ours["trackio"], "val/loss"), series(theirs, "eval_loss"))
    assert ours["summary"]["best_val_loss"] == pytest.approx(min(v for _, v in series(theirs, "eval_loss")))

    wandb = ours["wandb"]
    assert (wandb["project"], wandb["name"]) == ("acc-ktrack", "tiny") and wandb["config"]["lr"] == 1e-3
    history = [(r["_step"], r["train/loss"]) for r in wandb["history"] if "train/loss" in r]
    assert_same(history, series(theirs, "train_loss"))
    assert_same(ours["tensorboard"]["val/loss"], series(theirs, "eval_loss"))


def test_instance_takes_init_trackers_project(tmp_path: Path, isolated_env: dict[str, str]) -> None:
    from trackers.integrations.accelerate_tracker import KtrackTracker

    cfg = types.SimpleNamespace(RUNS_DIR=str(tmp_path / "runs"), TRACKER_PROJECT="kconf-project", TRAIN_LR=6e-4)
    tracker = KtrackTracker(run_name="acc", trackers=[], cfg=cfg, capture_console=False)
    accelerator = Accelerator(log_with=[tracker], cpu=True)
    accelerator.init_trackers("from-init", config={"lr": 1e-3})
    accelerator.log({"training_loss": 0.5, "note": "text", "nested": {"a": torch.tensor(2.0)}}, step=3)
    accelerator.end_training()
    run_dir = tmp_path / "runs" / "from-init" / "acc"
    meta = json.loads((run_dir / "config.json").read_text())
    assert meta["config"]["lr"] == 1e-3 and "TRAIN_LR" not in meta["config"]  # not a harness run
    (row,) = [rec for rec in read_records(run_dir) if rec["type"] == "log"]
    assert (row["step"], row["metrics"]) == (3, {"train/loss": 0.5, "nested/a": 2.0})
    assert accelerator.get_tracker("ktrack", unwrap=True) is tracker.run
