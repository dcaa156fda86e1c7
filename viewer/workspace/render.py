"""The whole workspace screen: header, runs pane, legend, chart grid, panes, status line."""
from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

from viewer.model import ZOOM_LABELS
from viewer.workspace.canvas import Canvas, elide, fit
from viewer.workspace.charts import COLOURS, ChartCache, short
from viewer.workspace.layout import Layout, Rect, layout
from viewer.workspace.state import HELP, State

if TYPE_CHECKING:
    from rundata.store import RunInfo
    from viewer.workspace.source import JoinedSource, Source

HINT = "?: help  /: filter  arrows: focus  Enter: full screen  Tab: runs  space: select  l o g: panes  q: quit"


def colour_of(state: State, rid: str) -> str:
    """The colour of a selected run (its place in the selection)."""
    return COLOURS[state.selected.index(rid) % len(COLOURS)] if rid in state.selected else ""


def open_panes(state: State) -> tuple[str, ...]:
    """The bottom panes that are open, in screen order."""
    return tuple(n for n, on in (("console", state.console), ("overview", state.overview),
                                 ("system", state.system)) if on)


def draw(state: State, src: "Source | JoinedSource", width: int, height: int, cache: ChartCache,
         head: str, extra: dict[str, Any] | None = None) -> Canvas:
    """Draw the screen for ``state`` and the data of ``src``; ``head`` is the header text."""
    cv = Canvas(width, height)
    lay = layout(width, height, open_panes(state), state.full, len(state.shown))
    if lay.too_small:
        cv.put(0, 0, fit(f"trackio-view: the terminal ({width}x{height}) is too small", width), "33")
        return cv
    state.set_grid(lay.cols, lay.rows)
    cv.put(0, 0, fit(f"{head}   View: {ZOOM_LABELS[state.zoom]}", width), "1;36")
    runs = src.runs
    if lay.runs is not None:
        _runs_pane(cv, lay.runs, state, src)
    if lay.legend is not None:
        _legend(cv, lay.legend, state, runs)
    if state.help:
        _help(cv, lay.body)
    else:
        _grid(cv, lay, state, src, cache)
        for name, rect in lay.panes.items():
            lines = (extra or {}).get(name) or []
            title = {"console": "console.log", "overview": "Overview", "system": "System"}[name]
            compared = sum(rid in runs for rid in state.selected)
            if name == "overview" and compared >= 2:  # the overview compares the selected runs
                _text_pane(cv, rect, f"{title}: {compared} selected runs", lines, top=True)
            else:
                _text_pane(cv, rect, title + _run_label(state, runs), lines, top=name != "console")
    _status(cv, state, width, height)
    cache.end_frame()
    return cv


def _run_label(state: State, runs: dict[str, "RunInfo"]) -> str:
    rid = state.cursor_run
    return f": {runs[rid].name}" if rid in runs else ""


