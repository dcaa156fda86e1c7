"""An ``accelerate`` tracker that sends ``accelerator.log`` through ``trackers``.

Importing this module registers it under the name ``ktrack``:

    from trackers.integrations.accelerate_tracker import KtrackTracker  # registers log_with="ktrack"
    accelerator = Accelerator(log_with="ktrack")
    accelerator.init_trackers("my-project", config={"lr": 1e-3},
                              init_kwargs={"ktrack": {"run_name": "lr=1e-3"}})
    accelerator.log({"train_loss": loss, "lr": lr}, step=step)
    accelerator.end_training()

An instance works too: ``Accelerator(log_with=[KtrackTracker(run_name="x")])``.
The project is ``init_trackers``'s ``project_name``, which wins over Kconfig's
``TRACKER_PROJECT``; ``project=`` given to the tracker wins over both. The run
starts at the first ``store_init_configuration`` or ``log`` so that the config
(``config=`` values, Kconfig's values for harness runs) is
part of it. Keys are mapped as :mod:`trackers.integrations` lists; the value
of ``step`` is the x-axis.
"""

from __future__ import annotations

import sys
from typing import Any

from accelerate import tracking
from accelerate.tracking import GeneralTracker

from ktrack.keys import ACCELERATE_KEYS, VAL_LOSS
from ktrack.messages import warn
from trackers import default_names
from trackers.integrations import best, map_metrics
from trackers.integrations.runconfig import flat, start_run

_VAL_KEYS = tuple(alias for alias, key in ACCELERATE_KEYS.items() if key == VAL_LOSS)


def _init_trackers_project() -> str | None:
    """``project_name`` of the ``Accelerator.init_trackers`` now calling ``start()``.

    accelerate hands that name to the trackers it creates from ``log_with``
    names but not to tracker instances, so it is read from the calling frame.
    """
    try:
        frame = sys._getframe(2)  # start() <- Accelerator.init_trackers
    except ValueError:  # called from the top of the stack
        return None
    if frame.f_code.co_name != "init_trackers":
        return None
    name = frame.f_locals.get("project_name")
    return name if isinstance(name, str) and name else None


class KtrackTracker(GeneralTracker):
    """``accelerate.tracking.GeneralTracker`` backed by a :class:`trackers.Run`.

    ``project_name`` (what accelerate passes for ``log_with="ktrack"``), ``run_name``
    and ``kconfig`` (see :func:`trackers.integrations.runconfig.start_run`);
    ``init_kwargs`` go to :func:`trackers.init`.
    """

    name = "ktrack"
    requires_logging_directory = False
    main_process_only = True

    def __init__(self, project_name: str | None = None, run_name: str | None = None, *,
                 kconfig: bool | None = None, **init_kwargs: Any) -> None:
        super().__init__()
        self.project_name = project_name
        self.run_name = run_name
        self.kconfig = kconfig
        self.init_kwargs = init_kwargs
        self.run: Any = None
        self.started = False
        self.config: dict[str, Any] = {"trainer": "accelerate"}
        self.best_val: float | None = None

    @property
    def tracker(self) -> Any:
        """The underlying :class:`trackers.Run` (None before the run starts)."""
        return self.run

    def start(self) -> None:
        """Called by ``init_trackers``: note its project name; the run starts with the config."""
        self.started = True
        if self.project_name is None:
            self.project_name = _init_trackers_project()

    def _ensure_run(self) -> Any:
        if self.run is None:
            project = self.project_name
            self.run = start_run(self.config, given_project=project, fallback_project="accelerate",
                                 given_run=self.run_name,
                                 default_run=default_names.default_run_name(project or "accelerate", "accelerate"),
                                 kconfig=self.kconfig, init_kwargs=self.init_kwargs)
        return self.run

    def store_init_configuration(self, values: dict[str, Any]) -> None:
        """Keep ``values`` (flattened) as the run's config and start the run."""
        if self.run is None:
            self.config.update(flat(values))
        else:
            warn("trackers", "store_init_configuration() after the run started: the config stays as it was; "
                 "call init_trackers() before the first log()", key="accelerate-late-config")
        self._ensure_run()

    def log(self, values: dict[str, Any], step: int | None = None, **kwargs: Any) -> None:
        """Log ``values`` (keys mapped) at ``step``."""
        for key in _VAL_KEYS:
            if key in values:
                self.best_val = best(self.best_val, values[key])
        metrics = map_metrics(values)
        if metrics:
            self._ensure_run().log(metrics, step=step)

    def finish(self) -> None:
        """Write ``best_val_loss`` to the summary and finish the run."""
        if self.run is None and self.started:
            self._ensure_run()
        if self.run is None:
            return
        if self.best_val is not None:
            self.run.summary({"best_val_loss": self.best_val})
        self.run.finish()


if hasattr(tracking, "register_tracker_class") and tracking.LOGGER_TYPE_TO_CLASS.get(KtrackTracker.name) is None:
    tracking.register_tracker_class(KtrackTracker)
