"""The one reader of Trackio's SQLite project files (read-only, never writes beside them).

Interface (the viewer, ``trackers.readback`` and the tests use only this):

* ``data_dir()``, ``db_path(project)``, ``project_files(root)``: where Trackio keeps
  ``<project>.db``; ``open_project(name, path)`` -> :class:`Project`;
  ``read_rows(db, run_name=None)``: every row as :class:`MetricRow` (no file, no rows).
* :class:`RunInfo` -- one run, the one record of a run whoever reads it (the
  runs of a project, the workspace's runs pane, a comparison from Trackio or
  from a run folder).
* :class:`Project` -- one Trackio project, every query of it written once here.
* :class:`Cell` -- one bucket's (count, vmin, vmax, first step, last step), the
  one bucket tuple order everywhere.

Every aggregate runs inside SQLite (``rundata.store_sql`` builds the value
expressions), so a million-step run never crosses into Python row by row.
The connection is opened lazily and :meth:`Project.close` releases the file
until the next query, so thousands of projects never hold thousands of files.

File layout: records (``RunInfo``, ``MetricRow``, ``Cell``) and the JSON helpers
(``decode``, ``iso_seconds``, ``nonfinite_name``); ``pack_cells`` /
``unpack_cells``; :class:`Project`, its sections in this order: connection and
snapshots, schema, runs, rows, keys, series (one metric of one run, aggregated
in SQLite), whole rows (every metric of a run at once, the live workspace);
then ``open_project``, ``read_project``, ``read_rows``.
"""
from __future__ import annotations

import json
import math
import os
import sqlite3
import sys
from array import array
from binascii import a2b_base64, b2a_base64
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, NamedTuple, TypeVar

from ktrack.numbers import number
from rundata import store_sql
from rundata.store_open import KNOWN_SCHEMA, Stamp, StoreError, connect, data_dir, db_path, project_files

try:
    import orjson

    loads: Any = orjson.loads
except ImportError:  # pragma: no cover - trackio depends on orjson
    loads = json.loads

__all__ = ["KNOWN_SCHEMA", "Cell", "MetricRow", "Project", "RunInfo", "StoreError", "data_dir",
           "db_path", "iso_seconds", "open_project", "project_files", "read_project", "read_rows"]
T = TypeVar("T")
R = TypeVar("R")
FIN = store_sql.FINITE
_MIN_SPAN = 8  # steps per bucket from which a bucket is worth a scan by row id
Raw = tuple[int, int, Any]  # row id, step, metrics (JSON bytes or text) or the values picked from them


# No generated __repr__/__eq__: building them costs every trackio-view start about a millisecond.
@dataclass(eq=False, repr=False)
class RunInfo:
    """One run, with what its reader found out: Trackio keys runs by ``run_id``; names may repeat.

    The first fields say where the run's rows end; the workspace's runs pane adds
    its newest loss, status and labels, a comparison its configuration, loss
    curves, summary and duration (from Trackio or from a run folder).
    """

    run_id: str
    name: str
    rows: int = 0  # metrics rows (0 where not counted)
    last_step: int | None = None
    last_update: str = ""  # timestamp of the newest row
    last_id: int = 0  # the newest row's id (0 where not read)
    loss: float | None = None  # the newest loss value (runs pane)
    status: str = ""  # finished, running or stopped (runs pane)
    extra: dict[str, Any] = field(default_factory=dict)  # labels the runs pane shows (its Slurm job)
    dir: Path | None = None  # the run's database or run folder (comparison)
    config: dict[str, Any] = field(default_factory=dict)  # its Kconfig symbols (comparison)
    train: list[tuple[int, float]] = field(default_factory=list)  # (step, train loss) (comparison)
    val: list[tuple[int, float]] = field(default_factory=list)  # (step, validation loss) (comparison)
    summary: dict[str, Any] = field(default_factory=dict)  # end-of-run values (comparison)
    time_s: float | None = None  # seconds from the first to the last row (comparison)

    @property
    def curve(self) -> list[tuple[int, float]]:
        """The loss curve a comparison draws: train loss, else validation loss."""
        return self.train or self.val

    @property
    def curve_last_step(self) -> int | None:
        """The last step of the loss curves."""
        last = [s for s, _ in self.train[-1:] + self.val[-1:]]
        return max(last) if last else None

    @property
    def latest(self) -> float | None:
        """The last value of the drawn loss curve."""
        return self.curve[-1][1] if self.curve else None

    @property
    def best(self) -> float | None:
        """``best_val_loss`` of the summary, else the lowest validation (or train) loss."""
        value = number(self.summary.get("best_val_loss"), finite=True)
        if value is not None:
            return value
        finite = [v for _, v in (self.val or self.train) if math.isfinite(v)]
        return min(finite) if finite else None


