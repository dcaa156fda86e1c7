"""KtrackCallback against ``report_to="trackio"`` on a tiny GPT-2 built in code (no download)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import types
from pathlib import Path

import pytest
import transformers

from tests.integrations.conftest import assert_same, flatten, ktrack_stores, own_config, series, trackio_config
from tests.integrations.hf_job import Tokens, tiny_gpt2
from trackers.backends.trackio_backend import trackio_keys
from rundata.journal import read_records
from trackers.readback import trackio_rows

#: Real Hugging Face Trainer runs with Trackio, W&B and TensorBoard, read back.
pytestmark = pytest.mark.e2e

REPO = Path(__file__).resolve().parents[2]
JOB = Path(__file__).with_name("hf_job.py")
#: TrainingArguments that differ between the two jobs by construction.
DIFFERENT_BY_JOB = {"project", "output_dir", "report_to"}


def _jobs(tmp_path: Path, env: dict[str, str], *jobs: tuple[str, str, str]) -> None:
    """Run hf_job.py once per (mode, project, run), side by side, in a folder holding only a ``.config``."""
    procs = []
    for mode, project, run in jobs:
        out = tmp_path / mode
        out.mkdir()
        procs.append((out, subprocess.Popen([sys.executable, str(JOB), mode, project, run, str(out)],
                                            cwd=tmp_path / "kconfig", env=env, stdout=subprocess.PIPE,
                                            stderr=subprocess.STDOUT, text=True)))
    for out, proc in procs:
        text, _ = proc.communicate(timeout=280)
        (out / "output.txt").write_text(text)
        assert proc.returncode == 0, text[-3000:]




def test_callback_run_holds_what_trackio_integration_records(tmp_path: Path, isolated_env: dict[str, str],
                                                             kconfig_file: Path) -> None:
    env = {**os.environ, **isolated_env, "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1"}
    env.pop("KCONFIG_CONFIG", None)  # a .config in the working directory, but not a harness run
    _jobs(tmp_path, env, ("trackio", "hf-trackio", "tiny"), ("ktrack", "hf-ktrack", "tiny"))
    db = Path(isolated_env["TRACKIO_DIR"]) / "hf-trackio.db"
    theirs = trackio_rows(db, "tiny")
    their_config = flatten(trackio_config(db, "tiny"))
    evaluated = json.loads((tmp_path / "ktrack" / "evaluate.json").read_text())

    # TrainingArguments' names win over Kconfig's; where the run goes comes from the .config found
    run_dir = tmp_path / "runs" / "hf-ktrack" / "tiny"
    ours = ktrack_stores(run_dir)
    assert (ours["meta"]["project"], ours["meta"]["run"]) == ("hf-ktrack", "tiny")
    assert not (tmp_path / "runs" / "kconf-project").exists()

    # config: at least Trackio's (model config, TrainingArguments, parameter count), each value once
    config = ours["meta"]["config"]
    # Trackio's copy renames `_name_or_path` to `name_or_path`
    assert own_config(ours["trackio_config"]) == trackio_keys(config)
    assert config["_name_or_path"] == ours["trackio_config"]["name_or_path"]
    for key, value in their_config.items():
        assert key in config, key
        if key not in DIFFERENT_BY_JOB:
            assert config[key] == value, key
    assert config["model/num_parameters"] == their_config["model/num_parameters"] == tiny_gpt2().num_parameters()
    assert config["n_layer"] == 1 and config["vocab_size"] == 32
    # library versions: once, in the run's provenance (Trackio `provenance/<name>`, W&B `provenance`)
    origin = ours["meta"]["provenance"]
    assert config["transformers_version"] == origin["transformers"] == transformers.__version__
    assert {"torch", "python", "accelerate", "trackio", "wandb", "ktrack"} <= set(origin)
    assert ours["trackio_config"]["provenance/transformers"] == transformers.__version__
    assert not [k for k in config if k.startswith("versions/")]
    assert not [k for k in config if k.startswith(("GPT2_", "TRAIN_", "CONFIG_", "ENABLE_"))], "not a harness run"

    # the same curves, with the global step on the x-axis instead of a train/global_step series
    their_loss = series(theirs, "train/loss", "train/global_step")
    their_val = series(theirs, "eval/loss", "train/global_step")
    assert [s for s, _ in their_loss] == [1, 2, 3, 4] and [s for s, _ in their_val] == [2, 4, 4]
    assert_same(series(ours["trackio"], "train/loss"), their_loss)
    assert_same(series(ours["trackio"], "lr"), series(theirs, "train/learning_rate", "train/global_step"))
    assert_same(series(ours["trackio"], "val/loss"), their_val)
    assert_same(series(ours["journal"], "val/loss"), their_val)
    # the evaluate() after train() is in the run, at the last step
    assert series(ours["trackio"], "val/runtime")[-1] == (4, pytest.approx(evaluated["eval_runtime"]))
    assert ours["summary"]["final_val_loss"] == pytest.approx(evaluated["eval_loss"])

    # no row for the end-of-training log (Trackio's own integration logs {"train/epoch": 1.0} there)
    assert {"train/epoch", "train/global_step"} in [set(m) for _, m in theirs]
    assert all(set(m) - {"train/epoch"} for _, m in ours["journal"])
    assert not any(set(m) <= {"train/epoch", "train/global_step"} for _, m in ours["trackio"])
    assert not any(k.startswith("train_") or k == "total_flos" for _, m in ours["journal"] for k in m)
    summary = ours["summary"]
    assert summary["global_step"] == 4 and summary["train_runtime"] > 0 and summary["total_flos"] > 0
    assert summary["best_val_loss"] == pytest.approx(min(v for _, v in their_val))
    assert "train_loss" in summary  # finished at process exit: summary.json exists

    # W&B offline and TensorBoard copies
    wandb = ours["wandb"]
    assert (wandb["project"], wandb["name"]) == ("hf-ktrack", "tiny")
    assert wandb["config"]["model/num_parameters"] == config["model/num_parameters"]
    assert wandb["config"]["n_layer"] == 1 and wandb["config"]["learning_rate"] == pytest.approx(1e-3)
    assert wandb["config"]["_name_or_path"] == config["_name_or_path"]  # W&B keeps the key as given
    assert wandb["config"]["provenance"]["transformers"] == transformers.__version__
    history = [r for r in wandb["history"] if "train/loss" in r]
    assert_same([(r["_step"], r["train/loss"]) for r in history], their_loss)
    assert sorted({r["_step"] for r in wandb["history"] if "val/loss" in r}) == [2, 4]
    tensorboard = ours["tensorboard"]
    assert_same(tensorboard["train/loss"], their_loss)
    assert_same(tensorboard["val/loss"], their_val)


def _train(tmp_path: Path, callback: object, evaluate: bool = False, **overrides: object) -> transformers.Trainer:
    values: dict = dict(output_dir=str(tmp_path / "out"), max_steps=2, logging_steps=1, eval_strategy="steps",
                        eval_steps=2, per_device_train_batch_size=2, per_device_eval_batch_size=2, report_to="none",
                        save_strategy="no", use_cpu=True, disable_tqdm=True, seed=0)
    values.update(overrides)
    trainer = transformers.Trainer(model=tiny_gpt2(), args=transformers.TrainingArguments(**values),
                                   train_dataset=Tokens(4, 1), eval_dataset=Tokens(2, 2), callbacks=[callback])
    trainer.train()
    if evaluate:
        trainer.evaluate()
    return trainer


def test_harness_run_gets_kconfig_values_and_names(tmp_path: Path, isolated_env: dict[str, str],
                                                   kconfig_file: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from trackers.integrations.transformers_callback import KtrackCallback

    monkeypatch.setenv("KCONFIG_CONFIG", str(kconfig_file))  # as make and sweep jobs set it
    callback = KtrackCallback(trackers=[], capture_console=False)
    _train(tmp_path, callback)  # neither TrainingArguments.project nor run_name given
    callback.finish()
    meta = json.loads((tmp_path / "runs" / "kconf-project" / "kconf-run" / "config.json").read_text())
    config = meta["config"]
    assert config["GPT2_N_LAYER"] == 12 and config["ENABLE_WANDB"] is True and config["n_layer"] == 1
    assert not [k for k in config if k.startswith("CONFIG_")]

    named = KtrackCallback(trackers=[], capture_console=False)
    _train(tmp_path, named, project="given-project", run_name="given-run")
    named.finish()
    assert (tmp_path / "runs" / "given-project" / "given-run" / "config.json").is_file()


def test_outside_the_harness_names_default_to_hugging_faces(tmp_path: Path, isolated_env: dict[str, str],
                                                           kconfig_file: Path) -> None:
    from trackers.integrations.transformers_callback import KtrackCallback

    cfg = types.SimpleNamespace(RUNS_DIR=str(tmp_path / "runs"), TRACKER_PROJECT="kconf-project", GPT2_N_LAYER=12)
    callback = KtrackCallback(cfg=cfg, trackers=[], capture_console=False)
    _train(tmp_path, callback)
    run = callback.run
    callback.finish()
    assert run.project == "huggingface" and run.name.startswith("gpt2_adamw")
    assert "GPT2_N_LAYER" not in run.config and "TRACKER_PROJECT" not in run.config


def test_evaluate_and_predict_without_training_start_the_run(tmp_path: Path, isolated_env: dict[str, str]) -> None:
    from trackers.integrations.transformers_callback import KtrackCallback

    callback = KtrackCallback(run_dir=tmp_path / "run", trackers=[], cfg=types.SimpleNamespace(),
                              capture_console=False)
    args = transformers.TrainingArguments(output_dir=str(tmp_path / "out"), report_to="none", use_cpu=True,
                                          per_device_eval_batch_size=2, disable_tqdm=True)
    trainer = transformers.Trainer(model=tiny_gpt2(), args=args, eval_dataset=Tokens(2, 2), callbacks=[callback])
    trainer.evaluate()
    trainer.predict(Tokens(2, 3))
    callback.finish()
    journal = list(read_records(tmp_path / "run"))
    logs = [(r["step"], set(r["metrics"])) for r in journal if r["type"] == "log"]
    assert [s for s, _ in logs] == [0, 0]
    assert "val/loss" in logs[0][1] and "test/loss" in logs[1][1]


def test_bad_run_name_is_refused_before_training(tmp_path: Path, isolated_env: dict[str, str]) -> None:
    from trackers.integrations.transformers_callback import KtrackCallback
    from ktrack.names import BadName

    callback = KtrackCallback(trackers=[], cfg=types.SimpleNamespace(RUNS_DIR=str(tmp_path / "runs")),
                              capture_console=False)
    with pytest.raises(BadName, match="cannot contain '/'"):
        _train(tmp_path, callback, run_name="a/b")
    assert not (tmp_path / "runs").exists()


def test_each_hyperparameter_search_trial_is_a_run(tmp_path: Path, isolated_env: dict[str, str]) -> None:
    from trackers.integrations.transformers_callback import KtrackCallback

    callback = KtrackCallback(trackers=[], cfg=types.SimpleNamespace(RUNS_DIR=str(tmp_path / "runs")),
                              capture_console=False)
    args = transformers.TrainingArguments(output_dir=str(tmp_path / "out"), run_name="search", report_to="none",
                                          use_cpu=True)
    control = transformers.TrainerControl()
    runs = []
    for trial, lr in (("t0", 1e-3), ("t1", 1e-4)):
        state = transformers.TrainerState(is_hyper_param_search=True, trial_name=trial,
                                          trial_params={"learning_rate": lr})
        callback.on_train_begin(args, state, control, model=tiny_gpt2())
        callback.on_log(args, state, control, logs={"loss": 1.0})
        runs.append(callback.run)
    callback.finish()
    assert [r.name for r in runs] == ["search-t0", "search-t1"] and runs[0].finished and runs[1].finished
    assert runs[1].config["trial_params.learning_rate"] == 1e-4
