"""Intel GPUs (i915 and xe drivers) through sysfs and DRM fdinfo.

Frequencies come from sysfs (i915: ``cardN/gt_act_freq_mhz``; xe:
``cardN/device/tile*/gt*/freq0/act_freq``), power from the hwmon energy
counter's change between two samples, the name from the PCI id, utilization
from DRM fdinfo engine counters (see :mod:`gpu.fdinfo`).  Intel sysfs has no
VRAM usage or performance state, so those stay ``None``.
"""
from __future__ import annotations

import time
from typing import Any

from . import fdinfo, hwmon, pciids, sysfs
from .device import Device

VENDOR_ID = 0x8086


def _xe_gt_dir(dev: str) -> str | None:
    """First ``tile*/gt*`` directory of an xe device that has ``freq0``."""
    for tile in sysfs.listdir(dev):
        if not tile.startswith("tile"):
            continue
        for gt in sysfs.listdir(f"{dev}/{tile}"):
            if gt.startswith("gt") and sysfs.isdir(f"{dev}/{tile}/{gt}/freq0"):
                return f"{dev}/{tile}/{gt}"
    return None


def _pci_slot(dev: str) -> str | None:
    """PCI address (``0000:03:00.0``) from ``device/uevent`` ``PCI_SLOT_NAME``."""
    for line in (sysfs.read(dev + "/uevent") or "").splitlines():
        if line.startswith("PCI_SLOT_NAME="):
            return line.split("=", 1)[1].strip()
    return None


class IntelDevice(Device):
    """An i915 or xe card; ``card`` is ``/sys/class/drm/cardN``."""

    vendor = "intel"

    def __init__(self, index: int, card: str) -> None:
        self.card = card
        self.dev = dev = card + "/device"
        super().__init__(index, pciids.name_for(VENDOR_ID, sysfs.read_int(dev + "/device")))
        gt = _xe_gt_dir(dev)
        self.driver = "xe" if gt else "i915"
        if gt:
            self._act = f"{gt}/freq0/act_freq"
            self._cur = f"{gt}/freq0/cur_freq"
        else:
            self._act = card + "/gt_act_freq_mhz"
            self._cur = card + "/gt_cur_freq_mhz"
        hw = hwmon.find(dev)
        self._temps = hwmon.temperature_files(hw)
        self._energy = hwmon.first_existing(hw, "energy1_input", "energy2_input")
        self._limit = hwmon.first_existing(hw, "power1_max", "power2_max")
        self._fan_rpm = hwmon.first_existing(hw, "fan1_input")
        self._usage = fdinfo.DrmUsage(_pci_slot(dev))
        self._prev_energy: tuple[float, int] | None = None
        self.power_watts()        # prime the counter so the first sample has a delta
        self._usage.utilization()

    def clock_graphics_mhz(self) -> float | None:
        """Actual GT frequency in MHz (i915 ``gt_act_freq_mhz``, xe ``freq0/act_freq``).

        An idle GT reports 0 for the actual frequency; the requested
        frequency (``gt_cur_freq_mhz``/``cur_freq``) is used then.
        """
        act = sysfs.read_float(self._act)
        if not act:
            cur = sysfs.read_float(self._cur)
            return cur if cur is not None else act
        return act

    def power_watts(self) -> float | None:
        """Average power in W since the last call (hwmon ``energy1_input``, µJ, delta / time)."""
        if not self._energy:
            return None
        uj = sysfs.read_int(self._energy)
        now = time.monotonic()
        prev, self._prev_energy = self._prev_energy, (now, uj) if uj is not None else None
        if prev is None or uj is None or now <= prev[0] or uj < prev[1]:
            return None
        return (uj - prev[1]) / 1e6 / (now - prev[0])

    def power_limit_watts(self) -> float | None:
        """Power limit in W (hwmon ``power1_max``, µW; 0 means none)."""
        v = sysfs.read_int(self._limit) if self._limit else None
        return v / 1e6 if v else None

    def fan_rpm(self) -> float | None:
        """Fan speed in RPM (hwmon ``fan1_input``), where the board reports it."""
        v = sysfs.read_int(self._fan_rpm) if self._fan_rpm else None
        return float(v) if v is not None else None

    def _read(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "utilization": self._usage.utilization(),
            "clock_graphics_mhz": self.clock_graphics_mhz(),
            "power_w": self.power_watts(),
            "power_limit_w": self.power_limit_watts(),
            "fan_rpm": self.fan_rpm(),
        }
        out.update(hwmon.read_temperatures(self._temps))
        return out