class MetricRow(NamedTuple):
    """One ``metrics`` row, its JSON decoded ({} when it is not valid JSON)."""

    id: int
    run_id: str
    run_name: str
    step: int
    timestamp: str
    metrics: dict[str, Any]


def parse_json(raw: Any) -> Any:
    """A JSON column (text or bytes) as Python values; None when it is not JSON.

    orjson first (several times faster on Trackio's BLOBs), json for what orjson
    refuses (``NaN`` literals, integers beyond 64 bits)."""
    try:
        return loads(raw)
    except (TypeError, ValueError):
        try:
            return json.loads(raw)
        except (TypeError, ValueError):
            return None


def decode(raw: Any) -> dict[str, Any]:
    """A JSON object column as a dict; {} for anything else (corrupt rows included)."""
    obj = parse_json(raw)
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


class Project:
    """A read-only handle on one ``<project>.db`` (connected on first use)."""

    cacheable = True  # run summaries may be kept in the viewer's cache (viewer/cache.py)
    # The project's runs that only their journals hold (rundata.journal_project.journal_twin):
    # shown with this project's own runs by every view (all_runs).
    twin: "Project | None" = None

    def __init__(self, name: str, path: Path, conn: sqlite3.Connection | None = None) -> None:
        self.name, self.path = name, path
        self._conn, self.immutable = conn, False
        self._stamp: Stamp | None = None  # the file as the connection saw it (None: a connection handed in)
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

    # -- schema ---------------------------------------------------------------
    def columns(self, table: str) -> set[str]:
        """Column names of ``table`` (empty when it does not exist)."""
        return {r[1] for r in self._q(f"PRAGMA table_info({table})")}

    def has_table(self, table: str) -> bool:
        """True if ``table`` exists in this database."""
        return bool(self.columns(table))

    def _index_starts(self, *cols: str) -> bool:
        """True when an index of ``metrics`` starts with ``cols`` (Trackio's is (run_id, step))."""
        return any([r[2] for r in self._q(f"PRAGMA main.index_info({name})")][:len(cols)] == list(cols)
                   for name in [r[1] for r in self._q("PRAGMA main.index_list(metrics)")])

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

    def runs(self, counts: bool = False, newest: str = "id") -> list[RunInfo]:
        """Every run with its newest row's id, step, name and timestamp, most recently updated
        first; row counts only if ``counts``.  ``newest="step"``: the row of the highest step
        stands for the newest (an index seek, where the highest id may need a scan)."""
        order = "id DESC" if newest == "id" else "step DESC, id DESC"
        out = []
        for rid in self.run_ids():
            last = self._q(f"SELECT id, run_name, step, timestamp FROM metrics WHERE {self.run_col}=? "
                           f"ORDER BY {order} LIMIT 1", (rid,))[0]
            n = self._q(f"SELECT count(*) FROM metrics WHERE {self.run_col}=?", (rid,))[0][0] if counts else 0
            out.append(RunInfo(rid, last[1], n, last[2], last[3], last[0]))
        return sorted(out, key=lambda r: r.last_id, reverse=True)

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

    # -- series: one metric of one run, aggregated in SQLite ---------------------------
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
        hi = self._q(f"SELECT max(step) FROM metrics WHERE {self.run_col}=?", (run_id,))[0][0]
        return self.first_step(run_id), hi, self.max_id()

    def first_step(self, run_id: str) -> int | None:
        """The run's lowest step (an index seek)."""
        return self._q(f"SELECT min(step) FROM metrics WHERE {self.run_col}=?", (run_id,))[0][0]

    def max_id(self) -> int:
        """Highest metrics row id (0 when empty)."""
        return int(self._q("SELECT coalesce(max(id), 0) FROM metrics")[0][0])

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
            def by_steps(pr: "Project", b: int) -> tuple[int, Cell | None]:
                return b, pr.cell(run_id, key, lo + b * span, lo + (b + 1) * span - 1, max_id, expr)

            return [(b, c) for b, c in self._parallel(list(range(count)), by_steps) if c is not None]
        q = (f"SELECT count(*), min(v), max(v), min(step), max(step) FROM (SELECT step, {expr} AS v "
             f"FROM metrics WHERE id >= ? AND id < ? AND +{self.run_col}=? LIMIT -1) WHERE v NOT NULL")

        def by_ids(pr: "Project", r: tuple[int, int, int]) -> tuple:
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
        if not self._index_starts(c, "step"):
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

    def _parallel(self, items: list[T], fn: Callable[["Project", T], R]) -> list[R]:
        """``[fn(connection, item) for item in items]``, on up to 8 read-only connections
        (one thread each) working through contiguous slices."""
        workers = max(1, min(8, os.cpu_count() or 1, len(items) // 64))
        peers: list["Project"] = [self]
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

    # -- whole rows: every metric of a run at once (the live workspace) ------------------
    def _picking(self, make: Callable[[str, list[str]], tuple[str, list[Any]]],
                 keys: list[str] | None, col: int = 2) -> list[tuple]:
        """Rows of the query ``make(values, args)`` builds around the SQL ``values`` (column
        ``col``) of each row: without ``keys`` the row's metrics; with ``keys`` the values of
        those keys, as a JSON array (SQLite parses each row once, about a third cheaper than
        decoding whole rows in Python) or, where a row is not valid JSON, a list from Python."""
        if keys:
            paths = [store_sql.json_path(k) for k in keys] * (2 if len(keys) == 1 else 1)  # one path: a scalar
            sql, args = make(f"json_extract(CAST(metrics AS TEXT), {', '.join('?' * len(paths))})", paths)
            try:
                return self._q(sql, args)
            except StoreError as exc:
                if "malformed JSON" not in str(exc):
                    raise
        sql, args = make("metrics", [])
        rows = self._q(sql, args)
        if not keys:
            return rows
        out = []
        for r in rows:
            d = decode(r[col]) if r[col] is not None else None
            out.append((*r[:col], None if d is None else [d.get(k) for k in keys], *r[col + 1:]))
        return out

    def run_counts(self, after_id: int = 0) -> dict[str, RunInfo]:
        """Per run, what rows with id > ``after_id`` add: rows, last step, newest row id, and
        that row's name and timestamp (all runs: :meth:`runs` by step, index seeks only)."""
        c = self.run_col
        if not after_id and self._index_starts(c):
            out = {r.run_id: r for r in self.runs(counts=True, newest="step")}
            for info in out.values():
                info.last_update = info.last_update or ""
            return out
        if after_id:  # a rowid range: the planner would otherwise scan the whole (run, step) index
            sql = (f"SELECT {c}, count(*), max(step), max(id) FROM (SELECT {c}, step, id FROM metrics "
                   f"WHERE id > ? ORDER BY id) GROUP BY {c}")
            args: tuple = (after_id,)
        else:
            sql, args = f"SELECT {c}, count(*), max(step), max(id) FROM metrics GROUP BY {c}", ()
        out = {}
        for rid, n, last_step, last_id in self._q(sql, args):
            out[rid] = RunInfo(rid, "", n, last_step, "", last_id)
        for info in out.values():
            row = self._q("SELECT run_name, timestamp FROM metrics WHERE id=?", (info.last_id,))
            if row:
                info.name, info.last_update = row[0][0], row[0][1] or ""
        return out

    def rows_since(self, after_id: int, runs: list[str], into: dict[str, list[Raw]],
                   keys: list[str] | None = None) -> dict[str, RunInfo]:
        """What rows with id > ``after_id`` add per run (as :meth:`run_counts`), in one id range
        scan that also appends the (id, step, values) rows of ``runs`` to ``into``, oldest first
        (values: as :meth:`_picking` gives them)."""
        c = self.run_col
        marks = ",".join("?" * len(runs)) or "NULL"

        def make(values: str, vargs: list[Any]) -> tuple[str, list[Any]]:
            return (f"SELECT id, {c}, step, run_name, timestamp, CASE WHEN {c} IN ({marks}) THEN {values} END, "
                    f"{c} IN ({marks}) FROM metrics WHERE id > ? ORDER BY id", [*runs, *vargs, *runs, after_id])

        out: dict[str, RunInfo] = {}
        for row_id, rid, step, name, stamp, values, shown in self._picking(make, keys if runs else None, 5):
            info = out.get(rid)
            if info is None:
                out[rid] = RunInfo(rid, name, 1, step, stamp or "", row_id)
            else:
                info.rows += 1
                info.last_step = step if info.last_step is None else max(info.last_step, step)
                info.last_id, info.name, info.last_update = row_id, name, stamp or ""
            if shown:
                into.setdefault(rid, []).append((row_id, step, values))
        return out

    def rows_after(self, run_id: str, after_id: int, limit: int = -1, keys: list[str] | None = None) -> list[Raw]:
        """(id, step, values) of the run's first ``limit`` rows (all: -1) with id > ``after_id``,
        oldest first (an id range scan; values as :meth:`_picking` gives them)."""
        def make(values: str, vargs: list[Any]) -> tuple[str, list[Any]]:
            return (f"SELECT id, step, {values} FROM metrics WHERE id > ? AND +{self.run_col}=? ORDER BY id LIMIT ?",
                    [*vargs, after_id, run_id, limit])

        return self._picking(make, keys)

    def run_rows(self, run_id: str, stride: int = 1, tail_step: int | None = None,
                 upto_id: int | None = None, keys: list[str] | None = None) -> list[Raw]:
        """(id, step, values) of the run's rows with id <= ``upto_id``, by step: with
        ``stride`` > 1 only every ``stride``-th row (by id) below step ``tail_step``
        (the (run, step) index reads no other row; values as :meth:`_picking` gives them)."""
        where: list[str] = [f"{self.run_col}=?"]
        args: list[Any] = [run_id]
        if upto_id is not None:
            where.append("id <= ?")
            args.append(upto_id)
        if stride > 1:
            where.append("(id % ? = 0 OR step >= ?)")
            args += [stride, tail_step if tail_step is not None else 0]

        def make(values: str, vargs: list[Any]) -> tuple[str, list[Any]]:
            return f"SELECT id, step, {values} FROM metrics WHERE {' AND '.join(where)} ORDER BY step, id", vargs + args

        return self._picking(make, keys)

    def tail_start_step(self, run_id: str, rows: int) -> int | None:
        """The step of the run's ``rows``-th newest row by step (None when it has fewer)."""
        got = self._q(f"SELECT step FROM metrics WHERE {self.run_col}=? ORDER BY step DESC LIMIT 1 OFFSET ?",
                      (run_id, rows - 1))
        return int(got[0][0]) if got else None

    def sample(self, run_id: str, n: int = 20) -> list[Any]:
        """The metrics of the run's first and last ``n`` rows by step (to learn its keys)."""
        c = self.run_col
        return [r[0] for r in self._q(
            f"SELECT metrics FROM (SELECT metrics FROM metrics WHERE {c}=? ORDER BY step LIMIT ?) UNION ALL "
            f"SELECT metrics FROM (SELECT metrics FROM metrics WHERE {c}=? ORDER BY step DESC LIMIT ?)",
            (run_id, n, run_id, n))]

    def newest(self, run_id: str, n: int) -> list[Any]:
        """The metrics of the run's newest ``n`` rows (by step: the (run, step) index), newest first."""
        return [r[0] for r in self._q(f"SELECT metrics FROM metrics WHERE {self.run_col}=? ORDER BY step DESC "
                                      f"LIMIT ?", (run_id, n))]


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
