"""Projects no Trackio database holds, read from ktrack's run journals.

A run tracked only to W&B, TensorBoard or nothing still has its journal,
``<runs>/<project>/<run>/metrics.jsonl`` (read with ``rundata.journal``,
the one journal reader).  :class:`JournalProject` mirrors a project's
journals into an in-memory SQLite database with Trackio's tables
(``metrics``, ``configs``, ``system_metrics``) and the rows Trackio would
have written, so every query of :class:`rundata.store.Project` -- series,
``--once``, ``--gpu-db``, compare -- works on it unchanged.

Each snapshot first looks at the journals' sizes: a file that grew is read
again and only the records after the ones already mirrored are inserted
(so series updates still read just the new rows); a file that shrank or was
replaced is mirrored afresh.
"""
from __future__ import annotations

import json
import os
import sqlite3
from collections.abc import Collection
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from ktrack.names import trackio_file_name
from ktrack.runfolder import RunFolder
from rundata.journal import REWIND, ROW_TYPES, SUMMARY, SYSTEM, read_config, read_records, to_json
from rundata.store import Project


SCHEMA = """
CREATE TABLE metrics (id INTEGER PRIMARY KEY AUTOINCREMENT, run_id TEXT NOT NULL, timestamp TEXT NOT NULL,
                      run_name TEXT NOT NULL, step INTEGER NOT NULL, metrics BLOB NOT NULL);
CREATE INDEX idx_metrics_run_step ON metrics(run_id, step);
CREATE TABLE configs (id INTEGER PRIMARY KEY AUTOINCREMENT, run_id TEXT NOT NULL, run_name TEXT NOT NULL,
                      config TEXT NOT NULL, created_at TEXT NOT NULL, UNIQUE(run_id));
CREATE TABLE system_metrics (id INTEGER PRIMARY KEY AUTOINCREMENT, run_id TEXT NOT NULL, timestamp TEXT NOT NULL,
                             run_name TEXT NOT NULL, metrics BLOB NOT NULL);
CREATE TABLE summaries (run_id TEXT PRIMARY KEY, summary TEXT NOT NULL);
"""


def _iso(t: Any) -> str:
    try:
        return datetime.fromtimestamp(float(t), timezone.utc).isoformat()
    except (TypeError, ValueError, OverflowError, OSError):
        return ""


def _blob(values: dict[str, Any]) -> bytes:
    """Metrics as Trackio stores them: compact JSON bytes, non-finite floats as strings."""
    clean = {str(k): to_json(v) for k, v in values.items()}
    return json.dumps(clean, separators=(",", ":"), ensure_ascii=False, default=str, allow_nan=False).encode()


def journal_dirs(runs_dir: Path) -> dict[str, Path]:
    """Project name -> folder, for every ``runs_dir/<project>`` holding a run journal."""
    try:
        folders = sorted(p for p in runs_dir.iterdir() if p.is_dir())
    except OSError:
        return {}
    return {p.name: p for p in folders if any(RunFolder(r).journal.is_file() for r in _run_dirs(p))}


def _run_dirs(folder: Path) -> list[Path]:
    try:
        return [r for r in folder.iterdir() if r.is_dir()]
    except OSError:
        return []


def journal_projects(runs_dir: Path, trackio_names: set[str]) -> list["JournalProject"]:
    """The journal projects of ``runs_dir`` that no Trackio database (``trackio_names``) holds."""
    taken = {trackio_file_name(n) for n in trackio_names}
    return [JournalProject(name, folder) for name, folder in journal_dirs(runs_dir).items()
            if trackio_file_name(name) not in taken]


def journal_twin(runs_dir: Path, project: Project) -> "JournalProject | None":
    """The runs of a Trackio ``project`` that only their journals hold (a sweep point tracked
    to W&B or to nothing), or None when it has none.

    The folder is ``runs_dir/<project>`` (or one Trackio files under the same
    name); a run folder named as one of the database's runs (name or id) is
    left out: that run is shown once, with Trackio's data.
    """
    try:
        names = sorted((p.name for p in runs_dir.iterdir() if p.is_dir()), key=lambda n: n != project.name)
    except OSError:
        return None
    stem = trackio_file_name(project.name)
    folder = next((runs_dir / n for n in names if (n == project.name or trackio_file_name(n) == stem)
                   and any(RunFolder(r).journal.is_file() for r in _run_dirs(runs_dir / n))), None)
    if folder is None:
        return None
    known = {v for rid, name in project.read(project.run_names).items() for v in (rid, name)}
    twin = JournalProject(project.name, folder, skip=known)
    return twin if twin.run_ids() else None


