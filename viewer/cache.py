"""Persistent run summaries, so ``--once`` on a million-step run reads only new rows.

Per (database path, run id, chart metric) one JSON file under
``$XDG_CACHE_HOME/ktrack/viewer/`` (default ``~/.cache/ktrack/viewer``) holds
the state of a :class:`viewer.series.LiveSeries` (step buckets, raw tail for
the zoom levels, latest lr/sparsity) plus the highest row id folded in.  The
next call restores it and reads only rows with a larger id (the same
``SeriesSet.update`` the live mode runs on every tick).

The file is ignored and rebuilt when it is unreadable or corrupt, or when the
database was replaced: other inode/device, a smaller file, another
``PRAGMA user_version``, or the row at the cached id with another timestamp.
Writes go to a temporary file renamed into place.  The cache never lives
inside the Trackio data directory, and the databases stay read-only.
"""
from __future__ import annotations

import hashlib
import json
import os
import tempfile
import time
from pathlib import Path
from typing import Any

from viewer.model import Roles
from viewer.series import LiveSeries
from viewer.store import Project, RunInfo

VERSION = 2


def cache_dir() -> Path:
    """``$XDG_CACHE_HOME/ktrack/viewer``, else ``~/.cache/ktrack/viewer``."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base).expanduser() / "ktrack" / "viewer"


def cache_file(project: Project, run: RunInfo, metric: str) -> Path | None:
    """The cache file for this run and metric; None if it would fall inside
    the database's own directory (never write next to Trackio's files)."""
    root = cache_dir().resolve()
    db = project.path.resolve()
    if root == db.parent or db.parent in root.parents:
        return None
    tag = hashlib.sha1(f"{db}\0{run.run_id}\0{metric}".encode()).hexdigest()[:24]
    return root / f"{tag}.json"


def _read(path: Path) -> dict[str, Any] | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError, UnicodeDecodeError):
        return None
    return data if isinstance(data, dict) and data.get("version") == VERSION else None


def _write(path: Path, data: dict[str, Any]) -> None:
    """Atomic write (tmp + rename); a cache that cannot be written is skipped."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".tmp-", suffix=".json", dir=path.parent)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                fh.write(json.dumps(data, separators=(",", ":")))
            os.replace(tmp, path)
        except BaseException:
            os.unlink(tmp)
            raise
    except OSError:
        pass


def _valid(data: dict[str, Any], project: Project, run: RunInfo, roles: Roles) -> bool:
    ident, old = project.identity(), data.get("identity") or {}
    same_file = all(ident[k] == old.get(k) for k in ("ino", "dev", "user_version"))
    keys = [roles.metric, roles.lr, roles.sparsity]
    state = data.get("series") or {}
    return (same_file and ident["size"] >= old.get("size", 1 << 62)
            and data.get("db") == str(project.path.resolve()) and data.get("run_id") == run.run_id
            and data.get("keys") == keys and isinstance(state.get("last_id"), int)
            and project.anchor(state["last_id"]) == data.get("anchor"))


def load_series(project: Project, run: RunInfo, roles: Roles, use_cache: bool = True,
                view: tuple[int, int] | None = None) -> LiveSeries:
    """The run's summary, brought up to date: restored from the cache and
    updated with rows newer than the cached id, or built and cached.

    Call inside ``project.snapshot()`` so the summary and any later queries
    see the same rows.  ``use_cache=False`` builds without reading or writing.
    ``view`` (zoom, width): that exact view of the chart metric is computed
    and cached too, so the next call with no new rows reuses it.
    """
    path = cache_file(project, run, roles.metric) if use_cache and project.cacheable else None
    if path is None:
        return LiveSeries(project, run, roles)
    data = _read(path)
    series, stats = None, (data or {}).get("stats") or {"builds": 0}
    if data is not None and _valid(data, project, run, roles):
        try:
            series = LiveSeries(project, run, roles, state=data["series"])
        except (KeyError, TypeError, ValueError, IndexError):
            series = None
    if series is not None:
        read = series.update()
        if series.rebuilds:
            stats = {"builds": int(stats.get("builds", 0)) + 1}
            read = -1
    else:
        series = LiveSeries(project, run, roles)
        stats = {"builds": int(stats.get("builds", 0)) + 1}
        read = -1
    if view is not None and f"{view[0]}:{view[1]}" not in series.metric.views:
        series.metric.view(*view)
        read = read or -2
    if read:  # -1: built from scratch; >0: rows folded in; -2: a new view
        stats.update(last_rows_read=max(read, 0) if read != -2 else stats.get("last_rows_read", 0),
                     updated=time.time())
        save(path, project, run, roles, series, stats)
    return series


def save(path: Path, project: Project, run: RunInfo, roles: Roles, series: LiveSeries,
         stats: dict[str, Any]) -> None:
    """Write ``series`` to ``path`` with the database identity it belongs to."""
    _write(path, {"version": VERSION, "db": str(project.path.resolve()), "run_id": run.run_id,
                  "keys": [roles.metric, roles.lr, roles.sparsity], "identity": project.identity(),
                  "anchor": project.anchor(series.last_id), "stats": stats, "series": series.state()})
