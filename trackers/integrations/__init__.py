"""Hugging Face integrations: Trainer callback and accelerate tracker sending metrics through ``trackers``.

    from trackers.integrations.transformers_callback import KtrackCallback
    Trainer(..., callbacks=[KtrackCallback()])          # report_to="none" avoids double logging

    from trackers.integrations.accelerate_tracker import KtrackTracker
    accelerator = Accelerator(log_with=[KtrackTracker(run_name="x")])

Both start the run with :func:`trackers.init`, so the Kconfig configuration
decides the backends (Trackio, W&B, TensorBoard) and the run directory.
"""

from __future__ import annotations

import math
from typing import Any

#: Hugging Face metric names -> ktrack metric keys.
KEY_MAP = {
    "loss": "train/loss", "train_loss": "train/loss", "training_loss": "train/loss",
    "eval_loss": "val/loss", "val_loss": "val/loss", "validation_loss": "val/loss",
    "learning_rate": "lr", "lr": "lr",
}


def to_number(value: Any) -> float | int | None:
    """A loggable number from ``value`` (tensors and numpy scalars included), else None."""
    if hasattr(value, "item") and callable(value.item):
        try:
            value = value.item()
        except (ValueError, RuntimeError):  # a tensor with more than one element
            return None
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, (int, float)):
        return value
    return None


def map_metrics(logs: dict[str, Any]) -> dict[str, float | int]:
    """``loss`` -> ``train/loss``, ``eval_loss`` -> ``val/loss``, ``learning_rate`` -> ``lr``;
    other ``eval_X`` -> ``val/X``; other numbers keep their names; non-numbers are dropped."""
    out: dict[str, float | int] = {}
    for key, value in (logs or {}).items():
        number = to_number(value)
        if number is None:
            continue
        if key in KEY_MAP:
            name = KEY_MAP[key]
        elif key.startswith("eval_"):
            name = "val/" + key[5:]
        else:
            name = key
        out[name] = number
    return out


def best(current: float | None, value: Any) -> float | None:
    """The lower of ``current`` and a finite ``value``."""
    number = to_number(value)
    if number is None or not math.isfinite(number):
        return current
    return number if current is None else min(current, float(number))
