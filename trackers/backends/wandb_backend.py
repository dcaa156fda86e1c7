"""Weights & Biases backend: online when logged in, otherwise offline.

Login is detected without the network and without prompting: ``WANDB_API_KEY``
or a netrc entry for the W&B host. Offline runs print one notice with the
``wandb sync`` command that uploads them later.
"""

from __future__ import annotations

import netrc
import os
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from trackers._warn import warn
from trackers.backends import Context, MissingPackage, Row


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


class WandbBackend:
    """Logs with ``wandb.Run.log``; steps never go backwards for W&B."""

    name = "wandb"

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
        run_id = ctx.info.get("wandb_id")
        settings = wandb.Settings(console="off", silent=True, x_disable_stats=True, init_timeout=60)
        self.run = wandb.init(project=ctx.project, name=ctx.name, config=ctx.config, entity=ctx.wandb_entity or None, group=ctx.group,
                              dir=directory, mode=mode, id=run_id, resume=ctx.resume if ctx.resume else None,
                              reinit="create_new", settings=settings)
        files_dir = getattr(self.run, "dir", "") or ""
        self.sync_dir = str(Path(files_dir).parent) if files_dir else None
        ctx.info["wandb"] = {"mode": mode, "id": self.run.id, "dir": self.sync_dir}
        if reason:
            warn(f"W&B offline ({reason}); upload later with: wandb sync {self.sync_dir}")

    def log(self, row: Row) -> None:
        """One row; a step lower than one already sent goes to the latest step
        (W&B would drop it) with the original step as ``trackers/step``."""
        metrics = row.metrics
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

    def summary(self, values: dict[str, Any]) -> None:
        """``run.summary.update``."""
        self.run.summary.update(values)

    def finish(self) -> None:
        """``run.finish`` (waits for wandb-core to write everything)."""
        self.run.finish()
