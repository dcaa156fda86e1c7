"""The sweep summary: one row per point, read from the run directories, sorted by the metric."""

from __future__ import annotations

import csv
import io
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ktrack.keys import TRAIN_LOSS_KEYS
from ktrack.numbers import number
from sweeps import results
from sweeps.spec import alias, format_value
from sweeps.state import PENDING, State

COLUMNS = ("best_val_loss", "final_train_loss", "time_s", "status")


@dataclass
class Row:
    """One point of a sweep."""

    name: str
    varied: dict[str, Any]
    run_dir: Path
    status: str
    best_val_loss: float | None
    final_train_loss: float | None
    time_s: float | None
    metric: float | None


def rows(state: State, metric: str = "best_val_loss", direction: str = "minimize",
         order: list[str] | None = None) -> list[Row]:
    """Every point in ``state``, best first by ``metric`` (points without it last).

    ``order`` lists the varied symbols in sweep-file order (the state file sorts them).
    """
    out = []
    for name, rec in state.points.items():
        run_dir = Path(rec.get("run_dir", ""))
        summary = results.summary(run_dir)
        train = results.series(run_dir, TRAIN_LOSS_KEYS)
        # the time the sweep ran the point, every attempt (resume) summed; else what the trainer says
        time_s = number(rec.get("elapsed_s")) or number(summary.get("total_time_s"))
        varied = dict(rec.get("varied") or {})
        varied = {k: varied[k] for k in [*(order or []), *varied] if k in varied}
        out.append(Row(name=name, varied=varied, run_dir=run_dir,
                       status=rec.get("status", PENDING),
                       best_val_loss=results.metric_value(run_dir, "best_val_loss"),
                       final_train_loss=train[-1][1] if train else None, time_s=time_s,
                       metric=results.metric_value(run_dir, metric)))
    sign = -1.0 if direction == "maximize" else 1.0

    def key(row: Row) -> tuple[bool, float, str]:
        if row.metric is None or math.isnan(row.metric):
            return (True, 0.0, row.name)
        return (False, sign * row.metric, row.name)

    return sorted(out, key=key)


def _varied_names(table: list[Row]) -> list[str]:
    names: list[str] = []
    for row in table:
        names += [n for n in row.varied if n not in names]
    return names


def csv_text(table: list[Row], metric: str = "best_val_loss") -> str:
    """CSV: run, each varied symbol, best_val_loss, final_train_loss, time_s, status (and the metric)."""
    names = _varied_names(table)
    extra = [] if metric in COLUMNS else [metric]
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(["run", *names, *COLUMNS, *extra, "run_dir"])
    for row in table:
        writer.writerow([row.name, *(row.varied.get(n, "") for n in names), *_blank(row.best_val_loss),
                         *_blank(row.final_train_loss), *_blank(row.time_s), row.status,
                         *([_blank(row.metric)[0]] if extra else []), str(row.run_dir)])
    return buf.getvalue()


def _blank(value: float | None) -> list[str]:
    return [""] if value is None else [repr(value)]


def rich_table(table: list[Row], title: str, metric: str = "best_val_loss") -> Any:
    """The same rows as a ``rich.table.Table`` for the terminal."""
    from rich.table import Table

    names = _varied_names(table)
    t = Table(title=title)
    for name in names:
        t.add_column(alias(name))
    for column in ("best val loss", "final train loss", "time", "status"):
        t.add_column(column, justify="right" if column != "status" else "left")
    extra = metric not in COLUMNS
    if extra:
        t.add_column(metric, justify="right")
    fmt = lambda v, d=4: "N/A" if v is None else f"{v:.{d}f}"  # noqa: E731
    for row in table:
        cells = [format_value(row.varied[n]) if n in row.varied else "" for n in names]
        cells += [fmt(row.best_val_loss), fmt(row.final_train_loss),
                  "N/A" if row.time_s is None else f"{row.time_s:.1f}s", row.status]
        t.add_row(*cells, *([fmt(row.metric)] if extra else []))
    return t
