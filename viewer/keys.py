"""The metric-key roles the viewer reads (their spellings live in :mod:`ktrack.keys`).

GPU keys and their spellings are the GPU field table's (:mod:`gpu.fields`).
"""
from __future__ import annotations

from ktrack.keys import ITERATION_KEYS, LR_KEYS, SPARSITY_KEYS, TRAIN_LOSS_KEYS, VAL_LOSS_KEYS

ALIASES: dict[str, tuple[str, ...]] = {
    "loss": TRAIN_LOSS_KEYS + VAL_LOSS_KEYS,
    "val_loss": VAL_LOSS_KEYS,
    "lr": LR_KEYS,
    "sparsity": SPARSITY_KEYS,
    "iteration": ITERATION_KEYS,
}


def pick(role: str, present: set[str] | list[str]) -> str | None:
    """Return the first alias of ``role`` found in ``present``, or None."""
    have = set(present)
    return next((key for key in ALIASES[role] if key in have), None)


