"""``--gpu``: live hardware status from the ``gpu`` package (helper G's)."""
from __future__ import annotations

from typing import Any

RULE = "=" * 60
DEG = "\u00b0C"


def load_gpu() -> Any:
    """Import the ``gpu`` package; raises ImportError with a one-line reason."""
    import gpu  # noqa: PLC0415

    return gpu


def sample_lines(s: Any) -> list[str]:
    """The indented status lines of one GpuSample (absent fields are skipped)."""
    out = [s.name]
    if s.utilization is not None:
        out.append(f"  Utilization: {s.utilization:.1f}%")
    if s.memory_used_gb is not None:
        total = f"/{s.memory_total_gb:.1f}" if s.memory_total_gb is not None else ""
        pct = f" ({s.memory_percent:.1f}%)" if s.memory_percent is not None else ""
        out.append(f"  Memory: {s.memory_used_gb:.1f}{total} GB{pct}")
    if s.temperature_c is not None:
        out.append(f"  Temperature: {s.temperature_c:.0f}{DEG}")
    if s.power_w is not None:
        limit = f"/{s.power_limit_w:.0f}" if s.power_limit_w is not None else ""
        out.append(f"  Power: {s.power_w:.0f}{limit}W")
    if s.fan_percent is not None or s.fan_rpm is not None:
        pct = f"{s.fan_percent:.1f}%" if s.fan_percent is not None else "N/A"
        rpm = f" ({s.fan_rpm:.0f} RPM)" if s.fan_rpm is not None else ""
        out.append(f"  Fan: {pct}{rpm}")
    if s.clock_graphics_mhz is not None:
        out.append(f"  GPU Clock: {s.clock_graphics_mhz:.0f} MHz")
    if s.clock_memory_mhz is not None:
        out.append(f"  Mem Clock: {s.clock_memory_mhz:.0f} MHz")
    if s.perf_state is not None:
        out.append(f"  Perf State: {s.perf_state}")
    return out


def render_once(devices: list[Any]) -> str:
    """The ``--gpu --once`` block.  Uses ``gpu.render_once`` when the gpu
    package provides it, so both tools print the same text."""
    gpu = load_gpu()
    if hasattr(gpu, "render_once"):
        return gpu.render_once([dev.sample() for dev in devices]).rstrip("\n")
    lines = [RULE, "GPU Status", RULE]
    if not devices:
        lines += ["", "No GPUs found"]
    for dev in devices:
        lines += [""] + sample_lines(dev.sample())
    return "\n".join(lines)
