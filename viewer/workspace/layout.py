"""Where each part of the workspace goes on a ``width`` x ``height`` screen.

Row 0 is the header and the last row the status line.  Between them: the
runs pane on the left (when the screen is wide enough), the legend line,
the chart grid and, below it, the console, overview and system panes that
are open, side by side.  Full screen gives the focused chart everything
between the legend and the status line.  Rectangles never overlap and never
leave the screen.
"""
from __future__ import annotations

from dataclasses import dataclass, field

CELL_W, CELL_H = 36, 10  # smallest chart cell
MIN_W, MIN_H = 20, 6  # below this the screen only says it is too small


@dataclass(frozen=True)
class Rect:
    """x, y of the top-left corner, width and height (all >= 0)."""

    x: int
    y: int
    w: int
    h: int


@dataclass
class Layout:
    """The rectangles of one screen."""

    width: int
    height: int
    runs: Rect | None = None
    legend: Rect | None = None
    cells: list[Rect] = field(default_factory=list)
    cols: int = 1
    rows: int = 1
    panes: dict[str, Rect] = field(default_factory=dict)
    body: Rect = Rect(0, 0, 0, 0)

    @property
    def too_small(self) -> bool:
        """True when the screen cannot hold the workspace."""
        return self.width < MIN_W or self.height < MIN_H


def grid(area: Rect, cols: int, rows: int) -> list[Rect]:
    """``cols`` x ``rows`` cells filling ``area`` exactly (the last column/row takes the rest)."""
    out = []
    cw, ch = area.w // cols, area.h // rows
    for r in range(rows):
        for c in range(cols):
            w = area.w - c * cw if c == cols - 1 else cw
            h = area.h - r * ch if r == rows - 1 else ch
            out.append(Rect(area.x + c * cw, area.y + r * ch, w, h))
    return out


def layout(width: int, height: int, panes: tuple[str, ...] = (), full: bool = False,
           charts: int | None = None) -> Layout:
    """The layout for a screen; ``panes`` names the open bottom panes in order.  With
    fewer ``charts`` than the grid holds, fewer, larger cells fill the same area."""
    lay = Layout(max(0, width), max(0, height))
    if lay.too_small:
        return lay
    body = Rect(0, 1, width, height - 2)
    lay.body = body
    x0 = 0
    if not full and width >= 60:
        rw = max(22, min(34, width // 4))
        lay.runs = Rect(0, body.y, rw, body.h)
        x0 = rw
    right = Rect(x0, body.y, width - x0, body.h)
    lay.legend = Rect(right.x, right.y, right.w, 1)
    area = Rect(right.x, right.y + 1, right.w, right.h - 1)
    if panes and not full and area.h >= 12:
        ph = max(6, area.h // 3)
        bottom = Rect(area.x, area.y + area.h - ph, area.w, ph)
        area = Rect(area.x, area.y, area.w, area.h - ph)
        for name, r in zip(panes, grid(bottom, len(panes), 1), strict=True):
            lay.panes[name] = r
    if full:
        lay.cells, lay.cols, lay.rows = [area], 1, 1
        return lay
    lay.cols = max(1, area.w // CELL_W)
    lay.rows = max(1, area.h // CELL_H)
    if charts and charts < lay.cols * lay.rows:
        lay.cols = min(lay.cols, charts)
        lay.rows = -(-charts // lay.cols)
    lay.cells = grid(area, lay.cols, lay.rows)
    return lay
