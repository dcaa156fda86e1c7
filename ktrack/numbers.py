"""The one test of "is this value a number" for values read back from runs (summaries, journals, configs)."""

from __future__ import annotations

import math
from typing import Any


def number(value: Any, *, finite: bool = False) -> float | None:
    """``value`` as a float when it is an ``int`` or ``float``, else None.

    Booleans and strings are not numbers here (``True`` is no loss of 1.0).
    An integer beyond the float range is ±inf. With ``finite``, NaN and ±inf give None too.
    """
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    try:
        out = float(value)
    except OverflowError:
        out = math.inf if value > 0 else -math.inf
    return out if not finite or math.isfinite(out) else None


def as_text(value: Any) -> str:
    """``value`` as people read it: a float in at most 6 significant digits (``%.6g``:
    ``0.333333``, ``1e-05``), anything else (ints, booleans, strings) as ``str``."""
    return f"{value:.6g}" if isinstance(value, float) else str(value)
