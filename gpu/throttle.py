"""Throttle reasons: one vocabulary for every vendor.

A sample's ``throttle`` is a comma list of these names, in this order, each
once: ``power`` (a software power cap: NVML SwPowerCap, Intel PL1/PL2),
``current`` (a current limit: Intel PL4/ICCmax), ``thermal`` (NVML
SwThermalSlowdown, Intel thermal/RATL), ``hw_thermal`` (NVML
HwThermalSlowdown), ``hw_slowdown`` (NVML HwSlowdown), ``power_brake``
(NVML HwPowerBrakeSlowdown), ``board_limit``, ``reliability`` (NVML),
``prochot`` (Intel PROCHOT#), ``vr_thermal``, ``vr_current`` (Intel voltage
regulator alerts), ``other`` (throttled, no reason named).  Clock reductions that are no limit (idle, application
clocks, display clock, sync boost) are not reported.
"""
from __future__ import annotations

from typing import Iterable

REASONS = ("power", "current", "thermal", "hw_thermal", "hw_slowdown", "power_brake",
           "board_limit", "reliability", "prochot", "vr_thermal", "vr_current", "other")

# nvmlClocksEventReason* / nvmlClocksThrottleReason* bits (nvml.h).
NVML_BITS: dict[int, str] = {
    0x0004: "power",          # SwPowerCap
    0x0008: "hw_slowdown",    # HwSlowdown
    0x0020: "thermal",        # SwThermalSlowdown
    0x0040: "hw_thermal",     # HwThermalSlowdown
    0x0080: "power_brake",    # HwPowerBrakeSlowdown
    0x0200: "board_limit",    # BoardLimit
    0x0400: "reliability",    # Reliability
}

# Intel reason files: i915 ``gt/gt0/throttle_reason_<r>``, xe ``freq0/throttle/reason_<r>``.
INTEL_FILES: dict[str, str] = {
    "pl1": "power", "pl2": "power", "pl4": "current", "thermal": "thermal", "ratl": "thermal",
    "prochot": "prochot", "vr_thermalert": "vr_thermal", "vr_tdc": "vr_current",
}


def join(reasons: Iterable[str]) -> str:
    """The comma list of ``reasons`` in :data:`REASONS` order, each once (``""`` for none)."""
    active = set(reasons)
    return ",".join(r for r in REASONS if r in active)


def from_nvml_mask(mask: int) -> str:
    """Reasons named by an NVML clocks-event bit mask (unknown bits ignored)."""
    return join(name for bit, name in NVML_BITS.items() if mask & bit)
