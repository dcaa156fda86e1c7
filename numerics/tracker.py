"""``numerics.track``: hooks around a training loop, one table row per tensor.

Usage::

    with numerics.track(model, optimizer, run=run, cfg=cfg) as t:
        for it in range(max_iters):
            loss = model(x, y)[1]; loss.backward(); optimizer.step()
            t.step()                     # after every optimizer step
            optimizer.zero_grad(set_to_none=True)

Step ``s`` (0-based count of ``t.step()`` calls, or the number passed to
``t.step(s)``) is *sampled* when ``s % interval == 0``.  Forward hooks are
registered only while a sampled step runs and removed in ``t.step()``, so
other steps pay nothing.  Activations and output gradients are taken from the
first training-mode forward of each module in the sampled step; weights,
weight gradients and optimizer state are read in ``t.step()`` (after the
update).  Gradients of module outputs come from tensor hooks registered on the
outputs in the forward hook (what a full backward hook reports as
``grad_output[0]``, but safe with in-place ops after the module).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Iterable

import numpy as np
import torch

import kconf
from ktrack import messages
from ktrack.runfolder import RunFolder
from numerics.histograms import histograms
from numerics.select import Selector, kinds_from, split_list
from numerics.stats import SCALAR_STATS, Reduced, gather, reduce
from numerics.writer import Background, TableWriter

PROG = "numerics"


def _first_tensor(out: Any) -> torch.Tensor | None:
    if isinstance(out, torch.Tensor):
        return out
    if isinstance(out, (tuple, list)):
        for o in out:
            if isinstance(o, torch.Tensor):
                return o
    if isinstance(out, dict):
        for o in out.values():
            if isinstance(o, torch.Tensor):
                return o
    return None


def _dtype_name(t: torch.Tensor) -> str:
    return str(t.dtype).removeprefix("torch.")


class Tracker:
    """Records statistics of a model's tensors; made by :func:`track`.

    ``selected(name)`` tells whether a module or parameter name passes the
    include/exclude patterns (a :class:`numerics.select.Selector`).
    """

    def __init__(
        self,
        model: torch.nn.Module,
        optimizer: torch.optim.Optimizer | None = None,
        *,
        run: Any = None,
        enabled: bool = True,
        interval: int = 100,
        include: list[str] | None = None,
        exclude: list[str] | None = None,
        kinds: set[str] | None = None,
        histogram: bool = True,
        hist_modules: list[str] | None = None,
        max_elements: int = 1 << 20,
        log_stats: list[str] | None = None,
        out_dir: str | Path | None = None,
        flush_every: int = 1,
        start_step: int = 0,
    ) -> None:
        self.model = model
        self.optimizer = optimizer
        self.run = run
        self.enabled = enabled
        self.interval = max(1, int(interval))
        self.include = include or []
        self.exclude = exclude or []
        self.selected = Selector(self.include, self.exclude)
        self.hist_modules = list(hist_modules or []) if histogram else []
        self._hist_selected = Selector(self.hist_modules)
        self.kinds = set(kinds) if kinds is not None else {"activation", "gradient", "weight", "weight_grad"}
        self.histogram = histogram
        self.max_elements = int(max_elements)
        self.log_stats = [s for s in (log_stats or []) if s in SCALAR_STATS]
        self.flush_every = max(1, int(flush_every))
        self.path = RunFolder(out_dir).numerics if out_dir is not None else None
        self.writer = TableWriter(self.path, histogram) if (enabled and self.path) else None
        self._bg = Background(self._warn) if self.writer is not None else None
        self.next_step = int(start_step)
        self.steps_sampled = 0
        self._handles: list[Any] = []
        self._pending: list[tuple[tuple, Reduced]] = []
        self._seen: set[tuple[str, str]] = set()
        self._warned: set[str] = set()
        self._modules = [(n, m) for n, m in model.named_modules() if n and self.selected(n)]

    def is_sampled(self, step: int) -> bool:
        """Whether statistics are recorded on optimizer step ``step``."""
        return self.enabled and step % self.interval == 0

    # -- hooks ---------------------------------------------------------------
    def _warn(self, key: str, msg: str) -> None:
        """``numerics: warning: msg`` once per cause and tracker; training goes on."""
        if key not in self._warned:
            self._warned.add(key)
            messages.warn(PROG, msg)

    def _record(self, meta: tuple, t: torch.Tensor) -> None:
        try:
            self._pending.append((meta, reduce(t, self.max_elements, self.histogram)))
        except Exception as e:  # noqa: BLE001 - statistics must never break training
            self._warn(f"stats:{meta[2]}", f"statistics of {meta[1]} ({meta[2]}) failed: {e}")

    def _forward_hook(self, name: str):
        def hook(module: torch.nn.Module, args: Any, output: Any) -> None:
            if not module.training:
                return
            try:
                out = _first_tensor(output)
                if out is None or not (out.is_floating_point() or out.is_complex()):
                    return
                step, typ = self.next_step, type(module).__name__
                if "activation" in self.kinds and (name, "a") not in self._seen:
                    self._seen.add((name, "a"))
                    self._record((step, name, "activation", "", typ, _dtype_name(out)), out)
                if "gradient" in self.kinds and out.requires_grad and (name, "g") not in self._seen:
                    self._seen.add((name, "g"))
                    out.register_hook(self._grad_hook(name, typ, step))
            except Exception as e:  # noqa: BLE001 - a hook must never break training
                self._warn("forward", f"forward hook failed on {name}: {e}")

        return hook

    def _grad_hook(self, name: str, typ: str, step: int):
        def hook(grad: torch.Tensor) -> None:
            if self._handles and step == self.next_step:
                self._record((step, name, "gradient", "", typ, _dtype_name(grad)), grad)

        return hook

    def _arm(self) -> None:
        if self._handles or not ({"activation", "gradient"} & self.kinds):
            return
        self._seen.clear()
        for name, module in self._modules:
            self._handles.append(module.register_forward_hook(self._forward_hook(name)))

    def _disarm(self) -> None:
        for h in self._handles:
            h.remove()
        self._handles.clear()

    @property
    def hooks_armed(self) -> int:
        """Number of hooks currently registered on the model."""
        return len(self._handles)

    # -- the loop --------------------------------------------------------------
    def __enter__(self) -> "Tracker":
        if self.is_sampled(self.next_step):
            self._arm()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def step(self, step: int | None = None) -> None:
        """Call after each optimizer step; ``step`` overrides the step count.

        On a sampled step this reads weights, weight gradients and optimizer
        state, moves every statistic of the step to the host in one transfer,
        appends the rows to the table and logs the chosen scalars.
        """
        if not self.enabled:
            return
        if step is not None and step != self.next_step:
            # The caller numbers steps itself: relabel what the hooks caught.
            step = int(step)
            if self.is_sampled(step):
                self._pending = [((step,) + m[1:], r) for m, r in self._pending]
            else:
                self._pending.clear()
                self._disarm()
            self.next_step = step
        cur = self.next_step
        if self.is_sampled(cur):
            try:
                self._collect_params(cur)
                self._emit(cur)
            except Exception as e:  # noqa: BLE001 - a lost sample must never break training
                self._warn("step", f"step {cur} not recorded: {e}")
            self._pending.clear()
            self._disarm()
        self.next_step = cur + 1
        if self.is_sampled(self.next_step):
            self._arm()

    def _collect_params(self, step: int) -> None:
        names = {}
        for name, p in self.model.named_parameters():
            names[id(p)] = name
            if not self.selected(name):
                continue
            if "weight" in self.kinds:
                self._record((step, name, "weight", "", "Parameter", _dtype_name(p)), p)
            if "weight_grad" in self.kinds and p.grad is not None:
                self._record((step, name, "weight_grad", "", "Parameter", _dtype_name(p.grad)), p.grad)
        if "optimizer_state" in self.kinds and self.optimizer is not None:
            self._collect_optimizer(step, names)

    def _collect_optimizer(self, step: int, names: dict[int, str]) -> None:
        """Optimizer buffers, named through parameter identity (not position)."""
        assert self.optimizer is not None
        typ = type(self.optimizer).__name__
        for g, group in enumerate(self.optimizer.param_groups):
            for i, p in enumerate(group["params"]):
                name = names.get(id(p), f"param_group{g}.{i}")
                if not self.selected(name):
                    continue
                for key, value in self.optimizer.state.get(p, {}).items():
                    if isinstance(value, torch.Tensor) and value.dim() > 0 and value.is_floating_point():
                        self._record((step, name, "optimizer_state", key, typ, _dtype_name(value)), value)

    def _emit(self, step: int) -> None:
        if not self._pending:
            return
        metas = [m for m, _ in self._pending]
        arr = gather([r for _, r in self._pending], self.histogram)  # one transfer per device
        self.steps_sampled += 1
        if self.run is not None and (self.log_stats or self.hist_modules):
            # here, not in the writer thread: run.log returns at once, and the
            # rows must reach the trackers in step order (W&B drops late steps)
            self._log(step, metas, arr)
        if self.writer is not None and self._bg is not None:
            flush = self.steps_sampled % self.flush_every == 0
            self._bg.submit(self._write, metas, arr, flush)

    def _write(self, metas: list[tuple], arr: np.ndarray, flush: bool) -> None:
        """In the writer thread: buffer the rows, write a part file."""
        assert self.writer is not None
        self.writer.add(metas, arr)
        if flush:
            self.writer.flush()

    def _log(self, step: int, metas: list[tuple], arr: np.ndarray) -> None:
        """The chosen scalars and the selected modules' exponent histograms, as one tracker row."""
        assert self.run is not None
        offset = 2  # numel, sampled
        col = {s: offset + SCALAR_STATS.index(s) for s in self.log_stats}
        metrics: dict[str, Any] = {}
        try:
            for m, row in zip(metas, arr, strict=True):
                label = m[3] if m[2] == "optimizer_state" else m[2]
                for s, c in col.items():
                    metrics[f"numerics/{m[1]}/{label}/{s}"] = float(row[c])
            if self.hist_modules:
                metrics.update(histograms(metas, arr, self._hist_selected))
            self.run.log(metrics, step=step)
        except Exception as e:  # noqa: BLE001 - a tracker problem must never break training
            self._warn("log", f"logging to trackers failed: {e}")

    def wait_written(self) -> None:
        """Return when the table write of the last sampled step (on the writer thread) is done."""
        if self._bg is not None:
            self._bg.wait()

    def close(self) -> None:
        """Remove every hook and write what is buffered (idempotent)."""
        self._disarm()
        self._pending.clear()
        if self._bg is not None:
            self._bg.close()  # waits for the write in flight
        if self.writer is not None:
            try:
                self.writer.close()
            except Exception as e:  # noqa: BLE001 - closing must never break training
                self._warn("close", f"could not finish {self.path}: {e}")


