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

    def log(self, row: Row) -> None:
        """One row at its step (series rows use the series' own counter)."""
        self.run.log(row.metrics, step=row.step)
        if row.kind == "log":
            self.last_step = max(self.last_step, row.step)

    def summary(self, values: dict[str, Any]) -> None:
        """Trackio has no summary table: log the values as a row at the last step."""
        self.run.log(values, step=self.last_step)

    def finish(self) -> None:
        """Wait for trackio's own sender and close the run."""
        self.run.finish()
