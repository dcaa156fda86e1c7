"""One chart cell of the workspace: a framed braille chart of one metric, runs overlaid.

A chart is drawn into rows of (text, styles) that fill its cell exactly;
:class:`ChartCache` keeps them until the metric gets new points in one of
the runs drawn, the zoom or the cell size changes.
"""
from __future__ import annotations

import math
from typing import Any

import numpy as np

from viewer.chart import BRAILLE, braille_bits
from viewer.model import ZOOM_LABELS
from viewer.workspace.canvas import BOX, fit
from viewer.buckets import columns
from viewer.workspace.trace import RunTrace

COLOURS = ("32", "36", "35", "33", "31", "34", "97", "92")
Rows = list[tuple[str, list[str]]]


def short(v: float, width: int) -> str:
    """``v`` in at most ``width`` characters, as precise as that allows."""
    if not math.isfinite(v):
        return str(v)[:width]
    for prec in range(6, 0, -1):
        s = f"{v:.{prec}g}"
        if len(s) <= width:
            return s
    return f"{v:.0e}"[:width]


def chart_rows(key: str, runs: list[tuple[str, RunTrace]], zoom: int, w: int, h: int,
               focused: bool = False, full: bool = False) -> Rows:
    """The rows of a ``w`` x ``h`` chart cell of ``key`` for ``runs`` ((colour, trace) pairs)."""
    frame = "1;33" if focused else "2"
    iw, ih = w - 2, h - 2
    latest = next((pt for _, t in runs if (pt := t.latest(key)) is not None), None)
    title = key + (f"  {short(latest[1], 12)}" if latest else "")
    if full:
        title += f"  (View: {ZOOM_LABELS[zoom]}; +/-: zoom, Esc: back)"
    inner = _plot(key, runs, zoom, iw, ih) if iw >= 4 and ih >= 1 else [(" " * max(0, iw), [""] * max(0, iw))
                                                                       for _ in range(max(0, ih))]
    top = BOX["tl"] + BOX["h"] * max(0, w - 2) + BOX["tr"]
    t = " " + fit(title, w - 4) + " " if w > 4 else ""
    top_st = [frame] * len(top)
    top = top[:1] + t + top[1 + len(t):]
    top_st[1:1 + len(t)] = ["1" if focused else ""] * len(t)
    bottom = BOX["bl"] + BOX["h"] * max(0, w - 2) + BOX["br"]
    if full and w > 8:
        zooms = " " + " ".join(f"[{z}]" if i == zoom else z for i, z in enumerate(ZOOM_LABELS)) + " "
        zooms = fit(zooms, w - 4)
        bottom = bottom[:2] + zooms + bottom[2 + len(zooms):]
    rows: Rows = [(top[:w], top_st[:w])]
    for text, st in inner:
        rows.append((BOX["v"] + text + BOX["v"], [frame, *st, frame]))
    rows.append((bottom[:w], [frame] * min(w, len(bottom))))
    return rows[:h]


def _plot(key: str, runs: list[tuple[str, RunTrace]], zoom: int, iw: int, ih: int) -> Rows:
    blank = [(" " * iw, [""] * iw) for _ in range(ih)]
    data = [(c, it) for c, t in runs if (it := t.items(key, zoom)) is not None and len(it[0])]
    if not data:
        blank[0] = (fit("no values yet", iw).ljust(iw), ["33"] * iw)
        return blank
    lo = min(int(it[0][0]) for _, it in data)
    hi = max(int(it[0][-1]) for _, it in data)
    lw = 9 if iw >= 30 else 7 if iw >= 16 else 0
    pw = iw - lw - (1 if lw else 0)
    xrow = ih >= 4
    ph = ih - 1 if xrow else ih
    if pw < 1 or ph < 1:
        return blank
    placed = [(c, columns(it, lo, hi, 2 * pw)) for c, it in data]
    vals = [v for _, cols in placed for col in cols if col is not None for v in col[:2]]
    vmin, vmax = min(vals), max(vals)
    if not vmax > vmin:
        pad = abs(vmin) * 0.05 or 0.5
        vmin, vmax = vmin - pad, vmax + pad
    bits = np.zeros((ph, pw), dtype=np.int64)
    owner = np.zeros((ph, pw), dtype=np.int64)
    for i, (_, cols) in enumerate(placed, 1):
        b = braille_bits(cols, vmin, vmax, pw, ph)
        bits |= b
        owner[b != 0] = i
    names = [""] + [c for c, _ in placed]
    chars = ["".join(map(BRAILLE.__getitem__, r)) for r in bits.tolist()]
    styles = [[names[o] for o in r] for r in owner.tolist()]
    labels = {0: vmax, ph - 1: vmin}
    if ph >= 5:
        labels[(ph - 1) // 2] = vmax - (vmax - vmin) * ((ph - 1) // 2) / (ph - 1)
    out: Rows = []
    for y in range(ph):
        lab = (short(labels[y], lw - 1).rjust(lw - 1) + " ") if lw and y in labels else " " * lw
        axis = ("\u2524" if y in labels else "\u2502") if lw else ""
        out.append((lab + axis + chars[y], ["2"] * (lw + len(axis)) + styles[y]))
    if xrow:
        left, right = str(lo), str(hi)
        room = pw - len(left)
        line = " " * lw + (" " if lw else "") + left + (right.rjust(room) if room > len(right) else "")
        line = line[:iw].ljust(iw)
        out.append((line, ["2"] * iw))
    return out


class ChartCache:
    """Rendered chart cells, reused while their inputs are unchanged."""

    def __init__(self) -> None:
        self.rows: dict[tuple, Rows] = {}
        self.used: set[tuple] = set()
        self.hits = self.misses = 0

    def get(self, key: str, runs: list[tuple[str, str, RunTrace]], zoom: int, w: int, h: int,
            focused: bool, full: bool) -> Rows:
        """Rows of the chart; ``runs`` are (colour, run id, trace)."""
        sig: Any = tuple((c, rid, id(t), t.version[t.index[key]] if key in t.index else -1) for c, rid, t in runs)
        memo = (key, sig, zoom, w, h, focused, full)
        self.used.add(memo)
        got = self.rows.get(memo)
        if got is not None:
            self.hits += 1
            return got
        self.misses += 1
        got = chart_rows(key, [(c, t) for c, _, t in runs], zoom, w, h, focused, full)
        self.rows[memo] = got
        return got

    def end_frame(self) -> None:
        """Forget every chart not drawn on the screen just finished."""
        self.rows = {k: v for k, v in self.rows.items() if k in self.used}
        self.used = set()
