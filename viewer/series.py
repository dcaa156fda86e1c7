"""Incremental run summary: fixed-size step buckets plus a raw tail.

One ``LiveSeries`` serves the live mode and the persistent ``--once`` cache
(``viewer/cache.py``).  The first load aggregates the whole run in SQLite into
at most ``K`` step buckets; later calls to :meth:`LiveSeries.update` read only
rows with ``id`` greater than the last one seen and fold them in, halving the
resolution (pairwise merge) when the step range outgrows the buckets.  Memory
stays bounded whatever the run length.

Each bucket is ``[vmin, vmax, count, first step, last step]``: value min/max
and count of the numeric points of the chart metric, and the step extent of
*every* row of the run in the bucket (what the exact ``--once`` columns need).
The tail keeps the newest points ``(step, value, id)`` in (step, id) order, as
many as the largest zoom level shows, so zoomed views are exact.
"""
from __future__ import annotations

import bisect
from collections import deque
from typing import Any

from viewer.chart import Column, bucket_points
from viewer.model import ZOOM_POINTS, Roles
from viewer.store import Project, RunInfo

K = 4096
TAIL = max(n for n in ZOOM_POINTS if n)
NUM = (int, float)
ColRow = tuple[int, int, float, float, int, int]  # bucket, count, min, max, first step, last step


def _merge(a: list | None, c: list | None) -> list | None:
    if a is None or c is None:
        return a if c is None else c
    lo = [x for x in (a[0], c[0]) if x is not None]
    hi = [x for x in (a[1], c[1]) if x is not None]
    return [min(lo) if lo else None, max(hi) if hi else None, a[2] + c[2], min(a[3], c[3]), max(a[4], c[4])]


