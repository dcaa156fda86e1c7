"""Weights & Biases backend: online when logged in, otherwise offline.

Login is detected without the network and without prompting: ``WANDB_API_KEY``
or a netrc entry for the W&B host. Offline runs print one notice with the
``wandb sync`` command that uploads them later.

Each part of a run goes to W&B's own place: metrics rows to the history (a
:class:`trackers.Histogram` as ``wandb.Histogram``), the configuration (with
the provenance as ``provenance``) to ``wandb.config``, numerics under
``z_numerics/`` (:func:`trackers.backends.dashboard_key`: W&B orders its
panel sections by name, and ``numerics`` came before ``train``), end-of-run values to the
summary, alerts through ``wandb.Run.alert``, and hardware metrics to W&B's
system metrics: the stats records its own system monitor writes (the public
API has no call for them, so the run's interface is used, as ``Run.alert``
does; without it, hardware metrics are left to the other trackers with one
warning). A resumed run continues the W&B run id recorded in ``config.json``;
offline, each part gets its own folder with that id, and ``wandb sync`` of the
folders uploads them into the one run.
"""

from __future__ import annotations

import netrc
import os
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from kconf.trackerspec import WANDB
from ktrack import messages
from rundata.histogram import Histogram
from trackers.backends import Alert, Context, MissingPackage, Row, SystemRow, dashboard_key
from trackers.backends.system_names import wandb_system_metrics
from trackers.values import INT64_MAX, INT64_MIN, Limits

WANDB_MAX_BINS = 512
#: How long :meth:`WandbBackend.finish` waits for the run log's exit record after ``run.finish()``.
FINISH_WAIT_S = 30.0


def logged_in() -> bool:
    """True when W&B credentials exist locally (env key or netrc); no network."""
    if os.environ.get("WANDB_API_KEY", "").strip():
        return True
    host = urlparse(os.environ.get("WANDB_BASE_URL", "https://api.wandb.ai")).hostname or "api.wandb.ai"
    path = os.environ.get("NETRC") or os.path.join(os.path.expanduser("~"), ".netrc")
    try:
        return netrc.netrc(path).authenticators(host) is not None
    except (OSError, netrc.NetrcParseError):
        return False


def offline_reason(cfg_offline: bool) -> str | None:
    """Why the run must be offline, or None to go online."""
    if cfg_offline:
        return "CONFIG_WANDB_OFFLINE=y"
    if os.environ.get("WANDB_MODE", "").lower() in ("offline", "dryrun"):
        return "WANDB_MODE=offline"
    if not logged_in():
        return "not logged in"
    return None


def offline_notice_key(run_dir: Path) -> str:
    """The key of a run's "W&B offline; upload later" warning (see :func:`ktrack.messages.mark_shown`)."""
    return f"wandb-offline:{run_dir}"


