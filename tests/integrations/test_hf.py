"""The Hugging Face integrations on a tiny GPT-2 built from a config in code (no download)."""

from __future__ import annotations

import json
import types
from pathlib import Path

import pytest

import transformers  # noqa: E402
import torch  # noqa: E402
import accelerate  # noqa: E402,F401


def _records(run_dir: Path) -> list[dict]:
    return [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]


class _Tokens(torch.utils.data.Dataset):
    def __init__(self, n: int) -> None:
        g = torch.Generator().manual_seed(0)
        self.ids = torch.randint(0, 32, (n, 8), generator=g)

    def __len__(self) -> int:
        return len(self.ids)

    def __getitem__(self, i: int) -> dict:
        return {"input_ids": self.ids[i], "labels": self.ids[i]}


def test_trainer_callback_sends_mapped_metrics(tmp_path: Path, isolated_env: dict[str, str],
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    from trackers.integrations.transformers_callback import KtrackCallback

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    model = transformers.GPT2LMHeadModel(transformers.GPT2Config(vocab_size=32, n_positions=16, n_embd=16,
                                                                 n_layer=1, n_head=2))
    args = transformers.TrainingArguments(output_dir=str(tmp_path / "out"), max_steps=4, logging_steps=1,
                                          eval_strategy="steps", eval_steps=2, per_device_train_batch_size=2,
                                          per_device_eval_batch_size=2, report_to="none", save_strategy="no",
                                          use_cpu=True, disable_tqdm=True, learning_rate=1e-3)
    run_dir = tmp_path / "run"
    callback = KtrackCallback(project="hf", run_name="tiny", trackers=[], run_dir=run_dir,
                              cfg=types.SimpleNamespace(), capture_console=False)
    trainer = transformers.Trainer(model=model, args=args, train_dataset=_Tokens(8), eval_dataset=_Tokens(4),
                                   callbacks=[callback])
    trainer.train()
    logs = [r for r in _records(run_dir) if r["type"] == "log"]
    keys = set().union(*(r["metrics"] for r in logs))
    assert {"train/loss", "val/loss", "lr"} <= keys
    assert not {"loss", "eval_loss", "learning_rate", "train_runtime"} & keys
    assert [r["step"] for r in logs if "train/loss" in r["metrics"]] == [1, 2, 3, 4]
    assert [r["step"] for r in logs if "val/loss" in r["metrics"]] == [2, 4]
    summary = json.loads((run_dir / "summary.json").read_text())
    best = min(r["metrics"]["val/loss"] for r in logs if "val/loss" in r["metrics"])
    assert summary["best_val_loss"] == pytest.approx(best) and summary["total_time_s"] > 0
    assert json.loads((run_dir / "config.json").read_text())["config"]["trainer"] == "transformers"


def test_accelerate_tracker(tmp_path: Path, isolated_env: dict[str, str]) -> None:
    from accelerate import Accelerator

    from trackers.integrations.accelerate_tracker import KtrackTracker

    run_dir = tmp_path / "acc"
    tracker = KtrackTracker(run_name="acc", project="hf", trackers=[], run_dir=run_dir,
                            cfg=types.SimpleNamespace(), capture_console=False)
    accelerator = Accelerator(log_with=[tracker], cpu=True)
    accelerator.init_trackers("ignored", config={"lr": 1e-3, "model": "tiny"})
    for step in range(3):
        accelerator.log({"training_loss": 1.0 / (step + 1), "eval_loss": torch.tensor(2.0 - step)}, step=step)
    accelerator.end_training()
    logs = [r for r in _records(run_dir) if r["type"] == "log"]
    assert [r["metrics"] for r in logs][-1] == {"train/loss": pytest.approx(1 / 3), "val/loss": 0.0}
    assert json.loads((run_dir / "summary.json").read_text())["best_val_loss"] == 0.0
    assert json.loads((run_dir / "config.json").read_text())["config"]["lr"] == 1e-3
    assert accelerator.get_tracker("ktrack", unwrap=True) is tracker.run
