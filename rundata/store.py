"""The one reader of Trackio's SQLite project files (read-only, never writes beside them).

Interface (the viewer, ``trackers.readback`` and the tests use only this):

* ``data_dir()``, ``db_path(project)``, ``project_files(root)``: where Trackio keeps
  ``<project>.db``; ``open_project(name, path)`` -> :class:`Project`;
  ``read_rows(db, run_name=None)``: every row as :class:`MetricRow` (no file, no rows).
* :class:`Project` -- runs: ``runs()``, ``pick_run()``, ``run_ids()``, ``last_update()``;
  rows: ``rows()``, ``run_config()``, ``system_rows()``; keys: ``metric_keys()``,
  ``has_key()``; series (numbers only, NaN/inf/strings skipped, booleans 1.0/0.0):
  ``latest()``, ``tail()``, ``value_at()``, ``step_range()``, ``cell()``,
  ``cells()``, ``new_rows()``, ``max_id()``, ``key_stats()``; consistency:
  ``snapshot()``, ``read()``, ``generation``, ``identity()``, ``anchor()``.
* :class:`Cell` -- one bucket's (count, vmin, vmax, first step, last step), the
  one bucket tuple order everywhere.

Every aggregate runs inside SQLite (``rundata.store_sql`` builds the value
expressions), so a million-step run never crosses into Python row by row.
The connection is opened lazily and :meth:`Project.close` releases the file
until the next query, so thousands of projects never hold thousands of files.
"""
from __future__ import annotations

import json
import math
import os
import sqlite3
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, NamedTuple, TypeVar

from rundata import store_sql
from rundata.store_open import KNOWN_SCHEMA, Stamp, StoreError, connect, data_dir, db_path, project_files
from rundata.store_series import Cell, SeriesQueries

try:
    import orjson

    loads: Any = orjson.loads
except ImportError:  # pragma: no cover - trackio depends on orjson
    loads = json.loads

__all__ = ["KNOWN_SCHEMA", "Cell", "MetricRow", "Project", "RunInfo", "StoreError", "data_dir",
           "db_path", "iso_seconds", "open_project", "project_files", "read_project", "read_rows"]
T = TypeVar("T")


class RunInfo(NamedTuple):
    """One run of a project: Trackio keys runs by ``run_id``; names may repeat."""

    run_id: str
    name: str
    steps: int
    last_step: int | None
    last_update: str


class MetricRow(NamedTuple):
    """One ``metrics`` row, its JSON decoded ({} when it is not valid JSON)."""

    id: int
    run_id: str
    run_name: str
    step: int
    timestamp: str
    metrics: dict[str, Any]


def decode(raw: Any) -> dict[str, Any]:
    """A JSON object column as a dict; {} for anything else (corrupt rows included).

    orjson first (several times faster on Trackio's BLOBs), json for what orjson
    refuses (``NaN`` literals, integers beyond 64 bits)."""
    try:
        obj = loads(raw)
    except (TypeError, ValueError):
        try:
            obj = json.loads(raw)
        except (TypeError, ValueError):
            return {}
    return obj if isinstance(obj, dict) else {}


def iso_seconds(stamp: str) -> float:
    """An ISO timestamp as seconds (naive ones as UTC, unreadable ones first)."""
    try:
        t = datetime.fromisoformat(stamp)
    except (TypeError, ValueError):
        return float("-inf")
    return (t if t.tzinfo is not None else t.replace(tzinfo=timezone.utc)).timestamp()


def nonfinite_name(v: Any) -> str | None:
    """``nan``, ``inf`` or ``-inf`` for a NaN or infinite JSON value (Trackio's strings
    ``"NaN"``, ``"Infinity"``, ``"-Infinity"`` or a float), else None."""
    if isinstance(v, float) and not math.isfinite(v):
        return str(v)
    return {"NaN": "nan", "Infinity": "inf", "-Infinity": "-inf"}.get(v) if isinstance(v, str) else None


