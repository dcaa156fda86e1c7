"""Numeric series of a run, for any metric key, kept up to date from new rows.

The series interface of ``--once``, ``--compare`` and the persistent cache
(the live workspace keeps every metric of a run at once in
:class:`viewer.workspace.trace.RunTrace`, filled from whole rows):

* :class:`SeriesSet` ``(project, run)`` -- the series of one run that are shown.
  ``add(key)`` builds one from SQL (``light=True``: only its latest point);
  ``update()`` reads the rows written since the last call, once, for every
  key in the set (``id > last_id``), and returns how many it read;
  ``state()`` / ``SeriesSet(..., state=...)`` (de)serialise it.
* :class:`Series` -- one key: ``latest``, ``first``, ``count``, ``tail_points(n)``,
  ``step_range()``, ``view(zoom, width)`` (exact, the ``--once`` numbers).
* :class:`LiveSeries` -- a SeriesSet of a run's loss (``Roles.metric``), lr and
  sparsity.

A series keeps at most ``K`` fixed-span step buckets (:class:`Cell` each;
:class:`viewer.buckets.StepBuckets` places the steps) and the newest ``TAIL``
points; new points fold into the buckets, halving the resolution when the
steps outgrow them, so memory stays bounded whatever
the run length.  A point before the first bucket, or a replaced file,
rebuilds the series from SQL.
"""
from __future__ import annotations

import bisect
from collections import deque
from collections.abc import Iterable
from typing import Any

from viewer.buckets import Column, StepBuckets, bucket_points, column_ranges
from viewer.model import TAIL, ZOOM_POINTS, Roles, View
from rundata.store import Cell, Project, RunInfo, pack_cells, unpack_cells

K = 4096
Point = tuple[int, float, int]  # step, value, row id


def merge(a: Cell | None, c: Cell | None) -> Cell | None:
    """Two cells as one."""
    if a is None or c is None:
        return a if c is None else c
    return Cell(a.n + c.n, min(a.vmin, c.vmin), max(a.vmax, c.vmax), min(a.first, c.first),
                max(a.last, c.last))


