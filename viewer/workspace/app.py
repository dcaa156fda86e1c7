"""The workspace: projects, their data sources and the view state, tick by tick.

:class:`Workspace` has no terminal: :meth:`Workspace.tick` reads new rows,
:meth:`Workspace.frame` draws a :class:`viewer.workspace.canvas.Canvas`, and
:meth:`Workspace.key` applies a key.  :func:`run_workspace` runs it in a
terminal (``viewer.workspace.term``).
"""
from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Any

from gpu.fields import ENERGY_WH, find_key, format_key
from gpu.render import grid_lines, readings_from_keys
from ktrack.keys import LR_KEYS, TRAIN_LOSS_KEYS, VAL_LOSS_KEYS
from ktrack.numbers import as_text
from rundata.store import Project, RunInfo
from viewer.workspace.canvas import Canvas
from viewer.workspace.charts import ChartCache
from viewer.workspace.render import draw
from viewer.workspace.source import JoinedSource, Source
from viewer.workspace.state import State

FIRST = TRAIN_LOSS_KEYS + VAL_LOSS_KEYS + LR_KEYS
SLOW_PANES_S = 5.0  # overview and system panes are read again at most this often


def metric_order(key: str) -> tuple:
    """Loss, validation loss and learning rate first, then by name (``gpu/*`` and ``numerics/*`` last)."""
    late = key.startswith(("gpu", "numerics/", "system/"))
    return (FIRST.index(key) if key in FIRST else len(FIRST), late, key)


