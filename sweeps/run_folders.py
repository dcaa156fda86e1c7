"""Runs read from their run folders, for comparison (rendering: :mod:`viewer.compare_render`;
Trackio runs for ``trackio-view --compare``: :mod:`viewer.compare_runs`).

For ``ktrack-sweep compare`` and ``make diffconfig``::

    runs = load_runs(["runs/gpt2-1a2b3/lr=1e-3", "lr=3e-4"])   # folders or run names
    print(compare_text(runs))
    print("\\n".join(diff_lines(runs[0].config, runs[1].config)))

The symbol diff comes first because it is what explains the curves.
``TRACKER_RUN_NAME`` always differs and is left out.
"""

from __future__ import annotations

import os
from pathlib import Path

from ktrack.keys import TRAIN_LOSS_KEYS, VAL_LOSS_KEYS
from ktrack.numbers import number
from ktrack.runfolder import RunFolder
from sweeps import results
from sweeps.errors import SweepError
from rundata.store import RunInfo
from viewer.compare_render import (MARKERS, compare_text, diff_lines, differing, overlay_chart,  # noqa: F401
                               run_table, symbol_table)


def find_run(spec: str | os.PathLike[str], runs_dir: str | os.PathLike[str] = "runs") -> Path:
    """A run directory from a path, ``project/run``, or a run name searched under ``runs_dir``.

    Raises SweepError (one line) when nothing or more than one run matches.
    """
    if not str(spec).strip():
        raise SweepError("no run given: name two runs, e.g. make diffconfig A=<run> B=<run>")
    path = Path(spec)
    if path.is_dir() and (RunFolder(path).config_json.is_file() or RunFolder(path).journal.is_file()):
        return path
    base = Path(runs_dir)
    found = sorted(p for p in base.glob(f"*/{spec}") if p.is_dir()) if "/" not in str(spec) else \
        [base / spec] if (base / spec).is_dir() else []
    if not found:
        raise SweepError(f"no run {str(spec)!r}: give a run directory or a run name under {base}/<project>/")
    if len(found) > 1:
        raise SweepError(f"run name {str(spec)!r} is in several projects ({', '.join(p.parent.name for p in found)}); "
                         f"write <project>/{spec}")
    return found[0]


def load_run(run_dir: str | os.PathLike[str]) -> RunInfo:
    """Config, loss series, summary and duration of one run directory."""
    run_dir = Path(run_dir)
    recs = results.records(run_dir)
    times = [r["time"] for r in recs if isinstance(r.get("time"), (int, float))]
    summary = results.summary(run_dir)
    time_s = number(summary.get("total_time_s"))
    if time_s is None and len(times) > 1:
        time_s = max(times) - min(times)
    return RunInfo(run_dir.name, run_dir.name, dir=run_dir, config=results.config(run_dir),
                   train=results.series(run_dir, TRAIN_LOSS_KEYS), val=results.series(run_dir, VAL_LOSS_KEYS),
                   summary=summary, time_s=time_s)


def load_runs(specs: list[str], runs_dir: str | os.PathLike[str] = "runs") -> list[RunInfo]:
    """:func:`load_run` for each of ``specs`` (see :func:`find_run`)."""
    return [load_run(find_run(spec, runs_dir)) for spec in specs]


