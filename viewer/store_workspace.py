"""The workspace's queries of a project (all SQL of ``viewer.workspace`` lives here).

The workspace reads whole rows -- every metric of a run at once -- instead of
one key at a time: one query per run and tick returns the rows newer than the
last one read, and the caller decodes each row's JSON once.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from viewer.store import Project

Raw = tuple[int, int, Any]  # row id, step, metrics (JSON bytes or text)


@dataclass
class RunCount:
    """Rows, last step, newest row id, name and newest timestamp of one run."""

    run_id: str
    rows: int
    last_step: int | None
    last_id: int
    name: str = ""
    timestamp: str = ""


def run_counts(pr: "Project", after_id: int = 0) -> dict[str, RunCount]:
    """Per run, what rows with id > ``after_id`` add (the (run, step) index answers it)."""
    c = pr.run_col
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


def max_row_id(pr: "Project") -> int:
    """The highest metrics row id (0 when empty)."""
    return int(pr.query("SELECT coalesce(max(id), 0) FROM metrics")[0][0])


def rows_after(pr: "Project", run_id: str, after_id: int) -> list[Raw]:
    """(id, step, metrics) of the run's rows with id > ``after_id``, oldest first (an id range scan)."""
    return pr.query(f"SELECT id, step, metrics FROM metrics WHERE id > ? AND +{pr.run_col}=? ORDER BY id",
                    (after_id, run_id))


def run_rows(pr: "Project", run_id: str, stride: int = 1, tail_from: int = 0,
             upto_id: int | None = None) -> list[Raw]:
    """(id, step, metrics) of the run's rows with id <= ``upto_id``, oldest first: with
    ``stride`` > 1 only every ``stride``-th row (by id) before ``tail_from``."""
    where: list[str] = [f"{pr.run_col}=?"]
    args: list[Any] = [run_id]
    if upto_id is not None:
        where.append("id <= ?")
        args.append(upto_id)
    if stride > 1:
        where.append("(id % ? = 0 OR id >= ?)")
        args += [stride, tail_from]
    return pr.query(f"SELECT id, step, metrics FROM metrics WHERE {' AND '.join(where)} ORDER BY id", args)


def tail_start_id(pr: "Project", run_id: str, rows: int) -> int:
    """The id of the ``rows``-th newest row of the run by step (0 when it has fewer)."""
    got = pr.query(f"SELECT id FROM metrics WHERE {pr.run_col}=? ORDER BY step DESC LIMIT 1 OFFSET ?",
                   (run_id, rows - 1))
    return int(got[0][0]) if got else 0


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