def track(
    model: torch.nn.Module,
    optimizer: torch.optim.Optimizer | None = None,
    *,
    run: Any = None,
    cfg: kconf.Source | None = None,
    interval: int | None = None,
    include: Iterable[str] | str | None = None,
    exclude: Iterable[str] | str | None = None,
    kinds: Iterable[str] | str | None = None,
    histogram: bool | None = None,
    hist_modules: Iterable[str] | str | None = None,
    max_elements: int | None = None,
    log_stats: Iterable[str] | str | None = None,
    out_dir: str | Path | None = None,
    enabled: bool | None = None,
    flush_every: int = 1,
    start_step: int = 0,
) -> Tracker:
    """Track numerics of ``model`` (and ``optimizer``); use as a context manager.

    Every setting left as None comes from ``cfg`` (anything :func:`kconf.load`
    takes: ``kconf.load()``, ``config.config``, a dict; without one, the
    Kconfig tree's defaults, but no histogram modules): NUMERICS (enabled; True when cfg is None),
    NUMERICS_INTERVAL, NUMERICS_INCLUDE / NUMERICS_EXCLUDE (comma-separated
    fnmatch patterns, also tried as regex searches), NUMERICS_ACTIVATIONS /
    _GRADIENTS / _WEIGHTS / _OPTIMIZER_STATE (kinds), NUMERICS_HISTOGRAM,
    NUMERICS_HIST_MODULES (module patterns whose exponent histograms go to
    ``run.log``; "" = none), NUMERICS_MAX_ELEMENTS (0 = no subsampling),
    NUMERICS_LOG_STATS. Their defaults are in ``kconfig/numerics.kconfig``.

    Args:
        model: the module whose submodules and parameters are tracked.
        optimizer: its optimizer, for ``optimizer_state`` rows.
        run: a ``trackers.Run`` (anything with ``log(dict, step=)``) or None.
        kinds: subset of activation, gradient, weight, weight_grad,
            optimizer_state (plural forms accepted).
        hist_modules: patterns (as ``include``) of the modules whose
            exponent histograms are logged as ``numerics/hist/<module>/<kind>``
            (:mod:`numerics.histograms`); needs ``histogram``.
        out_dir: where ``numerics.parquet`` goes; default ``run.dir``; with
            neither, nothing is written (scalars are still logged).
        flush_every: sampled steps per part file (crash loses at most these).
        start_step: number of the first optimizer step (when resuming);
            ``t.step(n)`` also renumbers.

    Returns:
        A :class:`Tracker`; call ``t.step()`` after every optimizer step.

    Raises:
        ValueError: an unknown tensor kind.
    """
    config = kconf.load({} if cfg is None else cfg)
    if enabled is None:
        enabled = cfg is None or bool(config.NUMERICS)  # track() called without a configuration asks for tracking
    if cfg is None and hist_modules is None:
        hist_modules = ""  # the API alone sends no histograms to the run; Kconfig's default picks a few of our models

    def pick(value: Any, symbol: str) -> Any:
        return value if value is not None else getattr(config, symbol)

    if out_dir is None and run is not None and getattr(run, "dir", None) is not None:
        out_dir = run.dir
    return Tracker(
        model,
        optimizer,
        run=run,
        enabled=enabled,
        interval=int(pick(interval, "NUMERICS_INTERVAL")),
        include=split_list(pick(include, "NUMERICS_INCLUDE")),
        exclude=split_list(pick(exclude, "NUMERICS_EXCLUDE")),
        kinds=kinds_from(kinds, config),
        histogram=bool(pick(histogram, "NUMERICS_HISTOGRAM")),
        hist_modules=split_list(pick(hist_modules, "NUMERICS_HIST_MODULES")),
        max_elements=int(pick(max_elements, "NUMERICS_MAX_ELEMENTS")),
        log_stats=split_list(pick(log_stats, "NUMERICS_LOG_STATS")),
        out_dir=out_dir,
        flush_every=flush_every,
        start_step=start_step,
    )
