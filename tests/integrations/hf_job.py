"""Train a tiny GPT-2 (built from a config in code) with the Trainer, then evaluate, then exit.

    python hf_job.py trackio|ktrack PROJECT RUN OUT_DIR

``trackio``: ``report_to="trackio"`` (Trackio's own integration); ``ktrack``:
``KtrackCallback()`` with no arguments, so the Kconfig configuration found
decides where the run goes. Neither finishes its run: the process just ends.
``OUT_DIR/evaluate.json`` gets what ``trainer.evaluate()`` returned.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import torch
import transformers


class Tokens(torch.utils.data.Dataset):
    """``n`` fixed random sequences of 8 tokens out of 32."""

    def __init__(self, n: int, seed: int) -> None:
        self.ids = torch.randint(0, 32, (n, 8), generator=torch.Generator().manual_seed(seed))

    def __len__(self) -> int:
        return len(self.ids)

    def __getitem__(self, i: int) -> dict:
        return {"input_ids": self.ids[i], "labels": self.ids[i]}


def tiny_gpt2() -> transformers.GPT2LMHeadModel:
    """One layer, 16 dims, 32 tokens: a few thousand parameters, the same weights every time."""
    torch.manual_seed(0)
    config = transformers.GPT2Config(vocab_size=32, n_positions=16, n_embd=16, n_layer=1, n_head=2,
                                     bos_token_id=0, eos_token_id=0)
    return transformers.GPT2LMHeadModel(config)


def main(mode: str, project: str, run: str, out: str) -> None:
    torch.set_num_threads(1)
    args = transformers.TrainingArguments(
        output_dir=str(Path(out) / "trainer"), project=project, run_name=run, max_steps=4, logging_steps=1,
        eval_strategy="steps", eval_steps=2, per_device_train_batch_size=2, per_device_eval_batch_size=2,
        report_to="trackio" if mode == "trackio" else "none", save_strategy="no", use_cpu=True,
        disable_tqdm=True, learning_rate=1e-3, seed=0)
    callbacks = []
    if mode == "ktrack":
        from trackers.integrations.transformers_callback import KtrackCallback

        callbacks.append(KtrackCallback())
    trainer = transformers.Trainer(model=tiny_gpt2(), args=args, train_dataset=Tokens(8, 1),
                                   eval_dataset=Tokens(4, 2), callbacks=callbacks)
    trainer.train()
    result = trainer.evaluate()
    (Path(out) / "evaluate.json").write_text(json.dumps(result))


if __name__ == "__main__":
    main(*sys.argv[1:5])
