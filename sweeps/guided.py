"""Guided search with Optuna: each point is an Optuna trial asked for, run, and told its metric.

Lists under ``vary:`` are categorical, ranges are float (log when ``log:
true``) or int (``int: true``). ``optuna: {trials, metric, direction,
seed}``; the metric is read from the run's ``summary.json``. On a rerun, the
finished trials in the state file are given back to the study first, and
interrupted ones are asked again with the same values (so they resume).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sweeps import results
from sweeps.errors import SweepError
from sweeps.points import Configurator, Point, plan
from sweeps.spec import Range, Sweep
from sweeps.state import DONE, State


class Planner:
    """Asks Optuna for points and tells it their results."""

    def __init__(self, sweep: Sweep, conf: Configurator, cwd: Path) -> None:
        try:
            import optuna
        except ImportError:
            raise SweepError("optuna: in a sweep file needs optuna: pip install 'optuna==5.0.0'") from None
        optuna.logging.set_verbosity(optuna.logging.WARNING)
        self.optuna = optuna
        self.sweep, self.conf, self.cwd = sweep, conf, cwd
        spec = sweep.optuna or {}
        self.trials = int(spec.get("trials", 8))
        if not sweep.vary:
            raise SweepError(f"{sweep.path}: optuna: needs symbols under vary:")
        self._validate()
        sampler = optuna.samplers.TPESampler(seed=int(spec.get("seed", sweep.seed)))
        self.study = optuna.create_study(direction=sweep.direction, sampler=sampler)  # type: ignore[arg-type]
        self.asked = 0
        self.replayed = False
        self.live: dict[str, Any] = {}  # run name -> optuna trial

    def _validate(self) -> None:
        """Apply every list value and both ends of every range, so bad values stop the sweep now."""
        ranges = {k: v for k, v in self.sweep.vary.items() if isinstance(v, Range)}
        lows = {k: (v.low if not v.integer else int(v.low)) for k, v in ranges.items()}
        highs = {k: (v.high if not v.integer else int(v.high)) for k, v in ranges.items()}
        lists = {k: v for k, v in self.sweep.vary.items() if isinstance(v, list)}
        first = {k: v[0] for k, v in lists.items()}
        plan(self.conf, [{**first, **lows}, {**first, **highs}], self.cwd)
        for key, values in lists.items():
            plan(self.conf, [{**first, **lows, key: value} for value in values], self.cwd)

    def distributions(self) -> dict[str, Any]:
        """The Optuna distribution of every varied symbol."""
        d = self.optuna.distributions
        out: dict[str, Any] = {}
        for key, spec in self.sweep.vary.items():
            if isinstance(spec, Range):
                out[key] = (d.IntDistribution(int(spec.low), int(spec.high), log=spec.log) if spec.integer
                            else d.FloatDistribution(spec.low, spec.high, log=spec.log))
            else:
                out[key] = d.CategoricalDistribution(spec)
        return out

    def _replay(self, state: State) -> None:
        dists = self.distributions()
        for _name, rec in sorted(state.points.items(), key=lambda item: item[1].get("index", 0)):
            varied = rec.get("varied") or {}
            if set(varied) != set(dists):
                continue
            value = results.metric_value(Path(rec.get("run_dir", "")), self.sweep.metric)
            if rec.get("status") == DONE and value is not None:
                trial = self.optuna.trial.create_trial(params=varied, distributions=dists, value=value)
                self.study.add_trial(trial)
                self.asked += 1
            else:
                self.study.enqueue_trial(varied)

    def next_points(self, free: int, state: State) -> list[Point]:
        """Up to ``free`` new points (none once ``trials`` were asked)."""
        if not self.replayed:
            self._replay(state)
            self.replayed = True
        points = []
        while free > 0 and self.asked < self.trials:
            trial = self.study.ask(self.distributions())
            varied = {key: trial.params[key] for key in self.sweep.vary}
            for key, spec in self.sweep.vary.items():
                if isinstance(spec, Range) and not spec.integer:
                    varied[key] = float(f"{varied[key]:.4g}")
            point = plan(self.conf, [varied], self.cwd, start=self.asked)[0]
            self.live[point.name] = trial
            self.asked += 1
            free -= 1
            points.append(point)
        return points

    def tell(self, point: Point, rc: int) -> None:
        """Give Optuna the point's metric (a failed point is a failed trial)."""
        trial = self.live.pop(point.name, None)
        if trial is None:
            return
        value = results.metric_value(point.run_dir, self.sweep.metric) if rc == 0 else None
        if value is None:
            self.study.tell(trial, state=self.optuna.trial.TrialState.FAIL)
        else:
            self.study.tell(trial, value)
