"""Hardware metric names in each tracker's own system-metrics vocabulary.

ktrack's keys are ``gpu/<field>`` (first GPU) and ``gpu<N>/<field>``, with the
fields of ``gpu.GpuSample``; a multi-node job's are ``gpu/<node>/<N>/<field>``
(:mod:`trackers.nodes`), which become ``gpu/<node>/<N>/<name>`` for Trackio and
``gpu.<node>.<N>.<name>`` for W&B. Trackio's own GPU logging writes
``gpu/<N>/<name>`` into ``system_metrics`` and W&B's system monitor
``gpu.<N>.<name>``; where a tracker has a name for a field (and charts or
reports it), that name is used, scaled to its unit; other fields keep
ktrack's name under the tracker's GPU prefix. Keys that are not GPU keys pass
through (``/`` becomes ``.`` for W&B).
"""

from __future__ import annotations

import re

GIB = 1024.0 ** 3
_GPU_KEY = re.compile(r"^gpu(\d*)/([^/]+)$")
_NODE_GPU_KEY = re.compile(r"^gpu/([^/]*[^/\d][^/]*)/(\d+)/([^/]+)$")  # a node name is never all digits

#: ktrack field -> (Trackio name, scale)
TRACKIO_NAMES: dict[str, tuple[str, float]] = {
    "utilization": ("utilization", 1.0),
    "memory_used_gb": ("allocated_memory", 1.0),
    "memory_total_gb": ("total_memory", 1.0),
    "memory_percent": ("memory_usage", 0.01),  # Trackio: a fraction
    "temperature_c": ("temp", 1.0),
    "power_w": ("power", 1.0),
    "power_limit_w": ("power_limit", 1.0),
    "clock_graphics_mhz": ("sm_clock", 1.0),
    "clock_memory_mhz": ("memory_clock", 1.0),
    "fan_percent": ("fan_speed", 1.0),
    "fan_speed": ("fan_speed", 1.0),
    "energy_j": ("energy_consumed", 1.0),
}

#: ktrack field -> (W&B name, scale)
WANDB_NAMES: dict[str, tuple[str, float]] = {
    "utilization": ("gpu", 1.0),
    "memory_used_gb": ("memoryAllocatedBytes", GIB),
    "memory_percent": ("memoryAllocated", 1.0),
    "temperature_c": ("temp", 1.0),
    "power_w": ("powerWatts", 1.0),
    "power_limit_w": ("enforcedPowerLimitWatts", 1.0),
    "clock_graphics_mhz": ("graphicsClock", 1.0),
    "clock_memory_mhz": ("memoryClock", 1.0),
    "fan_percent": ("fanSpeed", 1.0),
    "fan_speed": ("fanSpeed", 1.0),
    "energy_j": ("energyJoules", 1.0),
}


def split_gpu_key(key: str) -> tuple[int, str] | None:
    """``"gpu1/power_w"`` -> ``(1, "power_w")``; ``"gpu/x"`` -> ``(0, "x")``; None for other keys."""
    m = _GPU_KEY.match(key)
    if m is None:
        return None
    return (int(m.group(1)) if m.group(1) else 0), m.group(2)


def split_node_gpu_key(key: str) -> tuple[str, int, str] | None:
    """``"gpu/a/1/power_w"`` -> ``("a", 1, "power_w")``; None for other keys."""
    m = _NODE_GPU_KEY.match(key)
    return (m.group(1), int(m.group(2)), m.group(3)) if m else None


def _rename(metrics: dict[str, float], names: dict[str, tuple[str, float]], sep: str) -> dict[str, float]:
    out: dict[str, float] = {}
    for key, value in metrics.items():
        on_node = split_node_gpu_key(key)
        if on_node is not None:
            node, index, field = on_node
            name, scale = names.get(field, (field, 1.0))
            out[f"gpu{sep}{node}{sep}{index}{sep}{name}"] = value * scale
            continue
        gpu = split_gpu_key(key)
        if gpu is None:
            out[key if sep == "/" else key.replace("/", sep)] = value
            continue
        index, field = gpu
        name, scale = names.get(field, (field, 1.0))
        out[f"gpu{sep}{index}{sep}{name}"] = value * scale
    return out


def trackio_system_metrics(metrics: dict[str, float]) -> dict[str, float]:
    """ktrack's hardware keys as Trackio's ``system_metrics`` names them (``gpu/0/temp`` ...)."""
    return _rename(metrics, TRACKIO_NAMES, "/")


def wandb_system_metrics(metrics: dict[str, float]) -> dict[str, float]:
    """ktrack's hardware keys as W&B's system monitor names them (``gpu.0.temp`` ...)."""
    return _rename(metrics, WANDB_NAMES, ".")
