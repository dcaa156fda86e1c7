"""An ``accelerate`` tracker that sends ``accelerator.log`` through ``trackers``.

    tracker = KtrackTracker(run_name="lr=1e-3")          # kwargs go to trackers.init
    accelerator = Accelerator(log_with=[tracker])
    accelerator.init_trackers("ignored", config={"lr": 1e-3})
    accelerator.log({"training_loss": loss}, step=step)
    accelerator.end_training()

Accelerate does not hand its project name to custom trackers: the project
comes from the Kconfig configuration or ``project=``. The run starts at the
first ``store_init_configuration`` or ``log`` so the config is part of it.
"""

from __future__ import annotations

from typing import Any

from accelerate.tracking import GeneralTracker

import trackers
from trackers.integrations import best, map_metrics


class KtrackTracker(GeneralTracker):
    """``accelerate.tracking.GeneralTracker`` backed by a :class:`trackers.Run`."""

    name = "ktrack"
    requires_logging_directory = False
    main_process_only = True

    def __init__(self, run_name: str | None = None, **init_kwargs: Any) -> None:
        super().__init__()
        self.run_name = run_name
        self.init_kwargs = init_kwargs
        self.run: Any = None
        self.config: dict[str, Any] = {}
        self.best_val: float | None = None

    @property
    def tracker(self) -> Any:
        """The underlying :class:`trackers.Run` (None before the first log)."""
        return self.run

    def _ensure_run(self) -> Any:
        if self.run is None:
            kwargs = dict(self.init_kwargs)
            if self.run_name:
                kwargs.setdefault("run_name", self.run_name)
            self.run = trackers.init(config={"trainer": "accelerate", **self.config}, **kwargs)
        return self.run

    def store_init_configuration(self, values: dict[str, Any]) -> None:
        """Keep ``values`` as the run's hyperparameters and start the run."""
        self.config.update({k: v for k, v in (values or {}).items()
                            if v is None or isinstance(v, (bool, int, float, str))})
        self._ensure_run()

    def log(self, values: dict[str, Any], step: int | None = None, **kwargs: Any) -> None:
        """Log ``values`` (keys mapped as for the Trainer callback) at ``step``."""
        for key in ("eval_loss", "val_loss", "validation_loss"):
            self.best_val = best(self.best_val, values.get(key))
        metrics = map_metrics(values)
        if metrics:
            self._ensure_run().log(metrics, step=step)

    def finish(self) -> None:
        """Write ``best_val_loss`` to the summary and finish the run."""
        if self.run is None:
            return
        if self.best_val is not None:
            self.run.summary({"best_val_loss": self.best_val})
        self.run.finish()
