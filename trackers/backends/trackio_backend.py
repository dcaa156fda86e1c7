"""Trackio backend: local SQLite ``<TRACKIO_DIR>/<project>.db``."""

from __future__ import annotations

from typing import Any

from trackers.backends import Context, MissingPackage, Row


def trackio_dir() -> str:
    """Where trackio keeps its databases (fixed when trackio is first imported)."""
    from trackio.utils import TRACKIO_DIR

    return str(TRACKIO_DIR)


class TrackioBackend:
    """Logs rows with ``trackio.Run.log``; the summary is one last row."""

    name = "trackio"

    def __init__(self) -> None:
        self.run: Any = None
        self.last_step = 0
        self.given = 0  # rows handed to trackio (log and summary rows)
        self._stored_before = 0

    def start(self, ctx: Context) -> None:
        """``trackio.init`` with the run's project, name, config and resume mode."""
        try:
            import trackio
        except ImportError as exc:
            raise MissingPackage(f"pip install trackio: {exc}") from exc
        self.run = trackio.init(project=ctx.project, name=ctx.name, config=ctx.config, group=ctx.group,
                                space_id=ctx.trackio_space_id, dataset_id=ctx.trackio_dataset_id,
                                resume=ctx.resume or "never", embed=False,
                                auto_log_gpu=False, auto_log_cpu=False)
        ctx.info["trackio"] = {"dir": trackio_dir(), "project": ctx.project, "run": ctx.name}
        self._stored_before = self._stored()

    def log(self, row: Row) -> None:
        """One row at its step (series rows use the series' own counter)."""
        self.run.log(row.metrics, step=row.step)
        self.given += 1
        if row.kind == "log":
            self.last_step = max(self.last_step, row.step)

    def summary(self, values: dict[str, Any]) -> None:
        """Trackio has no summary table: log the values as a row at the last step."""
        self.run.log(values, step=self.last_step)
        self.given += 1

    def finish(self) -> None:
        """Wait for trackio's own sender and close the run."""
        self.run.finish()

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
