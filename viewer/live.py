"""Live full-screen mode: the training workspace (``viewer.workspace``), ``--gpu-db`` and ``--gpu``.

The ``--gpu-db`` and ``--gpu`` views are drawn with rich.  Keys: ``p`` (or Tab)
next project (``--gpu-db``), ``0``-``9`` GPU (``--gpu``), ``q`` or Ctrl+C quit.
The terminal is always restored: keys are read in cbreak mode inside a context
manager, and rich's ``Live`` runs in the alternate screen inside another.
"""
from __future__ import annotations

import argparse
import os
import select
import sys
import termios
import time
import tty
from typing import Any

from rich.console import Console, Group
from rich.live import Live
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from viewer.chart import braille_chart
from viewer.model import NoMetric
from rundata.store import Project


class KeyReader:
    """Context manager: stdin in cbreak mode (no echo), restored on exit."""

    def __init__(self) -> None:
        self.fd = sys.stdin.fileno() if sys.stdin and sys.stdin.isatty() else None
        self.saved: list | None = None

    def __enter__(self) -> "KeyReader":
        if self.fd is not None:
            self.saved = termios.tcgetattr(self.fd)
            tty.setcbreak(self.fd)
        return self

    def __exit__(self, *exc: object) -> None:
        if self.fd is not None and self.saved is not None:
            termios.tcsetattr(self.fd, termios.TCSADRAIN, self.saved)

    def read(self, timeout: float) -> str | None:
        """One key, or None after ``timeout`` seconds."""
        if self.fd is None:
            time.sleep(timeout)
            return None
        ready, _, _ = select.select([self.fd], [], [], max(0.0, timeout))
        return os.read(self.fd, 1).decode(errors="ignore") if ready else None


def _gradient(lines: list[str]) -> Text:
    """Colour chart rows from red (top, high) through yellow to green (low)."""
    out = Text()
    for i, line in enumerate(lines):
        frac = i / max(1, len(lines) - 1)
        out.append(line + "\n", style="red" if frac < 0.34 else "yellow" if frac < 0.67 else "green")
    return out


class GpuDbState:
    """The live ``--gpu-db`` view: one project at a time, its GPU history read again for every frame."""

    def __init__(self, projects: list[Project], args: argparse.Namespace) -> None:
        self.projects, self.args = projects, args
        self.index = 0

    @property
    def project(self) -> Project:
        return self.projects[self.index]

    def key(self, k: str) -> None:
        """Apply one key press: ``p`` (or Tab) shows the next project."""
        if k in ("p", "\t") and len(self.projects) > 1:
            self.index = (self.index + 1) % len(self.projects)

    def render(self, width: int, height: int) -> Any:
        """The whole screen for a ``width`` x ``height`` terminal."""
        from viewer import gpu_db

        pr = self.project
        found = pr.find_run(self.args.run)
        try:
            body: Any = Text(gpu_db.report(*found)) if found else Text(f"project '{pr.name}': no run yet")
        except NoMetric as exc:
            body = Text(str(exc), style="yellow")
        more = "   p: next project" if len(self.projects) > 1 else ""
        return Group(body, Text("q: quit" + more, style="dim"))


def _loop(render: Any, on_key: Any, tick: Any, interval: float) -> int:
    console = Console()
    try:
        with KeyReader() as keys, Live(console=console, screen=True, auto_refresh=False) as live:
            while True:
                tick()
                size = console.size
                live.update(render(size.width, size.height), refresh=True)
                deadline = time.monotonic() + interval
                while (left := deadline - time.monotonic()) > 0:
                    k = keys.read(min(left, 0.2))
                    if k in ("q", "Q", "\x03"):
                        return 0
                    if k:
                        on_key(k)
                    if k or console.size != size:
                        size = console.size
                        live.update(render(size.width, size.height), refresh=True)
    except KeyboardInterrupt:
        return 0


def run_dashboard(projects: list[Project], args: argparse.Namespace) -> int:
    """Live training workspace (or the ``--gpu-db`` view) until q / Ctrl+C."""
    if not args.gpu_db:
        from viewer.workspace import run_workspace

        return run_workspace(projects, args)
    state = GpuDbState(projects, args)
    return _loop(state.render, state.key, lambda: None, args.interval)


def run_gpu(gpu: Any, interval: float) -> int:
    """Live GPU dashboard from ``gpu.Sampler``; number keys pick the GPU."""
    from gpu.render import gpu_lines

    sel = [0]
    fields = (("utilization", 0, 100), ("memory_percent", 0, 100), ("temperature_c", 20, 100),
              ("clock_graphics_mhz", None, None), ("power_w", None, None), ("fan_percent", 0, 100))

    with gpu.Sampler(interval=interval, history=600) as sampler:
        def render(width: int, height: int) -> Any:
            devs = sampler.devices
            if not devs:
                return Text("No GPUs found", style="yellow")
            idx = min(sel[0], len(devs) - 1)
            hist = sampler.history(devs[idx].index)
            if not hist:
                return Text("waiting for the first sample...")
            parts: list[Any] = [Text(f"GPU {idx} [0-{len(devs) - 1}]  (0-9: switch GPU, q: quit)", style="bold cyan"),
                                Text("\n".join(gpu_lines(hist[-1])))]
            gh = max(2, (height - len(parts[1].plain.splitlines()) - 12) // 3)
            panels = []
            for name, lo, hi in fields:
                vals = [getattr(h, name) for h in hist if getattr(h, name) is not None]
                if not vals:
                    continue
                w = max(10, width // 2 - 4)
                vals = vals[-2 * w:]
                vmin, vmax = (lo, hi) if lo is not None else (min(vals), max(vals) or 1)
                lines = braille_chart([(v, v, v) for v in vals], float(vmin or 0), float(vmax or 1), w, gh)
                panels.append(Panel(_gradient(lines), title=f"{name}: {gpu.fmt(vals[-1])}",
                                    width=w + 4, height=gh + 2))
            grid = Table.grid()
            for i in range(0, len(panels), 2):
                grid.add_row(*panels[i:i + 2])
            return Group(*parts, grid)

        def on_key(k: str) -> None:
            if k.isdigit():
                sel[0] = int(k)

        return _loop(render, on_key, lambda: None, interval)
