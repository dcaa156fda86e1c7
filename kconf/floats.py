"""Which string symbols hold numbers: the table ``kconfig/float-symbols`` beside the Kconfig tree.

Kconfig has no float type, so numbers such as learning rates are string
symbols. The table names them, each with the interval its value must lie in
(``(0, inf)``, ``[0, 1)``); :func:`float_problem` is the one check every path
that sets a value uses.
"""

from __future__ import annotations

import math
import os
import re
from dataclasses import dataclass
from pathlib import Path

import kconfiglib

#: Where the table lives, relative to the tree's root (the folder holding ``Kconfig``).
FLOAT_TABLE = Path("kconfig") / "float-symbols"

_ROW = re.compile(r"^([A-Za-z0-9_]+)\s+([\[(])\s*([^,\s]+)\s*,\s*([^\])\s]+)\s*([\])])$")
_cache: dict[Path, tuple[int, dict[str, "Interval"]]] = {}


class FloatTableError(ValueError):
    """A line of the float table that cannot be read."""


@dataclass(frozen=True)
class Interval:
    """The values a float symbol accepts: ``low`` to ``high``, each end open or closed."""

    low: float
    high: float
    low_open: bool
    high_open: bool

    def __contains__(self, value: float) -> bool:
        above = value > self.low if self.low_open else value >= self.low
        below = value < self.high if self.high_open else value <= self.high
        return above and below

    def __str__(self) -> str:
        def end(x: float) -> str:
            return "inf" if x == math.inf else "-inf" if x == -math.inf else f"{x:g}"
        return f"{'(' if self.low_open else '['}{end(self.low)}, {end(self.high)}{')' if self.high_open else ']'}"


def read_table(path: str | os.PathLike[str]) -> dict[str, Interval]:
    """Parse a float table: ``NAME  [low, high)`` per line, ``#`` comments. Missing file: empty."""
    path = Path(path)
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        return {}
    table: dict[str, Interval] = {}
    for number, raw in enumerate(lines, 1):
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        match = _ROW.match(line)
        try:
            if not match:
                raise ValueError(line)
            name, left, low, high, right = match.groups()
            table[name] = Interval(float(low), float(high), left == "(", right == ")")
        except ValueError:
            raise FloatTableError(f"{path}:{number}: write 'SYMBOL  [low, high)', not {raw.strip()!r}") from None
    return table


def float_table(root: str | os.PathLike[str]) -> dict[str, Interval]:
    """The float table of the tree rooted at ``root`` (re-read when the file changes)."""
    path = Path(root) / FLOAT_TABLE
    try:
        stamp = path.stat().st_mtime_ns
    except OSError:
        return {}
    cached = _cache.get(path)
    if cached is None or cached[0] != stamp:
        cached = (stamp, read_table(path))
        _cache[path] = cached
    return cached[1]


def _tree_table(sym: kconfiglib.Symbol) -> dict[str, Interval]:
    return float_table(sym.kconfig.srctree or ".")


def interval(sym: kconfiglib.Symbol) -> Interval | None:
    """The interval of a float symbol, or None when ``sym`` is not one."""
    if sym.orig_type != kconfiglib.STRING:
        return None
    return _tree_table(sym).get(sym.name)


def is_float_symbol(sym: kconfiglib.Symbol) -> bool:
    """True when the tree's float table lists ``sym`` (a string symbol holding a number)."""
    return interval(sym) is not None


def float_problem(sym: kconfiglib.Symbol, text: str) -> str | None:
    """Why ``text`` cannot be the value of float symbol ``sym``; None when it can (or ``sym`` is no float)."""
    allowed = interval(sym)
    if allowed is None:
        return None
    try:
        value = float(text)
    except ValueError:
        return f"{sym.name}={text!r} is not a number ({sym.name} is a float, e.g. 3e-4)"
    if not math.isfinite(value):
        return f"{sym.name}={text} is not a finite number; give a value in {allowed}"
    if value not in allowed:
        return f"{sym.name}={text} is outside {allowed}; give a value in that interval"
    return None
