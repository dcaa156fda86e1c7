"""Live full-screen mode: the training workspace (``viewer.workspace``), ``--gpu-db`` and ``--gpu``.

:class:`DashboardState` is the one-chart dashboard (rich), still used for ``--gpu-db``
and by callers that render it off-screen.

Keys: ``+``/``-`` zoom, ``p`` (or Tab) next project, ``c`` compare all runs
of the project (toggle), ``0``-``9`` GPU, ``q`` or Ctrl+C quit.  The terminal is
always restored: keys are read in cbreak mode inside a context manager, and rich's ``Live`` runs in the alternate
screen inside another.
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
from viewer.model import ZOOM_LABELS, NoMetric, fmt_sparsity, resolve
from viewer.live_series import LiveSeries
from viewer.store import Project


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


class DashboardState:
    """Projects, zoom and one LiveSeries per project; ``tick`` reads new rows."""

    def __init__(self, projects: list[Project], args: argparse.Namespace) -> None:
        self.projects, self.args = projects, args
        self.zoom, self.index = args.zoom, 0
        self.series: dict[str, LiveSeries | str] = {}
        self.rows_seen = 0
        self.comparing = args.compare is not None
        self.comparisons: dict[str, Any] = {}

    @property
    def project(self) -> Project:
        return self.projects[self.index]

    def _load(self, pr: Project) -> LiveSeries | str:
        run = pr.pick_run(self.args.run)
        if run is None:
            return f"project '{pr.name}': no run yet" + (f" named '{self.args.run}'" if self.args.run else "")
        from viewer.cache import load_series

        try:
            with pr.snapshot():
                return load_series(pr, run, resolve(pr, run, self.args.metric), not self.args.no_cache)
        except NoMetric as exc:
            return str(exc)

    def tick(self) -> None:
        """Read what was written since the last tick (only newer row ids)."""
        pr = self.project
        if self.comparing:
            from viewer.compare_runs import Comparison

            cmp = self.comparisons.setdefault(pr.name, Comparison(
                pr, self.args.compare or [], self.args.metric, not self.args.no_cache))
            cmp.refresh()
            return
        cur = self.series.get(pr.name)
        if isinstance(cur, LiveSeries):
            self.rows_seen += cur.update()
            if cur.stale:
                self.series[pr.name] = self._load(pr)
            elif self.args.run is None:  # a newer run started: follow it
                newest = pr.pick_run(None)
                if newest and newest.run_id != cur.run.run_id:
                    self.series[pr.name] = self._load(pr)
        elif cur is None or pr.max_id() > 0:
            self.series[pr.name] = self._load(pr)

    def key(self, k: str) -> None:
        """Apply one key press."""
        if k == "+":
            self.zoom = min(4, self.zoom + 1)
        elif k == "-":
            self.zoom = max(0, self.zoom - 1)
        elif k in ("p", "\t") and len(self.projects) > 1:
            self.index = (self.index + 1) % len(self.projects)
            self.tick()
        elif k in ("c", "C") and not self.args.gpu_db:
            self.comparing = not self.comparing
            self.tick()

    def render_compare(self, width: int, height: int, head: Text) -> Any:
        """The comparison screen: symbol diff first, run table, coloured overlay."""
        from viewer import compare_render as sc  # late: only the compare screen needs it

        cmp = self.comparisons.get(self.project.name)
        runs = cmp.run_data() if cmp else []
        keys = Text("c: back to the run   q: quit", style="dim")
        if not runs:
            return Group(head, Text("no runs to compare yet", style="yellow"), keys)
        table = sc.symbol_table(runs) + [""] + sc.run_table(runs)
        chart_h = max(4, height - len(table) - 9)
        chart = sc.overlay_chart(runs, max(20, width - 16), chart_h)
        colours = ("green", "cyan", "magenta", "yellow", "red", "blue", "bright_white", "bright_green")
        style = {m: colours[i % len(colours)] for i, m in enumerate(sc.MARKERS)}
        body = Text(no_wrap=True, overflow="crop")
        for line in chart:
            for ch in line:
                body.append(ch, style=style.get(ch) if ch in style and not line.startswith("        +") else None)
            body.append("\n")
        top = Text("\n".join(table) + "\n")
        top.stylize("bold", 0, len(table[0]))
        return Group(head, top, Panel(body, title=f"{self.args.metric or 'loss'}: runs overlaid"), keys)

    def render(self, width: int, height: int) -> Any:
        """The whole screen for a ``width`` x ``height`` terminal."""
        pr = self.project
        more = f"  [{self.index + 1}/{len(self.projects)}, p: next project]" if len(self.projects) > 1 else ""
        head = Text(f"TrackIO Dashboard - Project: {pr.name}{more}", style="bold cyan")
        s = self.series.get(pr.name)
        if self.comparing and not self.args.gpu_db:
            return self.render_compare(width, height, Text(f"Compare runs - Project: {pr.name}{more}",
                                                           style="bold cyan"))
        if self.args.gpu_db:
            from viewer import gpu_db

            run = pr.pick_run(self.args.run)
            try:
                body: Any = Text(gpu_db.report(pr, run)) if run else Text("no run yet")
            except NoMetric as exc:
                body = Text(str(exc), style="yellow")
            return Group(body, Text("q: quit", style="dim"))
        if not isinstance(s, LiveSeries):
            return Group(head, Text(s or "waiting for data...", style="yellow"))
        # labels (10) + axis (1) + chart fill the panel's inside (width - 4) exactly
        chart_w, chart_h = max(10, width - 15), max(3, height - 14)
        view = s.view(self.zoom, chart_w * 2)
        if view is None:
            return Group(head, Text(f"no values of {s.roles.metric} yet", style="yellow"))
        cols, vmin, vmax, first, last = view
        frac = (last[1] - vmin) / (vmax - vmin) if vmax > vmin else 0.0
        colour = "green" if frac < 0.34 else "yellow" if frac < 0.67 else "red"
        stats = Text()
        stats.append(f"Run: {s.run.name}   View: {ZOOM_LABELS[self.zoom]}   Latest Iteration: {last[0]}\n")
        stats.append("Latest Loss: ").append(f"{last[1]:.4f}", style=f"bold {colour}")
        stats.append(f"   Change: {last[1] - first[1]:+.4f} (from {first[1]:.4f})")
        stats.append(f"   Min: {vmin:.4f}   Max: {vmax:.4f}\n")
        if s.lr is not None:
            stats.append("Learning Rate: ", style="magenta").append(f"{s.lr:.2e}   ", style="bold blue")
        if s.sparsity is not None:
            stats.append(f"Sparsity: {fmt_sparsity(s.sparsity)}")
        lines = braille_chart(cols, vmin, vmax, chart_w, chart_h)
        labels = [f"{vmax - i * (vmax - vmin) / max(1, chart_h - 1):9.4f} " for i in range(chart_h)]
        chart = Text()
        for lab, row in zip(labels, _gradient(lines).split("\n"), strict=False):
            chart.append(lab, style="dim").append("\u2502").append_text(row).append("\n")
        title = f"{s.roles.metric} (iterations {first[0]} to {last[0]})"
        keys = Text("+/-: zoom   c: compare runs   q: quit" + ("   p: next project" if more else ""),
                    style="dim")
        return Group(head, stats, Panel(chart, title=title, height=chart_h + 2), keys)


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
    """Live training workspace (or the ``--gpu-db`` dashboard) until q / Ctrl+C."""
    if not args.gpu_db:
        from viewer.workspace import run_workspace

        return run_workspace(projects, args)
    state = DashboardState(projects, args)
    return _loop(state.render, state.key, state.tick, args.interval)


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
