"""GPU hardware metrics for NVIDIA (NVML and Jetson), AMD and Intel.

    import gpu
    for dev in gpu.discover():
        print(gpu.render_once([dev.sample()]))
    with gpu.Sampler(interval=1.0) as s:
        metrics = gpu.to_metrics(s.latest())   # numbers: gpu/utilization, gpu1/power_w...
        info = gpu.to_info(s.latest())         # strings: gpu/name, gpu/perf_state...
    energy = s.energy_wh()                     # {0: 1.25, 1: 0.5} Wh per GPU

Every sysfs path is read under ``KTRACK_SYSFS_ROOT`` (default ``/``).
"""
from __future__ import annotations

from .device import BaseDevice, Device
from .discover import checked, discover
from .render import render_once
from .sample import GpuSample, fmt, to_info, to_metrics
from .sampler import Sampler

__all__ = ["BaseDevice", "Device", "GpuSample", "Sampler", "checked", "discover", "fmt", "render_once",
           "to_info", "to_metrics"]
