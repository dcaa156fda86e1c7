"""Read-only access to Trackio's SQLite project files.

Every query aggregates inside SQLite (``json_extract`` on the ``metrics``
column, grouped into chart buckets), so a run of a million steps never crosses
into Python row by row.  Connections use ``file:<path>?mode=ro`` and never
take a write lock: a live Trackio writer (WAL journal) keeps going.
"""
from __future__ import annotations

import os
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from viewer.keys import json_path

KNOWN_SCHEMA = 2  # Trackio 0.43.0 writes PRAGMA user_version = 2
NUM = "typeof(v) IN ('integer','real')"


class StoreError(Exception):
    """A data problem worth one line to the user (bad file, unknown schema...)."""


def data_dir(explicit: str | None = None) -> tuple[Path, str]:
    """Resolve the Trackio data directory the way Trackio does.

    Order: ``explicit`` (``--dir``), ``TRACKIO_DIR``, ``HF_HOME/trackio``,
    ``XDG_CACHE_HOME/huggingface/trackio``, ``~/.cache/huggingface/trackio``.
    Returns the path and where it came from (for error messages).
    """
    if explicit:
        return Path(explicit).expanduser(), "--dir"
    if os.environ.get("TRACKIO_DIR"):
        return Path(os.environ["TRACKIO_DIR"]).expanduser(), "TRACKIO_DIR"
    if os.environ.get("HF_HOME"):
        return Path(os.environ["HF_HOME"]).expanduser() / "trackio", "HF_HOME"
    if os.environ.get("XDG_CACHE_HOME"):
        return Path(os.environ["XDG_CACHE_HOME"]).expanduser() / "huggingface" / "trackio", "XDG_CACHE_HOME"
    return Path.home() / ".cache" / "huggingface" / "trackio", "default"


def project_files(root: Path) -> dict[str, Path]:
    """Map project name (the file stem, as Trackio names it) to its ``.db``."""
    if not root.is_dir():
        return {}
    return {p.stem: p for p in sorted(root.glob("*.db"))
            if p.is_file() and not p.stem.startswith("registry-")}


@dataclass
class RunInfo:
    """One run of a project: Trackio keys runs by ``run_id``; names may repeat."""

    run_id: str
    name: str
    steps: int
    last_step: int | None
    last_update: str


