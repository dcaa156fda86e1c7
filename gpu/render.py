"""Plain-text rendering of GPU samples (the ``trackio-view --gpu --once`` block)."""
from __future__ import annotations

from typing import Iterable

from .sample import GpuSample, fmt

RULE = "=" * 60


def _pair(a: float | None, b: float | None, sep: str, digits: int) -> str | None:
    """``a<sep>b`` when both exist, ``a`` alone when only it does, else ``None``."""
    if a is None:
        return None
    if b is None:
        return fmt(a, "", digits)
    return fmt(a, "", digits) + sep + fmt(b, "", digits)


def gpu_lines(s: GpuSample) -> list[str]:
    """The name line and the indented value lines of one GPU."""
    mem = _pair(s.memory_used_gb, s.memory_total_gb, "/", 1)
    if mem is not None:
        mem += " GB" + (f" ({fmt(s.memory_percent, '%')})" if s.memory_percent is not None else "")
    power = _pair(s.power_w, s.power_limit_w, "/", 0)
    if s.fan_percent is not None:
        fan = fmt(s.fan_percent, "%") + (f" ({fmt(s.fan_rpm, ' RPM', 0)})"
                                        if s.fan_rpm is not None else "")
    else:
        fan = fmt(s.fan_rpm, " RPM", 0)
    return [
        s.name,
        f"  Utilization: {fmt(s.utilization, '%')}",
        f"  Memory: {fmt(mem)}",
        f"  Temperature: {fmt(s.temperature_c, '°C', 0)}",
        f"  Power: {fmt(power, 'W' if power is not None else '')}",
        f"  Fan: {fan}",
        f"  GPU Clock: {fmt(s.clock_graphics_mhz, ' MHz', 0)}",
        f"  Mem Clock: {fmt(s.clock_memory_mhz, ' MHz', 0)}",
        f"  Perf State: {fmt(s.perf_state)}",
    ]


def render_once(samples: Iterable[GpuSample]) -> str:
    """The ``GPU Status`` block for ``samples`` (no trailing newline).

    A 60-character ``=`` rule, ``GPU Status``, another rule, then for each
    GPU a blank line, its name and its values; missing values show ``N/A``.
    """
    lines = [RULE, "GPU Status", RULE]
    samples = list(samples)
    for s in samples:
        lines.append("")
        lines.extend(gpu_lines(s))
    if not samples:
        lines.extend(["", "No GPUs found"])
    return "\n".join(lines)
