"""GPU metrics for logged rows, from the ``gpu`` package (imported lazily)."""

from __future__ import annotations

from typing import Any

from trackers._warn import warn


class GpuMetrics:
    """Owns a ``gpu.Sampler``; :meth:`metrics` returns ``gpu/*`` keys of the latest samples."""

    def __init__(self, interval: float = 1.0, history: int = 600, backends: list[str] | None = None) -> None:
        self.sampler: Any = None
        self._to_metrics: Any = None
        try:
            import gpu
        except Exception as exc:  # noqa: BLE001
            warn(f"GPU logging is on but the gpu package is unavailable ({exc}); logging no gpu/* metrics")
            return
        try:
            devices = gpu.discover(backends=backends) if backends is not None else None
            sampler = gpu.Sampler(interval=interval, history=history, devices=devices)
            sampler.start()
        except Exception as exc:  # noqa: BLE001
            warn(f"GPU logging is on but the GPU sampler failed ({exc}); logging no gpu/* metrics")
            return
        if not sampler.devices:
            sampler.stop()
            warn("GPU logging is on but no GPU was found; logging no gpu/* metrics")
            return
        self.sampler = sampler
        self._to_metrics = gpu.to_metrics

    def metrics(self) -> dict[str, Any]:
        """Latest ``gpu/…``, ``gpu1/…`` values ({} without a sampler or on error)."""
        if self.sampler is None:
            return {}
        try:
            return dict(self._to_metrics(self.sampler.latest()))
        except Exception:  # noqa: BLE001
            return {}

    def stop(self) -> None:
        """Stop the sampler thread."""
        if self.sampler is not None:
            try:
                self.sampler.stop()
            except Exception:  # noqa: BLE001
                pass
