"""What a GPU can report: the plausible range of every numeric sample field.

A reading outside its field's range (negative power, -1000 °C, a 1e300 clock,
NaN, inf, a bool) is not a measurement but a driver quirk, a half-written
file or a sentinel such as NVML's ``0xFFFFFFFF``; :func:`plausible` turns it
into ``None``, which the screen shows as ``N/A`` and JSON as ``null``.  This
is the one table; :func:`gpu.sample.make_sample` applies it to every sample
of every backend.  Bounds are inclusive and generous: they reject what no
hardware can report, not what is merely unusual.
"""
from __future__ import annotations

import math
from typing import Any

PERCENT = (0.0, 100.0)
TEMPERATURE_C = (-55.0, 150.0)   # the operating range of on-die and board sensors
MEMORY_GB = (0.0, 4096.0)        # far above any device memory or shared RAM today
POWER_W = (0.0, 5000.0)          # a whole accelerator board, several times over
FAN_RPM = (0.0, 50000.0)
CLOCK_MHZ = (0.0, 100000.0)      # NVML reports effective GDDR rates (> 10 GHz)
ENERGY_J = (0.0, 1e13)           # 5 kW for 60 years; counters restart at driver load

RANGES: dict[str, tuple[float, float]] = {
    "utilization": PERCENT,
    "memory_used_gb": MEMORY_GB,
    "memory_total_gb": MEMORY_GB,
    "memory_percent": PERCENT,
    "temperature_c": TEMPERATURE_C,
    "temperature_hotspot_c": TEMPERATURE_C,
    "temperature_memory_c": TEMPERATURE_C,
    "power_w": POWER_W,
    "power_limit_w": POWER_W,
    "fan_percent": PERCENT,
    "fan_rpm": FAN_RPM,
    "clock_graphics_mhz": CLOCK_MHZ,
    "clock_memory_mhz": CLOCK_MHZ,
    "clock_fclk_mhz": CLOCK_MHZ,
    "clock_socclk_mhz": CLOCK_MHZ,
    "energy_j": ENERGY_J,
}


def plausible(field: str, value: Any) -> float | None:
    """``value`` as a float when it is a number inside ``field``'s range, else ``None``.

    ``None``, bools, strings, NaN, ±inf and out-of-range numbers all give
    ``None``.  Raises ``KeyError`` for a field that has no range (a string
    field, or a typo).
    """
    lo, hi = RANGES[field]
    if value is None or isinstance(value, bool):
        return None
    try:
        v = float(value)
    except (TypeError, ValueError, OverflowError):
        return None
    if math.isnan(v) or not lo <= v <= hi:
        return None
    return v
