"""Trackio backend: local SQLite ``<TRACKIO_DIR>/<project>.db``, one channel per part of a run.

* metrics rows: ``trackio.Run.log`` (a :class:`trackers.Histogram` as ``trackio.Histogram``);
* hardware: ``trackio.Run.log_system`` (the ``system_metrics`` table, the
  dashboard's System Metrics tab), GPU keys named as Trackio's own GPU logging
  names them (``gpu/0/utilization``, ``gpu/0/temp`` ...);
* configuration: the run's config, with the provenance as ``provenance/<key>``;
  Trackio refuses top-level keys starting with ``_`` (its own ``_Username``,
  ``_Created``...), so :func:`trackio_keys` drops the leading underscores
  (``_name_or_path`` -> ``name_or_path``, then ``name_or_path_`` ... when that
  name is taken); ``config.json`` and the other trackers keep the keys as given;
* end-of-run values: Trackio has no run summary, so they join the run's
  config as ``summary/<key>`` when the run finishes (``trackio get run`` shows
  them; no metrics row, no extra step, no one-point charts); with a Space
  (``space_id``) the local database is not the store, and they are logged
  under ``summary/`` at the last step instead;
* alerts: ``trackio.Run.alert`` (the ``alerts`` table; the webhook set by
  ``CONFIG_TRACKIO_WEBHOOK_URL``).
"""

from __future__ import annotations

import os
from typing import Any

from kconf.trackerspec import TRACKIO
from ktrack import messages
from ktrack.fs import network_fs
from rundata.histogram import Histogram
from trackers.backends import Alert, Context, MissingPackage, Row, SystemRow
from trackers.backends.system_names import trackio_system_metrics
from trackers.provenance import launch_command
from trackers.values import INT64_MIN, Limits

SUMMARY_PREFIX = "summary/"
PROVENANCE_PREFIX = "provenance/"


JOURNAL_ENV = "TRACKIO_SQLITE_JOURNAL_MODE"
STORAGE_ENV = "TRACKIO_STORAGE_MODE"


def network_safe(folder: str) -> str | None:
    """On a network filesystem, Trackio writes fragments and SQLite a rollback journal (said once); its name.

    SQLite's WAL keeps a shared-memory index that NFS, Lustre, GPFS... break
    (SIGBUS, corruption: trackio #555, #133). There Trackio's own fragment
    storage (``TRACKIO_STORAGE_MODE=jsonl``) writes each batch as a new JSONL
    file under ``<TRACKIO_DIR>/inbox/`` (a rename, no SQLite during training),
    and :meth:`TrackioBackend.finish` imports this run's fragments into
    ``<project>.db`` once, from rank 0, with a rollback journal
    (``TRACKIO_SQLITE_JOURNAL_MODE=delete``), which needs only the file locks
    those filesystems have. A mode the user set is kept.
    """
    fs = network_fs(folder)
    if fs is None:
        return None
    for env, value in ((STORAGE_ENV, "jsonl"), (JOURNAL_ENV, "delete")):
        if not os.environ.get(env):
            os.environ[env] = value  # trackio reads both for every run and connection
    messages.warn("trackers", f"TRACKIO_DIR {folder} is on {fs}: Trackio writes the run as JSONL fragments "
                  f"({STORAGE_ENV}={os.environ[STORAGE_ENV]}) that rank 0 imports into the database when the "
                  f"run finishes, with a rollback journal ({JOURNAL_ENV}={os.environ[JOURNAL_ENV]}), not WAL, "
                  "which network filesystems break; trackio-view --runs follows the run from its journal meanwhile",
                  key="trackio-network-fs")
    return fs


def import_fragments(writer: str | None = None) -> None:
    """Import Trackio's pending JSONL fragments into the project databases: one writer's (``writer``), else all.

    What ``trackio show`` does for the whole inbox; importing deletes each
    fragment, so every one is imported once.
    """
    from trackio import fragments

    inbox = fragments.local_inbox_dir()
    folder = inbox / writer if writer else inbox
    fragments.import_inbox_dir(folder)
    if writer:
        try:
            folder.rmdir()  # empty now; the whole-inbox import removes the writers' folders itself
        except OSError:
            pass


def trackio_dir() -> str:
    """Where trackio keeps its databases (fixed when trackio is first imported)."""
    from trackio.utils import TRACKIO_DIR

    return str(TRACKIO_DIR)


