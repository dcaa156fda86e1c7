"""The series queries of :class:`rundata.store.Project`: one metric of one run, aggregated in SQLite.

Values are numbers only: NaN, infinities, strings and nulls are skipped,
booleans read as 1.0/0.0 (``rundata.store_sql`` builds the expressions).
Steps order points; among rows of one step, the row id.
"""
from __future__ import annotations

import math
import os
import sys
from array import array
from binascii import a2b_base64, b2a_base64
from typing import TYPE_CHECKING, Any, NamedTuple, TypeVar

from rundata import store_sql

if TYPE_CHECKING:
    from collections.abc import Callable

    from rundata.store_open import Stamp

FIN = store_sql.FINITE
T = TypeVar("T")
R = TypeVar("R")
_MIN_SPAN = 8  # steps per bucket from which a bucket is worth a scan by row id


class Cell(NamedTuple):
    """Numeric points of one metric in a step range: how many, min, max, first and last step."""

    n: int
    vmin: float
    vmax: float
    first: int
    last: int


def pack_cells(cells: list[Cell | None]) -> str:
    """Buckets as one base64 string (counts, first and last steps as int64, min and
    max as float64; an empty bucket has count 0): exact and quick to load."""
    ints, reals = array("q"), array("d")
    for c in cells:
        if c is None:
            ints.extend((0, 0, 0))
            reals.extend((0.0, 0.0))
        else:
            ints.extend((c[0], c[3], c[4]))
            reals.extend((c[1], c[2]))
    if sys.byteorder != "little":
        ints.byteswap()
        reals.byteswap()
    return b2a_base64(ints.tobytes() + reals.tobytes(), newline=False).decode("ascii")


def unpack_cells(text: str, k: int) -> list[Cell | None]:
    """The buckets :func:`pack_cells` wrote; ValueError when they are not ``k`` of them."""
    raw = a2b_base64(text)
    if len(raw) != 40 * k:
        raise ValueError("packed buckets of another size")
    ints, reals = array("q"), array("d")
    ints.frombytes(raw[:24 * k])
    reals.frombytes(raw[24 * k:])
    if sys.byteorder != "little":
        ints.byteswap()
        reals.byteswap()
    return [Cell(ints[3 * i], reals[2 * i], reals[2 * i + 1], ints[3 * i + 1], ints[3 * i + 2])
            if ints[3 * i] > 0 else None for i in range(k)]


