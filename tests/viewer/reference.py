"""A simple reference for what the viewer shows, computed in Python from decoded rows.

Independent of the viewer's SQL: points are the rows' JSON values that are
numbers (booleans as 0/1, NaN/inf and Trackio's "NaN"/"Infinity" strings
left out), ordered by (step, row id); a chart of ``width`` columns over the
steps lo..hi puts step s in column floor((s - lo) * width / n) (n = hi - lo + 1)
or, with fewer steps than columns, spreads the steps from the first column
to the last.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

ZOOM = (None, 500, 200, 100, 50)


def number(v: Any) -> float | None:
    """The value a chart draws, or None."""
    if isinstance(v, bool):
        return float(v)
    if isinstance(v, (int, float)) and math.isfinite(float(v)):
        return float(v)
    return None


def points(rows: list[tuple[int, int, dict]], key: str) -> list[tuple[int, float]]:
    """(step, value) of ``key`` from (id, step, metrics) rows, by step then id."""
    out = []
    for _rid, step, metrics in sorted(rows, key=lambda r: (r[1], r[0])):
        v = number(metrics.get(key))
        if v is not None:
            out.append((step, v))
    return out


def nonfinite(v: Any) -> str | None:
    """``nan``, ``inf`` or ``-inf`` for a NaN or infinite value (or Trackio's strings for them), else None."""
    if isinstance(v, float) and not math.isfinite(v):
        return str(v)
    return {"NaN": "nan", "Infinity": "inf", "-Infinity": "-inf"}.get(v) if isinstance(v, str) else None


def diverged(rows: list[tuple[int, int, dict]], key: str, last_finite: int) -> tuple[int, int, str] | None:
    """Where a run went after its last finite ``key`` value at step ``last_finite``: the first
    and last step of the rows holding ``key`` (any value) after it and the last one's value as
    ``nan``/``inf``/``-inf``, when that newest row (by step, then id) holds no finite value."""
    after = sorted(((step, rid, m[key]) for rid, step, m in rows if key in m and step > last_finite),
                   key=lambda t: (t[0], t[1]))
    shown = nonfinite(after[-1][2]) if after else None
    return None if shown is None else (after[0][0], after[-1][0], shown)


@dataclass
class Ref:
    """The reference view."""

    first: tuple[int, float]
    last: tuple[int, float]
    vmin: float
    vmax: float
    cols: list[tuple[float, float, float] | None]


def column(offset: int, n: int, width: int) -> int:
    """The column of a step ``offset`` steps after the first."""
    if n >= width:
        return offset * width // n
    return offset * (width - 1) // (n - 1) if n > 1 else 0


def view(pts: list[tuple[int, float]], zoom: int, width: int) -> Ref | None:
    """The reference of zoom level ``zoom`` in ``width`` columns."""
    n_pts = ZOOM[zoom]
    pts = pts[-n_pts:] if n_pts else pts
    if not pts:
        return None
    lo, hi = pts[0][0], pts[-1][0]
    cols: list[list[float] | None] = [None] * width
    for step, v in pts:
        c = column(step - lo, hi - lo + 1, width)
        if cols[c] is None:
            cols[c] = [v, v, v]
        else:
            cols[c][0] = min(cols[c][0], v)
            cols[c][1] = max(cols[c][1], v)
    vals = [v for _, v in pts]
    return Ref(pts[0], pts[-1], min(vals), max(vals), [tuple(c) if c else None for c in cols])


def _fmt_sparsity(v: float) -> str:
    return f"{v * 100 if abs(v) <= 1 else v:.1f}%"


def chart(ref: Ref, fmt: str) -> list[str]:
    """The 10-row star chart: one star per column at its first value's row, counted down
    from the top by floor((max - value) / (max - min) * 9)."""
    height, width = 10, len(ref.cols)
    lo, hi = ref.vmin, ref.vmax
    labels = []
    for i in range(height):
        t = i / (height - 1)
        v = hi - i * ((hi - lo) / (height - 1))
        labels.append(fmt.format(v if math.isfinite(v) else hi * (1 - t) + lo * t))
    grid = [[" "] * width for _ in range(height)]
    for x, col in enumerate(ref.cols):
        if col is None:
            continue
        frac = 0.0 if not hi / 2 - lo / 2 > 0 else (hi / 2 - col[2] / 2) / (hi / 2 - lo / 2)
        row = min(height - 1, max(0, math.floor(frac * (height - 1))))  # the seed's floor placement
        grid[row][x] = "*"
    pad = max(len(label) for label in labels)
    return [f"{label:>{pad}} |{''.join(grid[i])}".rstrip() for i, label in enumerate(labels)] + \
        [" " * (pad + 1) + "+" + "-" * width]


def once_text(project: str, zoom: int, pts: list[tuple[int, float]], lr: float | None,
              sparsity: float | None, label_fmt: str, gone: tuple[int, int, str] | None = None) -> str:
    """The expected ``--once`` block for the loss points ``pts`` (the documented layout);
    ``gone``: where the run diverged (:func:`diverged`), if it did."""
    ref = view(pts, zoom, 50)
    assert ref is not None
    change = ref.last[1] - ref.first[1]
    latest = [f"Latest Iteration: {ref.last[0]}", f"Latest Loss: {ref.last[1]:.4f}"] if gone is None else [
        f"Latest Iteration: {gone[1]} (diverged: Loss not finite since iteration {gone[0]})",
        f"Latest Loss: {gone[2]} (last finite {ref.last[1]:.4f} at iteration {ref.last[0]})"]
    lines = ["=" * 60, f"TrackIO Dashboard - Project: {project}",
             f"View: {('All data', 'Last 500', 'Last 200', 'Last 100', 'Last 50')[zoom]}", "=" * 60, "",
             *latest,
             f"Loss Change: {'+' if change >= 0 else ''}{change:.4f} (from {ref.first[1]:.4f})",
             f"Min Loss: {ref.vmin:.4f}", f"Max Loss: {ref.vmax:.4f}"]
    if lr is not None:
        lines.append(f"Learning Rate: {lr:.2e}")
    if sparsity is not None:
        lines.append(f"Sparsity: {_fmt_sparsity(sparsity)}")
    lines += ["", f"Loss Trend (Iterations {ref.first[0]} to {ref.last[0]}):"]
    big = max(abs(ref.vmin), abs(ref.vmax))
    return "\n".join(lines + chart(ref, "{:7.2f}" if big < 1e9 else label_fmt))


def close(a: float, b: float) -> bool:
    """Equal but for SQLite's last-bit rounding of text (the numbers shown are exact)."""
    return a == b or math.isclose(a, b, rel_tol=1e-15, abs_tol=0.0)


def same(got: Any, ref: Ref | None) -> bool:
    """A viewer View equals the reference: shown numbers exactly, column extremes to the last bit."""
    if got is None or ref is None:
        return got is None and ref is None
    if (got.first, got.last, got.vmin, got.vmax) != (ref.first, ref.last, ref.vmin, ref.vmax):
        return False
    if len(got.cols) != len(ref.cols):
        return False
    for g, r in zip(got.cols, ref.cols, strict=True):
        if (g is None) != (r is None):
            return False
        if g is not None and not (g[2] == r[2] and close(g[0], r[0]) and close(g[1], r[1])):
            return False
    return True


def braille(cols: list[tuple[float, float, float] | None], vmin: float, vmax: float,
            width: int, height: int) -> list[str]:
    """A braille chart drawn dot by dot: each of the ``2 * width`` columns a stroke from
    its min to its max (dot row from the top: round((vmax - v) / (vmax - vmin) * (dots - 1)),
    halves keep +-1e308 ranges finite), joined to the previous column's sample, empty
    columns between two drawn ones interpolated from their samples."""
    dots = height * 4
    bits = ((0x01, 0x08), (0x02, 0x10), (0x04, 0x20), (0x40, 0x80))

    def row(v: float) -> int:
        span = vmax / 2 - vmin / 2
        if not span > 0:
            return dots - 1
        return min(dots - 1, max(0, int(round((vmax / 2 - v / 2) / span * (dots - 1)))))

    cols = list(cols[:2 * width])
    known = [i for i, c in enumerate(cols) if c is not None]
    for a, b in zip(known, known[1:], strict=False):
        va, vb = cols[a][2], cols[b][2]  # type: ignore[index]
        for i in range(a + 1, b):
            v = va + (vb - va) * (i - a) / (b - a)
            cols[i] = (v, v, v)
    cells = [[0] * width for _ in range(height)]
    prev: int | None = None
    for x, col in enumerate(cols):
        if col is None:
            prev = None
            continue
        top, bot, last = row(col[1]), row(col[0]), row(col[2])
        if prev is not None:
            top, bot = min(top, prev), max(bot, prev)
        for y in range(top, bot + 1):
            cells[y // 4][x // 2] |= bits[y % 4][x % 2]
        prev = last
    return ["".join(chr(0x2800 + c) if c else " " for c in r) for r in cells]