class Workspace:
    """Every metric of the selected runs of one project at a time."""

    def __init__(self, projects: list[Project], args: argparse.Namespace) -> None:
        self.projects, self.args = projects, args
        self.runs_dir = Path(getattr(args, "runs", None) or "runs").expanduser()
        self.index = 0
        self.sources: dict[int, Source | JoinedSource] = {}
        self.state = State(zoom=getattr(args, "zoom", 0) or 0)
        self.cache = ChartCache()
        self._slow: dict[str, tuple[float, tuple, list[str]]] = {}
        self._wanted = [w for w in ([args.run] if getattr(args, "run", None) else []) +
                        list(getattr(args, "compare", None) or [])]

    @property
    def source(self) -> Source | JoinedSource:
        """The current project's source (with its journal-only runs, when it has some)."""
        if self.index not in self.sources:
            pr = self.projects[self.index]
            src = Source(pr, self.runs_dir)
            self.sources[self.index] = src if pr.twin is None else JoinedSource(src, Source(pr.twin, self.runs_dir))
        return self.sources[self.index]

    def tick(self) -> bool:
        """Read what was written since the last tick; True when the screen may change."""
        src, st = self.source, self.state
        changed = src.tick(st.selected, self._shown_keys())
        ordered = [r.run_id for r in src.ordered()]
        if self._wanted and ordered:
            st.selected = [r.run_id for w in self._wanted for r in src.runs.values() if w in (r.run_id, r.name)]
            st.selected = list(dict.fromkeys(st.selected))
            self._wanted = []
        st.set_runs(ordered)
        if any(rid not in src.traces for rid in st.selected):
            changed = src.tick(st.selected, self._shown_keys()) or changed
        keys: set[str] = set()
        for rid in st.selected:
            trace = src.traces.get(rid)
            if trace is not None:
                keys.update(trace.numeric_keys())
        if keys != set(st.metrics):
            st.set_metrics(sorted(keys, key=metric_order))
            if self._missing():  # metrics just learnt: read their history before the frame
                changed = src.tick(st.selected, self._shown_keys()) or changed
        return changed

    def prepare(self, width: int, height: int) -> None:
        """Size the chart grid for a ``width`` x ``height`` screen before the first tick,
        so that it reads the history of every chart of the first screen at once."""
        from viewer.workspace.layout import layout
        from viewer.workspace.render import open_panes

        lay = layout(width, height, open_panes(self.state), self.state.full)
        self.state.set_grid(lay.cols, lay.rows)

    def _shown_keys(self) -> list[str]:
        st = self.state
        if st.full:
            return [st.focused_metric] if st.focused_metric else []
        return st.visible()

    def _missing(self) -> bool:
        src = self.source
        keys = self._shown_keys()
        return any(k in t.index and k not in t.loaded for rid in self.state.selected
                   if (t := src.traces.get(rid)) is not None for k in keys)

    def key(self, k: str) -> bool:
        """Apply one key; False when the workspace should quit."""
        selected = list(self.state.selected)
        action = self.state.key(k)
        if action == "quit":
            return False
        if action == "project" and len(self.projects) > 1:
            self.projects[self.index].close()
            self.index = (self.index + 1) % len(self.projects)
            self.state = State(zoom=self.state.zoom, console=self.state.console, overview=self.state.overview,
                               system=self.state.system)
            self._slow.clear()
            self.tick()
        elif self.state.selected != selected:
            self.tick()
        return True

    def head(self) -> str:
        """The header line."""
        pr = self.projects[self.index]
        more = f"  [{self.index + 1}/{len(self.projects)}, p: next project]" if len(self.projects) > 1 else ""
        return f"TrackIO Dashboard - Project: {pr.name}{more}"

    def _pane_lines(self, height: int) -> dict[str, Any]:
        st, src = self.state, self.source
        run = src.runs.get(st.cursor_run or "")
        out: dict[str, Any] = {}
        if run is None:
            return out
        if st.console:
            tail = src.console_tail(run, max(1, height))
            out["console"] = tail if tail is not None else [f"no console.log in {src.run_dir(run)}"]
        if st.overview:
            out["overview"] = self._slowly("overview", (tuple(st.selected), run.run_id, run.rows),
                                           lambda: self._overview(run))
        if st.system:
            values = self._slowly("system", (run.run_id, run.rows), lambda: self._gpu_values(run))
            out["system"] = grid_lines(readings_from_keys(values), st.first_node)
        return out

    def _gpu_values(self, run: Any) -> dict[str, Any]:
        """The run's newest GPU values and the energy each GPU used, once its summary or config has it."""
        src = self.source
        energy = {format_key(ENERGY_WH, p.gpu or 0, p.node): v for d in (src.config(run), src.summary(run))
                  for k, v in d.items() if (p := find_key(k)) is not None and p.field == ENERGY_WH}
        return {**energy, **src.system(run)}

    def _slowly(self, name: str, sig: tuple, make: Any) -> Any:
        now = time.monotonic()
        got = self._slow.get(name)
        if got is None or (got[1] != sig and now - got[0] >= SLOW_PANES_S) or got[1][:-1] != sig[:-1]:
            got = (now, sig, make())
            self._slow[name] = got
        return got[2]

    def _overview(self, run: Any) -> list[str]:
        from viewer import compare_render

        src, st = self.source, self.state
        chosen = [src.runs[r] for r in st.selected if r in src.runs]
        if len(chosen) >= 2:
            data = [RunInfo(r.run_id, r.name, dir=src.run_dir(r), config=src.config(r), summary=src.summary(r))
                    for r in chosen]
            return [*compare_render.symbol_table(data), "", *compare_render.summary_table(data)]
        cfg, summary = src.config(run), src.summary(run)
        lines = [f"Kconfig symbols ({len(cfg)}):" if cfg else "no configuration logged"]
        lines += [f"  {k}={as_text(v)}" for k, v in sorted(cfg.items())]
        lines.append(f"Summary ({len(summary)}):" if summary else "no summary yet")
        lines += [f"  {k}: {as_text(v)}" for k, v in sorted(summary.items())]
        return lines

    def frame(self, width: int, height: int) -> Canvas:
        """The screen for a ``width`` x ``height`` terminal."""
        panes = self._pane_lines(height) if (self.state.console or self.state.overview or self.state.system) else {}
        canvas = draw(self.state, self.source, width, height, self.cache, self.head(), panes)
        if self._missing():  # a page, filter or size shows metrics not read yet
            self.source.tick(self.state.selected, self._shown_keys())
            canvas = draw(self.state, self.source, width, height, self.cache, self.head(), panes)
        return canvas


def run_workspace(projects: list[Project], args: argparse.Namespace) -> int:
    """The live workspace until q or Ctrl+C; the terminal is restored whatever happens."""
    from viewer.workspace.term import drive

    ws = Workspace(projects, args)
    return drive(ws.frame, ws.key, lambda: ws.tick() or ws.state.console, args.interval, ws.prepare)
