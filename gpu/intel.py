"""Intel GPUs (i915 and xe drivers) through sysfs and DRM fdinfo.

Frequencies come from sysfs (i915: ``cardN/gt_act_freq_mhz``; xe:
``cardN/device/tile*/gt*/freq0/act_freq``), power from the hwmon energy
counter's change between two samples (the counter itself is ``energy_j``),
throttle reasons from the GT's reason files (i915: ``cardN/gt/gt0/throttle_reason_*``;
xe: ``.../gt*/freq0/throttle/reason_*``), the name from the PCI id, utilization
from DRM fdinfo engine counters (see :mod:`gpu.fdinfo`).  Intel sysfs has no
VRAM usage or performance state, so those stay ``None``.
"""
from __future__ import annotations

import time
from typing import Any

from . import fdinfo, hwmon, pciids, sysfs, throttle
from .device import BaseDevice

VENDOR_ID = 0x8086
UJ_PER_J = 1e6
UW_PER_W = 1e6


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


def _throttle_files(card: str, gt: str | None) -> tuple[str | None, dict[str, str]]:
    """The GT's throttle status file and its reason files by reason name (i915 or xe layout)."""
    if gt:
        base, prefix, status = f"{gt}/freq0/throttle", "reason_", "status"
    else:
        base, prefix, status = f"{card}/gt/gt0", "throttle_reason_", "throttle_reason_status"
    present = set(sysfs.listdir(base))
    reasons = {f"{base}/{prefix}{key}": name for key, name in throttle.INTEL_FILES.items()
               if prefix + key in present}
    return (f"{base}/{status}" if status in present else None), reasons


class IntelDevice(BaseDevice):
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
        self._throttle_status, self._throttle_reasons = _throttle_files(card, gt)
        self._usage = fdinfo.DrmUsage(_pci_slot(dev))
        self._prev_energy: tuple[float, float] | None = None
        self.power_w()            # prime the counter so the first sample has a delta
        self._usage.utilization()

    def utilization(self) -> float | None:
        """Busiest engine's utilization in % since the previous sample (DRM fdinfo, see :mod:`gpu.fdinfo`)."""
        return self._usage.utilization()

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

    def energy_j(self) -> float | None:
        """Energy counter in J (hwmon ``energy1_input``, µJ)."""
        uj = sysfs.read_int(self._energy) if self._energy else None
        return uj / UJ_PER_J if uj is not None else None

    def _average_power(self, joules: float | None) -> float | None:
        """W since the previous counter reading; ``None`` first and after a wrap."""
        now = time.monotonic()
        prev, self._prev_energy = self._prev_energy, (now, joules) if joules is not None else None
        if prev is None or joules is None or now <= prev[0] or joules < prev[1]:
            return None
        return (joules - prev[1]) / (now - prev[0])

    def power_w(self) -> float | None:
        """Average power in W since the last reading (hwmon ``energy1_input`` delta / time)."""
        return self._average_power(self.energy_j())

    def power_limit_w(self) -> float | None:
        """Power limit in W (hwmon ``power1_max``, µW; 0 means none)."""
        v = sysfs.read_int(self._limit) if self._limit else None
        return v / UW_PER_W if v else None

    def fan_rpm(self) -> float | None:
        """Fan speed in RPM (hwmon ``fan1_input``), where the board reports it."""
        v = sysfs.read_int(self._fan_rpm) if self._fan_rpm else None
        return float(v) if v is not None else None

    def throttle(self) -> str | None:
        """Active throttle reasons (i915 ``gt/gt0/throttle_reason_*``, xe ``freq0/throttle/reason_*``; 0/1).

        ``""`` when the status file reads 0, ``other`` when it reads 1 but no
        known reason is set, ``None`` without readable reason files.
        """
        if not self._throttle_reasons and self._throttle_status is None:
            return None
        status = sysfs.read_int(self._throttle_status) if self._throttle_status else None
        if status == 0:
            return ""
        active, readable = [], status is not None
        for path, name in self._throttle_reasons.items():
            v = sysfs.read_int(path)
            if v is not None:
                readable = True
                if v:
                    active.append(name)
        if not readable:
            return None
        if not active and status:
            active.append("other")
        return throttle.join(active)

    def _read(self) -> dict[str, Any]:
        energy = self.energy_j()
        out: dict[str, Any] = {
            "utilization": self.utilization(),
            "clock_graphics_mhz": self.clock_graphics_mhz(),
            "power_w": self._average_power(energy),
            "power_limit_w": self.power_limit_w(),
            "energy_j": energy,
            "fan_rpm": self.fan_rpm(),
            "throttle": self.throttle(),
        }
        out.update(hwmon.read_temperatures(self._temps))
        return out
