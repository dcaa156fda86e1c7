"""A ``transformers.TrainerCallback`` that sends Trainer logs through ``trackers``.

``Trainer(..., args=TrainingArguments(..., report_to="none"), callbacks=[KtrackCallback()])``
(``report_to="none"`` so the Trainer does not log a second time).

On the main process the run starts at ``train()`` (or at the first log of an
``evaluate()``/``predict()`` without training). Its config is what
``report_to="trackio"`` records -- the model's config, the TrainingArguments,
``model/num_parameters`` -- plus Kconfig's values for harness runs (see
:mod:`trackers.integrations.runconfig`); the library versions are in the
run's provenance. Project and
run name: ``TrainingArguments.project``/``run_name`` win over Kconfig's.

Every log goes at ``state.global_step`` (the x-axis) under the keys of
:mod:`trackers.integrations`. The end-of-training figures (``train_runtime``,
``train_loss``, ``total_flos``, ...) go to the run summary with
``best_val_loss``, ``final_val_loss``, ``total_time_s`` and ``global_step``,
not into the series.

The run stays open after ``train()`` so that a following ``evaluate()`` or
``predict()`` lands in the same run; it is finished by :meth:`KtrackCallback.finish`,
by the next :func:`trackers.init`, by a new hyperparameter-search trial, or at
process exit. A later ``train()`` of the same Trainer continues the run.
"""

from __future__ import annotations

import time
from typing import Any

from transformers import TrainerCallback, TrainingArguments

from kconf.trackerspec import TRACKER_SYMBOLS
from ktrack.keys import VAL_LOSS
from ktrack.messages import warn
from trackers import default_names
from trackers.integrations import best, map_metrics, to_number, trainer_key
from trackers.integrations.runconfig import flat, start_run

#: What marks the Trainer's end-of-training log (its values go to the summary).
_END_MARK = "train_runtime"
#: Keys that are bookkeeping of another log, not a row of their own.
_BOOKKEEPING = {"epoch", "step", "num_input_tokens_seen"}
#: ``report_to`` integrations that write to the trackers ktrack writes to.
_SAME_TRACKERS = set(TRACKER_SYMBOLS)
_DEFAULT_PROJECT = str(TrainingArguments.__dataclass_fields__["project"].default)


def run_config(args: Any, model: Any) -> dict[str, Any]:
    """The config ``report_to="trackio"`` records, flat: the model's config, the
    TrainingArguments over it, ``model/num_parameters``, ``peft_config``."""
    values: dict[str, Any] = {"trainer": "transformers"}
    model_config = getattr(model, "config", None)
    if model_config is not None:
        values.update(flat(model_config if isinstance(model_config, dict) else model_config.to_dict()))
    if getattr(model, "peft_config", None) is not None:
        values.update(flat({"peft_config": model.peft_config}))
    if args is not None:
        values.update(flat(args.to_dict()))
    try:
        values["model/num_parameters"] = int(model.num_parameters())
    except (AttributeError, TypeError):
        pass
    return values