class SeriesQueries:
    """Mixin: needs ``_q``, ``run_col``, ``name``, ``path``, ``_stamp`` and ``_exprs``."""

    name: str
    run_col: str
    _stamp: "Stamp | None"
    _exprs: dict[tuple[str, str, str], str]

    def _q(self, sql: str, args: Any = ()) -> list[tuple]:
        raise NotImplementedError

    def _peer(self) -> "SeriesQueries | None":
        """Another connection to the same file for parallel scans (None: scan alone)."""
        return None

    def close(self) -> None:
        """Release the connection."""

    def value_expr(self, run_id: str, key: str, col: str = "metrics") -> str:
        """The SQL value of ``key`` in column ``col`` for this run's rows (REAL or NULL)."""
        memo = (run_id, key, col)
        if memo not in self._exprs:
            kinds = {r[0] for r in self._q(
                f"SELECT typeof(metrics) FROM (SELECT metrics FROM metrics WHERE {self.run_col}=? ORDER BY step "
                f"LIMIT 1) UNION SELECT typeof(metrics) FROM (SELECT metrics FROM metrics WHERE {self.run_col}=? "
                f"ORDER BY step DESC LIMIT 1)", (run_id, run_id))}
            kind = kinds.pop() if len(kinds) == 1 and kinds <= {"blob", "text"} else "any"
            row = self._q(f"SELECT {store_sql.offset_sql(key)} FROM metrics WHERE {self.run_col}=? "
                          f"ORDER BY step DESC LIMIT 1", (run_id,)) if kind != "text" else []
            self._exprs[memo] = store_sql.value_sql(key, col, row[0][0] if row and row[0][0] else None, kind)
        return self._exprs[memo]

    _fast = value_expr

    def _points(self, run_id: str, key: str, order: str, n: int, extra: str = "", args: tuple = ()) -> list[tuple]:
        """(step, exact value, id) of the first ``n`` numbers in ``order``: found with the
        cheap expression, then read exactly."""
        found = (f"SELECT id FROM (SELECT step, id, {self.value_expr(run_id, key)} AS v FROM metrics "
                 f"WHERE {self.run_col}=?{extra} ORDER BY {order}) WHERE v {FIN} LIMIT ?")
        q = (f"SELECT step, v, id FROM (SELECT step, id, {self._shown(run_id, key)} AS v FROM metrics "
             f"WHERE id IN ({found})) WHERE v {FIN} ORDER BY {order}")
        return self._q(q, (run_id, *args, n))

    def _shown(self, run_id: str, key: str) -> str:
        # the exact number; the cheap reading where the row is not valid JSON (a torn row)
        return f"coalesce({store_sql.exact_sql(key)}, {self.value_expr(run_id, key)})"

    def exact_value(self, run_id: str, key: str, lo: int, hi: int, approx: float) -> float:
        """The exact number whose cheap reading is ``approx``, among steps ``lo..hi`` (for
        the min and max shown); ``approx`` when none matches."""
        q = (f"SELECT {store_sql.exact_sql(key)} FROM metrics WHERE id = (SELECT id FROM (SELECT id, "
             f"{self.value_expr(run_id, key)} AS v FROM metrics WHERE {self.run_col}=? AND step BETWEEN ? AND ? "
             f"LIMIT -1) WHERE v = ? LIMIT 1)")
        rows = self._q(q, (run_id, lo, hi, approx))
        return rows[0][0] if rows and rows[0][0] is not None else approx

    def latest(self, run_id: str, key: str) -> tuple[int, float, int] | None:
        """(step, value, id) of the newest number under ``key`` (highest step, then id)."""
        rows = self._points(run_id, key, "step DESC, id DESC", 1)
        return rows[0] if rows else None

    def tail(self, run_id: str, key: str, n: int, ids: bool = False) -> list[tuple]:
        """The last ``n`` numeric points (step, value[, id]), oldest first."""
        rows = self._points(run_id, key, "step DESC, id DESC", n)[::-1]
        return rows if ids else [r[:2] for r in rows]

    def value_at(self, run_id: str, key: str, step: int, last: bool = False) -> float | None:
        """The first (or last) numeric value of ``key`` logged at ``step``."""
        rows = self._points(run_id, key, "id DESC" if last else "id", 1, " AND step=?", (step,))
        return rows[0][1] if rows else None

    def step_range(self, run_id: str) -> tuple[int | None, int | None, int]:
        """(first step, last step) of any row of the run and the highest row id: index seeks only."""
        c = self.run_col
        lo = self._q(f"SELECT min(step) FROM metrics WHERE {c}=?", (run_id,))[0][0]
        hi = self._q(f"SELECT max(step) FROM metrics WHERE {c}=?", (run_id,))[0][0]
        return lo, hi, self.max_id()

    def max_id(self) -> int:
        """Highest metrics row id (0 when empty)."""
        return self._q("SELECT coalesce(max(id), 0) FROM metrics")[0][0]

    def cell(self, run_id: str, key: str, lo: int, hi: int, max_id: int | None = None,
             expr: str | None = None) -> Cell | None:
        """The numbers under ``key`` with ``lo <= step <= hi`` (and ``id <= max_id``) as one
        :class:`Cell`, or None: one pass over those rows (index range on (run, step))."""
        cap, args = ("", (run_id, lo, hi)) if max_id is None else (" AND id <= ?", (run_id, lo, hi, max_id))
        inner = (f"SELECT step, {expr or self.value_expr(run_id, key)} AS v FROM metrics WHERE {self.run_col}=? "
                 f"AND step BETWEEN ? AND ?{cap} LIMIT -1")
        row = self._q(f"SELECT count(*), min(v), max(v), min(step), max(step) FROM ({inner}) WHERE v NOT NULL",
                      args)[0]
        if row[0] and not (math.isfinite(row[1]) and math.isfinite(row[2])):  # an 1e999 in hand-written JSON
            row = self._q(f"SELECT count(*), min(v), max(v), min(step), max(step) FROM ({inner}) WHERE v {FIN}",
                          args)[0]
        return Cell(*row) if row[0] else None

    def cells(self, run_id: str, key: str, lo: int, span: int, count: int,
              max_id: int | None = None) -> list[tuple[int, Cell]]:
        """(bucket, Cell) of the buckets ``[lo + b*span, lo + (b+1)*span)`` for ``b < count``
        that hold numbers; several read-only connections scan disjoint ranges in parallel.

        When the run's rows are stored in step order (the usual case) each bucket is read
        as a range of row ids (a plain table scan, cheaper than following the step index
        row by row).  Each range reports the lowest and highest step holding a number, so
        a number out of step order marks the buckets it touches, and those are read
        through the index; rows without a number cannot change a bucket.
        """
        expr = self.value_expr(run_id, key)
        top = self.max_id() if max_id is None else max_id
        ranges = self._id_ranges(run_id, lo, span, count, top) if span >= _MIN_SPAN else None
        if ranges is None:
            def by_steps(pr: SeriesQueries, b: int) -> tuple[int, Cell | None]:
                return b, pr.cell(run_id, key, lo + b * span, lo + (b + 1) * span - 1, max_id, expr)

            return [(b, c) for b, c in self._parallel(list(range(count)), by_steps) if c is not None]
        q = (f"SELECT count(*), min(v), max(v), min(step), max(step) FROM (SELECT step, {expr} AS v "
             f"FROM metrics WHERE id >= ? AND id < ? AND +{self.run_col}=? LIMIT -1) WHERE v NOT NULL")

        def by_ids(pr: SeriesQueries, r: tuple[int, int, int]) -> tuple:
            return pr._q(q, (r[1], r[2], run_id))[0]

        rows = self._parallel(ranges, by_ids)
        dirty: set[int] = set()
        found: dict[int, Cell] = {}
        for (b, _, _), (n, vmin, vmax, first, last) in zip(ranges, rows, strict=True):
            if n and (first < lo + b * span or last >= lo + (b + 1) * span):
                dirty.add(b)
                dirty.update(range(max(0, (first - lo) // span), min(count - 1, (last - lo) // span) + 1))
            elif n and math.isfinite(vmin) and math.isfinite(vmax):
                found[b] = Cell(n, vmin, vmax, first, last)
            elif n:
                dirty.add(b)  # an 1e999 in hand-written JSON: read with the finite filter
        for b in dirty:
            c = self.cell(run_id, key, lo + b * span, lo + (b + 1) * span - 1, top, expr)
            if c is None:
                found.pop(b, None)
            else:
                found[b] = c
        return sorted(found.items())

    def _id_ranges(self, run_id: str, lo: int, span: int, count: int, top: int) -> list[tuple[int, int, int]] | None:
        """(bucket, first id, id past the end) per bucket when the rows of the run with
        ``id <= top`` look stored in step order, densely enough that a scan by id pays;
        None: read by the step index."""
        c = self.run_col
        if not any([r[2] for r in self._q(f"PRAGMA main.index_info({name})")][:2] == [c, "step"]
                   for name in [r[1] for r in self._q("PRAGMA main.index_list(metrics)")]):
            return None
        starts = [r[0] for r in self._q(
            f"WITH RECURSIVE b(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM b WHERE i + 1 < ?4) "
            f"SELECT (SELECT id FROM metrics WHERE {c}=?1 AND step >= ?2 + i * ?3 AND id <= ?5 "
            f"ORDER BY step, id LIMIT 1) FROM b", (run_id, lo, span, count, top))]
        if not starts or starts[0] is None:
            return None
        bounds = [top + 1 if s is None else s for s in starts] + [top + 1]
        if any(a > z for a, z in zip(bounds, bounds[1:], strict=False)):
            return None  # steps out of id order across buckets
        first = bounds[0]
        if first - 1 > top - first + 1:
            return None  # more rows before the run than in it: finding its first row costs too much
        before = self._q(f"SELECT id FROM metrics WHERE id < ? AND +{c}=? ORDER BY id LIMIT 1", (first, run_id))
        bounds[0] = before[0][0] if before else first
        sample = sorted({i * (count - 1) // 15 for i in range(16)})
        own = sum(self._q(f"SELECT count(*) FROM metrics WHERE {c}=? AND step BETWEEN ? AND ? AND id <= ?",
                          (run_id, lo + b * span, lo + (b + 1) * span - 1, top))[0][0] for b in sample)
        if sum(bounds[b + 1] - bounds[b] for b in sample) > 2 * own + 64:
            return None  # other runs' rows in between: the index reads fewer rows
        return [(b, bounds[b], bounds[b + 1]) for b in range(count) if bounds[b] < bounds[b + 1]]

    def _parallel(self, items: list[T], fn: "Callable[[SeriesQueries, T], R]") -> list[R]:
        """``[fn(connection, item) for item in items]``, on up to 8 read-only connections
        (one thread each) working through contiguous slices."""
        workers = max(1, min(8, os.cpu_count() or 1, len(items) // 64))
        peers: list[SeriesQueries] = [self]
        while len(peers) < workers and (peer := self._peer()) is not None:
            peers.append(peer)
        if len(peers) == 1:
            return [fn(self, item) for item in items]
        import threading

        size = -(-len(items) // len(peers))
        parts: list[list[R]] = [[] for _ in peers]
        errors: list[BaseException] = []

        def work(i: int) -> None:
            try:
                parts[i] = [fn(peers[i], item) for item in items[i * size:(i + 1) * size]]
            except Exception as exc:  # noqa: BLE001 - re-raised in the caller's thread
                errors.append(exc)

        threads = [threading.Thread(target=work, args=(i,), daemon=True) for i in range(1, len(peers))]
        try:
            for t in threads:
                t.start()
            work(0)
            for t in threads:
                t.join()
        finally:
            for peer in peers[1:]:
                peer.close()
        if errors:
            raise errors[0]
        return [x for p in parts for x in p]

    def new_rows(self, run_id: str, after_id: int, keys: list[str]) -> list[tuple]:
        """Rows with id > ``after_id``: (id, step, number under each key or None...), exact."""
        cols = ", ".join(self._shown(run_id, k) for k in keys) or "NULL"
        q = f"SELECT id, step, {cols} FROM metrics WHERE id > ? AND +{self.run_col}=? ORDER BY id"
        return [r[:2] + tuple(v if v is not None and -store_sql.MAX_REAL <= v <= store_sql.MAX_REAL else None
                              for v in r[2:]) for r in self._q(q, (after_id, run_id))]

    def key_stats(self, run_id: str, keys: list[str]) -> tuple[dict[str, tuple[int, Any, Any, Any]],
                                                               int | None, int | None, int | None]:
        """Per key (rows holding it, min, max, avg of its numbers) over the run's rows
        holding any of ``keys``, with those rows' first and last step and newest id: one pass."""
        vals = ", ".join(f"{self.value_expr(run_id, k)} AS v{i}, {store_sql.present_sql(k)} AS p{i}"
                         for i, k in enumerate(keys))
        fin = [f"CASE WHEN v{i} {FIN} THEN v{i} END" for i in range(len(keys))]
        aggs = ", ".join(f"count(p{i}), min({f}), max({f}), avg({f})" for i, f in enumerate(fin))
        anyv = " OR ".join(f"p{i} IS NOT NULL" for i in range(len(keys)))
        row = self._q(f"SELECT {aggs}, min(step), max(step), max(id) FROM (SELECT step, id, {vals} FROM metrics "
                      f"WHERE {self.run_col}=? LIMIT -1) WHERE {anyv}", (run_id,))[0]
        stats = {k: tuple(row[4 * i:4 * i + 4]) for i, k in enumerate(keys)}
        return stats, row[-3], row[-2], row[-1]