class Series(StepBuckets):
    """One numeric metric of one run: step buckets (of :class:`Cell`) and the newest points."""

    def __init__(self, owner: "SeriesSet", key: str, light: bool = False) -> None:
        super().__init__(0 if light else owner.k)
        self.owner, self.key, self.light = owner, key, light
        self._reset()

    def _reset(self) -> None:
        self.lo, self.span = None, 1
        self._b: list[Cell | None] | None = [None] * self.k
        self._packed: str | None = None  # buckets restored but not decoded yet
        self.tail: deque[Point] = deque(maxlen=1 if self.light else TAIL)
        self.first: tuple[int, float] | None = None
        self.count = 0
        self.views: dict[str, View] = {}  # exact views computed since the last new point

    @property
    def b(self) -> list[Cell | None]:
        """The step buckets: ``b[i]`` covers steps ``lo + i*span .. lo + (i+1)*span - 1``."""
        if self._b is None:
            self._b = unpack_cells(self._packed or "", self.k)
            self._packed = None
        return self._b

    @b.setter
    def b(self, cells: list[Cell | None]) -> None:
        self._b, self._packed = cells, None

    # -- building -----------------------------------------------------------------
    def build(self) -> None:
        """Read the series from SQL (call inside the project's snapshot)."""
        pr, rid = self.owner.project, self.owner.run.run_id
        self._reset()
        if self.light:
            pt = pr.latest(rid, self.key)
            if pt is not None:
                self.tail.append(tuple(pt))  # type: ignore[arg-type]
                self.first, self.count = (pt[0], pt[1]), 1
            return
        lo, hi, top = pr.step_range(rid)
        if lo is None or hi is None:
            return
        count = self.fit(lo, hi)
        # the parallel connections see no row this snapshot does not (id <= top)
        for b, cell in pr.cells(rid, self.key, lo, self.span, count, max_id=top):
            self.b[b] = cell
            self.count += cell.n
        used = [c for c in self.b if c is not None]
        if used:
            value = pr.value_at(rid, self.key, used[0].first)
            self.first = (used[0].first, value if value is not None else used[0].vmin)
            self.tail.extend(pr.tail(rid, self.key, TAIL, ids=True))

    def state(self, packed: bool = False) -> dict[str, Any]:
        """JSON-serialisable state; ``packed``: the buckets as one string (:func:`pack_cells`)."""
        if packed:
            cells: Any = self._packed if self._b is None else pack_cells(self._b)
        else:
            cells = [list(c) if c else None for c in self.b]
        return {"light": self.light, "k": self.k, "lo": self.lo, "span": self.span, "count": self.count,
                "b": cells, "tail": [list(t) for t in self.tail],
                "first": list(self.first) if self.first else None,
                "views": {k: [v.key, list(v.first), list(v.last), v.vmin, v.vmax, [list(c) if c else None
                                                                                  for c in v.cols]]
                          for k, v in self.views.items()}}

    def restore(self, st: dict[str, Any]) -> None:
        """Load :meth:`state` output; raises ValueError/KeyError/TypeError when it does not fit."""
        if bool(st["light"]) != self.light or int(st["k"]) != self.k:
            raise ValueError("series state of another shape")
        self.lo = None if st["lo"] is None else int(st["lo"])
        self.span, self.count = int(st["span"]), int(st["count"])
        if self.span < 1:
            raise ValueError("bucket span below 1")
        if isinstance(st["b"], str):  # packed: decoded when first needed
            if len(st["b"]) != 4 * -(-40 * self.k // 3):
                raise ValueError("packed buckets of another size")
            self._b, self._packed = None, st["b"]
        else:
            self.b = [None if c is None else Cell(int(c[0]), float(c[1]), float(c[2]), int(c[3]), int(c[4]))
                      for c in st["b"]]
            if len(self.b) != self.k:
                raise ValueError("bucket array does not match its size")
        self.tail.extend((int(s), float(v), int(i)) for s, v, i in st["tail"])
        self.first = (int(st["first"][0]), float(st["first"][1])) if st["first"] else None
        for name, (key, first, last, vmin, vmax, cols) in st.get("views", {}).items():
            self.views[str(name)] = View(str(key), (int(first[0]), float(first[1])), (int(last[0]), float(last[1])),
                                         float(vmin), float(vmax),
                                         [(float(c[0]), float(c[1]), float(c[2])) if c else None for c in cols])

    # -- incremental update ---------------------------------------------------------
    def add(self, step: int, v: float, rid: int) -> bool:
        """Fold in one point; False when it falls before the first bucket (rebuild)."""
        self.count += 1
        self.views.clear()
        if self.first is None or step < self.first[0]:
            self.first = (step, v)
        self._add_tail((step, v, rid))
        if self.light:
            return True
        if not self.make_room(step, step):
            return False
        idx = self.bucket(step)
        self.b[idx] = merge(self.b[idx], Cell(1, v, v, step, step))
        return True

    def _halve(self) -> None:
        b = self.b
        self.b = [merge(b[i], b[i + 1]) for i in range(0, self.k, 2)] + [None] * (self.k // 2)

    def _add_tail(self, pt: Point) -> None:
        tail = self.tail
        if not tail or (pt[0], pt[2]) >= (tail[-1][0], tail[-1][2]):
            tail.append(pt)  # the usual case: steps only grow
        elif len(tail) < (tail.maxlen or 0) or (pt[0], pt[2]) > (tail[0][0], tail[0][2]):
            items = list(tail)
            bisect.insort(items, pt, key=lambda t: (t[0], t[2]))
            self.tail = deque(items[-(tail.maxlen or 1):], maxlen=tail.maxlen)

    # -- reading --------------------------------------------------------------------
    @property
    def latest(self) -> tuple[int, float] | None:
        """The newest point (highest step, then row id)."""
        return (self.tail[-1][0], self.tail[-1][1]) if self.tail else None

    def tail_points(self, n: int) -> list[tuple[int, float]]:
        """The last ``n`` points (step, value), oldest first."""
        return [(s, v) for s, v, _ in list(self.tail)[-n:]]

    def step_range(self) -> tuple[int | None, int | None]:
        """First and last step that holds a number."""
        used = [c for c in self.b if c is not None]
        if used:
            return min(c.first for c in used), max(c.last for c in used)
        return (self.tail[0][0], self.tail[-1][0]) if self.tail else (None, None)

    def _whole(self) -> bool:
        return 0 < self.count <= len(self.tail)

    def columns(self, lo: int, hi: int, width: int) -> list[tuple[int, Cell]]:
        """(column, Cell) of each non-empty column of a ``width``-column chart of ``lo..hi``:
        buckets inside a column come from memory, the parts of the buckets that a
        column boundary cuts are aggregated in SQLite, so the result is exact."""
        pr, rid = self.owner.project, self.owner.run.run_id
        expr = None
        out: list[tuple[int, Cell]] = []
        b = self.b
        for col, a, z in column_ranges(lo, hi, width):
            acc: Cell | None = None
            if self.lo is None:
                continue
            for f in self.covering(a, z):
                cell = b[f]
                if cell is None:
                    continue
                if not (a <= cell.first and cell.last <= z):
                    bs = self.start(f)
                    expr = expr or pr.value_expr(rid, self.key)
                    cell = pr.cell(rid, self.key, max(a, bs), min(z, bs + self.span - 1), expr=expr)
                acc = merge(acc, cell)
            if acc is not None:
                out.append((col, acc))
        return out

    def view(self, zoom: int, width: int) -> View | None:
        """The points of zoom level ``zoom`` in ``width`` columns, exactly (``--once``).

        Call inside the project's snapshot, after :meth:`SeriesSet.update`.  Views are
        kept (and cached with the series) until a new point arrives.
        """
        memo = f"{zoom}:{width}"
        if memo not in self.views:
            view = self._view(zoom, width)
            if view is None:
                return None
            self.views[memo] = view
        return self.views[memo]

    def _view(self, zoom: int, width: int) -> View | None:
        n = ZOOM_POINTS[zoom]
        if n is not None or self._whole():
            pts = self.tail_points(n or TAIL)
            if not pts:
                return None
            cols, vmin, vmax = bucket_points(pts, width)
            return View(self.key, pts[0], pts[-1], vmin, vmax, cols)
        lo, hi = self.step_range()
        if lo is None or hi is None or self.first is None or not self.tail:
            return None
        pr, rid = self.owner.project, self.owner.run.run_id
        rows = self.columns(lo, hi, width)
        if not rows:
            return None
        out: list[Column | None] = [None] * width
        for col, c in rows:
            first = pr.value_at(rid, self.key, c.first)
            out[col] = (c.vmin, c.vmax, first if first is not None else c.vmin)
        low = min((c for _, c in rows), key=lambda c: c.vmin)
        high = max((c for _, c in rows), key=lambda c: c.vmax)
        vmin = pr.exact_value(rid, self.key, *self._holding(low, low.vmin, 1), low.vmin)
        vmax = pr.exact_value(rid, self.key, *self._holding(high, high.vmax, 2), high.vmax)
        last = self.tail[-1]
        return View(self.key, self.first, (last[0], last[1]), vmin, vmax, out)

    def _holding(self, where: Cell, value: float, field: int) -> tuple[int, int]:
        """The narrowest step range inside ``where`` whose bucket has ``value`` as its min
        (``field`` 1) or max (2): where to read that number exactly."""
        if self.lo is not None:
            for f in self.covering(where.first, where.last):
                cell = self.b[f]
                if cell is not None and cell[field] == value:
                    return max(where.first, cell.first), min(where.last, cell.last)
        return where.first, where.last


class SeriesSet:
    """The series of one run that are shown, read together tick by tick."""

    def __init__(self, project: Project, run: RunInfo, keys: Iterable[str] = (), light: Iterable[str] = (),
                 k: int | None = None, state: dict[str, Any] | None = None) -> None:
        self.project, self.run = project, run
        self.k = k or K
        self.series: dict[str, Series] = {}
        self.last_id = 0
        self.rows_seen = 0
        self.rebuilds = 0
        self.generation = project.generation
        if state is not None:
            self._restore(state)
            return
        with project.snapshot():
            self.last_id = project.max_id()
            for key in keys:
                self.add(key)
            for key in light:
                self.add(key, light=True)

    def _restore(self, st: dict[str, Any]) -> None:
        self.k, self.last_id = int(st["k"]), int(st["last_id"])
        for key, sst in st["series"].items():
            s = Series(self, key, bool(sst["light"]))
            s.restore(sst)
            self.series[key] = s

    def state(self, packed: bool = False) -> dict[str, Any]:
        """Everything needed to restore this set later (JSON-serialisable); ``packed``:
        buckets as strings, smaller and quicker to load."""
        return {"k": self.k, "last_id": self.last_id,
                "series": {k: s.state(packed) for k, s in self.series.items()}}

    def add(self, key: str, light: bool = False) -> Series:
        """The series of ``key``, built now if the set does not hold it yet."""
        s = self.series.get(key)
        if s is not None and (s.light <= light):
            return s
        with self.project.snapshot():
            self.update()
            s = Series(self, key, light)
            s.build()
            self.series[key] = s
        return s

    def __getitem__(self, key: str) -> Series:
        return self.series[key]

    def get(self, key: str) -> Series | None:
        """The series of ``key`` if the set holds it."""
        return self.series.get(key)

    def keys(self) -> list[str]:
        """The keys held."""
        return list(self.series)

    def update(self) -> int:
        """Fold in the rows written since the last call (one query for every key); returns
        how many rows were read.  Series that cannot take a row are rebuilt."""
        pr = self.project
        with pr.snapshot():
            if pr.generation != self.generation:
                self.generation = pr.generation
                self._rebuild(list(self.series.values()))
                return 0
            keys = list(self.series)
            rows = pr.new_rows(self.run.run_id, self.last_id, keys)
            redo: dict[str, Series] = {}
            for row in rows:
                self.last_id = max(self.last_id, row[0])
                for key, v in zip(keys, row[2:], strict=True):
                    if v is not None and key not in redo and not self.series[key].add(row[1], v, row[0]):
                        redo[key] = self.series[key]
            self._rebuild(list(redo.values()))
            self.rows_seen += len(rows)
            return len(rows)

    def _rebuild(self, which: list[Series]) -> None:
        self.last_id = max(self.last_id, self.project.max_id())
        for s in which:
            s.build()
            self.rebuilds += 1


class LiveSeries(SeriesSet):
    """A run's chart metric (bucketed) with its latest lr and sparsity."""

    def __init__(self, project: Project, run: RunInfo, roles: Roles, k: int | None = None,
                 state: dict[str, Any] | None = None) -> None:
        self.roles = roles
        light = [key for key in (roles.lr, roles.sparsity) if key and key != roles.metric]
        super().__init__(project, run, [roles.metric], light, k, state)
        self.metric = self.series[roles.metric]

    def _point(self, key: str | None) -> tuple[int, float] | None:
        s = self.series.get(key) if key else None
        return s.latest if s is not None else None

    @property
    def lr_pt(self) -> tuple[int, float] | None:
        """Latest (step, learning rate), or None."""
        return self._point(self.roles.lr)

    @property
    def sp_pt(self) -> tuple[int, float] | None:
        """Latest (step, sparsity), or None."""
        return self._point(self.roles.sparsity)

    @property
    def lr(self) -> float | None:
        """Latest learning rate (newest step), or None."""
        return self.lr_pt[1] if self.lr_pt else None

    @property
    def sparsity(self) -> float | None:
        """Latest sparsity (newest step), or None."""
        return self.sp_pt[1] if self.sp_pt else None
