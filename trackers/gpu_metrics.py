"""Hardware metrics for a run, from the ``gpu`` package's background sampler.

Numbers go to the system-metrics channel (:meth:`GpuMetrics.new_system_row`),
optionally also as ``gpu/*`` keys of each logged step (:meth:`step_metrics`);
strings (name, vendor, performance state) and the energy used go to the
run summary (:meth:`final_summary`). Keys follow ktrack's metric names:
``gpu/<field>`` for the first GPU, ``gpu<N>/<field>`` for the others.
"""

from __future__ import annotations

from typing import Any

import gpu
from gpu.fields import ENERGY_WH, format_key
from ktrack import messages
from trackers.values import is_number

TOTAL_ENERGY_KEY = "gpu_total/energy_wh"


def numeric_metrics(samples: list[Any]) -> dict[str, float]:
    """``gpu.to_metrics(samples)`` without its strings (series take numbers only)."""
    return {k: float(v) for k, v in gpu.to_metrics(samples).items() if is_number(v)}


def info(samples: list[Any]) -> dict[str, str]:
    """The string fields of ``samples`` (``gpu/name``, ``gpu1/perf_state``, ...), for the summary."""
    return gpu.to_info(samples)


def energy_summary(energy_wh: dict[int, float]) -> dict[str, float]:
    """``{index: Wh}`` as ``gpu/energy_wh``, ``gpu<N>/energy_wh`` and the total."""
    out = {format_key(ENERGY_WH, i): float(wh) for i, wh in sorted(energy_wh.items())}
    if out:
        out[TOTAL_ENERGY_KEY] = sum(out.values())
    return out


class GpuMetrics:
    """Owns a started ``gpu.Sampler``, or none (one warning) when there is no GPU to sample."""

    def __init__(self, interval: float = 1.0, history: int = 600, backends: list[str] | None = None,
                 sampler: Any = None) -> None:
        self.sampler: Any = None
        self._last_time = 0.0
        self._stopped = False
        if sampler is None:
            try:
                devices = gpu.discover(backends=backends) if backends is not None else None
                sampler = gpu.Sampler(interval=interval, history=history, devices=devices)
                sampler.start()
            except Exception as exc:  # noqa: BLE001 - a broken sampler must not stop training
                messages.warn("trackers", f"GPU logging is on but the GPU sampler failed ({exc}); "
                              "logging no GPU metrics")
                return
        if not sampler.devices:
            sampler.stop()
            messages.warn("trackers", "GPU logging is on but no GPU was found; logging no GPU metrics")
            return
        self.sampler = sampler

    def latest(self) -> list[Any]:
        """The newest sample of each GPU ([] without a sampler)."""
        return list(self.sampler.latest()) if self.sampler is not None else []

    def step_metrics(self) -> dict[str, float]:
        """Numeric ``gpu/*`` keys of the newest samples, for a logged step ({} on error)."""
        try:
            return numeric_metrics(self.latest())
        except Exception:  # noqa: BLE001 - a bad reading costs one row's GPU keys, not the row
            return {}

    def new_samples(self) -> list[Any]:
        """The newest samples when the sampler has taken some since the last call, else []."""
        samples = self.latest()
        newest = max((s.timestamp for s in samples), default=0.0)
        if newest <= self._last_time:
            return []
        self._last_time = newest
        return samples

    def final_summary(self) -> dict[str, Any]:
        """String fields of the last samples and the energy used, for the run summary.

        Stops the sampler first: its last sample closes the energy integral at the end of the run.
        """
        out: dict[str, Any] = {}
        if self.sampler is None:
            return out
        self.stop()
        try:
            out.update(info(self.latest()))
            energy_wh = getattr(self.sampler, "energy_wh", None)
            if callable(energy_wh):
                out.update(energy_summary(energy_wh()))
        except Exception as exc:  # noqa: BLE001 - the summary goes on without the GPU part
            messages.warn("trackers", f"could not read the GPU summary ({exc})", key="gpu-summary")
        return out

    def stop(self) -> None:
        """Stop the sampler thread (once; later calls do nothing)."""
        if self.sampler is not None and not self._stopped:
            self._stopped = True
            try:
                self.sampler.stop()
            except Exception:  # noqa: BLE001 - stopping a dead sampler is not an error
                pass
