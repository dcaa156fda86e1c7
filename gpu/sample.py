"""The sample record, the one value formatter and the tracker key mappings."""
from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Any, Iterable

from .fields import RANGES, SERIES, STRING_FIELDS, VALUE_FIELDS, format_key, plausible, prefix


@dataclass(frozen=True)
class GpuSample:
    """One reading of one GPU.  Any value the hardware lacks is ``None``.

    Units: ``utilization`` and ``*_percent`` in %, memory in GB (2**30 bytes),
    temperatures in °C, power in W, fan in % and RPM, clocks in MHz,
    ``energy_j`` in J (the device's own cumulative energy counter, counted
    from an arbitrary origin such as driver load), ``timestamp`` is
    ``time.time()`` when the reading was taken.  ``throttle`` is a comma list
    of the active throttle reasons (``"thermal,power"``), ``""`` when the
    device says there is none, ``None`` when it cannot tell.
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
    energy_j: float | None = None
    perf_state: str | None = None
    throttle: str | None = None

    def as_dict(self) -> dict[str, Any]:
        """All fields as a plain dict (``None`` kept), e.g. for JSON."""
        return dataclasses.asdict(self)



def _text(value: Any) -> str | None:
    """A string field's value: printable text, else ``None``."""
    if not isinstance(value, str):
        return None
    return value if value.isprintable() else None


def make_sample(index: int, vendor: str, name: str, timestamp: float,
                **values: Any) -> GpuSample:
    """Build a sample from a backend's readings, keeping only plausible values.

    Each number passes :func:`gpu.fields.plausible` (else ``None``); string
    fields keep printable text only.  ``memory_percent`` is derived from
    used/total when absent.  Raises ``TypeError`` naming any key that is not
    a sample field, so a misspelt backend field fails its test instead of
    silently reading as ``None``.
    """
    unknown = sorted(set(values) - set(VALUE_FIELDS))
    if unknown:
        raise TypeError(f"unknown GPU sample field(s): {', '.join(unknown)}; "
                        f"fields are {', '.join(VALUE_FIELDS)}")
    clean: dict[str, Any] = {}
    for field, value in values.items():
        clean[field] = plausible(field, value) if field in RANGES else _text(value)
    used, total = clean.get("memory_used_gb"), clean.get("memory_total_gb")
    if clean.get("memory_percent") is None and used is not None and total:
        clean["memory_percent"] = plausible("memory_percent", used / total * 100.0)
    return GpuSample(index=index, vendor=vendor, name=name, timestamp=timestamp, **clean)


def fmt(value: Any, unit: str = "", digits: int = 1) -> str:
    """Format one GPU value for display: ``"N/A"`` for ``None``, NaN or ±inf.

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
        v = float(value)
    except (TypeError, ValueError, OverflowError):
        return str(value) + unit
    if not math.isfinite(v):
        return "N/A"
    text = f"{v:.{max(0, int(digits))}f}"
    if text.startswith("-") and float(text) == 0.0:
        text = text[1:]                       # -0.001 °C rounds to "0", not "-0"
    return text + unit


# String fields for a run's config or summary: the GPU's identity, then the table's text fields.
INFO_FIELDS = ("name", "vendor") + STRING_FIELDS


def to_metrics(samples: Iterable[GpuSample]) -> dict[str, float]:
    """Map samples to numeric tracker keys (``gpu/utilization``, ``gpu1/power_w``...).

    The prefix comes from each sample's ``index``; ``None`` values are left
    out; every value is a float.  Strings are in :func:`to_info`.  The energy
    counter is not a series: see :meth:`gpu.Sampler.energy_wh`.
    """
    out: dict[str, float] = {}
    for s in samples:
        start = prefix(s.index)
        out.update({start + f.key: float(v) for f in SERIES if (v := getattr(s, f.name)) is not None})
    return out


def series(s: GpuSample) -> dict[str, float]:
    """The numeric fields of ``s`` that are logged as series, by field name; ``None`` values left out."""
    return {f.name: float(v) for f in SERIES if (v := getattr(s, f.name)) is not None}


def to_info(samples: Iterable[GpuSample]) -> dict[str, str]:
    """The string fields (``gpu/name``, ``gpu/vendor``, ``gpu1/perf_state``, ``gpu/throttle``...).

    Same prefixes as :func:`to_metrics`; ``None`` values are left out (an
    empty ``throttle`` means "not throttled" and is kept).
    """
    out: dict[str, str] = {}
    for s in samples:
        for field in INFO_FIELDS:
            v = getattr(s, field)
            if v is not None:
                out[format_key(field, s.index)] = str(v)
    return out
