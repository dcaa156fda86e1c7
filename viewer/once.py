"""Plain-text ``--once`` output: the training dashboard block, line for line."""
from __future__ import annotations

from viewer.chart import label_format, star_chart
from viewer.model import ZOOM_LABELS, NoMetric, build_view, fmt_sparsity, iteration_of, resolve
from viewer.store import Project, RunInfo

RULE = "=" * 60


def header(project: str, zoom: int) -> list[str]:
    """The four header lines of a dashboard block."""
    return [RULE, f"TrackIO Dashboard - Project: {project}", f"View: {ZOOM_LABELS[zoom]}", RULE, ""]


def dashboard(project: Project, run: RunInfo, zoom: int, metric: str | None = None,
              use_cache: bool = True) -> str:
    """One project's ``--once`` block (no trailing newline).

    With ``use_cache`` the run summary comes from the persistent cache
    (``viewer/cache.py``), updated with the rows written since; the text is
    the same either way.  Raises NoMetric when the run has no loss (or
    ``metric``) values.
    """
    with project.snapshot():
        return _dashboard(project, run, zoom, metric, use_cache)


def _dashboard(project: Project, run: RunInfo, zoom: int, metric: str | None, use_cache: bool) -> str:
    roles = resolve(project, run, metric)
    summary = None
    if use_cache:
        from viewer.cache import load_series

        summary = load_series(project, run, roles)
    view = build_view(project, run, roles.metric, zoom, 50, summary)
    if view is None:
        raise NoMetric(f"project '{project.name}' run '{run.name}' has no numeric "
                       f"values of '{roles.metric}'")
    label = "Loss" if metric is None else roles.metric
    # The spec's 4 decimals for the loss; other metrics (numerics statistics
    # of 1e-6 or 1e9) keep 4 significant digits instead.
    num = "{:.4f}" if metric is None or 1e-2 <= max(abs(view.vmin), abs(view.vmax)) < 1e6 else "{:.4e}"
    it_first = iteration_of(project, run, roles, view.first[0])
    it_last = iteration_of(project, run, roles, view.last[0])
    change = view.last[1] - view.first[1]
    lines = header(project.name, zoom)
    lines += [f"Latest Iteration: {it_last}",
              f"Latest {label}: {num.format(view.last[1])}",
              f"{label} Change: {'+' if change >= 0 else ''}{num.format(change)} (from {num.format(view.first[1])})",
              f"Min {label}: {num.format(view.vmin)}",
              f"Max {label}: {num.format(view.vmax)}"]
    if roles.lr:
        lr = summary.lr_pt if summary is not None else project.latest(run.run_id, roles.lr)
        if lr and lr[1] is not None:
            lines.append(f"Learning Rate: {lr[1]:.2e}")
    if roles.sparsity:
        sp = summary.sp_pt if summary is not None else project.latest(run.run_id, roles.sparsity)
        if sp and sp[1] is not None:
            lines.append(f"Sparsity: {fmt_sparsity(sp[1])}")
    lines += ["", f"{label} Trend (Iterations {it_first} to {it_last}):"]
    fmt = "{:7.2f}" if metric is None else label_format(view.vmin, view.vmax)
    lines += star_chart(view.cols, view.vmin, view.vmax, fmt=fmt)
    return "\n".join(lines)


def no_metric_block(project: Project, zoom: int, message: str) -> str:
    """A block for a project without a chartable metric (all-projects mode)."""
    return "\n".join(header(project.name, zoom) + [message])
