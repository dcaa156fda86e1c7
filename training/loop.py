"""The training loop both trainers share: schedule, logging, evaluation, checkpoints, summary.

A trainer supplies its model-specific parts as :class:`Hooks` (one optimizer
step, an evaluation, its throughput metrics, its data sampler's state); the
loop does the rest the same way for every model:

* each iteration: learning rate from the schedule, the step, pruning, the
  numerics hook, zeroed gradients, timing; what the numerics hook logs joins
  the iteration's own row, so every step is one tracker row;
* every ``TRAIN_LOG_INTERVAL``: ``train/loss``, ``lr``, ``iter_time_ms``
  plus the hooks' metrics, averaged over processes, and ``sparsity`` when
  pruning (without a pruner it would be a flat 0 chart and a constant line);
  with several processes also each rank's iteration time, the slowest rank
  and the spread (``straggler/*``, from one small all_gather per interval,
  the one that gives the mean);
* every ``TRAIN_EVAL_INTERVAL`` (and at the end): the evaluation, ``best``
  and ``last`` checkpoints;
* a stop the run asks for (``run.stop_requested``) ends it after the
  current iteration, evaluated and checkpointed so ``--resume`` goes on;
  Ctrl+C finishes the tracked run and exits 130 with one line;
* at the end, the summary over the whole experiment: ``total_time_s`` adds
  up every resumed part, ``start_val_loss`` is the first part's.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import torch

from ktrack import keys
from training.checkpoint import save_training_checkpoint
from training.preempt import StopSignal
from training.job import Job
from training.optim import apply_lr
from training.runtime import Dist, barrier, cleanup, gather_across, mean_across, numerics_tracking


class StepRows:
    """The run as the numerics tracker sees it: its rows wait for the loop's row of the same step.

    Trackio stores each ``log()`` as a row of its own (its runs table counts
    them as steps); joining the two makes one row per step in every tracker.
    """

    def __init__(self, run: Any) -> None:
        self.run = run
        self.dir = getattr(run, "dir", None)
        self._rows: dict[int | None, dict[str, Any]] = {}

    def log(self, metrics: dict[str, Any], step: int | None = None) -> None:
        """Keep ``metrics`` for the row of ``step``."""
        self._rows.setdefault(step, {}).update(metrics)

    def take(self, step: int) -> dict[str, Any]:
        """The metrics kept for ``step``; rows kept for any other step are logged now, as they were."""
        row = self._rows.pop(step, {})
        for other in sorted(self._rows, key=lambda k: -1 if k is None else k):
            self.run.log(self._rows.pop(other), step=other)
        return row


def straggler_metrics(times_ms: list[float]) -> dict[str, float]:
    """Each rank's mean iteration time over an interval, the slowest rank and the spread (max - min)."""
    slowest = max(range(len(times_ms)), key=times_ms.__getitem__)
    out = {f"straggler/rank{r}_iter_time_ms": t for r, t in enumerate(times_ms)}
    out.update({"straggler/slowest_rank": float(slowest), "straggler/max_iter_time_ms": times_ms[slowest],
                "straggler/min_iter_time_ms": min(times_ms), "straggler/spread_ms": times_ms[slowest] - min(times_ms)})
    return out


class Stragglers:
    """The job's straggler figures over every log interval, for the summary."""

    def __init__(self) -> None:
        self.spreads: list[float] = []
        self.slowest: dict[int, int] = {}

    def add(self, times_ms: list[float]) -> None:
        slowest = max(range(len(times_ms)), key=times_ms.__getitem__)
        self.slowest[slowest] = self.slowest.get(slowest, 0) + 1
        self.spreads.append(times_ms[slowest] - min(times_ms))

    def summary(self, nodes: list[str]) -> dict[str, Any]:
        """Mean and largest spread, the rank most often slowest and its node ({} without intervals)."""
        if not self.spreads:
            return {}
        rank = max(self.slowest, key=lambda r: (self.slowest[r], -r))
        out: dict[str, Any] = {"straggler/spread_ms_mean": sum(self.spreads) / len(self.spreads),
                               "straggler/spread_ms_max": max(self.spreads), "straggler/slowest_rank": rank,
                               "straggler/slowest_rank_intervals": self.slowest[rank]}
        if rank < len(nodes):
            out["straggler/slowest_node"] = nodes[rank]
        return out


