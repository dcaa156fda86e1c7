"""Background sampling of every GPU on a small daemon thread."""
from __future__ import annotations

import threading
from collections import deque
from typing import Sequence

from .device import Device
from .discover import discover
from .energy import EnergyMeter
from .sample import GpuSample


class Sampler:
    """Sample ``devices`` (default: :func:`gpu.discover`) every ``interval`` seconds.

    Keeps the latest sample and the last ``history`` samples per GPU, and
    totals each GPU's energy over every sample (:meth:`energy_wh`).
    Discovery happens once (on first use of :attr:`devices`); each tick
    re-reads only the value files.  ``start()``/``stop()`` are idempotent,
    the thread sleeps on an event so ``stop()`` returns at once, and the
    sampler is a context manager.  ``start()`` takes the first sample
    synchronously, so :meth:`latest` has data as soon as it returns, and
    ``stop()`` takes a last one, so the energy covers the whole time between.
    """

    def __init__(self, interval: float = 1.0, history: int = 600,
                 devices: Sequence[Device] | None = None) -> None:
        self.interval = max(0.01, float(interval))
        self.history_len = max(1, int(history))
        self._devices = list(devices) if devices is not None else None
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._latest: list[GpuSample] = []
        self._history: dict[int, deque[GpuSample]] = {}
        self._energy = EnergyMeter()

    @property
    def devices(self) -> list[Device]:
        """The GPUs being sampled (discovered on first access)."""
        if self._devices is None:
            found = discover()
            with self._lock:
                if self._devices is None:
                    self._devices = found
        return list(self._devices)

    def sample_now(self) -> list[GpuSample]:
        """Sample every device once, record it, and return the samples."""
        samples = [dev.sample() for dev in self.devices]
        with self._lock:
            self._latest = samples
            for s in samples:
                self._history.setdefault(
                    s.index, deque(maxlen=self.history_len)).append(s)
                self._energy.add(s)
        return samples

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                self.sample_now()
            except Exception:  # noqa: BLE001 - monitoring must never kill its host
                pass

    def start(self) -> "Sampler":
        """Take a first sample and start the thread (no-op if running or no GPUs)."""
        if self._thread is not None and self._thread.is_alive():
            return self
        if not self.devices:
            return self
        self._stop.clear()
        self.sample_now()
        self._thread = threading.Thread(target=self._run, name="ktrack-gpu-sampler",
                                        daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop the thread, wait for it and take a last sample (harmless if not running)."""
        self._stop.set()
        thread, self._thread = self._thread, None
        if thread is None:
            return
        if thread is not threading.current_thread():
            thread.join(timeout=max(1.0, self.interval * 2))
        try:
            self.sample_now()
        except Exception:  # noqa: BLE001 - monitoring must never kill its host
            pass

    @property
    def running(self) -> bool:
        """Whether the background thread is alive."""
        return self._thread is not None and self._thread.is_alive()

    def latest(self) -> list[GpuSample]:
        """The most recent sample of each GPU (``[]`` before the first one)."""
        with self._lock:
            return list(self._latest)

    def history(self, index: int) -> list[GpuSample]:
        """Samples kept for GPU ``index``, oldest first."""
        with self._lock:
            return list(self._history.get(index, ()))

    def energy_wh(self) -> dict[int, float]:
        """Wh used per GPU index since its first sample (see :mod:`gpu.energy`).

        From the device's energy counter where it has one (NVML, Intel hwmon),
        else the trapezoid integral of ``power_w`` over the sample times; a
        counter that wraps or restarts falls back to power for that interval.
        GPUs with neither count 0.
        """
        with self._lock:
            return self._energy.wh()

    def __enter__(self) -> "Sampler":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
