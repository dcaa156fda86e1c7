"""What a dashboard shows, computed from a Project: the loss view and its stats."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from viewer import keys
from viewer.chart import Column, bucket_points
from viewer.store import Project, RunInfo, StoreError

ZOOM_POINTS: tuple[int | None, ...] = (None, 500, 200, 100, 50)
ZOOM_LABELS: tuple[str, ...] = ("All data", "Last 500", "Last 200", "Last 100", "Last 50")


class NoMetric(StoreError):
    """The run has no loss (or requested) metric; the message lists what it has."""


@dataclass
class View:
    """The points of one metric inside the zoom window, already bucketed."""

    key: str
    first: tuple[int, float]
    last: tuple[int, float]
    vmin: float
    vmax: float
    cols: list[Column | None] = field(default_factory=list)


@dataclass
class Roles:
    """Which logged keys play loss / lr / sparsity / iteration in this run."""

    metric: str
    lr: str | None
    sparsity: str | None
    iteration: str | None
    present: list[str]


def resolve(project: Project, run: RunInfo, metric: str | None) -> Roles:
    """Find the chart metric and the lr/sparsity/iteration keys of a run."""
    present = project.sample_keys(run.run_id)
    chosen = metric or keys.pick("loss", present)
    if chosen is None or (metric and metric not in present and project.latest(run.run_id, metric) is None):
        what = f"metric '{metric}'" if metric else "loss metric (" + ", ".join(keys.LOSS_KEYS) + ")"
        shown = ", ".join(k for k in present if not k.startswith("_")) or "none"
        raise NoMetric(f"project '{project.name}' run '{run.name}' has no {what}; "
                       f"metrics logged: {shown}")
    return Roles(chosen, keys.pick("lr", present), keys.pick("sparsity", present),
                 keys.pick("iteration", present), present)


def build_view(project: Project, run: RunInfo, key: str, zoom: int, width: int,
               summary: Any = None) -> View | None:
    """Bucket the metric ``key`` for zoom level ``zoom`` into ``width`` columns.

    Zoomed views read the last N points through the (run, step) index; the
    full view is one grouped SQL pass plus one indexed lookup per column.
    With ``summary`` (a ``viewer.series.LiveSeries`` of ``key``, e.g. from the
    cache) the points and column aggregates come from it instead: same result.
    """
    n = ZOOM_POINTS[zoom]
    if n is not None:
        pts = summary.tail_points(n) if summary is not None else project.tail(run.run_id, key, n)
        if not pts:
            return None
        cols, vmin, vmax = bucket_points(pts, width)
        return View(key, pts[0], pts[-1], vmin, vmax, cols)
    lo, hi = summary.step_range() if summary is not None else project.step_range(run.run_id)[:2]
    if lo is None:
        return None
    rows = (summary.columns(lo, hi, width) if summary is not None
            else project.buckets(run.run_id, key, lo, hi, width))
    if not rows:
        return None
    cols: list[Column | None] = [None] * width
    for b, _count, bmin, bmax, s0, _s1 in rows:
        first = project.value_at(run.run_id, key, s0)
        cols[min(width - 1, b)] = (bmin, bmax, first if first is not None else bmin)
    s_first, s_last = rows[0][4], rows[-1][5]
    v_first = project.value_at(run.run_id, key, s_first)
    v_last = project.value_at(run.run_id, key, s_last, last=True)
    return View(key, (s_first, v_first), (s_last, v_last),
                min(r[2] for r in rows), max(r[3] for r in rows), cols)


def iteration_of(project: Project, run: RunInfo, roles: Roles, step: int) -> int:
    """The iteration shown for ``step``: the logged iteration key if any, else the step."""
    if roles.iteration:
        v = project.value_at(run.run_id, roles.iteration, step)
        if v is not None:
            return int(v)
    return step


def fmt_sparsity(v: float) -> str:
    """Sparsity as a percentage: fractions (<= 1) are scaled by 100."""
    return f"{v * 100 if abs(v) <= 1 else v:.1f}%"