class LiveSeries:
    """The chart metric (and latest lr/sparsity) of one run, kept up to date."""

    def __init__(self, project: Project, run: RunInfo, roles: Roles, k: int | None = None,
                 state: dict[str, Any] | None = None) -> None:
        self.project, self.run, self.roles = project, run, roles
        self.keys = [roles.metric, roles.lr or roles.metric, roles.sparsity or roles.metric]
        self.k = k or K
        self.rows_seen = 0
        self.stale = False  # a row older than the first bucket arrived: rebuild
        self.tail: deque[tuple[int, float, int]] = deque(maxlen=TAIL)
        if state is not None:
            self._restore(state)
        else:
            with project.snapshot():
                self._build()

    # -- building and (de)serialising ------------------------------------------
    def _build(self) -> None:
        pr, rid, roles = self.project, self.run.run_id, self.roles
        self.first: tuple[int, float] | None = None
        self.lr_pt = self.sp_pt = None
        lo, hi, last_id = pr.step_range(rid)
        self.last_id = last_id or 0
        self.lo = lo or 0
        self.span = max(1, -(-((hi or 0) - self.lo + 1) // self.k))
        self.b: list[list | None] = [None] * self.k
        if lo is None:
            return
        for b, n, vmin, vmax, s0, s1 in pr.buckets(rid, roles.metric, lo, hi, self.k, self.span,
                                                   all_rows=True, max_id=self.last_id):
            self.b[b] = [vmin, vmax, n, s0, s1]
            if self.first is None and n:
                self.first = (s0, pr.value_at(rid, roles.metric, s0))
        self.tail.extend(pr.tail(rid, roles.metric, TAIL, ids=True))
        if roles.lr:
            self.lr_pt = (pr.latest(rid, roles.lr) or (None, None))[:2]
        if roles.sparsity:
            self.sp_pt = (pr.latest(rid, roles.sparsity) or (None, None))[:2]

    def state(self) -> dict[str, Any]:
        """Everything needed to restore this summary later (JSON-serialisable)."""
        return {"k": self.k, "lo": self.lo, "span": self.span, "last_id": self.last_id,
                "b": self.b, "tail": [list(t) for t in self.tail], "first": self.first,
                "lr": self.lr_pt, "sp": self.sp_pt}

    def _restore(self, st: dict[str, Any]) -> None:
        self.k, self.lo, self.span, self.last_id = int(st["k"]), int(st["lo"]), int(st["span"]), int(st["last_id"])
        self.b = [None if c is None else [c[0], c[1], int(c[2]), int(c[3]), int(c[4])] for c in st["b"]]
        if len(self.b) != self.k or self.span < 1:
            raise ValueError("bucket array does not match its size")
        self.tail.extend((int(s), float(v), int(i)) for s, v, i in st["tail"])
        self.first = tuple(st["first"]) if st["first"] else None
        self.lr_pt = tuple(st["lr"]) if st["lr"] else None
        self.sp_pt = tuple(st["sp"]) if st["sp"] else None

    @property
    def lr(self) -> float | None:
        """Latest learning rate (newest step), or None."""
        return self.lr_pt[1] if self.lr_pt else None

    @property
    def sparsity(self) -> float | None:
        """Latest sparsity (newest step), or None."""
        return self.sp_pt[1] if self.sp_pt else None

    # -- incremental update -------------------------------------------------------
    def _add(self, step: int, v: float | None) -> None:
        idx = (step - self.lo) // self.span
        while idx >= self.k:  # grow: merge neighbouring buckets, double the span
            self.b = [_merge(self.b[i], self.b[i + 1]) for i in range(0, self.k, 2)] + [None] * (self.k // 2)
            self.span *= 2
            idx = (step - self.lo) // self.span
        new = [v, v, 1, step, step] if v is not None else [None, None, 0, step, step]
        self.b[idx] = _merge(self.b[idx], new)

    def _add_tail(self, step: int, v: float, rid: int) -> None:
        pt = (step, v, rid)
        if not self.tail or step >= self.tail[-1][0]:
            self.tail.append(pt)  # the usual case: steps only grow
        elif len(self.tail) < TAIL or (step, rid) > (self.tail[0][0], self.tail[0][2]):
            items = list(self.tail)
            bisect.insort(items, pt, key=lambda t: (t[0], t[2]))
            self.tail = deque(items[-TAIL:], maxlen=TAIL)

    def update(self) -> int:
        """Fold in rows written since the last call; returns how many were read.

        Sets ``stale`` (and stops) when a row has a step before the first
        bucket: the caller rebuilds.
        """
        rows = self.project.new_rows(self.run.run_id, self.last_id, self.keys)
        for rid, step, v, lr, sp in rows:
            if step < self.lo:
                self.stale = True
                return len(rows)
            self.last_id = rid
            num = v if isinstance(v, NUM) else None
            self._add(step, num)
            if num is not None:
                if self.first is None:
                    self.first = (step, num)
                self._add_tail(step, num, rid)
            if self.roles.lr and isinstance(lr, NUM) and (self.lr_pt is None or self.lr_pt[0] is None
                                                          or step >= self.lr_pt[0]):
                self.lr_pt = (step, lr)
            if self.roles.sparsity and isinstance(sp, NUM) and (self.sp_pt is None or self.sp_pt[0] is None
                                                                or step >= self.sp_pt[0]):
                self.sp_pt = (step, sp)
        self.rows_seen += len(rows)
        return len(rows)

    # -- exact --once columns -----------------------------------------------------
    def tail_points(self, n: int) -> list[tuple[int, float]]:
        """The last ``n`` numeric points (step, value), oldest first."""
        return [(s, v) for s, v, _ in list(self.tail)[-n:]]

    def step_range(self) -> tuple[int | None, int | None]:
        """First and last step of any row of the run."""
        used = [c for c in self.b if c is not None]
        return (min(c[3] for c in used), max(c[4] for c in used)) if used else (None, None)

    def columns(self, lo: int, hi: int, width: int) -> list[ColRow]:
        """Exactly what ``Project.buckets(run, metric, lo, hi, width)`` returns.

        Buckets wholly inside a column come from the summary; the (at most two)
        buckets a column boundary cuts are aggregated in SQLite over just
        their part, so the result is exact whatever the bucket span.
        """
        pr, rid, key = self.project, self.run.run_id, self.roles.metric
        w = max(1, -(-(hi - lo + 1) // width))
        fast = pr._fast(rid, key)
        out: list[ColRow] = []
        for col in range(width):
            a = lo + col * w
            if a > hi:
                break
            z = min(hi, a + w - 1)
            acc: list | None = None
            for f in range(max(0, (a - self.lo) // self.span), min(self.k - 1, (z - self.lo) // self.span) + 1):
                cell = self.b[f]
                if cell is None:
                    continue
                bs = self.lo + f * self.span
                x, y = max(a, bs), min(z, bs + self.span - 1)
                if (x, y) != (bs, bs + self.span - 1) and not (x <= cell[3] and cell[4] <= y):
                    cell = pr.range_cell(rid, key, x, y, fast)
                acc = _merge(acc, cell)
            if acc is not None and acc[2]:
                out.append((col, acc[2], acc[0], acc[1], acc[3], acc[4]))
        return out

    # -- live view ------------------------------------------------------------
    def view(self, zoom: int, width: int) -> tuple[list[Column | None], float, float,
                                                  tuple[int, float], tuple[int, float]] | None:
        """Columns, min, max, first and last point for ``zoom`` at ``width`` columns."""
        if not self.tail:
            return None
        n = ZOOM_POINTS[zoom]
        if n is not None:
            pts = self.tail_points(n)
            cols, vmin, vmax = bucket_points(pts, width)
            return cols, vmin, vmax, pts[0], pts[-1]
        used = [i for i, c in enumerate(self.b) if c is not None and c[2]]
        if not used:
            return None
        last_b = used[-1] + 1
        cols: list[list[float] | None] = [None] * width
        for i in used:
            x = min(width - 1, i * width // last_b)
            c, src = cols[x], self.b[i]
            cols[x] = list(src[:2]) + [src[1]] if c is None else [min(c[0], src[0]), max(c[1], src[1]), src[1]]
        vmin = min(self.b[i][0] for i in used)
        vmax = max(self.b[i][1] for i in used)
        last = self.tail[-1]
        return ([tuple(c) if c else None for c in cols], vmin, vmax,
                self.first or self.tail[0][:2], (last[0], last[1]))
