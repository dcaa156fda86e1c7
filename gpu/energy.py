"""Energy used per GPU since sampling started, from the samples themselves.

For each pair of consecutive samples of one GPU the interval's energy is the
change of the device's own energy counter (``GpuSample.energy_j``: NVML total
energy consumption, Intel hwmon ``energy1_input``) when both samples have it
and the change is possible (not negative after a wrap or a driver reload, not
more than the largest plausible power could draw in the interval); otherwise
it is the trapezoid of ``power_w`` over the interval (the one power reading
when only one end has it), and 0 when neither end has power.  Adding one
sample is a few float operations.
"""
from __future__ import annotations

from .fields import POWER_W
from .sample import GpuSample

J_PER_WH = 3600.0


def interval_joules(a: GpuSample, b: GpuSample) -> float:
    """Energy in J used by one GPU between samples ``a`` and ``b`` (``b`` later)."""
    dt = b.timestamp - a.timestamp
    if dt <= 0:
        return 0.0
    if a.energy_j is not None and b.energy_j is not None:
        delta = b.energy_j - a.energy_j
        if 0.0 <= delta <= POWER_W[1] * dt:
            return delta
    powers = [p for p in (a.power_w, b.power_w) if p is not None]
    return sum(powers) / len(powers) * dt if powers else 0.0


class EnergyMeter:
    """Running energy totals per GPU index; feed every sample to :meth:`add`."""

    def __init__(self) -> None:
        self._last: dict[int, GpuSample] = {}
        self._joules: dict[int, float] = {}

    def add(self, sample: GpuSample) -> None:
        """Account for the interval since this GPU's previous sample."""
        prev = self._last.get(sample.index)
        if prev is not None and sample.timestamp <= prev.timestamp:
            return                       # a clock step backwards: wait for a later sample
        self._last[sample.index] = sample
        self._joules[sample.index] = self._joules.get(sample.index, 0.0) + (
            interval_joules(prev, sample) if prev is not None else 0.0)

    def joules(self) -> dict[int, float]:
        """J per GPU index since its first sample."""
        return dict(self._joules)

    def wh(self) -> dict[int, float]:
        """Wh per GPU index since its first sample."""
        return {i: j / J_PER_WH for i, j in self._joules.items()}