def trackio_keys(config: dict[str, Any]) -> dict[str, Any]:
    """``config`` with keys Trackio accepts: a leading ``_`` dropped (``_name_or_path`` ->
    ``name_or_path``), then ``_`` appended while that name is already in ``config``."""
    out: dict[str, Any] = {}
    reserved = [key for key in config if key.startswith("_")]
    for key, value in config.items():
        if not key.startswith("_"):
            out[key] = value
    for key in reserved:
        name = key.lstrip("_") or "underscore"
        while name in out or name in config:
            name += "_"
        out[name] = config[key]
    return out


def tracker_config(ctx: Context) -> dict[str, Any]:
    """The run's config as Trackio stores it: the values given (:func:`trackio_keys`), then ``provenance/<key>``.

    The command is left out when it is this process's: Trackio records that
    itself (``_Command``, with secrets redacted); a replay keeps the original.
    """
    origin = {k: v for k, v in ctx.provenance.items() if not (k == "command" and v == launch_command())}
    return trackio_keys({**ctx.config, **{PROVENANCE_PREFIX + k: v for k, v in origin.items()}})


def write_summary_config(project: str, run_name: str, run_id: str | None, values: dict[str, Any]) -> None:
    """Merge ``summary/<key>`` entries into the run's row of Trackio's ``configs`` table."""
    import orjson
    from trackio.sqlite_storage import SQLiteStorage
    from trackio.utils import serialize_values, to_json_safe

    db_path = SQLiteStorage.init_db(project)
    extra = to_json_safe({SUMMARY_PREFIX + k: v for k, v in values.items()})
    with SQLiteStorage._get_process_lock(project), SQLiteStorage._get_connection(db_path) as conn:
        column = "run_id" if "run_id" in SQLiteStorage._table_columns(conn, "configs") else "run_name"
        key = run_id if column == "run_id" and run_id else run_name
        row = conn.execute(f"SELECT config FROM configs WHERE {column} = ?", (key,)).fetchone()
        config = orjson.loads(row[0]) if row else {}
        config.update(serialize_values(extra))
        if row:
            conn.execute(f"UPDATE configs SET config = ? WHERE {column} = ?", (orjson.dumps(config), key))
        else:
            from datetime import datetime, timezone

            created = datetime.now(timezone.utc).isoformat()
            if column == "run_id":
                conn.execute("INSERT INTO configs (run_id, run_name, config, created_at) VALUES (?, ?, ?, ?)",
                             (key, run_name, orjson.dumps(config), created))
            else:
                conn.execute("INSERT INTO configs (run_name, config, created_at) VALUES (?, ?, ?)",
                             (run_name, orjson.dumps(config), created))
        conn.commit()


