"""TensorBoard backend: event files directly in ``<run_dir>/tensorboard/``.

Uses ``torch.utils.tensorboard.SummaryWriter`` or, without torch, tensorboardX.
Each part of a run goes to its TensorBoard place:

* metrics rows: scalars (strings as text, :class:`trackers.Histogram` as histograms);
  numerics as ``z_numerics/...`` (:func:`trackers.backends.dashboard_key`:
  TensorBoard orders tag groups by name, and ``numerics`` came before ``train``);
* configuration: hparams (the HParams tab compares runs by every config
  value, the git commit and every scalar's last value), the run's ``.config``
  and the provenance as text;
* end-of-run values: scalars ``summary/<key>`` at the last step (one group,
  and HParams metric columns) and one ``summary`` text table;
* hardware: scalars ``system/<key>`` at the step logged last;
* alerts: text ``alerts``.

The run's folder is the TensorBoard run: ``tensorboard --logdir runs/<project>``
lists each run by its folder name (``<run>/tensorboard``);
``trackio.import_tf_events(<run_dir>/tensorboard, project, name=<run>)``
imports one run (as ``<run>_main``).
"""

from __future__ import annotations

import math
import sys
from pathlib import Path
from typing import Any

from kconf.trackerspec import TENSORBOARD
from ktrack import messages
from ktrack.messages import shown
from ktrack.runfolder import RunFolder
from rundata.histogram import Histogram
from trackers.backends import Alert, Context, MissingPackage, Row, SystemRow, dashboard_key
from trackers.values import FLOAT32_MAX, Limits, is_number

HPARAM_PROVENANCE = ("git_commit", "git_dirty", "slurm_job_id", "slurm_array_task_id")


def log_dir(run_dir: Path) -> Path:
    """Where a run's event files are."""
    return RunFolder(run_dir).tensorboard


def _writer_class() -> Any:
    try:
        from torch.utils.tensorboard import SummaryWriter

        return SummaryWriter
    except ImportError:
        try:
            import tensorboardX
        except ImportError as exc:
            raise MissingPackage("pip install tensorboard (with torch) or tensorboardX") from exc
        return tensorboardX.SummaryWriter


def hparam_values(config: dict[str, Any], provenance: dict[str, Any]) -> dict[str, bool | float | str]:
    """The values TensorBoard's hparams can hold: numbers, bools, strings (others as text; None left out)."""
    out: dict[str, bool | float | str] = {}
    items = list(config.items()) + [(f"provenance/{k}", provenance[k]) for k in HPARAM_PROVENANCE if k in provenance]
    for key, value in items:
        if value is None:
            continue
        if isinstance(value, int) and not isinstance(value, bool) and abs(value) > sys.float_info.max:
            out[key] = shown(value, 80)  # an hparam number is a double
        else:
            out[key] = value if isinstance(value, (bool, int, float, str)) else str(value)
    return out


def hparams_summary(hparams: dict[str, bool | float | str] | None = None, end: bool = False) -> Any:
    """The hparams plugin's session-start (``hparams``) or session-end record, as a ``Summary``.

    Only session records are written, no experiment record: TensorBoard then
    builds the HParams table from every run's session start, so runs with
    different settings compare side by side.
    """
    import time

    from tensorboard.compat.proto.summary_pb2 import Summary
    from tensorboard.plugins.hparams import api_pb2, metadata, plugin_data_pb2

    data = plugin_data_pb2.HParamsPluginData()
    if end:
        data.session_end_info.CopyFrom(plugin_data_pb2.SessionEndInfo(status=api_pb2.STATUS_SUCCESS,
                                                                      end_time_secs=time.time()))
        tag = metadata.SESSION_END_INFO_TAG
    else:
        start = data.session_start_info
        start.start_time_secs = time.time()
        for key, value in (hparams or {}).items():
            if isinstance(value, bool):
                start.hparams[key].bool_value = value
            elif isinstance(value, (int, float)):
                start.hparams[key].number_value = float(value)
            else:
                start.hparams[key].string_value = str(value)
        tag = metadata.SESSION_START_INFO_TAG
    return Summary(value=[Summary.Value(tag=tag, metadata=metadata.create_summary_metadata(data),
                                        tensor=metadata.NULL_TENSOR)])


def _code(text: str) -> str:
    return "```\n" + text.replace("```", "'''") + "\n```"


