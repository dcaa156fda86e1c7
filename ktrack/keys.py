"""The one table of metric keys: what ktrack logs, and which spellings of each role other tools use.

ktrack's trainers log the constants below. Readers (viewer, sweeps, numerics
plots, alerts) and the Hugging Face integrations accept the aliases of each
role, in this one order: ktrack's own key first, then the others; where a run
logged several spellings, the first one wins.

=============  ===================================================================
role           spellings, first found wins
=============  ===================================================================
train loss     ``train/loss``, ``train_loss`` (AdamWPrune, accelerate),
               ``training_loss`` (accelerate), ``loss`` (Hugging Face Trainer)
val loss       ``val/loss``, ``eval/loss`` (Trainer with ``report_to="trackio"``),
               ``eval_loss`` (Trainer), ``val_loss`` (AdamWPrune), ``validation_loss``
learning rate  ``lr``, ``learning_rate`` (Trainer), ``train/lr``, ``train/learning_rate``
sparsity       ``sparsity``, ``train/sparsity``
iteration      ``iteration``, ``iter``, ``train/global_step`` (when steps were not given)
=============  ===================================================================
"""
from __future__ import annotations

TRAIN_LOSS = "train/loss"
VAL_LOSS = "val/loss"
LR = "lr"
SPARSITY = "sparsity"
ITER_TIME_MS = "iter_time_ms"
TOKENS_PER_S = "tokens_per_s"

TRAIN_LOSS_KEYS: tuple[str, ...] = (TRAIN_LOSS, "train_loss", "training_loss", "loss")
VAL_LOSS_KEYS: tuple[str, ...] = (VAL_LOSS, "eval/loss", "eval_loss", "val_loss", "validation_loss")
LR_KEYS: tuple[str, ...] = (LR, "learning_rate", "train/lr", "train/learning_rate")
SPARSITY_KEYS: tuple[str, ...] = (SPARSITY, "train/sparsity")
ITERATION_KEYS: tuple[str, ...] = ("iteration", "iter", "train/global_step")

#: The Hugging Face Trainer's own spellings, renamed by both integrations.
TRAINER_KEYS: dict[str, str] = {"loss": TRAIN_LOSS, "learning_rate": LR, "eval_loss": VAL_LOSS}
#: Every spelling without a ``/`` of the loss and learning-rate roles, renamed by the accelerate tracker.
ACCELERATE_KEYS: dict[str, str] = {alias: key for key, aliases in ((TRAIN_LOSS, TRAIN_LOSS_KEYS),
                                                                  (VAL_LOSS, VAL_LOSS_KEYS), (LR, LR_KEYS))
                                   for alias in aliases if "/" not in alias}
