"""A ``transformers.TrainerCallback`` that sends Trainer logs through ``trackers``.

``Trainer(..., callbacks=[KtrackCallback()])``: on the main process the
callback starts a run with :func:`trackers.init` (config = the
TrainingArguments; backends from the Kconfig configuration unless given),
logs every ``on_log`` at ``state.global_step`` with ``loss`` ->
``train/loss``, ``eval_loss`` -> ``val/loss``, ``learning_rate`` -> ``lr``,
and at the end writes the summary (``best_val_loss``, ``total_time_s``) and
finishes the run. Set ``report_to="none"`` so Trainer does not log twice.
"""

from __future__ import annotations

import time
from typing import Any

from transformers import TrainerCallback

import trackers
from trackers.integrations import best, map_metrics, to_number

_END_KEYS = ("train_runtime", "train_samples_per_second", "train_steps_per_second", "total_flos")


class KtrackCallback(TrainerCallback):
    """Trainer metrics -> ``trackers``; ``init_kwargs`` go to :func:`trackers.init`.

    ``run``: log into an existing run instead of starting one (it is then
    not finished by the callback).
    """

    def __init__(self, run: Any = None, **init_kwargs: Any) -> None:
        self.run = run
        self.owns_run = run is None
        self.init_kwargs = init_kwargs
        self.best_val: float | None = None
        self.t0: float | None = None
        self.end: dict[str, Any] = {}

    def _ensure_run(self, args: Any) -> Any:
        if self.run is None:
            config = {}
            try:
                config = {k: v for k, v in args.to_dict().items() if isinstance(v, (int, float, str, bool))}
            except Exception:  # noqa: BLE001 - the config is a courtesy
                pass
            kwargs = dict(self.init_kwargs)
            if "run_name" not in kwargs and getattr(args, "run_name", None) and args.run_name != args.output_dir:
                kwargs["run_name"] = args.run_name
            self.run = trackers.init(config={"trainer": "transformers", **config}, **kwargs)
        return self.run

    def on_train_begin(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        """Start the run (main process only)."""
        self.t0 = time.time()
        if state.is_world_process_zero:
            self._ensure_run(args)

    def on_log(self, args: Any, state: Any, control: Any, logs: dict[str, Any] | None = None,
               **kwargs: Any) -> None:
        """Log ``logs`` at the global step; the final throughput figures go to the summary."""
        if not state.is_world_process_zero or not logs:
            return
        logs = dict(logs)
        for key in _END_KEYS:
            if key in logs:
                self.end[key] = to_number(logs.pop(key))
        if "train_runtime" in self.end:
            logs.pop("train_loss", None)  # the run's average, not a point of the curve
        self.best_val = best(self.best_val, logs.get("eval_loss"))
        metrics = map_metrics(logs)
        if metrics:
            self._ensure_run(args).log(metrics, step=int(state.global_step))

    def on_train_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        """Write the summary and finish the run the callback started."""
        if not state.is_world_process_zero or self.run is None:
            return
        total = self.end.get("train_runtime") or (time.time() - self.t0 if self.t0 else None)
        summary = {k: v for k, v in self.end.items() if v is not None}
        if self.best_val is not None:
            summary["best_val_loss"] = self.best_val
        if total is not None:
            summary["total_time_s"] = float(total)
        summary["global_step"] = int(state.global_step)
        self.run.summary(summary)
        if self.owns_run:
            self.run.finish()
