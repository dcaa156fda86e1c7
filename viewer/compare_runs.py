"""``--compare --once``: reading several runs of one project to compare.

The text itself (the Kconfig symbols that differ -- first --, the run table,
the overlaid loss chart with one marker per run and a legend line) comes from
:mod:`viewer.compare_render`, which ``python -m sweeps compare`` shares for
run directories; this module only turns a project's runs into its ``RunData``: the logged config from Trackio's
``configs`` table, and a loss curve from each run's summary (the persistent
cache, so a million-step run costs a few index seeks).  The curve is each
summary bucket's minimum at its first step followed by the exact raw tail,
so "best" (the minimum) and "latest" are exact.
"""
from __future__ import annotations

from datetime import datetime
from typing import Any

from viewer import compare_render
from viewer.model import NoMetric, resolve_roles
from viewer.live_series import LiveSeries
from viewer.series import Series
from viewer.store import Project, RunInfo


def run_config(project: Project, run: RunInfo) -> dict[str, Any]:
    """The run's logged config: its ``CONFIG_*`` entries when it has any,
    else every entry not starting with ``_`` (Trackio's own ``_Created``...)."""
    cfg = project.run_config(run)
    if any(k.startswith("CONFIG_") for k in cfg):
        return {k: v for k, v in cfg.items() if k.startswith("CONFIG_")}
    return {k: v for k, v in cfg.items() if not k.startswith("_")}


def duration_s(project: Project, run: RunInfo) -> float | None:
    """Seconds from the run's first to its last metrics timestamp."""
    lo, hi = project.time_range(run.run_id)
    try:
        return (datetime.fromisoformat(hi or "") - datetime.fromisoformat(lo or "")).total_seconds()
    except (TypeError, ValueError):
        return None


def curve(s: Series) -> list[tuple[int, float]]:
    """A bounded loss curve: bucket minima before the tail, then the raw tail."""
    tail = s.tail_points(len(s.tail))
    start = tail[0][0] if tail else None
    head = [(c.first, c.vmin) for c in s.b if c is not None and (start is None or c.first < start)]
    return head + tail


def pick_runs(project: Project, wanted: list[str]) -> list[RunInfo]:
    """Runs named (or id'd) in ``wanted``, in that order; all runs, oldest
    first, when ``wanted`` is empty.  Raises NoMetric naming the known runs."""
    runs = project.runs()
    if not wanted:
        return runs[::-1]
    out = []
    for w in wanted:
        run = next((r for r in runs if w in (r.run_id, r.name)), None)
        if run is None:
            names = ", ".join(dict.fromkeys(r.name for r in runs)) or "none"
            raise NoMetric(f"no run '{w}' in project '{project.name}'; runs: {names}")
        out.append(run)
    return out


def run_data(project: Project, runs: list[RunInfo], metric: str | None = None,
             use_cache: bool = True) -> list[compare_render.RunData]:
    """One :class:`viewer.compare_render.RunData` per run (duplicate names get their id);
    call inside ``project.snapshot()``."""
    from viewer.cache import load_series

    names = [r.name for r in runs]
    out = []
    for r in runs:
        try:
            s: LiveSeries | None = load_series(project, r, resolve_roles(project, r, metric), use_cache)
        except NoMetric:
            s = None
        label = r.name if names.count(r.name) == 1 else f"{r.name} ({r.run_id})"
        out.append(compare_render.RunData(name=label, dir=project.path, config=run_config(project, r),
                                          train=curve(s.metric) if s is not None else [],
                                          time_s=duration_s(project, r)))
    return out


def compare_runs(project: Project, wanted: list[str], metric: str | None = None,
                 use_cache: bool = True) -> list[compare_render.RunData]:
    """The runs of ``trackio-view --compare RUN... --once`` (and its ``--json``), read in one snapshot."""
    with project.snapshot():
        runs = pick_runs(project, wanted)
        if not runs:
            raise NoMetric(f"project '{project.name}' has no runs to compare")
        return run_data(project, runs, metric, use_cache)