class WandbBackend:
    """Logs with ``wandb.Run.log``; steps never go backwards for W&B."""

    name = WANDB
    #: W&B keeps integers as 64-bit; larger ones would come back rounded (or as inf).
    limits = Limits(INT64_MIN, INT64_MAX)

    def __init__(self) -> None:
        self.run: Any = None
        self.last_step = 0
        self.series_defined: set[str] = set()
        self.sync_dir: str | None = None

    def start(self, ctx: Context) -> None:
        """``wandb.init`` with project, name, config, entity, resume; never prompts."""
        try:
            import wandb
        except ImportError as exc:
            raise MissingPackage(f"pip install wandb: {exc}") from exc
        reason = offline_reason(ctx.wandb_offline)
        mode = "offline" if reason else "online"
        directory = os.environ.get("WANDB_DIR") or str(ctx.run_dir)
        Path(directory).mkdir(parents=True, exist_ok=True)
        planned = ctx.info.get(WANDB) or {}  # the id is in config.json before W&B starts (trackers.run)
        run_id = planned.get("id")
        previous = planned if ctx.resume else {}
        settings = wandb.Settings(console="off", silent=True, x_disable_stats=True, init_timeout=60)
        config = {**ctx.config, "provenance": ctx.provenance} if ctx.provenance else dict(ctx.config)
        init: Any = wandb.init  # mode/resume are checked strings; wandb types them as Literals
        self.run = init(project=ctx.project, name=ctx.name, config=config, entity=ctx.wandb_entity or None,
                              group=ctx.group, dir=directory, mode=mode, id=run_id,
                              resume=ctx.resume if ctx.resume else None, reinit="create_new", settings=settings)
        files_dir = getattr(self.run, "dir", "") or ""
        self.sync_dir = str(Path(files_dir).parent) if files_dir else None
        dirs = [d for d in previous.get("dirs") or [previous.get("dir")] if d]
        if self.sync_dir and self.sync_dir not in dirs:
            dirs.append(self.sync_dir)
        ctx.info[WANDB] = {"mode": mode, "id": self.run.id, "dir": self.sync_dir, "dirs": dirs}
        if reason:
            messages.warn("trackers", f"W&B offline ({reason}); upload later with: wandb sync {' '.join(dirs)}",
                          key=offline_notice_key(ctx.run_dir))

    def _convert(self, metrics: dict[str, Any]) -> dict[str, Any]:
        import numpy as np
        import wandb

        out = {}
        for key, value in metrics.items():
            key = dashboard_key(key)
            if not isinstance(value, Histogram):
                out[key] = value
            elif len(value.counts) <= WANDB_MAX_BINS:
                out[key] = wandb.Histogram(np_histogram=(np.asarray(value.counts), np.asarray(value.edges)))
            else:
                messages.warn("trackers", f"{key}: W&B takes histograms of at most {WANDB_MAX_BINS} bins, "
                              f"this one has {len(value.counts)}; not sent to W&B", key=f"wandb-bins-{key}")
        return out

    def log(self, row: Row) -> None:
        """One row; a step lower than one already sent goes to the latest step
        (W&B would drop it) with the original step as ``trackers/step``."""
        metrics = self._convert(row.metrics)
        if row.kind == "series":
            (key,) = metrics
            if key not in self.series_defined:
                self.run.define_metric(key, step_metric=f"{key}/step")
                self.series_defined.add(key)
            self.run.log({**metrics, f"{key}/step": row.step}, step=self.last_step)
            return
        step = row.step
        if step < self.last_step:
            metrics = {**metrics, "trackers/step": step}
            step = self.last_step
        self.run.log(metrics, step=step)
        self.last_step = step

    def log_system(self, row: SystemRow) -> None:
        """A stats record, W&B's system-metrics channel (``gpu.0.temp``, ``gpu.0.powerWatts`` ...)."""
        publish = getattr(getattr(self.run, "_interface", None), "publish_stats", None)
        if publish is None:
            messages.warn("trackers", "this wandb has no system-metrics channel; hardware metrics are not "
                          "sent to W&B (the journal and the other trackers have them)", key="wandb-stats")
            return
        publish(wandb_system_metrics(row.metrics))

    def summary(self, values: dict[str, Any]) -> None:
        """``run.summary.update``."""
        self.run.summary.update(values)

    def alert(self, alert: Alert) -> None:
        """``wandb.Run.alert`` (W&B e-mails or posts it to Slack when the user has set that up)."""
        self.run.alert(alert.title, alert.text, level=alert.level)

    def finish(self) -> None:
        """``run.finish``, then wait until the run's ``.wandb`` log holds its exit record.

        wandb-core's helper process may still be writing the log when
        ``run.finish()`` returns; waiting here means whoever reads the folder
        after :meth:`trackers.Run.finish` (``wandb sync``, replay, the readers
        in :mod:`trackers.wandb_file`) finds it complete. The wait ends early
        when the log stops changing.
        """
        from trackers.wandb_file import wait_finished

        self.run.finish()
        if self.sync_dir and not wait_finished(self.sync_dir, timeout=FINISH_WAIT_S):
            messages.warn("trackers", f"W&B's run log in {self.sync_dir} has no exit record yet; "
                          "it may still be written", key=f"wandb-unfinished-{self.sync_dir}")
