"""Which chart column a step falls in: the one mapping every chart of the viewer uses.

A chart of ``width`` columns over the steps ``lo..hi`` (``n = hi - lo + 1``
of them) puts step ``s`` in column ``floor((s - lo) * width / n)`` when
``n >= width``, so the first step is in column 0 and the last in column
``width - 1``; with fewer steps than columns each step gets its own column,
spread evenly from the first column to the last.  The same points land in
the same columns whichever zoom level (or data source) produced them.
"""
from __future__ import annotations

Column = tuple[float, float, float]  # (min, max, sample) of one chart column; sample = first value


def column_of(offset: int, n: int, width: int) -> int:
    """The column of the step ``offset`` steps after the first, of ``n`` steps in ``width`` columns."""
    if n >= width:
        return offset * width // n
    return offset * (width - 1) // (n - 1) if n > 1 else 0


def column_ranges(lo: int, hi: int, width: int) -> list[tuple[int, int, int]]:
    """(column, first step, last step) of every column that can hold a step of ``lo..hi``."""
    n = hi - lo + 1
    if n < width:
        return [(column_of(d, n, width), lo + d, lo + d) for d in range(n)]
    starts = [lo + -(-c * n // width) for c in range(width)] + [hi + 1]
    return [(c, starts[c], starts[c + 1] - 1) for c in range(width) if starts[c] < starts[c + 1]]


def bucket_points(points: list[tuple[int, float]], width: int) -> tuple[list[Column | None], float, float]:
    """Group (step, value) points, sorted by step, into ``width`` columns.

    Returns the columns (min, max, first value; None where empty), the min
    and the max.
    """
    if not points:
        return [], 0.0, 0.0
    cols: list[list[float] | None] = [None] * width
    lo, n = points[0][0], points[-1][0] - points[0][0] + 1
    for step, v in points:
        c = cols[column_of(step - lo, n, width)]
        if c is None:
            cols[column_of(step - lo, n, width)] = [v, v, v]
        else:
            c[0], c[1] = min(c[0], v), max(c[1], v)
    vals = [v for _, v in points]
    return [(c[0], c[1], c[2]) if c else None for c in cols], min(vals), max(vals)