class KtrackCallback(TrainerCallback):
    """Trainer metrics -> ``trackers``; ``init_kwargs`` go to :func:`trackers.init`.

    ``run``: log into an existing run instead of starting one (the callback
    then neither changes its config nor finishes it). ``kconfig``: put the
    Kconfig values into the config (True), never (False), or only for
    harness runs (None, the default).
    """

    def __init__(self, run: Any = None, *, kconfig: bool | None = None, **init_kwargs: Any) -> None:
        self.run = run
        self.owns_run = run is None
        self.kconfig = kconfig
        self.init_kwargs = init_kwargs
        self._reset()

    def _reset(self) -> None:
        self.best_val: float | None = None
        self.last_val: float | None = None
        self.t0: float | None = None
        self.trained = False  # on_train_end seen: evaluations since then update the summary
        self.end: dict[str, Any] = {}

    # -- the run ------------------------------------------------------------
    def _start(self, args: Any, state: Any, model: Any) -> Any:
        twice = sorted(set(getattr(args, "report_to", None) or []) & _SAME_TRACKERS)
        if twice:
            warn("trackers", f"TrainingArguments.report_to={twice} logs this run a second time; "
                 'set report_to="none" when using KtrackCallback', key="hf-report-to")
        config = run_config(args, model)
        given_project = args.project if getattr(args, "project", _DEFAULT_PROJECT) != _DEFAULT_PROJECT else None
        given_run = getattr(args, "run_name", None)
        if given_run == getattr(args, "output_dir", None):
            given_run = None
        model_type = str(getattr(getattr(model, "config", None), "model_type", "") or "model")
        optim = getattr(getattr(args, "optim", None), "value", None) or "trainer"
        default_run = default_names.default_run_name(model_type, str(optim))
        if state.is_hyper_param_search and state.trial_name:
            given_run = f"{given_run or default_run}-{state.trial_name}"
            config.update(flat({"trial_params": state.trial_params}))
        return start_run(config, given_project=given_project, fallback_project=_DEFAULT_PROJECT,
                         given_run=given_run, default_run=default_run, kconfig=self.kconfig,
                         init_kwargs=self.init_kwargs)

    def _ensure_run(self, args: Any, state: Any, model: Any) -> Any:
        if self.run is None:
            self.run = self._start(args, state, model)
        return self.run

    def finish(self) -> None:
        """Finish the run the callback started (no-op otherwise, and when done already)."""
        if self.owns_run and self.run is not None:
            self.run.finish()

    # -- Trainer events -------------------------------------------------------
    def on_train_begin(self, args: Any, state: Any, control: Any, model: Any = None, **kwargs: Any) -> None:
        """Start the run (main process only); a new hyperparameter-search trial starts a new one."""
        if not state.is_world_process_zero:
            return
        if self.owns_run and self.run is not None and (state.is_hyper_param_search or self.run.finished):
            self.run.finish()
            self.run = None
            self._reset()
        self.t0 = time.time()
        self.trained = False
        self._ensure_run(args, state, model)

    def on_log(self, args: Any, state: Any, control: Any, logs: dict[str, Any] | None = None,
               model: Any = None, **kwargs: Any) -> None:
        """Log ``logs`` at the global step; the end-of-training log goes to the summary."""
        if not state.is_world_process_zero or not logs:
            return
        if _END_MARK in logs:
            self.end.update({k: to_number(v) for k, v in logs.items() if k not in _BOOKKEEPING})
            return
        self._log(args, state, model, logs)

    def on_predict(self, args: Any, state: Any, control: Any, metrics: dict[str, Any] | None = None,
                   model: Any = None, **kwargs: Any) -> None:
        """``predict()``'s metrics (``test_*`` -> ``test/*``) at the global step."""
        if state.is_world_process_zero and metrics:
            self._log(args, state, model, metrics)

    def on_train_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        """Write the summary; the run stays open for evaluations after training."""
        if not state.is_world_process_zero or self.run is None:
            return
        self.trained = True
        total = self.end.get(_END_MARK) or (time.time() - self.t0 if self.t0 else None)
        summary = {k: v for k, v in self.end.items() if v is not None}
        if total is not None:
            summary["total_time_s"] = float(total)
        summary["global_step"] = int(state.global_step)
        self.run.summary({**summary, **self._val_summary()})

    # -- internals ----------------------------------------------------------
    def _log(self, args: Any, state: Any, model: Any, logs: dict[str, Any]) -> None:
        if set(logs) <= _BOOKKEEPING:
            return
        metrics = map_metrics(logs, trainer_key)
        val = metrics.get(VAL_LOSS)
        if val is not None:
            self.best_val = best(self.best_val, val)
            self.last_val = to_number(val)
        run = self._ensure_run(args, state, model)
        run.log(metrics, step=int(state.global_step))
        if val is not None and self.trained:
            run.summary(self._val_summary())

    def _val_summary(self) -> dict[str, float]:
        out = {}
        if self.best_val is not None:
            out["best_val_loss"] = self.best_val
        if self.last_val is not None:
            out["final_val_loss"] = float(self.last_val)
        return out
