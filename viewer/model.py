"""What a dashboard shows: which keys play which role in a run, and the chart view."""
from __future__ import annotations

from typing import NamedTuple

from viewer import keys
from viewer.buckets import Column
from rundata.store import Project, RunInfo, StoreError

ZOOM_POINTS: tuple[int | None, ...] = (None, 500, 200, 100, 50)
ZOOM_LABELS: tuple[str, ...] = ("All data", "Last 500", "Last 200", "Last 100", "Last 50")
TAIL = max(n for n in ZOOM_POINTS if n)  # newest points every series keeps: the longest zoom window


class NoMetric(StoreError):
    """The run has no loss (or requested) metric; the message lists what it has."""


class View(NamedTuple):
    """The points of one metric inside the zoom window, already in chart columns."""

    key: str
    first: tuple[int, float]
    last: tuple[int, float]
    vmin: float
    vmax: float
    cols: list[Column | None]


class Roles(NamedTuple):
    """Which logged keys play loss / lr / sparsity / iteration in this run."""

    metric: str
    lr: str | None
    sparsity: str | None
    iteration: str | None
    present: list[str]


def _find(project: Project, run: RunInfo, role: str, present: list[str]) -> str | None:
    """The first spelling of ``role`` that holds numbers: among those in the run's key
    sample first, then among the others (a key logged on a few steps only is found too)."""
    sampled = [k for k in keys.ALIASES[role] if k in present]
    others = [k for k in keys.ALIASES[role] if k not in present]
    return next((k for k in sampled + others if project.has_key(run.run_id, k)), None)


def resolve_roles(project: Project, run: RunInfo, metric: str | None) -> Roles:
    """Find the chart metric and the lr/sparsity/iteration keys of a run."""
    present = project.metric_keys(run.run_id)
    chosen = metric if metric else _find(project, run, "loss", present)
    if chosen is None or (metric and not project.has_key(run.run_id, metric)):
        what = f"numeric metric '{metric}'" if metric else "loss metric (" + ", ".join(keys.ALIASES["loss"]) + ")"
        shown = ", ".join(k for k in present if not k.startswith("_")) or "none"
        raise NoMetric(f"project '{project.name}' run '{run.name}' has no {what}; metrics logged: {shown}")
    return Roles(chosen, keys.pick("lr", present), keys.pick("sparsity", present),
                 keys.pick("iteration", present), present)


def iteration_of(project: Project, run: RunInfo, roles: Roles, step: int) -> int:
    """The iteration shown for ``step``: the logged iteration key if any, else the step."""
    if roles.iteration:
        v = project.value_at(run.run_id, roles.iteration, step)
        if v is not None:
            return int(v)
    return step


def sparsity_percent(v: float) -> float:
    """Sparsity as a percentage: fractions (<= 1) are scaled by 100."""
    return v * 100 if abs(v) <= 1 else v
