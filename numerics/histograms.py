"""Exponent histograms as tracker histograms (``trackers.Histogram``).

The x axis is the base-2 exponent: a value ``x`` counts in the bin
``[e, e+1)`` with ``e = floor(log2|x|)``, so the edge ``-10`` means
``|x| = 2**-10`` and the bins read as the binades of the number format.
Values below ``2**EXP_MIN`` (float64 only) count in ``[EXP_MIN-1, EXP_MIN)``,
values at or above ``2**(EXP_MAX+1)`` and ±inf in ``[EXP_MAX+1, EXP_MAX+2)``.
Zeros and NaNs have no exponent and are not in the histogram (they are the
``frac_zero`` and ``frac_nonfinite`` statistics).  Each histogram spans its
lowest to its highest non-empty bin, so a dashboard shows the occupied
binades rather than 279 bins that are mostly empty.
"""

from __future__ import annotations

from typing import Any, Callable

import numpy as np

from numerics.stats import COUNT_FIELDS, EXP_MAX, EXP_MIN, N_BINS, SCALAR_STATS

HIST_OFFSET = len(COUNT_FIELDS) + len(SCALAR_STATS)  # first histogram column of a stats row
EDGES = np.arange(EXP_MIN - 1, EXP_MAX + 3, dtype=np.float64)  # N_BINS + 1 edges in log2 units


def exponent_histogram(counts: np.ndarray) -> tuple[list[float], list[float]] | None:
    """``(counts, edges)`` of the occupied bins of one row's ``N_BINS`` counts; None when all are 0."""
    nonzero = np.flatnonzero(counts)
    if nonzero.size == 0:
        return None
    lo, hi = int(nonzero[0]), int(nonzero[-1]) + 1
    return counts[lo:hi].tolist(), EDGES[lo:hi + 1].tolist()


def metric_key(meta: tuple) -> str:
    """``numerics/hist/<module>/<kind>``; the kind of optimizer state is its key (``exp_avg``)."""
    kind = meta[3] if meta[2] == "optimizer_state" else meta[2]
    return f"numerics/hist/{meta[1]}/{kind}"


def histograms(metas: list[tuple], rows: np.ndarray, selected: Callable[[str], bool]) -> dict[str, Any]:
    """Tracker histograms of the rows whose module name is ``selected``.

    ``metas`` are the table's meta tuples (step, module, kind, state, type,
    dtype) and ``rows`` the matching statistics rows with histogram columns.
    """
    from rundata.histogram import Histogram  # only runs that send histograms pay for the import

    out: dict[str, Any] = {}
    for meta, row in zip(metas, rows, strict=True):
        if not selected(meta[1]):
            continue
        hist = exponent_histogram(row[HIST_OFFSET:HIST_OFFSET + N_BINS])
        if hist is not None:
            out[metric_key(meta)] = Histogram(*hist)
    return out
