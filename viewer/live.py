"""Live full-screen mode: the training workspace (``viewer.workspace``), ``--gpu-db`` and ``--gpu``.

Every screen is drawn on a :class:`viewer.workspace.canvas.Canvas` and run by
the one terminal loop :func:`viewer.workspace.term.drive`, which always
restores the terminal.  Keys: ``p`` (or Tab) next project (``--gpu-db``),
``0``-``9`` GPU (``--gpu``) or first node shown (``--gpu-db`` of a
multi-node job), ``q`` or Ctrl+C quit.  The text is :mod:`gpu.render`'s.
"""
from __future__ import annotations

import argparse
from typing import Any

from gpu.fields import FIELDS
from gpu.render import gpu_lines
from rundata.store import Project
from viewer.chart import braille_chart
from viewer.model import NoMetric
from viewer.workspace.canvas import Canvas, fit
from viewer.workspace.term import drive, text_frame

QUIT = ("q", "Q")
#: The ``--gpu`` charts: the table's fields that have a chart scale, in its order.
CHARTS = tuple(f for f in FIELDS if f.chart is not None)
GRADIENT = ("31", "33", "32")  # chart rows from the top (high): red, yellow, green


class GpuDbState:
    """The live ``--gpu-db`` view: one project at a time, its GPU report read again for every frame."""

    def __init__(self, projects: list[Project], args: argparse.Namespace) -> None:
        self.projects, self.args = projects, args
        self.index = 0
        self.first_node = 0

    @property
    def project(self) -> Project:
        return self.projects[self.index]

    def key(self, k: str) -> bool:
        """Apply one key press: ``p`` (or Tab) shows the next project, a digit the node the grid
        starts with; False for ``q``."""
        if k in QUIT:
            return False
        if k in ("p", "tab") and len(self.projects) > 1:
            self.index = (self.index + 1) % len(self.projects)
        elif k.isdigit():
            self.first_node = int(k)
        return True

    def frame(self, width: int, height: int) -> Canvas:
        """The whole screen for a ``width`` x ``height`` terminal."""
        from viewer import gpu_db

        pr = self.project
        found = pr.find_run(self.args.run)
        try:
            body = [(line, "") for line in (gpu_db.report(*found, self.first_node).splitlines() if found
                                            else [f"project '{pr.name}': no run yet"])]
        except NoMetric as exc:
            body = [(str(exc), "33")]
        more = "   p: next project" if len(self.projects) > 1 else ""
        return text_frame(body[:max(0, height - 1)] + [("q: quit" + more, "2")], width, height)


def run_dashboard(projects: list[Project], args: argparse.Namespace) -> int:
    """Live training workspace (or the ``--gpu-db`` view) until q / Ctrl+C."""
    if not args.gpu_db:
        from viewer.workspace import run_workspace

        return run_workspace(projects, args)
    state = GpuDbState(projects, args)
    return drive(state.frame, state.key, lambda: True, args.interval)


def _chart(cv: Canvas, x: int, y: int, w: int, h: int, title: str, lines: list[str]) -> None:
    """A boxed braille chart (``w`` x ``h`` inside), coloured from red (high) to green (low)."""
    cv.box(x, y, w + 4, h + 2, title)
    for i, line in enumerate(lines):
        cv.put(x + 2, y + 1 + i, line, GRADIENT[min(2, i * 3 // max(1, len(lines)))])


def gpu_frame(sampler: Any, fmt: Any, selected: int, width: int, height: int) -> Canvas:
    """The ``--gpu`` screen: GPU ``selected``'s values and the charts of its history."""
    cv = Canvas(width, height)
    devs = sampler.devices
    if not devs:
        cv.put(0, 0, fit("No GPUs found", width), "33")
        return cv
    idx = min(selected, len(devs) - 1)
    hist = sampler.history(devs[idx].index)
    if not hist:
        cv.put(0, 0, fit("waiting for the first sample...", width))
        return cv
    cv.put(0, 0, fit(f"GPU {idx} [0-{len(devs) - 1}]  (0-9: switch GPU, q: quit)", width), "1;36")
    block = gpu_lines(hist[-1])
    for i, line in enumerate(block):
        cv.put(0, 1 + i, fit(line, width))
    gh = max(2, (height - len(block) - 12) // 3)
    w = max(10, width // 2 - 4)
    y, col = 1 + len(block), 0
    for field in CHARTS:
        vals = [v for h in hist if (v := getattr(h, field.name)) is not None]
        if not vals:
            continue
        vals = vals[-2 * w:]
        lo, hi = field.chart or (None, None)
        vmin, vmax = (lo, hi) if lo is not None else (min(vals), max(vals) or 1)
        lines = braille_chart([(v, v, v) for v in vals], float(vmin or 0), float(vmax or 1), w, gh)
        _chart(cv, col * (w + 4), y, w, gh, f"{field.name}: {fmt(vals[-1])}", lines)
        col = (col + 1) % 2
        y += (gh + 2) if col == 0 else 0
    return cv


def run_gpu(gpu: Any, interval: float) -> int:
    """Live GPU dashboard from ``gpu.Sampler``; number keys pick the GPU."""
    sel = [0]

    def key(k: str) -> bool:
        if k.isdigit():
            sel[0] = int(k)
        return k not in QUIT

    with gpu.Sampler(interval=interval, history=600) as sampler:
        return drive(lambda w, h: gpu_frame(sampler, gpu.fmt, sel[0], w, h), key, lambda: True, interval)
