"""Plain-text ``--once`` output: the training dashboard block, line for line."""
from __future__ import annotations

import math
from typing import Any

from ktrack.messages import printable
from viewer.chart import HEIGHT, chart_labels, label_format, star_lines, star_row
from viewer.model import ZOOM_LABELS, NoMetric, iteration_of, sparsity_percent
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
    return render(data(project, run, zoom, metric, use_cache))


def data(project: Project, run: RunInfo, zoom: int, metric: str | None = None,
         use_cache: bool = True) -> dict[str, Any]:
    """What a ``--once`` block shows, as the ``--once --json`` document's project entry
    (keys in docs/viewer.md); :func:`render` prints it."""
    return project.read(lambda: _data(project, run, zoom, metric, use_cache))


def _data(project: Project, run: RunInfo, zoom: int, metric: str | None, use_cache: bool) -> dict[str, Any]:
    from viewer.cache import load_summary

    roles, summary = load_summary(project, run, metric, use_cache, view=(zoom, WIDTH))
    view = summary.metric.view(zoom, WIDTH)
    if view is None:
        raise NoMetric(f"project '{project.name}' run '{run.name}' has no numeric values of '{roles.metric}'")
    it_last = iteration_of(project, run, roles, view.last[0])
    out: dict[str, Any] = {
        "project": project.name, "run": run.name, "run_id": run.run_id, "view": ZOOM_LABELS[zoom],
        "metric": roles.metric, "loss": metric is None,
        "latest_iteration": it_last, "latest_value": view.last[1], "diverged": None, "alert": None,
        "first_iteration": iteration_of(project, run, roles, view.first[0]), "first_value": view.first[1],
        "change": view.last[1] - view.first[1], "min": view.vmin, "max": view.vmax,
        "learning_rate": summary.lr, "sparsity_percent": None,
        "chart": {"labels": [], "rows": [None if c is None else star_row(c[2], view.vmin, view.vmax, HEIGHT)
                                         for c in view.cols]},
    }
    if summary.sparsity is not None:
        out["sparsity_percent"] = sparsity_percent(summary.sparsity)
    gone = project.nonfinite_after(run.run_id, roles.metric, view.last[0])
    if gone is not None:
        # Where the run really is: the chart and the other numbers stay those of the finite points.
        since, now, shown = gone
        out["diverged"] = {"since_iteration": iteration_of(project, run, roles, since), "value": shown,
                           "last_finite_iteration": it_last, "last_finite_value": view.last[1]}
        out["latest_iteration"], out["latest_value"] = iteration_of(project, run, roles, now), math.nan
        alerts = project.alerts(run)
        if alerts:
            a = alerts[-1]
            out["alert"] = {"level": str(a["level"]).upper(), "step": a["step"] if isinstance(a["step"], int)
                            else None, "title": a["title"], "text": a["text"]}
    out["chart"]["labels"] = chart_labels(view.vmin, view.vmax, HEIGHT)
    return out


def _num_format(d: dict[str, Any]) -> str:
    """4 decimals for the loss; other metrics (numerics statistics of 1e-6 or 1e9) keep 4
    significant digits instead."""
    biggest = max(abs(d["min"]), abs(d["max"]))
    return "{:.4f}" if d["loss"] or 1e-2 <= biggest < 1e6 else "{:.4e}"


def render(d: dict[str, Any]) -> str:
    """The ``--once`` block of :func:`data`'s dict, the seed's layout line for line."""
    label = "Loss" if d["loss"] else printable(d["metric"])
    num = _num_format(d)
    lines = header(d["project"], ZOOM_LABELS.index(d["view"]))
    div = d["diverged"]
    if div is None:
        lines += [f"Latest Iteration: {d['latest_iteration']}", f"Latest {label}: {num.format(d['latest_value'])}"]
    else:
        lines += [f"Latest Iteration: {d['latest_iteration']} (diverged: {label} not finite "
                  f"since iteration {div['since_iteration']})",
                  f"Latest {label}: {div['value']} (last finite {num.format(div['last_finite_value'])} "
                  f"at iteration {div['last_finite_iteration']})"]
        if d["alert"]:
            a = d["alert"]
            at = f", step {a['step']}" if a["step"] is not None else ""
            lines.append(printable(f"Alert ({a['level']}{at}): {a['title']}"))
    if d.get("rewound_to"):
        steps = ", ".join(str(step) for step in d["rewound_to"])
        lines.append(f"Rewound at iteration {steps} (resumed from a checkpoint; the later rows are the resumed run's)")
    change = d["change"]
    lines += [f"{label} Change: {'+' if change >= 0 else ''}{num.format(change)} (from {num.format(d['first_value'])})",
              f"Min {label}: {num.format(d['min'])}",
              f"Max {label}: {num.format(d['max'])}"]
    if d["learning_rate"] is not None:
        lines.append(f"Learning Rate: {d['learning_rate']:.2e}")
    if d["sparsity_percent"] is not None:
        lines.append(f"Sparsity: {d['sparsity_percent']:.1f}%")
    last = div["last_finite_iteration"] if div else d["latest_iteration"]
    lines += ["", f"{label} Trend (Iterations {d['first_iteration']} to {last}):"]
    biggest = max(abs(d["min"]), abs(d["max"]))
    plain = d["loss"] and (biggest < 1e9 or not math.isfinite(biggest))
    fmt = "{:7.2f}" if plain else label_format(d["min"], d["max"])
    lines += star_lines(d["chart"]["rows"], d["chart"]["labels"], fmt)
    return "\n".join(lines)


def message_block(project: Project, zoom: int, message: str) -> str:
    """A block for a project without a chart (all-projects mode): the header and one line."""
    return "\n".join(header(project.name, zoom) + [printable(message)])

