"""TensorBoard backend: event files in ``<run_dir>/tensorboard/<run>/``.

Uses ``torch.utils.tensorboard.SummaryWriter`` or, without torch, tensorboardX.
The layout lets ``trackio.import_tf_events(<run_dir>/tensorboard, project)``
import the run under its own name.
"""

from __future__ import annotations

from typing import Any

from trackers.backends import Context, MissingPackage, Row
from trackers.values import is_number


def _writer_class() -> Any:
    try:
        from torch.utils.tensorboard import SummaryWriter
    except ImportError:
        try:
            from tensorboardX import SummaryWriter
        except ImportError as exc:
            raise MissingPackage("pip install tensorboard (with torch) or tensorboardX") from exc
    return SummaryWriter


class TensorBoardBackend:
    """Scalars with ``add_scalar``; strings with ``add_text``."""

    name = "tensorboard"

    def __init__(self) -> None:
        self.writer: Any = None
        self.last_step = 0

    def start(self, ctx: Context) -> None:
        """Open the event writer."""
        log_dir = ctx.run_dir / "tensorboard" / ctx.name
        self.writer = _writer_class()(log_dir=str(log_dir), flush_secs=5)
        ctx.info["tensorboard"] = {"dir": str(log_dir)}

    def _write(self, key: str, value: Any, step: int, t: float | None) -> None:
        if is_number(value):
            self.writer.add_scalar(key, float(value), global_step=step, walltime=t)
        else:
            self.writer.add_text(key, str(value), global_step=step, walltime=t)

    def log(self, row: Row) -> None:
        """Every value of the row at its step."""
        for key, value in row.metrics.items():
            self._write(key, value, row.step, row.time)
        if row.kind == "log":
            self.last_step = max(self.last_step, row.step)

    def summary(self, values: dict[str, Any]) -> None:
        """Final values at the last step."""
        for key, value in values.items():
            self._write(key, value, self.last_step, None)

    def finish(self) -> None:
        """Flush and close the event file."""
        self.writer.close()