class Project:
    """A read-only handle on one ``<project>.db``."""

    def __init__(self, name: str, path: Path) -> None:
        self.name = name
        self.path = path
        self.conn = _connect(path)
        self.has_run_id = "run_id" in self._columns("metrics")
        self.run_col = "run_id" if self.has_run_id else "run_name"
        self._blob: bool | None = None

    # -- schema ---------------------------------------------------------------
    def _columns(self, table: str) -> set[str]:
        return {r[1] for r in self.conn.execute(f"PRAGMA table_info({table})")}

    def has_table(self, table: str) -> bool:
        """True if ``table`` exists in this database."""
        return bool(self._columns(table))

    @contextmanager
    def snapshot(self) -> Iterator[None]:
        """One consistent read snapshot (a read transaction), even with a live
        writer; nested use joins the outer snapshot."""
        if self.conn.in_transaction:
            yield
            return
        self.conn.execute("BEGIN")
        try:
            yield
        finally:
            self.conn.execute("COMMIT")

    def identity(self) -> dict[str, int]:
        """What identifies this database file: replaced files get new values."""
        st = os.stat(self.path)
        uv = self._q("PRAGMA user_version")[0][0]
        return {"ino": st.st_ino, "dev": st.st_dev, "size": st.st_size, "user_version": uv}

    def anchor(self, row_id: int) -> list:
        """(id, timestamp) of the newest row with id <= ``row_id``: a cheap
        fingerprint that changes when the rows were rewritten."""
        row = self._q("SELECT id, timestamp FROM metrics WHERE id <= ? ORDER BY id DESC LIMIT 1", (row_id,))
        return list(row[0]) if row else []

    def close(self) -> None:
        """Close the connection (idempotent)."""
        self.conn.close()

    # -- runs -----------------------------------------------------------------
    def last_update(self) -> str:
        """ISO timestamp of the newest metrics row ('' when empty)."""
        row = self.conn.execute("SELECT timestamp FROM metrics ORDER BY id DESC LIMIT 1").fetchone()
        return row[0] if row else ""

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

    def pick_run(self, wanted: str | None) -> RunInfo | None:
        """The most recent run, or the most recent one named (or id'd) ``wanted``."""
        if wanted is None:
            row = self._q(f"SELECT {self.run_col}, run_name, step, timestamp FROM metrics "
                          f"ORDER BY id DESC LIMIT 1")
            return RunInfo(row[0][0], row[0][1], 0, row[0][2], row[0][3]) if row else None
        for run in self.runs():
            if wanted in (run.name, run.run_id):
                return run
        return None

    # -- keys -----------------------------------------------------------------
    def sample_keys(self, run_id: str, rows: int = 2000) -> list[str]:
        """Metric keys seen in the newest and oldest ``rows`` rows of a run."""
        q = (f"SELECT DISTINCT j.key FROM (SELECT metrics FROM metrics WHERE {self.run_col}=? "
             f"ORDER BY step DESC LIMIT ?) AS m, json_each(CAST(m.metrics AS TEXT)) AS j "
             f"UNION SELECT DISTINCT j.key FROM (SELECT metrics FROM metrics WHERE {self.run_col}=? "
             f"ORDER BY step LIMIT 200) AS m, json_each(CAST(m.metrics AS TEXT)) AS j")
        return sorted(r[0] for r in self._q(q, (run_id, rows, run_id)))

    def _q(self, sql: str, args: tuple = ()) -> list[tuple]:
        try:
            return self.conn.execute(sql, args).fetchall()
        except sqlite3.DatabaseError as exc:
            raise StoreError(f"cannot read {self.path}: {exc}") from None

    def _val(self, key: str) -> str:
        return f"json_extract(CAST(metrics AS TEXT), '{json_path(key)}')"

    # -- series ---------------------------------------------------------------
    def latest(self, run_id: str, key: str) -> tuple[int, float, int] | None:
        """(step, value, id) of the newest numeric ``key`` in the run."""
        q = (f"SELECT step, v, id FROM (SELECT step, id, {self._val(key)} AS v FROM metrics "
             f"WHERE {self.run_col}=? ORDER BY step DESC, id DESC) WHERE {NUM} LIMIT 1")
        rows = self._q(q, (run_id,))
        return rows[0] if rows else None

    def tail(self, run_id: str, key: str, n: int, ids: bool = False) -> list[tuple]:
        """The last ``n`` numeric points (step, value[, id]), oldest first."""
        q = (f"SELECT step, v{', id' if ids else ''} FROM (SELECT step, id, {self._val(key)} AS v "
             f"FROM metrics WHERE {self.run_col}=? ORDER BY step DESC, id DESC) WHERE {NUM} LIMIT ?")
        return self._q(q, (run_id, n))[::-1]

    def step_range(self, run_id: str) -> tuple[int, int, int]:
        """(first step, last step) of the run and the highest row id: index seeks only."""
        c = self.run_col
        lo = self._q(f"SELECT min(step) FROM metrics WHERE {c}=?", (run_id,))[0][0]
        hi = self._q(f"SELECT max(step) FROM metrics WHERE {c}=?", (run_id,))[0][0]
        return lo, hi, self.max_id()

    def _needle(self, key: str) -> str:
        return ('"' + key.replace('"', '\\"') + '":').encode().hex()

    def _fast(self, run_id: str, key: str) -> str | None:
        """A cheap SQL expression for the numeric value of ``key`` (column ``m``).

        Trackio 0.43 stores ``orjson.dumps(...)`` bytes (a BLOB): ``"key":value``
        with no spaces, keys in logging order.  The value is found by comparing
        the bytes at the offset seen in the run's newest row (instr() where it
        differs) and CAST to REAL: about 3x cheaper than json_extract.  Quoted
        values ("NaN", strings) give NULL.  None for TEXT rows (json_extract).
        """
        if self._blob is None:
            row = self._q("SELECT typeof(metrics) FROM metrics LIMIT 1")
            self._blob = bool(row) and row[0][0] == "blob"
        if not self._blob:
            return None
        hx = self._needle(key)
        n = len(hx) // 2
        row = self._q(f"SELECT instr(metrics, X'{hx}') FROM metrics WHERE {self.run_col}=? "
                      f"ORDER BY step DESC LIMIT 1", (run_id,))
        p0 = row[0][0] if row and row[0][0] else 1
        found = f"instr(m, X'{hx}')"
        return (f"CASE WHEN substr(m, {p0}, {n}) = X'{hx}' THEN "
                f"(CASE WHEN substr(m, {p0 + n}, 1) = X'22' THEN NULL "
                f"ELSE CAST(substr(m, {p0 + n}, 40) AS REAL) END) "
                f"WHEN {found} = 0 OR substr(m, {found} + {n}, 1) = X'22' THEN NULL "
                f"ELSE CAST(substr(m, {found} + {n}, 40) AS REAL) END")

    def range_stats(self, run_id: str, key: str, lo: int, hi: int,
                    fast: str | None = None, max_id: int | None = None) -> tuple[int, float, float]:
        """(count, min, max) of numeric ``key`` for ``lo <= step <= hi`` (and
        ``id <= max_id``): one pass over those rows inside SQLite (index range
        on (run, step))."""
        cap, args = ("", (run_id, lo, hi)) if max_id is None else (" AND id <= ?", (run_id, lo, hi, max_id))
        if fast is not None:
            q = (f"SELECT count(v), min(v), max(v) FROM (SELECT {fast} AS v FROM "
                 f"(SELECT metrics AS m FROM metrics WHERE {self.run_col}=? AND step BETWEEN ? AND ?{cap}) "
                 f"LIMIT -1)")
        else:
            q = (f"SELECT count(v), min(v), max(v) FROM (SELECT {self._val(key)} AS v FROM metrics "
                 f"WHERE {self.run_col}=? AND step BETWEEN ? AND ?{cap} LIMIT -1) WHERE {NUM}")
        return self._q(q, args)[0]

    def buckets(self, run_id: str, key: str, lo: int, hi: int, nb: int, span: int | None = None,
                all_rows: bool = False, max_id: int | None = None) -> list[tuple[int, int, float, float, int, int]]:
        """Group the points with ``lo <= step <= hi`` into ``nb`` step buckets.

        Returns rows (bucket, count, min, max, first step, last step) for the
        buckets with numeric values (``all_rows``: with any row; first/last
        step always count every row).  One range query per bucket (index seek,
        then a single pass over its rows, no sort); ``span`` forces the width.
        """
        width = span or max(1, -(-(hi - lo + 1) // nb))
        fast = self._fast(run_id, key)
        todo = [b for b in range(nb) if lo + b * width <= hi]
        workers = max(1, min(4, os.cpu_count() or 1, len(todo) // 8))
        chunks = [todo[i::workers] for i in range(workers)]
        if workers == 1:
            parts = [self._bucket_rows(self, run_id, key, lo, hi, width, chunks[0], fast, all_rows, max_id)]
        else:  # several read-only connections scan disjoint step ranges in parallel
            from concurrent.futures import ThreadPoolExecutor

            peers = [self] + [Project(self.name, self.path) for _ in range(workers - 1)]
            with ThreadPoolExecutor(workers) as ex:
                parts = list(ex.map(lambda i: self._bucket_rows(peers[i], run_id, key, lo, hi, width,
                                                               chunks[i], fast, all_rows, max_id),
                                      range(workers)))
            for peer in peers[1:]:
                peer.close()
        return sorted(row for part in parts for row in part)

    @staticmethod
    def _bucket_rows(pr: "Project", run_id: str, key: str, lo: int, hi: int, width: int,
                     which: list[int], fast: str | None, all_rows: bool = False,
                     max_id: int | None = None) -> list[tuple]:
        out = []
        cap = "" if max_id is None else f" AND id <= {int(max_id)}"
        for b in which:
            a, z = lo + b * width, min(hi, lo + (b + 1) * width - 1)
            count, vmin, vmax = pr.range_stats(run_id, key, a, z, fast, max_id)
            if count or all_rows:
                s0, s1 = pr._q(f"SELECT min(step), max(step) FROM metrics WHERE {pr.run_col}=? "
                               f"AND step BETWEEN ? AND ?{cap}", (run_id, a, z))[0]
                if s0 is not None:
                    out.append((b, count, vmin, vmax, s0, s1))
        return out

    def range_cell(self, run_id: str, key: str, lo: int, hi: int,
                   fast: str | None = None) -> list | None:
        """``[min, max, count, first step, last step]`` of ``lo <= step <= hi``
        (steps of every row), or None when no row is there."""
        count, vmin, vmax = self.range_stats(run_id, key, lo, hi, fast)
        s0, s1 = self._q(f"SELECT min(step), max(step) FROM metrics WHERE {self.run_col}=? "
                         f"AND step BETWEEN ? AND ?", (run_id, lo, hi))[0]
        return None if s0 is None else [vmin, vmax, count, s0, s1]

    def value_at(self, run_id: str, key: str, step: int, last: bool = False) -> float | None:
        """The first (or last) numeric value of ``key`` logged at ``step``."""
        order = "DESC" if last else "ASC"
        q = (f"SELECT v FROM (SELECT id, {self._val(key)} AS v FROM metrics WHERE {self.run_col}=? "
             f"AND step=? ORDER BY id {order}) WHERE {NUM} LIMIT 1")
        rows = self._q(q, (run_id, step))
        return rows[0][0] if rows else None

    def new_rows(self, run_id: str, after_id: int, keys: list[str]) -> list[tuple]:
        """Rows with id > ``after_id``: (id, step, value of each key...)."""
        cols = ", ".join(self._val(k) for k in keys)
        q = (f"SELECT id, step, {cols} FROM metrics WHERE id > ? AND +{self.run_col}=? ORDER BY id")
        return self._q(q, (after_id, run_id))

    def max_id(self) -> int:
        """Highest metrics row id (0 when empty)."""
        return self._q("SELECT coalesce(max(id), 0) FROM metrics")[0][0]


def _connect(path: Path) -> sqlite3.Connection:
    """Open ``path`` read-only and check it is a Trackio database we know."""
    if path.stat().st_size == 0:
        raise StoreError(f"{path} is empty, not a Trackio database")
    try:
        conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True,
                               timeout=5.0, check_same_thread=False)
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    except sqlite3.DatabaseError as exc:
        raise StoreError(f"{path} is not a readable SQLite database ({exc})") from None
    if "metrics" not in tables:
        conn.close()
        raise StoreError(f"{path} is not a Trackio database (no metrics table)")
    if version > KNOWN_SCHEMA:
        conn.close()
        raise StoreError(f"{path} has Trackio schema version {version}; this viewer reads "
                         f"versions 0-{KNOWN_SCHEMA} (Trackio 0.43), upgrade ktrack")
    return conn


def open_project(name: str, path: Path) -> Project:
    """Open one project file; raises StoreError with a one-line message."""
    try:
        return Project(name, path)
    except sqlite3.DatabaseError as exc:
        raise StoreError(f"{path} is not a readable Trackio database ({exc})") from None
