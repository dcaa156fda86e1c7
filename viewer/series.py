"""Incremental series for live mode: fixed-size bucket summary plus a raw tail.

The first load aggregates the whole run in SQLite into at most ``K`` step
buckets; later ticks read only rows with ``id`` greater than the last one seen
and fold them in, halving the resolution (pairwise merge) when the step range
outgrows the buckets.  Memory stays bounded whatever the run length.
"""
from __future__ import annotations

from collections import deque

from viewer.chart import Column, bucket_points
from viewer.model import ZOOM_POINTS, Roles
from viewer.store import Project, RunInfo

K = 1024


class LiveSeries:
    """The chart metric (and latest lr/sparsity) of one run, kept up to date."""

    def __init__(self, project: Project, run: RunInfo, roles: Roles) -> None:
        self.project, self.run, self.roles = project, run, roles
        self.keys = [roles.metric, roles.lr or roles.metric, roles.sparsity or roles.metric]
        self.first: tuple[int, float] | None = None
        self.tail: deque[tuple[int, float]] = deque(maxlen=max(n for n in ZOOM_POINTS if n))
        self.lr = self.sparsity = None
        self.rows_seen = 0
        conn = project.conn
        conn.execute("BEGIN")  # one consistent snapshot, even with a live writer
        try:
            lo, hi, self.last_id = project.step_range(run.run_id)
            self.lo = lo or 0
            self.span = max(1, -(-((hi or 0) - self.lo + 1) // K))
            self.b: list[list[float] | None] = [None] * K
            if lo is not None:
                for b, n, vmin, vmax, s0, _s1 in project.buckets(run.run_id, roles.metric, lo, hi, K, self.span):
                    self.b[b] = [vmin, vmax, n]
                    if self.first is None:
                        self.first = (s0, project.value_at(run.run_id, roles.metric, s0))
            self.tail.extend(project.tail(run.run_id, roles.metric, self.tail.maxlen))
            if roles.lr:
                self.lr = (project.latest(run.run_id, roles.lr) or (0, None))[1]
            if roles.sparsity:
                self.sparsity = (project.latest(run.run_id, roles.sparsity) or (0, None))[1]
        finally:
            conn.execute("COMMIT")
        self.last_id = self.last_id or 0

    def _add(self, step: int, v: float) -> None:
        idx = (step - self.lo) // self.span
        while idx >= K:  # grow: merge neighbouring buckets, double the span
            merged: list[list[float] | None] = []
            for i in range(0, K, 2):
                a, c = self.b[i], self.b[i + 1]
                merged.append(a if c is None else c if a is None else
                              [min(a[0], c[0]), max(a[1], c[1]), a[2] + c[2]])
            self.b = merged + [None] * (K // 2)
            self.span *= 2
            idx = (step - self.lo) // self.span
        if idx < 0:
            return
        cur = self.b[idx]
        self.b[idx] = [v, v, 1] if cur is None else [min(cur[0], v), max(cur[1], v), cur[2] + 1]

    def update(self) -> int:
        """Fold in rows written since the last call; returns how many were read."""
        rows = self.project.new_rows(self.run.run_id, self.last_id, self.keys)
        num = (int, float)
        for rid, step, v, lr, sp in rows:
            self.last_id = rid
            if isinstance(v, num):
                if self.first is None:
                    self.first = (step, v)
                self._add(step, v)
                self.tail.append((step, v))
            if self.roles.lr and isinstance(lr, num):
                self.lr = lr
            if self.roles.sparsity and isinstance(sp, num):
                self.sparsity = sp
        self.rows_seen += len(rows)
        return len(rows)

    def view(self, zoom: int, width: int) -> tuple[list[Column | None], float, float,
                                                  tuple[int, float], tuple[int, float]] | None:
        """Columns, min, max, first and last point for ``zoom`` at ``width`` columns."""
        if not self.tail:
            return None
        n = ZOOM_POINTS[zoom]
        if n is not None:
            pts = list(self.tail)[-n:]
            cols, vmin, vmax = bucket_points(pts, width)
            return cols, vmin, vmax, pts[0], pts[-1]
        used = [i for i, c in enumerate(self.b) if c is not None]
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
        return ([tuple(c) if c else None for c in cols], vmin, vmax,
                self.first or self.tail[0], self.tail[-1])