class TrackioBackend:
    """One ``trackio.Run``; the summary is written into its config at :meth:`finish`."""

    name = TRACKIO
    #: Trackio writes metrics with orjson, which holds integers from -2**63 to 2**64-1.
    limits = Limits(INT64_MIN, 2**64 - 1)

    def __init__(self) -> None:
        self.run: Any = None
        self.last_step = 0
        self._summary: dict[str, Any] = {}
        self._local = True
        self.given = 0  # rows handed to trackio (log and summary rows)
        self._stored_before = 0
        self._fragments = False  # trackio writes JSONL fragments, imported at finish (TRACKIO_STORAGE_MODE=jsonl)

    def start(self, ctx: Context) -> None:
        """``trackio.init`` with the run's project, name, config and resume mode."""
        try:
            import trackio
        except ImportError as exc:
            raise MissingPackage(f"pip install trackio: {exc}") from exc
        fs = None if ctx.trackio_space_id else network_safe(trackio_dir())
        from trackio.utils import get_storage_mode

        self._fragments = not ctx.trackio_space_id and get_storage_mode() == "jsonl"
        if self._fragments and (ctx.resume not in (None, "never") or ctx.rewind is not None):
            self._import_fragments(None)  # what a killed earlier part left: resume and rewind read the database
        if ctx.rewind is not None:
            self._rewind(ctx)
        self.run = trackio.init(project=ctx.project, name=ctx.name, config=tracker_config(ctx), group=ctx.group,
                                space_id=ctx.trackio_space_id, dataset_id=ctx.trackio_dataset_id,
                                resume=ctx.resume or "never", embed=False, webhook_url=ctx.trackio_webhook_url,
                                auto_log_gpu=False, auto_log_cpu=False)
        self._local = not ctx.trackio_space_id
        ctx.info[TRACKIO] = {"dir": trackio_dir(), "project": ctx.project, "run": ctx.name,
                               **({"filesystem": fs} if fs else {})}
        self._stored_before = self._stored()

    def _rewind(self, ctx: Context) -> None:
        """Delete the run's rows after ``ctx.rewind`` (local database; before trackio writes again)."""
        import sqlite3

        from trackio.sqlite_storage import SQLiteStorage

        if ctx.trackio_space_id:
            messages.warn("trackers", f"the Trackio Space keeps the rows after step {ctx.rewind} of the trajectory "
                          "thrown away; the local database and the journal do not", key="trackio-rewind")
            return
        path = SQLiteStorage.get_project_db_path(ctx.project)
        if not path.is_file():
            return
        with sqlite3.connect(path, timeout=30) as conn:
            conn.execute("DELETE FROM metrics WHERE run_name=? AND step>?", (ctx.name, ctx.rewind))
        conn.close()

    def _convert(self, metrics: dict[str, Any]) -> dict[str, Any]:
        import trackio

        out = {}
        for key, value in metrics.items():
            out[key] = trackio.Histogram(np_histogram=(list(value.counts), list(value.edges))) \
                if isinstance(value, Histogram) else value
        return out

    def log(self, row: Row) -> None:
        """One row at its step (series rows use the series' own counter)."""
        self.run.log(self._convert(row.metrics), step=row.step)
        self.given += 1
        if row.kind == "log":
            self.last_step = max(self.last_step, row.step)

    def log_system(self, row: SystemRow) -> None:
        """Hardware metrics into the ``system_metrics`` table (Trackio stamps them with the time it gets them)."""
        self.run.log_system(trackio_system_metrics(row.metrics))

    def summary(self, values: dict[str, Any]) -> None:
        """Kept until :meth:`finish`, which writes them into the run's config."""
        self._summary.update(values)

    def alert(self, alert: Alert) -> None:
        """``trackio.Run.alert`` (stored in the ``alerts`` table, printed by Trackio, sent to the webhook)."""
        from trackio import AlertLevel

        self.run.alert(alert.title, alert.text, level=AlertLevel(alert.level.lower()), step=alert.step)

    def finish(self) -> None:
        """Close the run, then add the summary to its config."""
        if self._summary and not self._local:
            self.run.log({SUMMARY_PREFIX + k: v for k, v in self._summary.items()}, step=self.last_step)
            self.given += 1
        self.run.finish()
        if self._fragments:
            self._import_fragments(self.run._fragment_writer.writer_id)  # trackio names a run's writer nowhere else
        if self._summary and self._local:
            try:
                write_summary_config(self.run.project, self.run.name, getattr(self.run, "id", None),
                                     self._summary)
            except Exception as exc:  # noqa: BLE001 - the run is finished; the journal keeps the summary
                messages.warn("trackers", f"could not add the summary to Trackio's run config ({exc}); "
                              "it is in summary.json")

    def _import_fragments(self, writer: str | None) -> None:
        try:
            import_fragments(writer)
        except Exception as exc:  # noqa: BLE001 - the fragments stay; lost_rows() counts what the database lacks
            from trackio.fragments import local_inbox_dir

            messages.warn("trackers", f"could not import Trackio's fragments in {local_inbox_dir()} into its "
                          f"database ({exc}); they stay there (`trackio show` imports them)",
                          key="trackio-fragments")

    def _stored(self) -> int:
        from trackio.sqlite_storage import SQLiteStorage

        return int(SQLiteStorage.get_log_count(self.run.project, run_id=self.run.id))

    def lost_rows(self) -> int:
        """Rows given to trackio that its database does not hold (after :meth:`finish`).

        trackio writes from its own thread and drops a batch it cannot store
        (an unwritable ``TRACKIO_DIR``, a full disk) with a Python warning only.
        """
        try:
            stored = self._stored() - self._stored_before
        except Exception:  # noqa: BLE001 - a database that cannot be read holds nothing of this run
            stored = 0
        return max(0, self.given - stored)