class Hooks(Protocol):
    """The model-specific parts of a training loop."""

    def step(self, it: int) -> torch.Tensor | float:
        """Forward, backward, clipping and the optimizer step of iteration ``it``; the mean training loss."""

    def evaluate(self) -> dict[str, float]:
        """``{"val/loss": ..., other "val/..." metrics}`` (every process takes part)."""

    def interval_metrics(self, iter_ms: float) -> tuple[dict[str, float], str]:
        """The model's own metrics since the last log (then reset) and their text for the log line."""

    def sampler_state(self) -> Any:
        """The data sampler's RNG state for the checkpoint (every process takes part)."""


@dataclass
class Outcome:
    """How the loop ended."""

    final_iter: int
    final: dict[str, float]
    best_val: float
    start_val: float
    total_time_s: float
    stopped: bool = False
    summary: dict[str, Any] = field(default_factory=dict)


def _extras(metrics: dict[str, float]) -> str:
    return "".join(f", {key.rsplit('/', 1)[-1]} {value:.3f}" for key, value in metrics.items() if key != keys.VAL_LOSS)


class Loop:
    """One training run of ``job`` on ``d`` with ``model``, ``opt`` and ``pruner`` (None when not pruning)."""

    def __init__(self, job: Job, d: Dist, run: Any, out: Path, model: torch.nn.Module, opt: Any, pruner: Any,
                 start_iter: int, best_val: float, checkpoint_extra: dict[str, Any] | None = None) -> None:
        self.job, self.s, self.d, self.run, self.out = job, job.settings, d, run, out
        self.model, self.opt, self.pruner = model, opt, pruner
        self.start_iter, self.best_val = start_iter, best_val
        self.checkpoint_extra = checkpoint_extra or {}
        ckpt = job.ckpt or {}
        self.elapsed_before = float(ckpt.get("elapsed_s", 0.0))
        self.start_val: float | None = ckpt.get("start_val_loss")
        self._t0 = time.time()
        self.preempt = StopSignal(enabled=bool(self.s["TRAIN_CHECKPOINT"]))

    def _print(self, text: str) -> None:
        if self.d.main:
            print(text, flush=True)

    def elapsed(self) -> float:
        """Seconds of training in this experiment so far, every resumed part included."""
        return self.elapsed_before + time.time() - self._t0

    def _checkpoint(self, hooks: Hooks, name: str, it: int) -> None:
        if not self.s["TRAIN_CHECKPOINT"]:
            return
        state = hooks.sampler_state()
        if self.d.main:
            save_training_checkpoint(self.job.prog, name, it, model=self.model, opt=self.opt, pruner=self.pruner,
                                     best_val=self.best_val, settings=self.s.symbols, run=self.run, out=self.out,
                                     rng_data=state, elapsed_s=self.elapsed(),
                                     start_val_loss=self.start_val if self.start_val is not None else math.nan,
                                     **self.checkpoint_extra)

    def _evaluate(self, hooks: Hooks, it: int) -> dict[str, float]:
        metrics = hooks.evaluate()
        improved = metrics[keys.VAL_LOSS] < self.best_val
        self.best_val = min(self.best_val, metrics[keys.VAL_LOSS])
        best = " (best)" if improved else ""
        self._print(f"iter {it}: val loss {metrics['val/loss']:.4f}{_extras(metrics)}{best}")
        if improved:
            self._checkpoint(hooks, "best", it)
        self._checkpoint(hooks, "last", it)
        return metrics

    def stop_requested(self) -> bool:
        """Whether the run asked training to stop (an alert rule, say); every process agrees."""
        stop = bool(getattr(self.run, "stop_requested", False))
        return mean_across(self.d, float(stop)) > 0 if self.d.enabled else stop

    def run_loop(self, hooks: Hooks) -> Outcome:
        """Train from ``start_iter + 1`` to ``TRAIN_MAX_ITERS`` (or a requested stop); log the summary.

        Ctrl+C (SIGINT, Python's ``KeyboardInterrupt``) finishes the tracked run
        and exits with status 130 and one line saying how to resume, not a traceback.
        """
        try:
            return self._run_loop(hooks)
        except KeyboardInterrupt:
            self._print(f"{self.job.prog}: interrupted; the run is recorded up to its last logged step; "
                        f"resume from the last checkpoint with --resume {self.out}")
            self.run.finish()
            cleanup(self.d)
            raise SystemExit(130) from None

    def _run_loop(self, hooks: Hooks) -> Outcome:
        s, d, run = self.s, self.d, self.run
        max_iters, log_every, eval_every = s["TRAIN_MAX_ITERS"], s["TRAIN_LOG_INTERVAL"], s["TRAIN_EVAL_INTERVAL"]
        stopped = False
        rows = StepRows(run)
        stragglers = Stragglers()
        with numerics_tracking(self.job.prog, s["NUMERICS"] and d.main, self.model, self.opt, rows, s.cfg,
                               self.start_iter + 1) as nt:
            final = hooks.evaluate()
            if self.start_val is None:
                self.start_val = final[keys.VAL_LOSS]
            self._print(f"starting validation loss: {final['val/loss']:.4f}{_extras(final)} (iter {self.start_iter})")
            if self.start_iter == 0 and d.main:
                run.log(dict(final), step=0)
            loss_sum: Any = 0.0
            steps, time_sum, it, evaluated_at = 0, 0.0, self.start_iter, self.start_iter
            for it in range(self.start_iter + 1, max_iters + 1):
                t_it = time.perf_counter()
                lr = apply_lr(self.opt, it, s)
                loss_sum = loss_sum + hooks.step(it)
                if self.pruner:
                    self.pruner.update(it)
                    self.pruner.apply()
                nt.step(it)
                self.opt.zero_grad(set_to_none=True)
                if d.device.type == "cuda":
                    torch.cuda.synchronize(d.device)
                time_sum += time.perf_counter() - t_it
                steps += 1
                pending: dict[str, Any] = rows.take(it)
                if it % log_every == 0 or it == max_iters:
                    train_loss = mean_across(d, float(loss_sum) / steps)
                    times = gather_across(d, 1000.0 * time_sum / steps)
                    iter_ms = sum(times) / len(times)
                    extra, text = hooks.interval_metrics(iter_ms)
                    pending.update({keys.TRAIN_LOSS: train_loss, keys.LR: lr, keys.ITER_TIME_MS: iter_ms, **extra})
                    if self.pruner:
                        pending[keys.SPARSITY] = self.pruner.sparsity()
                    if d.enabled:
                        pending.update(straggler_metrics(times))
                        stragglers.add(times)
                    self._print(f"iter {it}: loss {train_loss:.4f}, lr {lr:.2e}, {iter_ms:.2f} ms/iter{text}")
                    loss_sum, steps, time_sum = 0.0, 0, 0.0
                if it % eval_every == 0 or it == max_iters:
                    final, evaluated_at = self._evaluate(hooks, it), it
                    pending.update(final)
                if pending and d.main:
                    run.log(pending, step=it)
                if self.preempt.requested(d):  # Slurm's warning before a time limit: checkpoint, requeue
                    self._checkpoint(hooks, "last", it)
                    if self.job.node_writer is not None:  # this node's GPU file ends cleanly before the requeue
                        self.job.node_writer.close()
                    if self.job.multi_node:  # every node's file closed before rank 0 reads the last lines
                        barrier(d)
                    self.preempt.exit(run, d, it)
                if self.stop_requested():
                    stopped = True
                    self._print(f"iter {it}: stopping, as the run asked")
                    break
            if stopped and evaluated_at != it:
                final = self._evaluate(hooks, it)
                if d.main:
                    run.log(dict(final), step=it)
        outcome = Outcome(final_iter=it, final=final, best_val=min(self.best_val, final[keys.VAL_LOSS]),
                          start_val=self.start_val, total_time_s=self.elapsed(), stopped=stopped)
        outcome.summary = {"best_val_loss": outcome.best_val, "total_time_s": outcome.total_time_s,
                           "final_val_loss": final[keys.VAL_LOSS], "start_val_loss": outcome.start_val,
                           "final_iter": it,
                           **{key.replace("/", "_"): value for key, value in final.items() if key != keys.VAL_LOSS},
                           **stragglers.summary(self.job.nodes)}
        if d.main:
            run.summary(outcome.summary)
            self._print(f"final validation loss: {final['val/loss']:.4f} (best {outcome.best_val:.4f}, "
                        f"started at {outcome.start_val:.4f}){_extras(final)}, {outcome.total_time_s:.2f}s")
        return outcome

