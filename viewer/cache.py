"""Persistent run summaries, so ``--once`` on a million-step run reads only new rows.

Per (database path, run id, chart metric) one JSON file under
``$XDG_CACHE_HOME/ktrack/viewer/`` (default ``~/.cache/ktrack/viewer``) holds
the state of a :class:`viewer.series.LiveSeries` (step buckets, raw tail for
the zoom levels, latest lr/sparsity, exact views already drawn) plus the
highest row id folded in, and the roles (which key is the loss, lr...) found
for that state.  The next call restores it and reads only rows with a larger
id (``SeriesSet.update``); when
there are none, the roles are taken from the file too, so a warm ``--once``
does a few index seeks.

The file is ignored and rebuilt when it is unreadable or corrupt, or when the
database was replaced: other inode/device, a smaller file, another
``PRAGMA user_version``, or the row at the cached id with another timestamp.
Writes go to a temporary file renamed into place.  The cache never lives
inside the Trackio data directory, and the databases stay read-only.
"""
from __future__ import annotations

import json
import os
import time
from binascii import crc32
from pathlib import Path
from typing import Any

from viewer import keys as key_names
from viewer.model import Roles, resolve_roles
from viewer.series import LiveSeries
from rundata.store import Project, RunInfo

VERSION = 3


def cache_dir() -> Path:
    """``$XDG_CACHE_HOME/ktrack/viewer``, else ``~/.cache/ktrack/viewer``."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base).expanduser() / "ktrack" / "viewer"


def _tag(text: str) -> str:
    """A 64-bit name for ``text`` (the file's contents say which database, run and metric it is)."""
    raw = text.encode("utf-8", "surrogateescape")
    return f"{crc32(raw):08x}{crc32(raw[::-1], 0x5BD1E995):08x}"


def cache_file(project: Project, run: RunInfo, metric: str) -> Path | None:
    """The cache file for this run and metric; None if it would fall inside
    the database's own directory (never write next to Trackio's files)."""
    root = cache_dir().resolve()
    db = project.path.resolve()
    if root == db.parent or db.parent in root.parents:
        return None
    return root / (_tag("\0".join((str(db), run.run_id, metric))) + ".json")


def _read(path: Path) -> dict[str, Any] | None:
    try:
        with open(path, encoding="utf-8") as fh:
            data = json.load(fh)
    except (OSError, ValueError, UnicodeDecodeError):
        return None
    return data if isinstance(data, dict) and data.get("version") == VERSION else None


def _write(path: Path, data: dict[str, Any]) -> None:
    """Atomic write (tmp + rename); a cache that cannot be written is skipped."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".tmp-{os.getpid()}-{os.urandom(6).hex()}.json")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                fh.write(json.dumps(data, separators=(",", ":")))
            os.replace(tmp, path)
        except BaseException:
            os.unlink(tmp)
            raise
    except OSError:
        pass


def _keys(roles: Roles) -> list[str | None]:
    return [roles.metric, roles.lr, roles.sparsity]


def _fresh(data: dict[str, Any], project: Project, run: RunInfo) -> bool:
    """The file describes this run of this very database (not a replaced one)."""
    ident, old = project.identity(), data.get("identity")
    state = data.get("series")
    if not isinstance(old, dict) or not isinstance(state, dict):
        return False
    return (all(ident[k] == old.get(k) for k in ("ino", "dev", "user_version"))
            and isinstance(old.get("size"), int) and ident["size"] >= old["size"]
            and data.get("db") == str(project.path.resolve()) and data.get("run_id") == run.run_id
            and isinstance(state.get("last_id"), int) and project.anchor(state["last_id"]) == data.get("anchor"))


def _restore(project: Project, run: RunInfo, roles: Roles, data: dict[str, Any]) -> LiveSeries | None:
    try:
        return LiveSeries(project, run, roles, state=data["series"])
    except (KeyError, TypeError, ValueError, IndexError, AttributeError):
        return None


def _cached_roles(data: dict[str, Any]) -> Roles | None:
    r = data.get("roles")
    if not isinstance(r, dict):
        return None
    try:
        roles = Roles(str(r["metric"]), r["lr"], r["sparsity"], r["iteration"], [str(k) for k in r["present"]])
    except (KeyError, TypeError):
        return None
    ok = all(v is None or isinstance(v, str) for v in (roles.lr, roles.sparsity, roles.iteration))
    return roles if ok and data.get("keys") == _keys(roles) else None


def load_summary(project: Project, run: RunInfo, metric: str | None, use_cache: bool = True,
                 view: tuple[int, int] | None = None) -> tuple[Roles, LiveSeries]:
    """The roles of the run (chart metric ``metric``, else its loss) and its summary, up to date.

    Like :func:`load_series` after :func:`viewer.model.resolve_roles`, but a
    cache file of the same rows that was made for the same request supplies
    the roles as well.  Raises NoMetric as ``resolve_roles`` does.
    """
    request = metric or ""
    if use_cache and project.cacheable:
        for key in [metric] if metric else key_names.ALIASES["loss"]:
            path = cache_file(project, run, key)
            data = _read(path) if path is not None else None
            if path is None or data is None or request not in (data.get("requests") or ()):
                continue
            roles = _cached_roles(data)
            if roles is None or not _fresh(data, project, run):
                continue
            series = _restore(project, run, roles, data)
            if series is None:
                continue
            read = series.update()
            if read or series.rebuilds:  # other rows now: find the roles again
                found = resolve_roles(project, run, metric)
                if _keys(found) != _keys(roles):
                    return found, load_series(project, run, found, use_cache, view, request)
                roles = found
            return roles, _finish(path, project, run, roles, series, data, -1 if series.rebuilds else read, view,
                                  request)
    roles = resolve_roles(project, run, metric)
    return roles, load_series(project, run, roles, use_cache, view, request)


def load_series(project: Project, run: RunInfo, roles: Roles, use_cache: bool = True,
                view: tuple[int, int] | None = None, request: str | None = None) -> LiveSeries:
    """The run's summary, brought up to date: restored from the cache and
    updated with rows newer than the cached id, or built and cached.

    Call inside ``project.snapshot()`` so the summary and any later queries
    see the same rows.  ``use_cache=False`` builds without reading or writing.
    ``view`` (zoom, width): that exact view of the chart metric is computed
    and cached too, so the next call with no new rows reuses it.
    ``request``: the ``--metric`` (or "" for the loss) that ``roles`` were
    resolved for, recorded so that :func:`load_summary` can reuse them.
    """
    path = cache_file(project, run, roles.metric) if use_cache and project.cacheable else None
    if path is None:
        return LiveSeries(project, run, roles)
    data = _read(path)
    series = None
    if data is not None and data.get("keys") == _keys(roles) and _fresh(data, project, run):
        series = _restore(project, run, roles, data)
    read = -1
    if series is not None:
        read = series.update()
        if series.rebuilds:
            read = -1
    if series is None:
        series = LiveSeries(project, run, roles)
    return _finish(path, project, run, roles, series, data, read, view, request)


def _finish(path: Path, project: Project, run: RunInfo, roles: Roles, series: LiveSeries,
            data: dict[str, Any] | None, read: int, view: tuple[int, int] | None,
            request: str | None) -> LiveSeries:
    """Compute ``view`` and write the file when anything changed.  ``read``: rows folded
    in, -1 when the series was built from SQL."""
    stats = (data or {}).get("stats")
    stats = dict(stats) if isinstance(stats, dict) and isinstance(stats.get("builds"), int) else {"builds": 0}
    requests = [r for r in (data or {}).get("requests") or () if isinstance(r, str)] if read == 0 else []
    if request is not None and request not in requests:
        requests.append(request)
    changed = read != 0 or requests != (data or {}).get("requests")
    if view is not None and f"{view[0]}:{view[1]}" not in series.metric.views and series.metric.view(*view):
        changed = True
    if read == -1:
        stats = {"builds": stats["builds"] + 1, "last_rows_read": 0}
    elif read > 0:
        stats["last_rows_read"] = read
    if changed:
        stats["updated"] = time.time()
        save(path, project, run, roles, series, stats, requests)
    return series


def save(path: Path, project: Project, run: RunInfo, roles: Roles, series: LiveSeries,
         stats: dict[str, Any], requests: list[str] | None = None) -> None:
    """Write ``series`` to ``path`` with the database identity it belongs to."""
    _write(path, {"version": VERSION, "db": str(project.path.resolve()), "run_id": run.run_id,
                  "keys": _keys(roles), "identity": project.identity(), "anchor": project.anchor(series.last_id),
                  "roles": {"metric": roles.metric, "lr": roles.lr, "sparsity": roles.sparsity,
                            "iteration": roles.iteration, "present": roles.present},
                  "requests": requests or [], "stats": stats, "series": series.state(packed=True)})
