"""Runs side by side: which Kconfig symbols differ, a table, overlaid loss curves.

Pure rendering over :class:`RunInfo`, shared by ``trackio-view --compare``
(runs read from Trackio) and ``python -m sweeps compare`` (runs read from run
directories). The symbol diff comes first because it is what explains the
curves; ``TRACKER_RUN_NAME`` always differs and is left out.
"""

from __future__ import annotations

import math
from typing import Any

from kconf.diff import LEFT_OUT, changed_symbols, diffconfig, format_value
from ktrack.numbers import as_text
from rundata.store import RunInfo


MARKERS = "*o+x#@%&"


def _strip(config: dict[str, Any]) -> dict[str, Any]:
    return {k.removeprefix("CONFIG_"): v for k, v in config.items() if k.removeprefix("CONFIG_") not in LEFT_OUT}


def differing(runs: list[RunInfo]) -> list[str]:
    """Kconfig symbols (no ``CONFIG_``) whose values are not the same in every run."""
    names: set[str] = set()
    configs = [_strip(r.config) for r in runs]
    for other in configs[1:]:
        names.update(changed_symbols(configs[0], other))
    return sorted(names)


def diff_lines(a: dict[str, Any], b: dict[str, Any]) -> list[str]:
    """Kernel ``diffconfig`` lines from config ``a`` to ``b`` (run name left out)."""
    return diffconfig(_strip(a), _strip(b))


def _fmt(value: float | None, digits: int = 4) -> str:
    return "N/A" if value is None else f"{value:.{digits}f}"


def _table(header: list[str], rows: list[list[str]]) -> list[str]:
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    def line(cells: list[str]) -> str:
        return "  ".join(c.ljust(w) for c, w in zip(cells, widths, strict=True)).rstrip()

    return [line(header), line(["-" * w for w in widths]), *(line(r) for r in rows)]


def _value(value: Any) -> str:
    """A symbol's value as ``.config`` writes it; floats in 6 significant digits."""
    return as_text(value) if isinstance(value, float) else format_value(value)


def symbol_table(runs: list[RunInfo]) -> list[str]:
    """The 'Kconfig symbols that differ' section: one row per symbol, one column per run."""
    names = differing(runs)
    if not names:
        return [f"Kconfig symbols that differ: none ({len(runs)} runs share one configuration)"]
    configs = [_strip(r.config) for r in runs]
    rows = [[n, *(_value(c[n]) if n in c else "(unset)" for c in configs)] for n in names]
    table = _table(["symbol", *(r.name for r in runs)], rows)
    return [f"Kconfig symbols that differ ({len(names)}):", *("  " + line for line in table)]


def summary_table(runs: list[RunInfo]) -> list[str]:
    """The runs' end-of-run values, counted apart from the Kconfig symbols: one row per key,
    one column per run, numbers in 6 significant digits."""
    names = sorted({k for r in runs for k in r.summary})
    if not names:
        return ["Summary values: none yet"]
    rows = [[n, *(as_text(r.summary[n]) if n in r.summary else "-" for r in runs)] for n in names]
    table = _table(["summary", *(r.name for r in runs)], rows)
    return [f"Summary values ({len(names)}):", *("  " + line for line in table)]


def run_table(runs: list[RunInfo]) -> list[str]:
    """One row per run: marker, steps, latest loss, best loss, time."""
    rows = [[f"{MARKERS[i % len(MARKERS)]} {r.name}",
             str(r.curve_last_step) if r.curve_last_step is not None else "N/A",
             _fmt(r.latest), _fmt(r.best), "N/A" if r.time_s is None else f"{r.time_s:.1f}s"]
            for i, r in enumerate(runs)]
    return ["  " + line for line in _table(["run", "steps", "latest loss", "best loss", "time"], rows)]


def overlay_chart(runs: list[RunInfo], width: int = 60, height: int = 12) -> list[str]:
    """Loss curves of ``runs`` on shared axes, one marker per run (``*``, ``o``, ``+``, ...).

    Steps map to columns over the union of step ranges; each run's value in a
    column is its last point there. The layout follows ``trackio-view
    --once``: 7-wide y labels, ``|``, and a ``+---`` base; step range below.
    """
    curves = [[(s, v) for s, v in r.curve if math.isfinite(v)] for r in runs]
    values = [v for c in curves for _, v in c]
    if not values:
        return ["(no loss values logged yet)"]
    steps = [s for c in curves for s, _ in c]
    s0, s1 = min(steps), max(steps)
    vmin, vmax = min(values), max(values)
    if vmax == vmin:
        vmax = vmin + 1.0
    grid = [[" "] * width for _ in range(height)]
    for i, curve in enumerate(curves):
        cols: dict[int, float] = {}
        for s, v in curve:
            cols[0 if s1 == s0 else round((s - s0) / (s1 - s0) * (width - 1))] = v
        for x, v in cols.items():
            y = round((vmax - v) / (vmax - vmin) * (height - 1))
            grid[y][x] = MARKERS[i % len(MARKERS)]
    step = (vmax - vmin) / (height - 1)
    lines = [f"{vmax - i * step:7.2f} |{''.join(grid[i])}".rstrip() for i in range(height)]
    lines.append(" " * 8 + "+" + "-" * width)
    lines.append(" " * 9 + f"step {s0}".ljust(width - len(f"{s1}")) + f"{s1}")
    lines.append("  " + "   ".join(f"{MARKERS[i % len(MARKERS)]} {r.name}" for i, r in enumerate(runs)))
    return lines


def compare_data(runs: list[RunInfo]) -> dict[str, Any]:
    """The ``--compare --json`` document's numbers: the differing symbols (one value per run,
    None where unset) and per run the table's steps, latest and best loss and time."""
    configs = [_strip(r.config) for r in runs]
    return {"differing": {n: [c.get(n) for c in configs] for n in differing(runs)},
            "runs": [{"run": r.name, "steps": r.curve_last_step, "latest_loss": r.latest, "best_loss": r.best,
                      "time_s": r.time_s} for r in runs]}


def compare_text(runs: list[RunInfo], width: int = 60, height: int = 12) -> str:
    """The whole comparison: symbol diff first, then the run table, then the overlaid loss chart."""
    if not runs:
        raise ValueError("compare needs at least one run")
    parts = [*symbol_table(runs), "", *run_table(runs), "", "loss", *overlay_chart(runs, width, height)]
    return "\n".join(parts)
