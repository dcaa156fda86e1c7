"""The workspace's queries of a project (all SQL of ``viewer.workspace`` lives here).

The workspace reads whole rows -- every metric of a run at once -- instead of
one key at a time: one query per run and tick returns the rows newer than the
last one read, and the caller decodes each row's JSON once.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable

from rundata.store import StoreError, decode
from rundata.store_sql import json_path

if TYPE_CHECKING:
    from rundata.store import Project

Raw = tuple[int, int, Any]  # row id, step, metrics (JSON bytes or text) or the values picked from them


def _picking(pr: "Project", make: Callable[[str, list[str]], tuple[str, list[Any]]],
             keys: list[str] | None, col: int = 2) -> list[tuple]:
    """Rows of the query ``make(values, args)`` builds around the SQL ``values`` (column
    ``col``) of each row: without ``keys`` the row's metrics; with ``keys`` the values of
    those keys, as a JSON array (SQLite parses each row once, about a third cheaper than
    decoding whole rows in Python) or, where a row is not valid JSON, a list from Python."""
    if keys:
        paths = [json_path(k) for k in keys] * (2 if len(keys) == 1 else 1)  # one path gives a scalar
        sql, args = make(f"json_extract(CAST(metrics AS TEXT), {', '.join('?' * len(paths))})", paths)
        try:
            return pr.query(sql, args)
        except StoreError as exc:
            if "malformed JSON" not in str(exc):
                raise
    sql, args = make("metrics", [])
    rows = pr.query(sql, args)
    if not keys:
        return rows
    out = []
    for r in rows:
        d = decode(r[col]) if r[col] is not None else None
        out.append((*r[:col], None if d is None else [d.get(k) for k in keys], *r[col + 1:]))
    return out


@dataclass
class RunCount:
    """Rows, last step, newest row id, name and newest timestamp of one run."""

    run_id: str
    rows: int
    last_step: int | None
    last_id: int
    name: str = ""
    timestamp: str = ""


def _indexed(pr: "Project") -> bool:
    """True when an index of ``metrics`` starts with the run column (Trackio's (run_id, step))."""
    for _, name, *_ in pr.query("PRAGMA main.index_list(metrics)"):
        cols = pr.query(f"PRAGMA main.index_info({name})")
        if cols and min(cols)[2] == pr.run_col:
            return True
    return False


def _run_ids(pr: "Project") -> list[str]:
    """Every run id, one index seek each (a skip scan over the run's index)."""
    c = pr.run_col
    sql = (f"WITH RECURSIVE r(x) AS (SELECT min({c}) FROM metrics UNION ALL "
           f"SELECT (SELECT min({c}) FROM metrics WHERE {c} > r.x) FROM r WHERE r.x IS NOT NULL) "
           "SELECT x FROM r WHERE x IS NOT NULL")
    return [r[0] for r in pr.query(sql)]


def _all_counts(pr: "Project") -> dict[str, RunCount]:
    """Per run: rows, and last step, id, name and timestamp of its row with the highest step.

    Index seeks and a count per run, several times cheaper than one grouped scan that
    reads every index entry's columns; the id of the last step's row stands for the
    newest row (it orders the runs pane and bounds the first history read)."""
    c, out = pr.run_col, {}
    for rid in _run_ids(pr):
        n = pr.query(f"SELECT count(*) FROM metrics WHERE {c}=?", (rid,))[0][0]
        last = pr.query(f"SELECT step, id, run_name, timestamp FROM metrics WHERE {c}=? ORDER BY step DESC, id DESC "
                        "LIMIT 1", (rid,))
        if n and last:
            step, last_id, name, stamp = last[0]
            out[rid] = RunCount(rid, n, step, last_id, name, stamp or "")
    return out


def run_counts(pr: "Project", after_id: int = 0) -> dict[str, RunCount]:
    """Per run, what rows with id > ``after_id`` add (the (run, step) index answers it)."""
    c = pr.run_col
    if not after_id and _indexed(pr):
        return _all_counts(pr)
    if after_id:  # a rowid range: the planner would otherwise scan the whole (run, step) index
        sql = (f"SELECT {c}, count(*), max(step), max(id) FROM (SELECT {c}, step, id FROM metrics "
               f"WHERE id > ? ORDER BY id) GROUP BY {c}")
        args: tuple = (after_id,)
    else:
        sql, args = f"SELECT {c}, count(*), max(step), max(id) FROM metrics GROUP BY {c}", ()
    out = {}
    for rid, n, last_step, last_id in pr.query(sql, args):
        out[rid] = RunCount(rid, n, last_step, last_id)
    for rc in out.values():
        row = pr.query("SELECT run_name, timestamp FROM metrics WHERE id=?", (rc.last_id,))
        if row:
            rc.name, rc.timestamp = row[0][0], row[0][1] or ""
    return out


def new_rows(pr: "Project", after_id: int, runs: list[str], into: dict[str, list[Raw]],
             keys: list[str] | None = None) -> dict[str, RunCount]:
    """What rows with id > ``after_id`` add per run (as :func:`run_counts`), in one id range
    scan that also appends the (id, step, values) rows of ``runs`` to ``into``, oldest first
    (values: as :func:`_picking` gives them)."""
    c = pr.run_col
    marks = ",".join("?" * len(runs)) or "NULL"

    def make(values: str, vargs: list[Any]) -> tuple[str, list[Any]]:
        return (f"SELECT id, {c}, step, run_name, timestamp, CASE WHEN {c} IN ({marks}) THEN {values} END, "
                f"{c} IN ({marks}) FROM metrics WHERE id > ? ORDER BY id", [*runs, *vargs, *runs, after_id])

    out: dict[str, RunCount] = {}
    for row_id, rid, step, name, stamp, values, shown in _picking(pr, make, keys if runs else None, 5):
        rc = out.get(rid)
        if rc is None:
            out[rid] = RunCount(rid, 1, step, row_id, name, stamp or "")
        else:
            rc.rows += 1
            rc.last_step = step if rc.last_step is None else max(rc.last_step, step)
            rc.last_id, rc.name, rc.timestamp = row_id, name, stamp or ""
        if shown:
            into.setdefault(rid, []).append((row_id, step, values))
    return out


def max_row_id(pr: "Project") -> int:
    """The highest metrics row id (0 when empty)."""
    return int(pr.query("SELECT coalesce(max(id), 0) FROM metrics")[0][0])


def rows_after(pr: "Project", run_id: str, after_id: int, limit: int = -1,
               keys: list[str] | None = None) -> list[Raw]:
    """(id, step, values) of the run's first ``limit`` rows (all: -1) with id > ``after_id``,
    oldest first (an id range scan; values as :func:`_picking` gives them)."""
    def make(values: str, vargs: list[Any]) -> tuple[str, list[Any]]:
        return (f"SELECT id, step, {values} FROM metrics WHERE id > ? AND +{pr.run_col}=? ORDER BY id LIMIT ?",
                [*vargs, after_id, run_id, limit])

    return _picking(pr, make, keys)


def run_rows(pr: "Project", run_id: str, stride: int = 1, tail_step: int | None = None,
             upto_id: int | None = None, keys: list[str] | None = None) -> list[Raw]:
    """(id, step, values) of the run's rows with id <= ``upto_id``, by step: with
    ``stride`` > 1 only every ``stride``-th row (by id) below step ``tail_step``
    (the (run, step) index reads no other row; values as :func:`_picking` gives them)."""
    where: list[str] = [f"{pr.run_col}=?"]
    args: list[Any] = [run_id]
    if upto_id is not None:
        where.append("id <= ?")
        args.append(upto_id)
    if stride > 1:
        where.append("(id % ? = 0 OR step >= ?)")
        args += [stride, tail_step if tail_step is not None else 0]

    def make(values: str, vargs: list[Any]) -> tuple[str, list[Any]]:
        return f"SELECT id, step, {values} FROM metrics WHERE {' AND '.join(where)} ORDER BY step, id", vargs + args

    return _picking(pr, make, keys)


def tail_start_step(pr: "Project", run_id: str, rows: int) -> int | None:
    """The step of the run's ``rows``-th newest row by step (None when it has fewer)."""
    got = pr.query(f"SELECT step FROM metrics WHERE {pr.run_col}=? ORDER BY step DESC LIMIT 1 OFFSET ?",
                   (run_id, rows - 1))
    return int(got[0][0]) if got else None


def sample(pr: "Project", run_id: str, n: int = 20) -> list[Any]:
    """The metrics of the run's first and last ``n`` rows by step (to learn its keys)."""
    c = pr.run_col
    return [r[0] for r in pr.query(
        f"SELECT metrics FROM (SELECT metrics FROM metrics WHERE {c}=? ORDER BY step LIMIT ?) UNION ALL "
        f"SELECT metrics FROM (SELECT metrics FROM metrics WHERE {c}=? ORDER BY step DESC LIMIT ?)",
        (run_id, n, run_id, n))]


def newest(pr: "Project", run_id: str, n: int) -> list[Any]:
    """The metrics of the run's newest ``n`` rows (by step: the (run, step) index), newest first."""
    return [r[0] for r in pr.query(f"SELECT metrics FROM metrics WHERE {pr.run_col}=? ORDER BY step DESC LIMIT ?",
                                   (run_id, n))]


def first_step(pr: "Project", run_id: str) -> int | None:
    """The run's lowest step (an index seek)."""
    return pr.query(f"SELECT min(step) FROM metrics WHERE {pr.run_col}=?", (run_id,))[0][0]


def system_latest(pr: "Project", run: Any, last: int = 1) -> list[tuple[str, dict[str, Any]]]:
    """The newest ``last`` rows of Trackio's ``system_metrics`` table for ``run``."""
    return pr.system_rows(run, last=last)
