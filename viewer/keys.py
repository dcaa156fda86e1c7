"""The metric-key roles the viewer reads (their spellings live in :mod:`ktrack.keys`) and GPU spellings.

GPU values (``--gpu-db``): each field of :data:`GPU_FIELDS` is read from the
first of its spellings that a run logged, so AdamWPrune's averaged keys
(``gpu/compute_util_avg``, ``gpu/memory_used_avg_gb``...) and Trackio's own
system metrics (``gpu/0/temp``, ``gpu/0/allocated_memory``...) show as the
report's ``GPU Utilization``, ``Memory Usage``...
"""
from __future__ import annotations

from ktrack.keys import ITERATION_KEYS, LR_KEYS, SPARSITY_KEYS, TRAIN_LOSS_KEYS, VAL_LOSS_KEYS

ALIASES: dict[str, tuple[str, ...]] = {
    "loss": TRAIN_LOSS_KEYS + VAL_LOSS_KEYS,
    "val_loss": VAL_LOSS_KEYS,
    "lr": LR_KEYS,
    "sparsity": SPARSITY_KEYS,
    "iteration": ITERATION_KEYS,
}

# GPU field (the report's label) -> the metric names that hold it, first found wins.
GPU_FIELDS: dict[str, tuple[str, ...]] = {
    "utilization": ("utilization", "compute_util_avg", "utilization_avg", "gpu_util"),
    "memory_used_gb": ("memory_used_gb", "memory_used_avg_gb", "memory_used_avg", "allocated_memory"),
    "memory_percent": ("memory_percent",),
    "temperature_c": ("temperature_c", "temperature_avg", "temperature", "temp"),
    "power_w": ("power_w", "power_avg_w", "power_avg", "power"),
    "clock_graphics_mhz": ("clock_graphics_mhz", "sm_clock"),
    "clock_memory_mhz": ("clock_memory_mhz", "memory_clock"),
    "clock_fclk_mhz": ("clock_fclk_mhz",),
    "clock_socclk_mhz": ("clock_socclk_mhz",),
}


def pick(role: str, present: set[str] | list[str]) -> str | None:
    """Return the first alias of ``role`` found in ``present``, or None."""
    have = set(present)
    return next((key for key in ALIASES[role] if key in have), None)


def gpu_field(field: str, prefix: str, present: set[str] | list[str] | dict[str, object]) -> str | None:
    """The logged key (``prefix`` + spelling) that holds GPU ``field``, or None."""
    have = set(present)
    return next((prefix + name for name in GPU_FIELDS.get(field, (field,)) if prefix + name in have), None)

