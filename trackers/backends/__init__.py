"""Tracker backends and their registry.

A backend is an object with ``name`` and four methods, all called from its own
worker thread (:mod:`trackers.backends.worker`):

* ``start(ctx)`` — create the tracker's run (``ctx`` is a :class:`Context`)
* ``log(row)`` — one :class:`Row`
* ``summary(values)`` — final single values
* ``finish()`` — close the tracker's run

``start`` may raise :class:`MissingPackage` for a one-line "not installed"
warning. Add a backend with :func:`register`; ``trackers.init(trackers=[...])``
accepts any registered name.
"""

from __future__ import annotations

import dataclasses
import importlib.util
import sys
from pathlib import Path
from typing import Any, Callable, NamedTuple


class MissingPackage(Exception):
    """Raised by ``start`` when the tracker's package cannot be imported."""


class Row(NamedTuple):
    """One logged row: ``kind`` is "log" or "series"."""

    kind: str
    step: int
    time: float
    metrics: dict[str, Any]


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
    info: dict[str, Any] = dataclasses.field(default_factory=dict)  # backends record where they wrote


def package_available(name: str) -> bool:
    """True when ``import name`` can work (no import is done)."""
    if name in sys.modules:
        return sys.modules[name] is not None
    try:
        return importlib.util.find_spec(name) is not None
    except (ImportError, ValueError):
        return False


def _trackio() -> Any:
    from trackers.backends.trackio_backend import TrackioBackend

    return TrackioBackend()


def _wandb() -> Any:
    from trackers.backends.wandb_backend import WandbBackend

    return WandbBackend()


def _tensorboard() -> Any:
    from trackers.backends.tensorboard_backend import TensorBoardBackend

    return TensorBoardBackend()


#: name -> (factory, python package it needs or None)
REGISTRY: dict[str, tuple[Callable[[], Any], str | None]] = {
    "trackio": (_trackio, "trackio"),
    "wandb": (_wandb, "wandb"),
    "tensorboard": (_tensorboard, None),
}


def register(name: str, factory: Callable[[], Any], package: str | None = None) -> None:
    """Make ``factory()`` available as tracker ``name``."""
    REGISTRY[name] = (factory, package)


def create(name: str) -> Any | None:
    """Return a new backend ``name``, or None with a one-line warning if it cannot be used."""
    from trackers._warn import warn

    if name not in REGISTRY:
        warn(f"unknown tracker {name!r}; known: {', '.join(sorted(REGISTRY))}")
        return None
    factory, package = REGISTRY[name]
    if package and not package_available(package):
        warn(f"{name} is not installed (pip install {package}); not logging to it")
        return None
    return factory()
