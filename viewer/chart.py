"""Text charts, the viewer's one renderer of them: the 10x50 ``*`` chart of ``--once``
and the braille charts of the live screens (the workspace's chart cells, ``--gpu``).

Layout: row placement and labels of the ``--once`` chart (``star_row``,
``label_format``, ``chart_labels``, ``star_lines``, ``star_chart``), then the
braille charts (``braille_bits``, ``braille_chart``).  Columns come from
:mod:`viewer.buckets`.
"""
from __future__ import annotations

import math
from typing import Any

from viewer.buckets import Column


def star_row(v: float, vmin: float, vmax: float, rows: int) -> int:
    """Row index from the top (0) of a ``--once`` star, placed as the seed's tool places it:
    floor((max - v) / (max - min) * (rows - 1)), so only the minimum reaches the bottom row
    (a flat range is drawn in the top row; halves keep +-1e308 ranges finite)."""
    span = vmax / 2 - vmin / 2
    if not span > 0:
        return 0
    return min(rows - 1, max(0, math.floor((vmax / 2 - v / 2) / span * (rows - 1))))


def label_format(vmin: float, vmax: float, height: int = 10) -> str:
    """Format of y labels that tells the rows apart for any metric's range.

    The ``--once`` loss chart uses 2 decimals (:func:`star_chart`'s default);
    ``--metric`` charts of tiny or huge values (numerics statistics) need more.
    """
    step = (vmax - vmin) / max(1, height - 1)
    biggest = max(abs(vmin), abs(vmax))
    if biggest >= 1e6 or (0 < biggest < 1e-3):
        return "{:10.3e}"
    decimals = 2 if step <= 0 or step >= 0.005 else min(8, 1 - math.floor(math.log10(step)))
    return "{:7.%df}" % decimals


HEIGHT = 10  # rows of the ``--once`` chart


def chart_labels(vmin: float, vmax: float, height: int = HEIGHT) -> list[float]:
    """The y label values of the ``--once`` chart, max (top) to min (bottom)."""
    step = (vmax - vmin) / (height - 1) if height > 1 else 0.0
    values = [vmax - i * step for i in range(height)]
    if not all(math.isfinite(v) for v in values):  # a range wider than the largest float
        values = [vmax * (1 - i / (height - 1)) + vmin * (i / (height - 1)) for i in range(height)]
    return values


def star_lines(rows: list[int | None], labels: list[float], fmt: str = "{:7.2f}", width: int = 50) -> list[str]:
    """The ``--once`` chart from each column's star row (None: no star) and the y label
    values: labels in ``fmt``, ``|``, the stars, and a ``+---`` base of ``width`` dashes."""
    grid = [[" "] * width for _ in labels]
    for x, r in enumerate(rows[:width]):
        if r is not None:
            grid[r][x] = "*"
    shown = [fmt.format(v) for v in labels]
    pad = max(len(label) for label in shown)
    lines = [f"{label:>{pad}} |{''.join(grid[i])}".rstrip() for i, label in enumerate(shown)]
    lines.append(" " * (pad + 1) + "+" + "-" * width)
    return lines


def star_chart(cols: list[Column | None], vmin: float, vmax: float,
               width: int = 50, height: int = HEIGHT, fmt: str = "{:7.2f}") -> list[str]:
    """The ``--once`` chart: y labels (``fmt``, by default 2 decimals right-aligned
    in 7), ``|``, one ``*`` per column at its sample value (:func:`star_row`), and
    a ``+---`` base of ``width`` dashes under the axis."""
    rows = [None if c is None else star_row(c[2], vmin, vmax, height) for c in cols[:width]]
    return star_lines(rows, chart_labels(vmin, vmax, height), fmt, width)


# One braille character per 2x4 dots: the bit of each dot, by dot row (0..3) and column (0..1).
_DOT_BITS = ((0x01, 0x08), (0x02, 0x10), (0x04, 0x20), (0x40, 0x80))
BRAILLE = [chr(0x2800 + b) if b else " " for b in range(256)]  # dot bits -> character (none: a space)


def braille_bits(cols: list[Column | None], vmin: float, vmax: float, width: int, height: int) -> Any:
    """The dot bits (0..255 per character cell) of a ``width`` x ``height`` braille chart
    of ``2 * width`` columns, as an ``height`` x ``width`` numpy array.

    Each column is drawn as a vertical stroke from its min to its max, joined to
    the previous column so the trace is a line; empty columns between two drawn
    ones are interpolated from their samples, so sparse points join.  Several
    runs' bits can be OR-ed into one overlaid chart.  numpy is imported here, not
    with the module: ``--once`` draws star charts only.
    """
    import numpy as np

    n = 2 * width
    lo, hi, sample = (np.full(n, np.nan) for _ in range(3))
    for x, c in enumerate(cols[:n]):
        if c is not None:
            lo[x], hi[x], sample[x] = c
    known = np.flatnonzero(~np.isnan(lo))
    if known.size >= 2:
        inner = np.arange(known[0], known[-1] + 1)
        gap = inner[np.isnan(lo[inner])]
        v = np.interp(gap, known, sample[known])
        lo[gap] = hi[gap] = sample[gap] = v
    dots = height * 4
    span = vmax / 2 - vmin / 2  # halves keep +-1e308 ranges finite

    def row(v: Any) -> Any:  # dot row from the top (0) of each value
        if not span > 0:
            return np.full(v.shape, dots - 1)
        with np.errstate(invalid="ignore"):
            r = np.round((vmax / 2 - v / 2) / span * (dots - 1))
        return np.clip(np.nan_to_num(r, nan=dots - 1), 0, dots - 1).astype(np.int64)

    have = ~np.isnan(lo)
    top, bot, last = row(hi), row(lo), row(sample)
    prev = np.r_[-1, last[:-1]]
    joined = have & np.r_[False, have[:-1]]
    top = np.where(joined, np.minimum(top, prev), top)
    bot = np.where(joined, np.maximum(bot, prev), bot)
    ys = np.arange(dots)[:, None]
    mask = (ys >= top) & (ys <= bot) & have
    return (mask.reshape(height, 4, width, 2) * np.array(_DOT_BITS)[None, :, None, :]).sum(axis=(1, 3))


def braille_chart(cols: list[Column | None], vmin: float, vmax: float,
                  width: int, height: int) -> list[str]:
    """A ``width`` x ``height`` character braille chart (2x4 dots per cell) of ``2 * width``
    columns, one string per row (:func:`braille_bits` draws it)."""
    return ["".join(map(BRAILLE.__getitem__, r)) for r in braille_bits(cols, vmin, vmax, width, height).tolist()]