def _runs_pane(cv: Canvas, r: Rect, state: State, src: "Source | JoinedSource") -> None:
    focused = state.pane == "runs"
    cv.box(r.x, r.y, r.w, r.h, f"Runs ({len(state.runs)})" + (" [Tab]" if not focused else ""),
           "1;33" if focused else "2")
    iw, per = r.w - 2, 2
    fit_n = max(1, (r.h - 2) // per)
    start = max(0, min(state.cursor - fit_n + 1, len(state.runs) - fit_n)) if state.cursor >= fit_n else 0
    names = [src.runs[rid].name for rid in state.runs if rid in src.runs]
    common = len(os.path.commonprefix(names)) if len(names) > 1 else 0  # names differ after it
    for i, rid in enumerate(state.runs[start:start + fit_n]):
        run = src.runs.get(rid)
        if run is None:
            continue
        y = r.y + 1 + i * per
        here = start + i == state.cursor
        mark = "\u25cf" if rid in state.selected else "\u25cb"
        style = "7" if here and focused else "1" if here else ""
        loss = "" if run.loss is None else " " + short(run.loss, 8)
        cv.put(r.x + 1, y, mark, colour_of(state, rid) or "2")
        cv.put(r.x + 2, y, (" " + elide(run.name, iw - 2 - len(loss), common) + loss).ljust(iw - 1)[:iw - 1], style)
        slurm = f", {run.extra['slurm']}" if run.extra.get("slurm") else ""
        cv.put(r.x + 1, y + 1, fit(f"  {run.status}, {run.rows} steps{slurm}", iw), "2")


def _legend(cv: Canvas, r: Rect, state: State, runs: dict[str, "RunInfo"]) -> None:
    if not state.selected:
        cv.put(r.x, r.y, fit("no run selected: Tab to the runs pane, space selects", r.w), "33")
        return
    x = r.x
    end = r.x + r.w
    x += cv.put(x, r.y, fit("Runs: ", end - x), "2")
    for rid in state.selected:
        name = runs[rid].name if rid in runs else rid
        x += cv.put(x, r.y, "\u25a0 ", colour_of(state, rid), limit=end - x)
        x += cv.put(x, r.y, fit(name, end - x) + "  ", "", limit=end - x)
    if state.pattern:
        info = f"  filter /{state.pattern}/: {len(state.shown)} of {len(state.metrics)}"
        cv.put(x, r.y, fit(info, end - x), "2")


def _grid(cv: Canvas, lay: Layout, state: State, src: "Source | JoinedSource", cache: ChartCache) -> None:
    runs = [(colour_of(state, rid), rid, src.traces[rid]) for rid in state.selected if rid in src.traces]
    if state.full:
        names = [state.focused_metric] if state.focused_metric else []
    else:
        names = state.visible()
    if not names:
        c = lay.cells[0]
        msg = ("no metric matches the filter" if state.metrics and state.pattern else
               "waiting for data..." if not src.error else src.error)
        cv.put(c.x + 1, c.y + 1, fit(msg, c.w - 2), "33")
        return
    focus = state.focused_metric
    for name, cell in zip(names, lay.cells, strict=False):
        rows = cache.get(name, runs, state.zoom, cell.w, cell.h, name == focus and state.pane == "grid",
                         state.full)
        cv.blit(cell.x, cell.y, rows)


def _text_pane(cv: Canvas, r: Rect, title: str, lines: list[str], top: bool = False) -> None:
    """A boxed pane of text: its last lines (a log's tail), or with ``top`` its first lines,
    so that a table's header stays in view, and how many more there are."""
    cv.box(r.x, r.y, r.w, r.h, title, "2", "1")
    room = r.h - 2
    if room <= 0:
        return
    if top and len(lines) > room:
        lines = lines[:room - 1] + [f"... {len(lines) - room + 1} more lines"]
    for i, line in enumerate(lines if top else lines[-room:]):
        cv.put(r.x + 1, r.y + 1 + i, fit(line, r.w - 2))


def _help(cv: Canvas, body: Rect) -> None:
    cv.fill(body.x, body.y, body.w, body.h)
    cv.box(body.x, body.y, body.w, body.h, "Keys (any key closes)", "1;36")
    kw = max(len(k) for k, _ in HELP) + 2
    for i, (k, what) in enumerate(HELP):
        if i >= body.h - 2:
            break
        cv.put(body.x + 2, body.y + 1 + i, fit(k, body.w - 3), "1")
        cv.put(body.x + 2 + kw, body.y + 1 + i, fit(what, body.w - kw - 3))


def _status(cv: Canvas, state: State, width: int, height: int) -> None:
    y = height - 1
    if state.editing is not None:
        cv.put(0, y, fit("/" + state.editing, width - 1) + "\u2588", "1")
        return
    if state.message:
        cv.put(0, y, fit(state.message, width), "1;33")
        return
    page = f"  page {state.page + 1}/{state.pages()}" if state.pages() > 1 else ""
    text = fit(page.strip() + ("  " if page else "") + HINT, width)
    cv.put(0, y, text, "2")
