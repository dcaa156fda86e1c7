"""Tracker backends, the :class:`Backend` contract they follow, and their registry.

Every method of a backend is called from its own worker thread
(:mod:`trackers.backends.worker`), one channel per part of a run:

* ``start(ctx)`` — create the tracker's run (``ctx`` is a :class:`Context`)
* ``log(row)`` — one :class:`Row` of metrics (numbers, strings, :class:`trackers.Histogram`)
* ``log_system(row)`` — one :class:`SystemRow` of hardware metrics
* ``summary(values)`` — end-of-run single values
* ``alert(alert)`` — one :class:`Alert`
* ``finish()`` — close the tracker's run

``start`` may raise :class:`MissingPackage` for a one-line "not installed"
warning. A backend's ``limits`` (a :class:`trackers.values.Limits`) say which
values it stores as they are; the others are left out for it alone. Add a
backend with :func:`register`; ``trackers.init(trackers=[...])`` accepts any
registered name.
"""

from __future__ import annotations

import dataclasses
import importlib.util
import sys
from pathlib import Path
from typing import Any, Callable, NamedTuple, Protocol, runtime_checkable

from kconf.trackerspec import TENSORBOARD, TRACKIO, WANDB


class MissingPackage(Exception):
    """Raised by ``start`` when the tracker's package cannot be imported."""


class Row(NamedTuple):
    """One logged row: ``kind`` is "log" or "series"."""

    kind: str
    step: int
    time: float
    metrics: dict[str, Any]


class SystemRow(NamedTuple):
    """Hardware metrics sampled at ``time`` (``gpu/<field>``, ``gpu<N>/<field>`` keys, numbers only);
    ``step`` is the training step logged last when they were sampled."""

    time: float
    step: int
    metrics: dict[str, float]


class Alert(NamedTuple):
    """A message for the user: ``level`` is "INFO", "WARN" or "ERROR"."""

    title: str
    text: str
    level: str
    step: int | None
    time: float


@dataclasses.dataclass
class Context:
    """What every backend gets: the same project, run name, config and directory."""

    project: str
    name: str
    config: dict[str, Any]
    run_dir: Path
    resume: str | None = None
    wandb_entity: str | None = None
    wandb_offline: bool = False
    group: str | None = None  # sweep group, where the tracker has groups
    trackio_space_id: str | None = None
    trackio_dataset_id: str | None = None
    trackio_webhook_url: str | None = None
    provenance: dict[str, Any] = dataclasses.field(default_factory=dict)
    info: dict[str, Any] = dataclasses.field(default_factory=dict)  # backends record where they wrote
    rewind: int | None = None  # a resumed run: rows after this step were thrown away, new ones replace them


@runtime_checkable
class Backend(Protocol):
    """What a tracker backend implements (see the module docstring)."""

    name: str

    def start(self, ctx: Context) -> None:
        """Create the tracker's run."""

    def log(self, row: Row) -> None:
        """Record one row of metrics at ``row.step``."""

    def log_system(self, row: SystemRow) -> None:
        """Record hardware metrics in the tracker's system-metrics place."""

    def summary(self, values: dict[str, Any]) -> None:
        """Record end-of-run values in the tracker's summary place."""

    def alert(self, alert: Alert) -> None:
        """Send an alert through the tracker's alert channel."""

    def finish(self) -> None:
        """Close the tracker's run, writing everything it holds."""


#: Where numerics statistics (``numerics/<module>/<kind>/<stat>``, ``numerics/hist/<module>/<kind>``) go in
#: the dashboards that order their sections by name (TensorBoard's tag groups, W&B's panel sections):
#: ``numerics`` would sort before ``train`` and ``val`` and put hundreds of charts above the loss;
#: ``z_numerics`` sorts after them. The journal, Trackio (ordered by ``TRACKIO_PLOT_ORDER``, see
#: :mod:`trackers.dashboards`) and every reader keep ``numerics/``.
NUMERICS_PREFIX, DASHBOARD_NUMERICS_PREFIX = "numerics/", "z_numerics/"


def dashboard_key(key: str) -> str:
    """``key`` as TensorBoard and W&B show it: numerics under :data:`DASHBOARD_NUMERICS_PREFIX`, others as given."""
    if key.startswith(NUMERICS_PREFIX):
        return DASHBOARD_NUMERICS_PREFIX + key[len(NUMERICS_PREFIX):]
    return key


def package_available(name: str) -> bool:
    """True when ``import name`` can work (no import is done)."""
    if name in sys.modules:
        return sys.modules[name] is not None
    try:
        return importlib.util.find_spec(name) is not None
    except (ImportError, ValueError):
        return False


def _trackio() -> Backend:
    from trackers.backends.trackio_backend import TrackioBackend

    return TrackioBackend()


def _wandb() -> Backend:
    from trackers.backends.wandb_backend import WandbBackend

    return WandbBackend()


def _tensorboard() -> Backend:
    from trackers.backends.tensorboard_backend import TensorBoardBackend

    return TensorBoardBackend()


#: name -> (factory, python package it needs or None)
REGISTRY: dict[str, tuple[Callable[[], Backend], str | None]] = {
    TRACKIO: (_trackio, "trackio"),
    WANDB: (_wandb, "wandb"),
    TENSORBOARD: (_tensorboard, None),
}


def register(name: str, factory: Callable[[], Backend], package: str | None = None) -> None:
    """Make ``factory()`` available as tracker ``name``."""
    REGISTRY[name] = (factory, package)


def create(name: str) -> Backend | None:
    """Return a new backend ``name``, or None with a one-line warning if it cannot be used."""
    from ktrack import messages

    if name not in REGISTRY:
        messages.warn("trackers", f"unknown tracker {name!r}; known: {', '.join(sorted(REGISTRY))}")
        return None
    factory, package = REGISTRY[name]
    if package and not package_available(package):
        messages.warn("trackers", f"{name} is not installed (pip install {package}); not logging to it")
        return None
    return factory()
