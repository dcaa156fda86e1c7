"""Hugging Face integrations: Trainer callback and accelerate tracker sending metrics through ``trackers``.

    from trackers.integrations.transformers_callback import KtrackCallback
    Trainer(..., args=TrainingArguments(..., report_to="none"), callbacks=[KtrackCallback()])

    from trackers.integrations.accelerate_tracker import KtrackTracker  # registers log_with="ktrack"
    accelerator = Accelerator(log_with="ktrack")
    accelerator.init_trackers("my-project", config=hparams)

Metric keys (docs/integrations.md has the full table): ``loss`` -> ``train/loss``,
``learning_rate`` -> ``lr``, ``eval_loss`` -> ``val/loss``, other ``eval_<x>`` ->
``val/<x>``, ``test_<x>`` (``predict()``) -> ``test/<x>``. Trainer keys without a
``/`` get ``train/`` (``grad_norm`` -> ``train/grad_norm``, ``epoch`` ->
``train/epoch``), as ``report_to="trackio"`` names them; accelerate keeps them
and also maps ``train_loss``/``training_loss`` and ``val_loss``/``validation_loss``.
"""

from __future__ import annotations

import math
from typing import Any, Callable

from ktrack.keys import ACCELERATE_KEYS, TRAINER_KEYS
from ktrack.messages import warn


def _prefixed(key: str) -> str | None:
    for prefix, group in (("eval_", "val/"), ("test_", "test/")):
        if key.startswith(prefix) and len(key) > len(prefix):
            return group + key[len(prefix):]
    return None


def trainer_key(key: str) -> str:
    """The ktrack key of a Trainer log key (table above)."""
    if key in TRAINER_KEYS:
        return TRAINER_KEYS[key]
    return _prefixed(key) or (key if "/" in key else "train/" + key)


def accelerate_key(key: str) -> str:
    """The ktrack key of an ``accelerator.log`` key (table above)."""
    if key in ACCELERATE_KEYS:
        return ACCELERATE_KEYS[key]
    return _prefixed(key) or key


def _loggable(value: Any) -> bool:
    if isinstance(value, (bool, int, float)):
        return True
    return hasattr(value, "item") and callable(value.item)  # tensors and numpy values: read by the writer thread


def map_metrics(logs: dict[str, Any] | None, rename: Callable[[str], str] = accelerate_key) -> dict[str, Any]:
    """``logs`` with keys renamed by ``rename``; nested dicts flattened with ``/``.

    Tensors are passed on as they are (the trackers read them off the
    training thread). Values that are not numbers are left out, with one
    warning per key.
    """
    out: dict[str, Any] = {}
    for key, value in (logs or {}).items():
        if isinstance(value, dict):
            for sub, inner in map_metrics(value, str).items():
                out[f"{rename(str(key))}/{sub}"] = inner
        elif _loggable(value):
            out[rename(str(key))] = value
        elif value is not None:
            warn("trackers", f"{key!r} is a {type(value).__name__}, not a number; not logged as a metric "
                 "(put it in the config instead)", key=f"hf-not-number-{key}")
    return out


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


def best(current: float | None, value: Any) -> float | None:
    """The lower of ``current`` and a finite ``value``."""
    number = to_number(value)
    if number is None or not math.isfinite(number):
        return current
    return number if current is None else min(current, float(number))
