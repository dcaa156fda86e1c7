"""Checking keys and steps, turning logged values into plain Python values, and what each tracker stores.

The training thread only checks keys and copies the dict (:func:`check_metrics`);
tensors are detached there so a later in-place update cannot change them, but
they are read (``.item()``, a GPU sync) in the writer thread by :func:`plain`.

Every plain value goes to the journal as it is (integers of any size up to
what Python's ``json`` reads back, text with lone surrogates as ``\\udXXX``
escapes). A tracker declares the values it stores as they are with
:class:`Limits`; :func:`cannot_store` says why one is not, and the value is
then left out for that tracker alone (the run's workers and replay both ask).
"""

from __future__ import annotations

import math
import numbers
import sys
from typing import Any, NamedTuple

from ktrack.messages import shown
from rundata.histogram import Histogram
from rundata.journal import MAX_STEP

INT64_MIN, INT64_MAX = -2**63, 2**63 - 1
#: The largest finite float32: TensorBoard keeps every scalar as one.
FLOAT32_MAX = 3.4028234663852886e38


class Limits(NamedTuple):
    """The numbers a tracker stores as they are: integers in ``[int_min, int_max]``, floats up to
    ``float_max`` in magnitude (larger finite ones would become inf). Text must be valid UTF-8."""

    int_min: int
    int_max: int
    float_max: float = math.inf


def check_key(key: Any) -> str:
    """Return ``key`` if it is a non-empty string every tracker can store; raise ValueError otherwise."""
    if not isinstance(key, str) or not key.strip():
        raise ValueError(f"metric names must be non-empty strings, got {key!r}; use names like 'train/loss'")
    if not _utf8(key):
        raise ValueError(f"metric name {key!r} is not valid UTF-8 text (a lone surrogate); no tracker stores it")
    return key


def _utf8(text: str) -> bool:
    if text.isascii():
        return True
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def check_metrics(metrics: Any) -> dict[str, Any]:
    """Validate a metrics dict in the caller's thread; return a shallow copy.

    Torch tensors are detached and cloned (asynchronous on a GPU) so that the
    writer thread later reads the value as it was at the call.
    """
    if not isinstance(metrics, dict):
        raise ValueError(f"log() takes a dict of metrics, got {type(metrics).__name__}")
    out = {}
    for key, value in metrics.items():
        if type(key) is not str or not key or not key.isascii():
            check_key(key)
        if hasattr(value, "detach") and hasattr(value, "clone"):
            value = value.detach().clone()
        out[key] = value
    return out


def check_step(step: Any) -> int | None:
    """Return ``step`` as an int (None stays None); raise ValueError if not integral, < 0 or > :data:`MAX_STEP`."""
    if step is None:
        return None
    if isinstance(step, bool) or not isinstance(step, numbers.Integral):
        if hasattr(step, "item") and getattr(step, "ndim", 0) == 0:
            return check_step(step.item())
        raise ValueError(f"step must be a non-negative int, got {shown(step)}")
    value = int(step)
    if not 0 <= value <= MAX_STEP:
        raise ValueError(f"step must be an int from 0 to 2**63-1 (what every tracker stores), got {shown(step)}")
    return value


def next_step(last: int) -> int:
    """The step after ``last``; ValueError after :data:`MAX_STEP`, which has none."""
    if last >= MAX_STEP:
        raise ValueError(f"step must be an int from 0 to 2**63-1 (what every tracker stores); the last step "
                         f"logged was {MAX_STEP}, so there is no next one")
    return last + 1


class Skipped(NamedTuple):
    """What :func:`scalar` gives for a value it does not keep: why (``'k' <why>; not logged``)."""

    why: str


_NOT_SCALAR = Skipped("is not a scalar (tensor/array with more than one element)")


def scalar(value: Any) -> Any:
    """Return ``value`` as a Python bool/int/float/str (a :class:`Histogram` as it is), or :class:`Skipped`.

    Tensors and numpy values with one element become Python numbers (a numpy
    long double a float); other integral numbers become ``int``, other real
    ones ``float``, complex numbers and other objects their text. Skipped:
    arrays with more than one element, a real number beyond the float range,
    an integer too long for JSON to read back. None gives None. NaN and inf
    stay floats.
    """
    if value is None:
        return None
    if isinstance(value, (str, Histogram)):
        return value
    if type(value) in (bool, float):
        return value
    if type(value) is int:
        return value if INT64_MIN <= value <= 2**64 or _json_int(value) else Skipped("is an integer too long for JSON")
    if hasattr(value, "item") and (hasattr(value, "numel") or hasattr(value, "size")):  # torch tensor, numpy value
        if (value.numel() if hasattr(value, "numel") else value.size) != 1:
            return _NOT_SCALAR
        item = value.item()
        if type(item) is not type(value):  # numpy's long double stays itself: converted below
            return scalar(item)
    if isinstance(value, bool):
        return bool(value)
    if isinstance(value, numbers.Integral):
        return scalar(int(value))
    if isinstance(value, numbers.Real):
        try:
            return float(value)
        except OverflowError:
            return Skipped("is beyond the float range")
    return str(value)


def _json_int(value: int) -> bool:
    """True when Python's ``json`` writes and reads ``value`` back (it has a cap on digits)."""
    limit = sys.get_int_max_str_digits()
    return not limit or value.bit_length() * 0.30103 < limit - 1


def plain(metrics: dict[str, Any]) -> tuple[dict[str, Any], dict[str, str]]:
    """Convert every value with :func:`scalar`; return (values, {skipped key: why}). None values are dropped."""
    out: dict[str, Any] = {}
    skipped: dict[str, str] = {}
    for key, value in metrics.items():
        v = scalar(value)
        if isinstance(v, Skipped):
            skipped[key] = v.why
        elif v is not None:
            out[key] = v
    return out, skipped


def cannot_store(value: Any, limits: Limits) -> str | None:
    """Why a tracker with ``limits`` cannot store the plain ``value`` as it is, or None when it can."""
    if isinstance(value, str):
        return None if _utf8(value) else "text that is not valid UTF-8"
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        if not limits.int_min <= value <= limits.int_max:
            return "an integer beyond the range it stores"
        return None if abs(value) <= limits.float_max else "a number beyond the range it stores"
    if isinstance(value, float) and math.isfinite(value) and abs(value) > limits.float_max:
        return "a number it would store as infinity"
    return None


def storable(metrics: dict[str, Any], limits: Limits | None) -> tuple[dict[str, Any], dict[str, str]]:
    """``metrics`` without the values a tracker with ``limits`` cannot store; and {left-out key: why}."""
    if limits is None:
        return metrics, {}
    left: dict[str, str] = {}
    for key, value in metrics.items():
        why = cannot_store(value, limits)
        if why is not None:
            left[key] = why
    if not left:
        return metrics, left
    return {k: v for k, v in metrics.items() if k not in left}, left


def is_number(value: Any) -> bool:
    """True for int/float/bool (what a scalar chart can draw)."""
    return isinstance(value, (int, float)) and not isinstance(value, str)
