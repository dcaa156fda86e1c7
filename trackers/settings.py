"""Turning config + command-line arguments + keyword arguments into run settings.

Precedence, highest first: keyword arguments to ``trackers.init``, the
``--tracker*`` arguments (``args``), the configuration (``cfg``, a
:class:`kconf.Config`: every symbol, the Kconfig tree's default where the
configuration lacks it).
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import sys
from pathlib import Path
from typing import Any, Iterable

import kconf
from kconf.trackerspec import TRACKER_SYMBOLS, parse_trackers
from trackers import default_names
from trackers.alerts import AlertRules
from ktrack.names import check_project, check_run


@dataclasses.dataclass
class RunSettings:
    """Everything a :class:`trackers.Run` needs to start (made by :func:`run_settings`)."""

    project: str
    name: str
    trackers: list[str]
    run_dir: Path
    config: dict[str, Any]
    resume: str | None
    log_gpu: bool
    gpu_interval: float
    gpu_history: int
    wandb_entity: str | None
    wandb_offline: bool
    group: str | None
    gpu_backends: list[str]
    trackio_space_id: str | None
    trackio_dataset_id: str | None
    trackio_webhook_url: str | None
    gpu_step_keys: bool  # also add numeric gpu/* keys to every logged step
    alerts: AlertRules


def _tracker_type(value: str) -> str:
    try:
        parse_trackers(value)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    return value


def add_arguments(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """Add ``--tracker``, ``--tracker-project`` and ``--tracker-run-name`` to ``parser``."""
    group = parser.add_argument_group("experiment tracking")
    group.add_argument("--tracker", type=_tracker_type, default=None, metavar="LIST",
                       help="none, trackio, wandb, tensorboard, both, or a comma list "
                            "(default: CONFIG_ENABLE_* from the configuration)")
    group.add_argument("--tracker-project", default=None, metavar="NAME",
                       help="project name (default: CONFIG_TRACKER_PROJECT)")
    group.add_argument("--tracker-run-name", default=None, metavar="NAME",
                       help="run name (default: CONFIG_TRACKER_RUN_NAME or {model}_{optimizer}_{timestamp})")
    return parser


def detect_rank(rank: int | None = None) -> int:
    """The process rank: ``rank``, else env ``RANK``, else torch.distributed's, else 0."""
    if rank is not None:
        return int(rank)
    env = os.environ.get("RANK")
    if env not in (None, ""):
        try:
            return int(env)
        except ValueError:
            return 0
    dist = sys.modules.get("torch.distributed")
    try:
        if dist is not None and dist.is_available() and dist.is_initialized():
            return int(dist.get_rank())
    except Exception:  # noqa: BLE001 - no process group: rank 0
        pass
    return 0


def _tracker_list(value: Any) -> list[str]:
    if isinstance(value, str):
        names: Iterable[str] = parse_trackers(value)
    else:
        names = [str(v) for v in value]
    order = {name: i for i, name in enumerate(TRACKER_SYMBOLS)}
    return sorted(set(names), key=lambda n: (order.get(n, 9), n))


def gpu_interval(cfg: kconf.Config) -> float:
    """Seconds between GPU samples (``TRACKER_GPU_INTERVAL``; its default also where GPU logging is off)."""
    return float(cfg.TRACKER_GPU_INTERVAL)


def gpu_backends(cfg: kconf.Config) -> list[str]:
    """The GPU vendors to sample (``GPU_NVML``, ``GPU_AMD``, ...)."""
    return [name for name in ("nvml", "amd", "intel", "jetson") if getattr(cfg, f"GPU_{name.upper()}")]


def run_settings(config: dict[str, Any] | None, *, cfg: kconf.Source, args: Any = None,
                 project: str | None = None, run_name: str | None = None, trackers: Any = None,
                 log_gpu: bool | None = None, resume: str | None = None,
                 run_dir: str | os.PathLike[str] | None = None, group: str | None = None) -> RunSettings:
    """The :class:`RunSettings` of a run: keyword arguments over ``args`` over ``cfg``.

    ``config`` is the run's configuration exactly as every tracker will store it
    (a flat dict; nothing from ``cfg`` is added to it). ``cfg`` is anything
    :func:`kconf.load` takes. The model, optimizer, project and run names come
    from ``cfg`` only where it gives them itself: without a ``.config`` the
    trackers are a library and name a run after its ``config`` (``model``,
    ``optimizer``) and the current folder. Raises ValueError
    (:class:`ktrack.names.BadName`) for a bad project or run name.
    """
    hparams = dict(config or {})
    cfg = kconf.load(cfg)
    own = cfg.recorded()

    def a(name: str) -> Any:
        return getattr(args, name, None) if args is not None else None

    if trackers is None:
        trackers = a("tracker")
    if trackers is None:
        trackers = [name for name, sym in TRACKER_SYMBOLS.items() if getattr(cfg, sym)]
    names = _tracker_list(trackers)

    model = str(own.get("MODEL") or hparams.get("model") or hparams.get("MODEL") or "model")
    optimizer = str(own.get("OPTIMIZER") or hparams.get("optimizer") or hparams.get("OPTIMIZER") or "opt")
    project = check_project(project or a("tracker_project") or own.get("TRACKER_PROJECT")
                            or default_names.default_project(model), names)
    name = check_run(run_name or a("tracker_run_name") or own.get("TRACKER_RUN_NAME")
                     or default_names.default_run_name(model, optimizer))

    base = Path(run_dir) if run_dir is not None else Path(cfg.RUNS_DIR) / project / name
    return RunSettings(
        project=project, name=name, trackers=names, run_dir=base, config=hparams, resume=resume,
        log_gpu=bool(cfg.TRACKER_LOG_GPU if log_gpu is None else log_gpu),
        gpu_interval=gpu_interval(cfg),
        gpu_history=cfg.GPU_HISTORY,
        wandb_entity=cfg.WANDB_ENTITY or None,  # "": the user's default entity
        wandb_offline=cfg.WANDB_OFFLINE,
        group=group or os.environ.get("KTRACK_GROUP") or None,
        gpu_backends=gpu_backends(cfg),
        trackio_space_id=cfg.TRACKIO_SPACE_ID or None,  # "": none (Trackio takes None)
        trackio_dataset_id=cfg.TRACKIO_DATASET_ID or None,
        trackio_webhook_url=cfg.TRACKIO_WEBHOOK_URL or None,
        gpu_step_keys=cfg.TRACKER_GPU_STEP_KEYS,
        alerts=AlertRules.from_config(cfg),
    )
