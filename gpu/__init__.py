"""GPU hardware metrics for NVIDIA (NVML and Jetson), AMD and Intel.

    import gpu
    for dev in gpu.discover():
        print(gpu.render_once([dev.sample()]))
    with gpu.Sampler(interval=1.0) as s:
        metrics = gpu.to_metrics(s.latest())

Every sysfs path is read under ``KTRACK_SYSFS_ROOT`` (default ``/``).
"""
from __future__ import annotations

from .device import Device
from .discover import checked, discover
from .render import render_once
from .sample import GpuSample, fmt, to_metrics
from .sampler import Sampler

__all__ = ["Device", "GpuSample", "Sampler", "checked", "discover", "fmt", "render_once",
           "to_metrics"]
