"""Checking keys and turning logged values into plain Python values.

The training thread only checks keys and copies the dict (:func:`check_metrics`);
tensors are detached there so a later in-place update cannot change them, but
they are read (``.item()``, a GPU sync) in the writer thread by :func:`plain`.
"""

from __future__ import annotations

import math
import numbers
from typing import Any

from trackers.histogram import Histogram

_SKIP = object()


def check_key(key: Any) -> str:
    """Return ``key`` if it is a non-empty string; raise ValueError otherwise."""
    if not isinstance(key, str) or not key.strip():
        raise ValueError(f"metric names must be non-empty strings, got {key!r}; use names like 'train/loss'")
    return key


def check_metrics(metrics: Any) -> dict[str, Any]:
    """Validate a metrics dict in the caller's thread; return a shallow copy.

    Torch tensors are detached and cloned (asynchronous on a GPU) so that the
    writer thread later reads the value as it was at the call.
    """
    if not isinstance(metrics, dict):
        raise ValueError(f"log() takes a dict of metrics, got {type(metrics).__name__}")
    out = {}
    for key, value in metrics.items():
        if type(key) is not str or not key:
            check_key(key)
        if hasattr(value, "detach") and hasattr(value, "clone"):
            value = value.detach().clone()
        out[key] = value
    return out


def check_step(step: Any) -> int | None:
    """Return ``step`` as an int (None stays None); raise ValueError if not integral or < 0."""
    if step is None:
        return None
    if isinstance(step, bool) or not isinstance(step, numbers.Integral):
        if hasattr(step, "item") and getattr(step, "ndim", 0) == 0:
            return check_step(step.item())
        raise ValueError(f"step must be a non-negative int, got {step!r}")
    if step < 0:
        raise ValueError(f"step must be a non-negative int, got {step!r}")
    return int(step)


def scalar(value: Any) -> Any:
    """Return ``value`` as a Python bool/int/float/str (a :class:`Histogram` as it is), or ``_SKIP``.

    Tensors and numpy values with one element become Python numbers; None and
    arrays with more than one element are skipped. NaN and inf stay floats.
    """
    if value is None:
        return _SKIP
    if isinstance(value, (bool, int, float, str, Histogram)):
        return value
    if hasattr(value, "numel") and hasattr(value, "item"):  # torch tensor
        return value.item() if value.numel() == 1 else _SKIP
    if hasattr(value, "item") and hasattr(value, "size"):  # numpy scalar/array
        return value.item() if value.size == 1 else _SKIP
    if isinstance(value, numbers.Integral):
        return int(value)
    if isinstance(value, numbers.Real):
        return float(value)
    return str(value)


def plain(metrics: dict[str, Any]) -> tuple[dict[str, Any], list[str]]:
    """Convert every value with :func:`scalar`; return (values, skipped keys)."""
    out: dict[str, Any] = {}
    skipped: list[str] = []
    for key, value in metrics.items():
        v = scalar(value)
        if v is _SKIP:
            if value is not None:
                skipped.append(key)
            continue
        out[key] = v
    return out, skipped


def to_json(value: Any) -> Any:
    """Non-finite floats as the strings ``NaN``/``Infinity``/``-Infinity`` (what float() reads back);
    a :class:`Histogram` as its ``as_json()`` dict."""
    if isinstance(value, Histogram):
        return value.as_json()
    if isinstance(value, float) and not math.isfinite(value):
        return "NaN" if math.isnan(value) else ("Infinity" if value > 0 else "-Infinity")
    return value


def from_json(value: Any) -> Any:
    """Inverse of :func:`to_json`."""
    if isinstance(value, dict):
        return Histogram.from_json(value) or value
    if value in ("NaN", "Infinity", "-Infinity"):
        return float(value)
    return value


def is_number(value: Any) -> bool:
    """True for int/float/bool (what a scalar chart can draw)."""
    return isinstance(value, (int, float)) and not isinstance(value, str)
