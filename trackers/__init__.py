"""One logging API for ktrack: metrics fan out to Trackio, W&B, TensorBoard and a local journal.

    import trackers
    run = trackers.init(config=hparams)          # settings from the generated config
    run.log({"train/loss": loss, "lr": lr}, step=it)
    run.summary({"best_val_loss": best, "total_time_s": t})
    run.finish()                                  # also at exit, and on SIGTERM

``trackers.log``/``summary``/``finish`` forward to the current run. See
docs/trackers.md for the design (queue, writer thread, failure handling).
"""

from __future__ import annotations

from typing import Any

import kconf
from rundata.histogram import Histogram
from trackers import params
from trackers.run import NoOpRun, Run, Series
from trackers.settings import add_arguments, detect_rank, run_settings

__all__ = ["Histogram", "NoOpRun", "Run", "Series", "add_arguments", "current", "finish", "init", "log", "params",
           "summary"]

_current: Run | NoOpRun | None = None


def init(config: dict[str, Any] | None = None, *, args: Any = None, project: str | None = None,
         run_name: str | None = None, trackers: Any = None, log_gpu: bool | None = None,
         resume: str | None = None, run_dir: Any = None, rank: int | None = None, cfg: Any = None,
         group: str | None = None, **options: Any) -> Run | NoOpRun:
    """Start a run and make it the current one.

    Settings come from ``cfg`` (default ``kconf.load()``; values given
    another way, such as a namespace, get the Kconfig tree's defaults for
    every symbol they lack, see :func:`kconf.load`), overridden by the
    ``--tracker*`` values in ``args`` (see :func:`add_arguments`), overridden
    by the keyword arguments. ``trackers`` is a string (``"trackio,wandb"``)
    or a list of backend names; ``resume`` ("never"/"allow"/"must") is passed
    to the trackers; ``group`` (default env ``KTRACK_GROUP``) groups runs of a
    sweep where the tracker supports it. Ranks other than 0 (``rank`` or env ``RANK``) get a
    :class:`NoOpRun`. ``options`` tune the :class:`Run` (queue_size,
    put_timeout, flush_interval, finish_timeout, retries, capture_console, ...).

    Raises ValueError for a bad tracker list or project/run name, or a
    corrupt ``.config`` (:class:`kconf.ConfigError`, one line).
    """
    global _current
    cfg = kconf.load(cfg)
    settings = run_settings(config, cfg=cfg, args=args, project=project, run_name=run_name, trackers=trackers,
                             log_gpu=log_gpu, resume=resume, run_dir=run_dir, group=group)
    if detect_rank(rank) != 0:
        _current = NoOpRun(settings.project, settings.name, settings.run_dir)
    else:
        if isinstance(_current, Run) and not _current.finished:
            _current.finish()
        _current = Run(settings, **options)
    return _current


def current() -> Run | NoOpRun | None:
    """The run started by the last :func:`init`, or None."""
    return _current


def _need() -> Run | NoOpRun:
    if _current is None:
        raise RuntimeError("call trackers.init() before logging")
    return _current


def log(metrics: dict[str, Any], step: int | None = None) -> None:
    """``current().log(...)``; raises RuntimeError before :func:`init`."""
    _need().log(metrics, step)


def summary(values: dict[str, Any]) -> None:
    """``current().summary(...)``; raises RuntimeError before :func:`init`."""
    _need().summary(values)


def finish() -> None:
    """Finish the current run (no-op without one)."""
    if _current is not None:
        _current.finish()
