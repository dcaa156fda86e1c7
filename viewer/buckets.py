"""How steps fall into bins: the one bucketing of the viewer, for chart columns and for series.

Layout: chart columns (``column_of``, ``column_ranges``, ``bucket_points`` for
points, ``columns`` for a live trace's numpy items), then :class:`StepBuckets`,
the bounded step buckets of a series (``viewer.series.Series``, exact, for
``--once``, ``--compare`` and the cache) and of a live trace
(``viewer.workspace.trace.RunTrace``, every metric of a run at once).

**Chart columns.**
A chart of ``width`` columns over the steps ``lo..hi`` (``n = hi - lo + 1``
of them) puts step ``s`` in column ``floor((s - lo) * width / n)`` when
``n >= width``, so the first step is in column 0 and the last in column
``width - 1``; with fewer steps than columns each step gets its own column,
spread evenly from the first column to the last.  The same points land in
the same columns whichever zoom level (or data source) produced them.

**Step buckets.** A series keeps ``k`` buckets of ``span`` steps each from its
first step ``lo``; a step past the last bucket merges neighbouring buckets in
pairs and doubles the span, as often as needed, so memory stays bounded
whatever the run length (a step before ``lo`` makes the caller read the
series again).
"""
from __future__ import annotations

from typing import Any

Column = tuple[float, float, float]  # (min, max, sample) of one chart column; sample = first value


def column_of(offset: int, n: int, width: int) -> int:
    """The column of the step ``offset`` steps after the first, of ``n`` steps in ``width`` columns."""
    if n >= width:
        return offset * width // n
    return offset * (width - 1) // (n - 1) if n > 1 else offset * 0  # offset: an int or a numpy array


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


def columns(items: Any, lo: int, hi: int, width: int) -> list[Column | None]:
    """(steps, mins, maxs, samples) numpy arrays, by step, placed in ``width`` columns of the
    steps ``lo..hi`` (:func:`column_of`); each column's sample is its first item's."""
    import numpy as np  # imported here: ``--once`` places points with bucket_points, without numpy

    steps, mins, maxs, samples = items
    out: list[Column | None] = [None] * width
    if not len(steps) or width < 1:
        return out
    col = np.clip(column_of(steps - lo, hi - lo + 1, width), 0, width - 1)
    order = np.argsort(col, kind="stable")
    col, mins, maxs, samples = col[order], mins[order], maxs[order], samples[order]
    starts = np.flatnonzero(np.r_[True, col[1:] != col[:-1]])
    cmin, cmax = np.minimum.reduceat(mins, starts), np.maximum.reduceat(maxs, starts)
    for c, a, b, f in zip(col[starts].tolist(), cmin.tolist(), cmax.tolist(), samples[starts].tolist(),
                          strict=True):
        out[c] = (a, b, f)
    return out


class StepBuckets:
    """``k`` buckets of ``span`` steps from step ``lo``: bucket ``b`` holds the steps
    ``lo + b*span .. lo + (b+1)*span - 1``.  What a bucket holds is the subclass's
    (:meth:`_halve` merges it); this class places steps and grows the span."""

    def __init__(self, k: int) -> None:
        self.k = k
        self.lo: int | None = None
        self.span = 1

    def fit(self, lo: int, hi: int) -> int:
        """Start at ``lo`` with the smallest span that holds ``lo..hi``; returns the buckets used."""
        self.lo, self.span = lo, max(1, -(-(hi - lo + 1) // self.k))
        return -(-(hi - lo + 1) // self.span)

    def bucket(self, step: Any) -> Any:
        """The bucket of ``step`` (an int, or a numpy array of steps)."""
        assert self.lo is not None
        return (step - self.lo) // self.span

    def start(self, b: int) -> int:
        """The first step of bucket ``b``."""
        assert self.lo is not None
        return self.lo + b * self.span

    def covering(self, a: int, z: int) -> range:
        """The buckets that may hold steps ``a..z``."""
        assert self.lo is not None
        return range(max(0, (a - self.lo) // self.span), min(self.k - 1, (z - self.lo) // self.span) + 1)

    def make_room(self, first: int, last: int) -> bool:
        """Ready the buckets for new steps ``first..last`` (the first ever sets ``lo``): halve
        while ``last`` falls past the last bucket; False when ``first`` is before ``lo``
        (nothing changed: the caller reads the series again)."""
        if self.lo is None:
            self.lo = first
        if first < self.lo:
            return False
        while (last - self.lo) // self.span >= self.k:
            self._halve()
            self.span *= 2
        return True

    def _halve(self) -> None:
        """Merge neighbouring buckets in pairs into the first half of the buckets (the span
        doubles after it)."""
        raise NotImplementedError
