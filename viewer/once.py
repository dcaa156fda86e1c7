"""Plain-text ``--once`` output: the training dashboard block, line for line."""
from __future__ import annotations

import math

from ktrack.messages import printable
from viewer.chart import label_format, star_chart
from viewer.model import ZOOM_LABELS, NoMetric, fmt_sparsity, iteration_of
from rundata.store import Project, RunInfo

RULE = "=" * 60
WIDTH = 50


def header(project: str, zoom: int) -> list[str]:
    """The four header lines of a dashboard block."""
    return [RULE, f"TrackIO Dashboard - Project: {printable(project)}", f"View: {ZOOM_LABELS[zoom]}", RULE, ""]


def dashboard(project: Project, run: RunInfo, zoom: int, metric: str | None = None,
              use_cache: bool = True) -> str:
    """One project's ``--once`` block (no trailing newline).

    With ``use_cache`` the run summary comes from the persistent cache
    (``viewer/cache.py``), updated with the rows written since; the text is
    the same either way.  Raises NoMetric when the run has no loss (or
    ``metric``) values.
    """
    return project.read(lambda: _dashboard(project, run, zoom, metric, use_cache))


def _dashboard(project: Project, run: RunInfo, zoom: int, metric: str | None, use_cache: bool) -> str:
    from viewer.cache import load_summary

    roles, summary = load_summary(project, run, metric, use_cache, view=(zoom, WIDTH))
    view = summary.metric.view(zoom, WIDTH)
    if view is None:
        raise NoMetric(f"project '{project.name}' run '{run.name}' has no numeric values of '{roles.metric}'")
    label = "Loss" if metric is None else printable(roles.metric)
    biggest = max(abs(view.vmin), abs(view.vmax))
    # 4 decimals for the loss; other metrics (numerics statistics of 1e-6 or 1e9)
    # keep 4 significant digits instead.
    num = "{:.4f}" if metric is None or 1e-2 <= biggest < 1e6 else "{:.4e}"
    it_first = iteration_of(project, run, roles, view.first[0])
    it_last = iteration_of(project, run, roles, view.last[0])
    change = view.last[1] - view.first[1]
    lines = header(project.name, zoom)
    lines += [f"Latest Iteration: {it_last}",
              f"Latest {label}: {num.format(view.last[1])}",
              f"{label} Change: {'+' if change >= 0 else ''}{num.format(change)} (from {num.format(view.first[1])})",
              f"Min {label}: {num.format(view.vmin)}",
              f"Max {label}: {num.format(view.vmax)}"]
    if summary.lr is not None:
        lines.append(f"Learning Rate: {summary.lr:.2e}")
    if summary.sparsity is not None:
        lines.append(f"Sparsity: {fmt_sparsity(summary.sparsity)}")
    lines += ["", f"{label} Trend (Iterations {it_first} to {it_last}):"]
    plain = metric is None and (biggest < 1e9 or not math.isfinite(biggest))
    fmt = "{:7.2f}" if plain else label_format(view.vmin, view.vmax)
    lines += star_chart(view.cols, view.vmin, view.vmax, fmt=fmt)
    return "\n".join(lines)


def message_block(project: Project, zoom: int, message: str) -> str:
    """A block for a project without a chart (all-projects mode): the header and one line."""
    return "\n".join(header(project.name, zoom) + [printable(message)])


no_metric_block = message_block
