"""``--compare --once``: reading several runs of one project to compare.

The text itself (the Kconfig symbols that differ -- first --, the run table,
the overlaid loss chart with one marker per run and a legend line) comes from
:mod:`viewer.compare_render`, which ``python -m sweeps compare`` shares for
run directories; this module only reads a project's runs into
:class:`rundata.store.RunInfo` records: the logged config from Trackio's
``configs`` table, and a loss curve from each run's summary (the persistent
cache, so a million-step run costs a few index seeks).  The curve is each
summary bucket's minimum at its first step followed by the exact raw tail,
so "best" (the minimum) and "latest" are exact.
"""
from __future__ import annotations

from contextlib import ExitStack
from datetime import datetime
from typing import Any

from viewer.model import NoMetric, resolve_roles
from viewer.series import LiveSeries
from viewer.series import Series
from rundata.store import Project, RunInfo


# Entries our Trackio backend adds to a run's config that are no Kconfig symbols: the
# end-of-run values (trackers.backends.trackio_backend.SUMMARY_PREFIX) and where the run came from.
SUMMARY, NOT_SYMBOLS = "summary/", ("summary/", "provenance/")


def run_config(project: Project, run: RunInfo) -> dict[str, Any]:
    """The run's logged Kconfig symbols: its ``CONFIG_*`` entries when it has any, else
    every entry not starting with ``_`` (Trackio's own ``_Created``...), ``summary/`` or
    ``provenance/``."""
    cfg = project.run_config(run)
    if any(k.startswith("CONFIG_") for k in cfg):
        return {k: v for k, v in cfg.items() if k.startswith("CONFIG_")}
    return {k: v for k, v in cfg.items() if not k.startswith(("_", *NOT_SYMBOLS))}


def run_summary(project: Project, run: RunInfo) -> dict[str, Any]:
    """The run's end-of-run values that its Trackio config holds (``summary/<key>``, as ``<key>``)."""
    return {k[len(SUMMARY):]: v for k, v in project.run_config(run).items() if k.startswith(SUMMARY)}


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


def pick_runs(project: Project, wanted: list[str]) -> list[tuple[Project, RunInfo]]:
    """Runs named (or id'd) in ``wanted``, in that order, each with the project that reads it
    (``project`` or its journal twin); all runs, oldest first, when ``wanted`` is empty.
    Raises NoMetric naming the known runs."""
    runs = project.all_runs()
    if not wanted:
        return runs[::-1]
    out = []
    for w in wanted:
        found = next((t for t in runs if w in (t[1].run_id, t[1].name)), None)
        if found is None:
            names = ", ".join(dict.fromkeys(r.name for _, r in runs)) or "none"
            raise NoMetric(f"no run '{w}' in project '{project.name}'; runs: {names}")
        out.append(found)
    return out


def run_data(runs: list[tuple[Project, RunInfo]], metric: str | None = None,
             use_cache: bool = True) -> list[RunInfo]:
    """One :class:`rundata.store.RunInfo` to compare per (project, run) (duplicate names get their id);
    call inside the projects' ``snapshot()``."""
    from viewer.cache import load_series

    names = [r.name for _, r in runs]
    out = []
    for pr, r in runs:
        try:
            s: LiveSeries | None = load_series(pr, r, resolve_roles(pr, r, metric), use_cache)
        except NoMetric:
            s = None
        label = r.name if names.count(r.name) == 1 else f"{r.name} ({r.run_id})"
        out.append(RunInfo(r.run_id, label, dir=pr.path, config=run_config(pr, r),
                           train=curve(s.metric) if s is not None else [], time_s=duration_s(pr, r)))
    return out


def compare_runs(project: Project, wanted: list[str], metric: str | None = None,
                 use_cache: bool = True) -> list[RunInfo]:
    """The runs of ``trackio-view --compare RUN... --once`` (and its ``--json``), read in one
    snapshot of the project (and one of its journal twin)."""
    with ExitStack() as stack:
        for pr in (project, project.twin):
            if pr is not None:
                stack.enter_context(pr.snapshot())
        runs = pick_runs(project, wanted)
        if not runs:
            raise NoMetric(f"project '{project.name}' has no runs to compare")
        return run_data(runs, metric, use_cache)
