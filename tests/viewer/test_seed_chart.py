"""The ``--once`` chart places its stars exactly as the seed's two examples do.

The seed documents two ``trackio-view --once`` outputs (all data, and
``--zoom 4``) without their data.  For each, real trackio writes a run whose
points give every chart column the row the example shows, chosen where the
seed's floor((max - value) / (max - min) * 9) and a rounding placement
disagree (the flat tail near 3.73 belongs in the ``4.49`` row, not the
bottom one), plus the first, last, min and max values the example prints.
The whole block must then equal the example, line for line.
"""
from __future__ import annotations

import math
from pathlib import Path

from tests.viewer.conftest import view, write
from viewer.chart import star_chart, star_row
from viewer.buckets import column_ranges

SEED_ALL = """\
============================================================
TrackIO Dashboard - Project: tracking-e97b5
View: All data
============================================================

Latest Iteration: 9990
Latest Loss: 3.7359
Loss Change: -7.0930 (from 10.8289)
Min Loss: 3.7003
Max Loss: 10.8289
Learning Rate: 6.00e-05
Sparsity: 0.5%

Loss Trend (Iterations 10 to 9990):
  10.83 |*
  10.04 |
   9.24 |
   8.45 |
   7.66 |
   6.87 | **
   6.08 |   ********
   5.28 |           ****
   4.49 |               ***********************************
   3.70 |
        +--------------------------------------------------
"""

SEED_LAST50 = """\
============================================================
TrackIO Dashboard - Project: tracking-e97b5
View: Last 50
============================================================

Latest Iteration: 9990
Latest Loss: 3.7359
Loss Change: +0.0157 (from 3.7202)
Min Loss: 3.7003
Max Loss: 3.7484
Learning Rate: 6.00e-05
Sparsity: 0.5%

Loss Trend (Iterations 9500 to 9990):
   3.75 |     * *  *                                 *
   3.74 | *                     *     *       *        **
   3.74 |         * *                  *  *      *        *
   3.73 |   *  *     *  * *      *      *   *     *      *
   3.73 |  *     *    **   * *       *     * *     *
   3.72 |*   *           *  * **  * *    *      *   *
   3.72 |                                             *
   3.71 |                                      *
   3.71 |
   3.70 |                          *
        +--------------------------------------------------
"""


def star_rows(text: str) -> dict[int, int]:
    """Column -> row of every star in the example's chart."""
    chart = text.splitlines()[-11:-1]
    out: dict[int, int] = {}
    for r, line in enumerate(chart):
        for c, ch in enumerate(line.split("|", 1)[1]):
            if ch == "*":
                assert c not in out, f"two stars in column {c}"
                out[c] = r
    return out


def value_for(row: int, vmin: float, vmax: float) -> float:
    """A value the seed's floor puts in ``row`` and rounding would put one row lower."""
    if row == 9:
        return vmin
    v = vmax - (row + 0.7) * (vmax - vmin) / 9
    assert star_row(v, vmin, vmax, 10) == row
    assert round((vmax - v) / (vmax - vmin) * 9) == row + 1
    return v


def points_all() -> list[tuple[int, float]]:
    """Steps 10..9990: one point at the start of each column, the min inside the
    tail and the last point after the last column's first one."""
    vmin, vmax = 3.7003, 10.8289
    rows = star_rows(SEED_ALL)
    assert len(rows) == 50
    pts = []
    for c, first, _last in column_ranges(10, 9990, 50):
        v = vmax if c == 0 else 3.73 + 0.005 * (c % 3) if rows[c] == 8 else value_for(rows[c], vmin, vmax)
        pts.append((first, v))
        if c == 30:
            pts.append((first + 1, vmin))
    pts.append((9990, 3.7359))
    return pts


def points_last50() -> list[tuple[int, float]]:
    """Steps 9500..9990 by 10: one point per column."""
    vmin, vmax = 3.7003, 3.7484
    rows = star_rows(SEED_LAST50)
    assert len(rows) == 50
    fixed = {0: 3.7202, 49: 3.7359, 26: vmin, next(c for c, r in rows.items() if r == 0): vmax}
    return [(9500 + 10 * c, fixed.get(c, value_for(rows[c], vmin, vmax))) for c in range(50)]


def write_points(root: Path, pts: list[tuple[int, float]]) -> None:
    write(root, f"""
        pts = {pts!r}
        rows = [{{"train/loss": v, "lr": 6e-05, "sparsity": 0.005}} for _, v in pts]
        bulk("tracking-e97b5", "run-a", rows, [s for s, _ in pts])
    """)


def test_seed_example_all_data(tmp_path: Path) -> None:
    write_points(tmp_path, points_all())
    assert view(tmp_path, "--once", check=True).stdout == SEED_ALL


def test_seed_example_last_50(tmp_path: Path) -> None:
    write_points(tmp_path, points_last50())
    assert view(tmp_path, "--once", "--zoom", "4", check=True).stdout == SEED_LAST50


def test_only_the_minimum_reaches_the_bottom_row() -> None:
    cols = [(v, v, v) for v in (10.0, 1.0001, 1.0)]
    lines = star_chart(cols, 1.0, 10.0, width=3)  # type: ignore[arg-type]
    assert [ln.split("|")[1] if "|" in ln else "" for ln in lines[:10]] == \
        ["*"] + [""] * 7 + [" *", "  *"]
    assert star_row(5.0, 5.0, 5.0, 10) == 0  # a flat run sits in the top row, as in the seed's tool
    assert star_row(-1e308, -1e308, 1e308, 10) == 9 and not math.isnan(star_row(0.0, -1e308, 1e308, 10))