class JournalProject(Project):
    """One ``runs/<project>`` folder, mirrored into memory with Trackio's tables."""

    cacheable = False

    def __init__(self, name: str, folder: Path, skip: Collection[str] = ()) -> None:
        conn = sqlite3.connect(":memory:", check_same_thread=False, isolation_level=None)
        conn.executescript(SCHEMA)
        self.folder = folder
        self.skip = set(skip)  # run folders not mirrored (runs a Trackio database holds)
        self._seen: dict[str, tuple[tuple[int, int], int, int]] = {}  # run -> (file id, records, last step)
        self._configs: dict[str, int] = {}
        self._sizes: dict[str, int] = {}
        super().__init__(name, folder, conn)
        self.sync()

    def refresh(self) -> None:
        """Mirror what the journals gained since the last snapshot."""
        self._exprs.clear()
        self.sync()

    def close(self) -> None:
        """Nothing to release: the mirror lives in memory."""

    def identity(self) -> dict[str, int]:
        """The mirror has no file of its own."""
        return {"ino": 0, "dev": 0, "size": self.max_id(), "user_version": 0}

    def run_dir(self, run_id: str) -> Path:
        """The run folder of ``run_id`` (its journal, console.log, config)."""
        return self.folder / run_id

    def summary(self, run_id: str) -> dict[str, Any]:
        """The run's end-of-run values: ``summary.json``, else its journal's summary records."""

        try:
            data = json.loads(RunFolder(self.folder / run_id).summary.read_text(encoding="utf-8"))
            if isinstance(data, dict) and data:
                return data
        except (OSError, ValueError):
            pass
        rows = self._q("SELECT summary FROM summaries WHERE run_id=?", (run_id,))
        return json.loads(rows[0][0]) if rows else {}

    def sync(self) -> None:
        """Insert the records written since the last call, run folders by journal age."""
        runs = []
        for r in _run_dirs(self.folder):
            if r.name in self.skip:
                continue
            try:
                st = os.stat(RunFolder(r).journal)
            except OSError:
                continue
            runs.append((st.st_mtime_ns, r.name, r, st))
        for _, name, folder, st in sorted(runs):
            self._sync_run(name, folder, st)

    def _sync_run(self, name: str, folder: Path, st: os.stat_result) -> None:
        file_id, size = (st.st_ino, st.st_dev), st.st_size
        old = self._seen.get(name)
        if old is not None and old[0] == file_id and self._sizes.get(name) == size:
            return
        conn = self.conn
        if old is not None and (old[0] != file_id or size < self._sizes.get(name, 0)):
            for table in ("metrics", "system_metrics", "summaries"):
                conn.execute(f"DELETE FROM {table} WHERE run_id=?", (name,))
            self.generation += 1
            old = None
        skip, last_step = (old[1], old[2]) if old else (0, -1)
        n, summary = 0, None
        metrics, system = [], []
        for n, rec in enumerate(read_records(folder), 1):
            if n <= skip or not isinstance(rec, dict):
                continue
            kind, values = rec.get("type"), rec.get("metrics")
            if kind in ROW_TYPES and isinstance(values, dict) and values:
                step = rec.get("step")
                step = step if isinstance(step, int) and not isinstance(step, bool) else last_step + 1
                last_step = max(last_step, step)
                metrics.append((name, _iso(rec.get("time")), name, step, _blob(values)))
            elif kind == REWIND and isinstance(rec.get("step"), int):  # a resume replaced the steps after it
                conn.executemany("INSERT INTO metrics (run_id, timestamp, run_name, step, metrics) "
                                 "VALUES (?,?,?,?,?)", metrics)
                metrics = []
                conn.execute("DELETE FROM metrics WHERE run_id=? AND step>?", (name, rec["step"]))
                self.generation += 1
                last_step = rec["step"]
            elif kind == SYSTEM and isinstance(values, dict):
                system.append((name, _iso(rec.get("time")), name, _blob(values)))
            elif kind == SUMMARY and isinstance(rec.get("summary"), dict):
                if summary is None:
                    rows = conn.execute("SELECT summary FROM summaries WHERE run_id=?", (name,)).fetchall()
                    summary = json.loads(rows[0][0]) if rows else {}
                summary.update(rec["summary"])
        conn.executemany("INSERT INTO metrics (run_id, timestamp, run_name, step, metrics) VALUES (?,?,?,?,?)",
                         metrics)
        conn.executemany("INSERT INTO system_metrics (run_id, timestamp, run_name, metrics) VALUES (?,?,?,?)",
                         system)
        if summary is not None:
            conn.execute("INSERT OR REPLACE INTO summaries VALUES (?, ?)",
                         (name, json.dumps({k: to_json(v) for k, v in summary.items()}, default=str)))
        self._seen[name] = (file_id, max(n, skip), last_step)
        self._sizes[name] = size
        self._sync_config(name, folder)

    def _sync_config(self, name: str, folder: Path) -> None:
        try:
            mtime = os.stat(RunFolder(folder).config_json).st_mtime_ns
        except OSError:
            return
        if self._configs.get(name) == mtime:
            return
        try:
            data = read_config(folder)
        except (OSError, ValueError):
            return
        cfg = data.get("config") if isinstance(data.get("config"), dict) else data
        self.conn.execute("INSERT OR REPLACE INTO configs (run_id, run_name, config, created_at) VALUES (?,?,?,?)",
                          (name, name, json.dumps(cfg, default=str), _iso(data.get("created"))))
        self._configs[name] = mtime
