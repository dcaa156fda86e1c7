"""The device contract every backend meets, and the base class they share.

One vocabulary: a backend's public getters are named after the
:class:`~gpu.sample.GpuSample` field they fill (``utilization()``,
``power_w()``, ``power_limit_w()``, ``temperature_c()``, ``clock_memory_mhz()``,
``energy_j()``, ``throttle()``...) and return that field's unit, so the same
quantity has the same name in every backend and in the data.
"""
from __future__ import annotations

import time
from typing import Any, Protocol, runtime_checkable

from .sample import GpuSample, make_sample


@runtime_checkable
class Device(Protocol):
    """One GPU found by :func:`gpu.discover`.

    ``index`` is the position across all vendors, ``vendor`` one of
    ``"nvidia"|"amd"|"intel"|"jetson"``, ``name`` the marketing name.
    :meth:`sample` reads the hardware once and never raises for a hardware
    problem (missing, unreadable or garbage values are ``None``).
    """

    index: int
    vendor: str
    name: str

    def sample(self) -> GpuSample:
        """One reading of this GPU."""
        ...


class BaseDevice:
    """Shared part of the backends: they implement :meth:`_read`, this makes the sample."""

    vendor = "unknown"

    def __init__(self, index: int, name: str) -> None:
        self.index = index
        self.name = name

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.index} {self.vendor} {self.name!r}>"

    def _read(self) -> dict[str, Any]:  # pragma: no cover - overridden
        """Sample fields read from the hardware, by field name (missing ones omitted)."""
        return {}

    def sample(self) -> GpuSample:
        """Read the value files once and return a :class:`GpuSample`.

        A failing read gives a sample whose values are ``None``; a reading
        under a name that is no sample field raises ``TypeError`` (a backend
        bug, see :func:`gpu.sample.make_sample`).
        """
        ts = time.time()
        try:
            values = self._read()
        except Exception:  # noqa: BLE001 - a GPU reading must never crash training
            values = {}
        return make_sample(self.index, self.vendor, self.name, ts, **values)