def _table(values: dict[str, Any]) -> str:
    rows = [f"| {k} | {v} |" for k, v in values.items()]
    return "\n".join(["| key | value |", "|---|---|", *rows])


class TensorBoardBackend:
    """One ``SummaryWriter`` on ``<run_dir>/tensorboard``."""

    name = TENSORBOARD
    #: TensorBoard keeps every scalar as a float32: larger numbers would become inf.
    limits = Limits(-int(FLOAT32_MAX), int(FLOAT32_MAX), FLOAT32_MAX)

    def __init__(self) -> None:
        self.writer: Any = None
        self.last_step = 0
        self.run_dir: Path | None = None
        self._config_written = False
        self._summary: dict[str, Any] = {}

    def start(self, ctx: Context) -> None:
        """Open the event writer; write the hparams, the provenance and (when there) the ``.config``."""
        directory = log_dir(ctx.run_dir)
        self.run_dir = Path(ctx.run_dir)
        # purge_step: events after the checkpoint's step, from the trajectory thrown away, are hidden
        purge = {"purge_step": ctx.rewind + 1} if ctx.rewind is not None else {}
        self.writer = _writer_class()(log_dir=str(directory), flush_secs=5, **purge)
        ctx.info[TENSORBOARD] = {"dir": str(directory)}
        try:
            self.writer.file_writer.add_summary(hparams_summary(hparam_values(ctx.config, ctx.provenance)))
        except (ImportError, AttributeError) as exc:  # tensorboardX without the tensorboard package
            messages.warn("trackers", f"TensorBoard hparams not written ({exc})", key="tb-hparams")
        if ctx.provenance:  # the batch script is a file of its own, not a table cell
            self.writer.add_text("provenance", _table({k: v for k, v in ctx.provenance.items() if k != "slurm_script"}),
                                 global_step=0)
            if ctx.provenance.get("slurm_script"):
                self.writer.add_text("slurm_script", _code(str(ctx.provenance["slurm_script"])), global_step=0)
        self._write_config_text()

    def _write_config_text(self) -> None:
        path = RunFolder(self.run_dir or Path()).config
        if not self._config_written and path.is_file():
            self.writer.add_text("config", _code(path.read_text(errors="replace")), global_step=0)
            self._config_written = True

    def _write(self, key: str, value: Any, step: int, t: float | None) -> None:
        if isinstance(value, Histogram):
            total, squares = value.moments()
            self.writer.add_histogram_raw(key, min=value.edges[0], max=value.edges[-1], num=value.total,
                                          sum=total, sum_squares=squares, bucket_limits=list(value.edges[1:]),
                                          bucket_counts=list(value.counts), global_step=step, walltime=t)
        elif is_number(value):
            self.writer.add_scalar(key, float(value), global_step=step, walltime=t)
        else:
            self.writer.add_text(key, str(value), global_step=step, walltime=t)

    def log(self, row: Row) -> None:
        """Every value of the row at its step."""
        for key, value in row.metrics.items():
            self._write(dashboard_key(key), value, row.step, row.time)
        if row.kind == "log":
            self.last_step = max(self.last_step, row.step)

    def log_system(self, row: SystemRow) -> None:
        """Hardware metrics as ``system/<key>`` scalars at the step logged last, with their sample time."""
        for key, value in row.metrics.items():
            self.writer.add_scalar(f"system/{key}", float(value), global_step=row.step, walltime=row.time)

    def summary(self, values: dict[str, Any]) -> None:
        """Kept until :meth:`finish`, which writes them at the last step (a resumed run's summary of the
        earlier parts, sent at the start, is then one point with this part's values, not one at step 0)."""
        self._summary.update(values)

    def alert(self, alert: Alert) -> None:
        """One ``alerts`` text entry at the alert's step."""
        self.writer.add_text("alerts", f"**{alert.level}** {alert.title}: {alert.text}",
                             global_step=alert.step or 0, walltime=alert.time)

    def finish(self) -> None:
        """Write the summary (scalars and text), the ``.config`` if it appeared meanwhile, the session end; close."""
        self._write_config_text()
        for key, value in self._summary.items():
            if is_number(value) and math.isfinite(float(value)):
                self.writer.add_scalar(f"summary/{key}", float(value), global_step=self.last_step)
        if self._summary:
            self.writer.add_text("summary", _table(self._summary), global_step=self.last_step)
        try:
            self.writer.file_writer.add_summary(hparams_summary(end=True))
        except (ImportError, AttributeError):
            pass
        self.writer.close()
