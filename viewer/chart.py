"""Text charts: the 10x50 ``*`` chart of ``--once`` and braille charts for live mode."""
from __future__ import annotations

import math

from viewer.columns import Column, bucket_points  # noqa: F401 - the names callers import from here


def _row(v: float, vmin: float, vmax: float, rows: int) -> int:
    """Row index from the top (0) for value ``v`` (halves keep +-1e308 ranges finite)."""
    span = vmax / 2 - vmin / 2
    if not span > 0:
        return rows - 1
    r = int(round((vmax / 2 - v / 2) / span * (rows - 1)))
    return min(rows - 1, max(0, r))


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


_DOTS = ((0x01, 0x08), (0x02, 0x10), (0x04, 0x20), (0x40, 0x80))


def braille_chart(cols: list[Column | None], vmin: float, vmax: float,
                  width: int, height: int) -> list[str]:
    """A ``width`` x ``height`` character braille chart (2x4 dots per cell).

    ``cols`` has ``2 * width`` entries; each is drawn as a vertical stroke from
    its min to its max, joined to the previous column so the trace is a line.
    """
    cells = braille_cells(cols, vmin, vmax, width, height)
    return ["".join(chr(0x2800 + c) if c else " " for c in row) for row in cells]


def braille_cells(cols: list[Column | None], vmin: float, vmax: float,
                  width: int, height: int) -> list[list[int]]:
    """The dot bits (0..255 per character cell) of :func:`braille_chart`, row by row;
    several runs' cells can be OR-ed into one overlaid chart."""
    dots_h = height * 4
    cells = [[0] * width for _ in range(height)]
    prev: int | None = None
    cols = _fill_gaps(cols[: 2 * width])
    for x, col in enumerate(cols):
        if col is None:
            prev = None
            continue
        top = _row(col[1], vmin, vmax, dots_h)
        bot = _row(col[0], vmin, vmax, dots_h)
        last = _row(col[2], vmin, vmax, dots_h)
        if prev is not None:
            top, bot = min(top, prev), max(bot, prev)
        row_bits = _DOTS
        half = x % 2
        cx = x // 2
        for y in range(top, bot + 1):
            cells[y >> 2][cx] |= row_bits[y & 3][half]
        prev = last
    return cells


def _fill_gaps(cols: list[Column | None]) -> list[Column | None]:
    """Interpolate empty columns between two drawn ones, so sparse points join."""
    known = [i for i, c in enumerate(cols) if c is not None]
    out = list(cols)
    for a, b in zip(known, known[1:], strict=False):
        ca, cb = cols[a], cols[b]
        assert ca is not None and cb is not None
        va, vb = ca[2], cb[2]
        for i in range(a + 1, b):
            v = va + (vb - va) * (i - a) / (b - a)
            out[i] = (v, v, v)
    return out
