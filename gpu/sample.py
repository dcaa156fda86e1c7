"""The sample record, the one value formatter and the tracker metric mapping."""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, Iterable

GIB = 1024.0 ** 3


@dataclass(frozen=True)
class GpuSample:
    """One reading of one GPU.  Any value the hardware lacks is ``None``.

    Units: ``utilization`` and ``*_percent`` in %, memory in GB (2**30 bytes),
    temperatures in °C, power in W, fan in % and RPM, clocks in MHz,
    ``timestamp`` is ``time.time()`` when the reading was taken.
    """

    index: int
    vendor: str
    name: str
    timestamp: float
    utilization: float | None = None
    memory_used_gb: float | None = None
    memory_total_gb: float | None = None
    memory_percent: float | None = None
    temperature_c: float | None = None
    temperature_hotspot_c: float | None = None
    temperature_memory_c: float | None = None
    power_w: float | None = None
    power_limit_w: float | None = None
    fan_percent: float | None = None
    fan_rpm: float | None = None
    clock_graphics_mhz: float | None = None
    clock_memory_mhz: float | None = None
    clock_fclk_mhz: float | None = None
    clock_socclk_mhz: float | None = None
    perf_state: str | None = None

    def as_dict(self) -> dict[str, Any]:
        """All fields as a plain dict (``None`` kept), e.g. for JSON."""
        return dataclasses.asdict(self)


_VALUE_FIELDS = frozenset(f.name for f in dataclasses.fields(GpuSample)) - {
    "index", "vendor", "name", "timestamp"}


def make_sample(index: int, vendor: str, name: str, timestamp: float,
                **values: Any) -> GpuSample:
    """Build a sample; derives ``memory_percent`` from used/total if absent.

    Unknown keys are dropped, so a backend can never make this raise.
    """
    values = {k: v for k, v in values.items() if k in _VALUE_FIELDS}
    used, total = values.get("memory_used_gb"), values.get("memory_total_gb")
    if values.get("memory_percent") is None and used is not None and total:
        values["memory_percent"] = used / total * 100.0
    return GpuSample(index=index, vendor=vendor, name=name, timestamp=timestamp,
                     **values)


def fmt(value: Any, unit: str = "", digits: int = 1) -> str:
    """Format one GPU value for display: ``"N/A"`` for ``None``.

    Numbers get ``digits`` decimals (``digits=0`` rounds to an integer), then
    ``unit`` is appended verbatim (so pass ``" MHz"`` or ``"%"``).  Strings are
    shown as they are.  This is the one place that decides how missing values
    look on screen.
    """
    if value is None:
        return "N/A"
    if isinstance(value, str):
        return value + unit
    if isinstance(value, bool):
        return str(value) + unit
    try:
        return f"{float(value):.{max(0, int(digits))}f}{unit}"
    except (TypeError, ValueError):
        return str(value) + unit


# GpuSample field -> metric name, in the seed's order.
METRIC_FIELDS: tuple[tuple[str, str], ...] = (
    ("utilization", "utilization"),
    ("memory_used_gb", "memory_used_gb"),
    ("memory_percent", "memory_percent"),
    ("temperature_c", "temperature_c"),
    ("power_w", "power_w"),
    ("clock_graphics_mhz", "clock_graphics_mhz"),
    ("clock_memory_mhz", "clock_memory_mhz"),
    ("clock_fclk_mhz", "clock_fclk_mhz"),
    ("clock_socclk_mhz", "clock_socclk_mhz"),
    ("fan_percent", "fan_speed"),
    ("fan_rpm", "fan_rpm"),
    ("perf_state", "perf_state"),
)


def metric_prefix(index: int) -> str:
    """``"gpu/"`` for GPU 0, ``"gpu<N>/"`` for the others."""
    return "gpu/" if index == 0 else f"gpu{index}/"


def to_metrics(samples: Iterable[GpuSample]) -> dict[str, float | str]:
    """Map samples to tracker keys (``gpu/utilization``, ``gpu1/power_w``...).

    The prefix comes from each sample's ``index``; ``None`` values are left out;
    numbers are floats and ``perf_state`` stays a string.
    """
    out: dict[str, float | str] = {}
    for s in samples:
        prefix = metric_prefix(s.index)
        for field, key in METRIC_FIELDS:
            v = getattr(s, field)
            if v is None:
                continue
            out[prefix + key] = v if isinstance(v, str) else float(v)
    return out
