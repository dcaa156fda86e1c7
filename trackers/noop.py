"""What ranks other than 0 get: the :class:`trackers.Run` API, doing nothing."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from trackers._warn import warn
from trackers.series import Series
from trackers.values import check_key, check_metrics, check_step


class NoOpRun:
    """What ranks other than 0 get: the same API, doing nothing."""

    def __init__(self, project: str = "", name: str = "", run_dir: Path | None = None) -> None:
        self.project, self.name, self.dir, self.step, self.finished = project, name, run_dir, -1, False
        self.trackers: list[str] = []
        self.config: dict[str, Any] = {}
        self.previous_summary: dict[str, Any] = {}
        self.stop_requested = False  # rank 0 decides; the trainers share its answer

    def log(self, metrics: dict[str, Any], step: int | None = None) -> None:
        """Check arguments like :meth:`Run.log` (a bad step: one warning), then drop them."""
        check_metrics(metrics)
        try:
            step = check_step(step)
        except ValueError as exc:
            warn(f"{exc}; that row is not logged (training goes on)", key=f"step-{id(self)}")
            return
        self.step = self.step + 1 if step is None else max(step, self.step)

    def summary(self, values: dict[str, Any]) -> None:
        """Nothing."""

    def log_system(self, metrics: dict[str, Any], timestamp: float | None = None) -> None:
        """Nothing."""

    def alert(self, title: str, text: str, level: str = "WARN") -> None:
        """Nothing."""

    def follow_nodes(self, tail: Any, local: Any = None) -> None:
        """Nothing (rank 0 reads the nodes' files)."""

    def __setitem__(self, key: str, value: Any) -> None:
        check_key(key)

    def __getitem__(self, key: str) -> Series:
        return Series(self, check_key(key))

    def _log_series(self, key: str, value: Any, step: int | None) -> None:
        pass

    def finish(self, timeout: float | None = None) -> None:
        """Nothing."""
        self.finished = True

    def __enter__(self) -> "NoOpRun":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.finish()