class Project(SeriesQueries):
    """A read-only handle on one ``<project>.db`` (connected on first use)."""

    cacheable = True  # run summaries may be kept in the viewer's cache (viewer/cache.py)
    # The project's runs that only their journals hold (viewer.store_journal.journal_twin):
    # shown with this project's own runs by every view (all_runs).
    twin: "Project | None" = None

    def __init__(self, name: str, path: Path, conn: sqlite3.Connection | None = None) -> None:
        self.name, self.path = name, path
        self._conn, self._stamp, self.immutable = conn, None, False
        self.generation = 0  # goes up when the rows may have been rewritten (file replaced)
        self._exprs: dict[tuple[str, str, str], str] = {}
        self.has_run_id, self.run_col = True, "run_id"
        if conn is None:
            self._connect()
        else:
            self._schema()

    # -- connection -----------------------------------------------------------
    def _connect(self) -> None:
        conn, stamp, self.immutable = connect(self.path)
        old, self._conn, self._stamp = self._stamp, conn, stamp
        if old is not None and ((old.ino, old.dev) != (stamp.ino, stamp.dev) or stamp.size < old.size):
            self.generation += 1
        self._exprs.clear()
        self._schema()

    def _schema(self) -> None:
        self.has_run_id = "run_id" in self.columns("metrics")
        self.run_col = "run_id" if self.has_run_id else "run_name"
        # Every query reads ``metrics``; this per-connection view (temp objects are
        # searched first and write nothing beside the file) hides the rows whose step
        # or run another writer left of the wrong type, so no query meets them.  A
        # connection handed in (the journal mirror) holds ktrack's own rows only.
        self._ok = store_sql.row_ok_sql(self.run_col)
        if self._stamp is not None:
            self._q(f"CREATE TEMP VIEW IF NOT EXISTS metrics AS SELECT * FROM main.metrics WHERE {self._ok}")

    def skipped(self) -> int:
        """How many ``metrics`` rows the view leaves out for their step or run type (an index scan)."""
        return int(self._q(f"SELECT count(*) FROM main.metrics WHERE NOT {self._ok}")[0][0])

    def not_objects(self) -> int:
        """How many rows the view keeps hold metrics that are not a JSON object, so no
        values (a table scan: for ``--list``, not for every read)."""
        return int(self._q(f"SELECT count(*) FROM metrics WHERE {store_sql.not_object_sql()}")[0][0])

    @property
    def conn(self) -> sqlite3.Connection:
        """The open connection (reopened after :meth:`close`)."""
        if self._conn is None:
            self._connect()
        assert self._conn is not None
        return self._conn

    def refresh(self) -> None:
        """Start a fresh read: reconnect when the file was replaced, or when an
        immutable connection could miss a writer that started since."""
        self._exprs.clear()
        if self._conn is None or self._stamp is None or self._conn.in_transaction:
            return
        try:
            now = Stamp.of(self.path)
        except OSError:
            return
        old = self._stamp
        if (now.ino, now.dev) != (old.ino, old.dev) or (self.immutable and now != old):
            self.close()
            self._connect()

    def _changed(self) -> bool:
        if not self.immutable or self._stamp is None:
            return False
        try:
            return Stamp.of(self.path) != self._stamp
        except OSError:
            return False

    def read(self, fn: Callable[[], T], tries: int = 3) -> T:
        """``fn()`` inside one snapshot, again if a writer changed the file under an immutable read."""
        for _ in range(tries - 1):
            try:
                with self.snapshot():
                    out = fn()
            except StoreError:
                if not self._changed():
                    raise
                out = None
            if not self._changed():
                return out  # type: ignore[return-value]
            self.close()
        with self.snapshot():
            return fn()

    @contextmanager
    def snapshot(self) -> Iterator[None]:
        """One consistent read snapshot (a read transaction), even with a live
        writer; nested use joins the outer snapshot."""
        if self._conn is not None and self._conn.in_transaction:
            yield
            return
        self.refresh()
        self.conn.execute("BEGIN")
        try:
            yield
        finally:
            if self._conn is not None and self._conn.in_transaction:
                self._conn.execute("COMMIT")

    def _peer(self) -> "Project | None":
        return Project(self.name, self.path) if self._stamp is not None else None

    def close(self) -> None:
        """Release the file (idempotent); the next query reopens it."""
        if self._conn is not None and self._stamp is not None:
            self._conn.close()
            self._conn = None

    def identity(self) -> dict[str, int]:
        """What identifies this database file: replaced files get new values."""
        st = os.stat(self.path)
        uv = self._q("PRAGMA user_version")[0][0]
        return {"ino": st.st_ino, "dev": st.st_dev, "size": st.st_size, "user_version": uv}

    def anchor(self, row_id: int) -> list:
        """(id, timestamp) of the newest row with id <= ``row_id``: changes when rows were rewritten."""
        row = self._q("SELECT id, timestamp FROM metrics WHERE id <= ? ORDER BY id DESC LIMIT 1", (row_id,))
        return list(row[0]) if row else []

    def _q(self, sql: str, args: Sequence[Any] = ()) -> list[tuple]:
        try:
            return self.conn.execute(sql, tuple(args)).fetchall()
        except sqlite3.DatabaseError as exc:
            raise StoreError(f"cannot read {self.path}: {exc}") from None

    query = _q

    # -- schema ---------------------------------------------------------------
    def columns(self, table: str) -> set[str]:
        """Column names of ``table`` (empty when it does not exist)."""
        return {r[1] for r in self._q(f"PRAGMA table_info({table})")}

    _columns = columns

    def has_table(self, table: str) -> bool:
        """True if ``table`` exists in this database."""
        return bool(self.columns(table))

    def _run_key(self, table: str, run: RunInfo) -> tuple[str, str]:
        col = "run_id" if "run_id" in self.columns(table) else "run_name"
        return col, run.run_id if col == "run_id" and self.has_run_id else run.name

    # -- runs -----------------------------------------------------------------
    def last_update(self) -> str:
        """ISO timestamp of the newest metrics row ('' when empty)."""
        row = self._q("SELECT timestamp FROM metrics ORDER BY id DESC LIMIT 1")
        return row[0][0] if row else ""

    def run_ids(self) -> list[str]:
        """Distinct run ids, by index seeks only (no table scan)."""
        c = self.run_col
        q = (f"WITH RECURSIVE r(x) AS (SELECT min({c}) FROM metrics UNION ALL "
             f"SELECT (SELECT min({c}) FROM metrics WHERE {c} > x) FROM r WHERE x IS NOT NULL) "
             f"SELECT x FROM r WHERE x IS NOT NULL")
        return [row[0] for row in self._q(q)]

    def runs(self, counts: bool = False) -> list[RunInfo]:
        """Every run, most recently updated first; step counts only if ``counts``."""
        out = []
        for rid in self.run_ids():
            last = self._q(f"SELECT id, run_name, step, timestamp FROM metrics WHERE {self.run_col}=? "
                           f"ORDER BY id DESC LIMIT 1", (rid,))[0]
            n = self._q(f"SELECT count(*) FROM metrics WHERE {self.run_col}=?", (rid,))[0][0] if counts else 0
            out.append((last[0], RunInfo(rid, last[1], n, last[2], last[3])))
        return [r for _, r in sorted(out, key=lambda t: t[0], reverse=True)]

    def run_names(self) -> dict[str, str]:
        """Run id -> run name, by index seeks only (:meth:`runs` sorts each run's rows)."""
        return {rid: self._q(f"SELECT run_name FROM metrics WHERE {self.run_col}=? LIMIT 1", (rid,))[0][0]
                for rid in self.run_ids()}

    def all_runs(self, counts: bool = False) -> list[tuple["Project", RunInfo]]:
        """This project's runs and its :attr:`twin`'s, each with the project that reads it,
        most recently updated first (each read in its own snapshot)."""
        out = [(self, r) for r in self.read(lambda: self.runs(counts))]
        twin = self.twin
        if twin is not None:
            out += [(twin, r) for r in twin.read(lambda: twin.runs(counts))]
            out.sort(key=lambda t: iso_seconds(t[1].last_update), reverse=True)
        return out

    def find_run(self, wanted: str | None) -> tuple["Project", RunInfo] | None:
        """:meth:`pick_run` over this project and its :attr:`twin`: the run and the project
        that reads it (with ``wanted`` None, the newer of the two most recent runs)."""
        own, twin = self.pick_run(wanted), self.twin
        other = twin.pick_run(wanted) if twin is not None and (wanted is None or own is None) else None
        if twin is not None and other is not None and (
                own is None or iso_seconds(other.last_update) > iso_seconds(own.last_update)):
            return twin, other
        return None if own is None else (self, own)

    def pick_run(self, wanted: str | None) -> RunInfo | None:
        """The most recent run, or the most recent one named (or id'd) ``wanted``."""
        if wanted is None:
            row = self._q(f"SELECT {self.run_col}, run_name, step, timestamp FROM metrics ORDER BY id DESC LIMIT 1")
            return RunInfo(row[0][0], row[0][1], 0, row[0][2], row[0][3]) if row else None
        return next((r for r in self.runs() if wanted in (r.name, r.run_id)), None)

    def time_range(self, run_id: str) -> tuple[str | None, str | None]:
        """First and last metrics timestamp of the run."""
        lo, hi = self._q(f"SELECT min(timestamp), max(timestamp) FROM metrics WHERE {self.run_col}=?", (run_id,))[0]
        return lo, hi

    # -- rows -----------------------------------------------------------------
    def rows(self, run_name: str | None = None, run_id: str | None = None, after_id: int = 0) -> list[MetricRow]:
        """``metrics`` rows (of one run, if named) with id > ``after_id``, in insertion order."""
        rid = "run_id" if self.has_run_id else "run_name"
        where: list[str] = ["id > ?"]
        args: list[Any] = [after_id]
        for col, val in (("run_name", run_name), (rid, run_id)):
            if val is not None:
                where.append(f"{col} = ?")
                args.append(val)
        sql = (f"SELECT id, {rid}, run_name, step, timestamp, metrics FROM metrics "
               f"WHERE {' AND '.join(where)} ORDER BY id")
        return [MetricRow(i, r, n, s, t, decode(m)) for i, r, n, s, t, m in self._q(sql, args)]

    def run_config(self, run: RunInfo) -> dict[str, Any]:
        """The run's row of Trackio's ``configs`` table as a dict ({} when none)."""
        if not self.has_table("configs"):
            return {}
        col, key = self._run_key("configs", run)
        rows = self._q(f"SELECT config FROM configs WHERE {col}=? ORDER BY id DESC LIMIT 1", (key,))
        return decode(rows[0][0]) if rows else {}

    def system_rows(self, run: RunInfo, last: int | None = None) -> list[tuple[str, dict[str, Any]]]:
        """(timestamp, metrics) rows of Trackio's ``system_metrics`` table, oldest first."""
        if not self.has_table("system_metrics"):
            return []
        col, key = self._run_key("system_metrics", run)
        rows = self._q(f"SELECT timestamp, metrics FROM system_metrics WHERE {col}=? ORDER BY id DESC LIMIT ?",
                       (key, -1 if last is None else last))
        return [(t, decode(m)) for t, m in reversed(rows)]

    def alerts(self, run: RunInfo) -> list[dict[str, Any]]:
        """The run's rows of Trackio's ``alerts`` table (title, text, level, step), oldest first."""
        if not self.has_table("alerts"):
            return []
        col, key = self._run_key("alerts", run)
        rows = self._q(f"SELECT title, text, level, step FROM alerts WHERE {col}=? ORDER BY id", (key,))
        return [{"title": t, "text": x, "level": lv, "step": st} for t, x, lv, st in rows]

    def system_keys(self, run: RunInfo) -> list[str]:
        """Keys seen in a sample of the run's ``system_metrics`` rows ([] without the table)."""
        if not self.has_table("system_metrics"):
            return []
        return self.metric_keys(self._run_key("system_metrics", run)[1], "system_metrics")

    def system_stats(self, run: RunInfo, keys: list[str]) -> tuple[int, str | None, str | None,
                                                                     dict[str, tuple[int, Any, Any, Any]]]:
        """Rows, first and last timestamp, and per key (rows holding it, min, max, avg of its
        numbers) of the run's ``system_metrics`` rows."""
        col, key = self._run_key("system_metrics", run)
        vals = "".join(f", {store_sql.value_sql(k)} AS v{i}, {store_sql.present_sql(k)} AS p{i}"
                       for i, k in enumerate(keys))
        fin = [f"CASE WHEN v{i} {store_sql.FINITE} THEN v{i} END" for i in range(len(keys))]
        aggs = "".join(f", count(p{i}), min({f}), max({f}), avg({f})" for i, f in enumerate(fin))
        row = self._q(f"SELECT count(*), min(timestamp), max(timestamp){aggs} FROM (SELECT timestamp{vals} "
                      f"FROM system_metrics WHERE {col}=? LIMIT -1)", (key,))[0]
        return row[0], row[1], row[2], {k: tuple(row[3 + 4 * i:7 + 4 * i]) for i, k in enumerate(keys)}

    # -- keys -----------------------------------------------------------------
    def metric_keys(self, run_id: str, table: str = "metrics", rows: int = 2000) -> list[str]:
        """Metric keys seen in a sample of the run's rows: the first 200, the newest
        ``rows`` and (``metrics``) one row at each of 64 evenly spaced steps."""
        col = self.run_col if table == "metrics" else ("run_id" if "run_id" in self.columns(table) else "run_name")
        order = "step" if table == "metrics" else "id"
        ids: list[int] = []
        if table == "metrics":
            lo, hi, _ = self.step_range(run_id)
            if lo is not None and hi is not None:
                spots = sorted({lo + i * (hi - lo) // 63 for i in range(64)})
                ids = [r[0] for r in self._q(
                    "SELECT (SELECT id FROM metrics WHERE " + col + "=? AND step >= s ORDER BY step LIMIT 1) FROM ("
                    + " UNION ALL ".join(["SELECT ? AS s"] * len(spots)) + ")", (run_id, *spots)) if r[0]]
        spread = f" UNION ALL SELECT metrics FROM metrics WHERE id IN ({','.join(map(str, ids))})" if ids else ""
        sample = (f"SELECT metrics FROM (SELECT metrics FROM {table} WHERE {col}=? ORDER BY {order} DESC LIMIT ?) "
                  f"UNION ALL SELECT metrics FROM (SELECT metrics FROM {table} WHERE {col}=? ORDER BY {order} "
                  f"LIMIT 200){spread}")
        q = (f"SELECT DISTINCT j.key FROM (SELECT CAST(metrics AS TEXT) AS t FROM ({sample})) AS m, "
             f"json_each(CASE WHEN json_valid(m.t) THEN CASE WHEN json_type(m.t) = 'object' THEN m.t END "
             f"END) AS j")
        return sorted(r[0] for r in self._q(q, (run_id, rows, run_id)))

    sample_keys = metric_keys

    def has_key(self, run_id: str, key: str) -> bool:
        """True if any row of the run holds a number under ``key`` (one scan at worst)."""
        return self.latest(run_id, key) is not None

    def latest_row_with(self, run_id: str, keys: list[str]) -> MetricRow | None:
        """The run's newest row (by id) that holds any of ``keys``."""
        has = " OR ".join(f"{store_sql.present_sql(k)} IS NOT NULL" for k in keys) or "0"
        rows = self._q(f"SELECT id FROM metrics WHERE +{self.run_col}=? AND ({has}) ORDER BY id DESC LIMIT 1",
                       (run_id,))
        return self.row(rows[0][0]) if rows else None

    def nonfinite_after(self, run_id: str, key: str, step: int) -> tuple[int, int, str] | None:
        """Where the run went after its last finite ``key`` value at ``step``: (first, last
        step holding ``key`` after it, the last one's value as ``nan``/``inf``/``-inf``) when
        that last value is not finite (Trackio stores NaN and +-inf as strings); else None.
        Both are seeks on the ``(run, step)`` index past ``step``."""
        has = f"{store_sql.present_sql(key)} IS NOT NULL"
        where = f"FROM metrics WHERE {self.run_col}=? AND step > ? AND {has}"
        last = self._q(f"SELECT id {where} ORDER BY step DESC, id DESC LIMIT 1", (run_id, step))
        row = self.row(last[0][0]) if last else None
        if row is None:
            return None
        shown = nonfinite_name(row.metrics.get(key))
        if shown is None:
            return None
        first = self._q(f"SELECT min(step) {where}", (run_id, step))[0][0]
        return int(first), row.step, shown

    def row(self, row_id: int) -> MetricRow | None:
        """The metrics row with ``row_id``."""
        rid = "run_id" if self.has_run_id else "run_name"
        rows = self._q(f"SELECT id, {rid}, run_name, step, timestamp, metrics FROM metrics WHERE id=?", (row_id,))
        if not rows:
            return None
        i, r, n, s, t, m = rows[0]
        return MetricRow(i, r, n, s, t, decode(m))

    # -- workspace queries


def open_project(name: str, path: Path) -> Project:
    """Open one project file; raises StoreError with a one-line message."""
    try:
        return Project(name, path)
    except sqlite3.DatabaseError as exc:
        raise StoreError(f"{path} is not a readable Trackio database ({exc})") from None


def read_project(db: str | Path, fn: Callable[[Project], T], empty: T) -> T:
    """``fn(project)`` on the database at ``db`` in one read, or ``empty`` when the file is missing
    or Trackio created it but has not written a table into it yet. Other problems raise StoreError."""
    path = Path(db)
    if not path.exists() or path.stat().st_size == 0:
        return empty
    try:
        pr = open_project(path.stem, path)
    except StoreError as exc:
        if "no metrics table" in str(exc):
            return empty
        raise
    try:
        return pr.read(lambda: fn(pr))
    finally:
        pr.close()


def read_rows(db: str | Path, run_name: str | None = None) -> list[MetricRow]:
    """Every ``metrics`` row (of ``run_name``) of the database at ``db``, in insertion order ([] without one)."""
    return read_project(db, lambda pr: pr.rows(run_name=run_name), [])
