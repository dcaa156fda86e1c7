"""AMD GPUs through amdgpu sysfs: ``/sys/class/drm/card*/device``.

Discovery resolves which value files exist (hwmon directory, labelled
temperature inputs, power file); :meth:`AmdDevice.sample` then only reads them.
amdgpu sysfs has no energy counter (energy comes from integrated power) and no
plain-text throttle reasons, so ``energy_j`` and ``throttle`` stay ``None``.
"""
from __future__ import annotations

import re
from typing import Any

from . import hwmon, pciids, sysfs
from .device import BaseDevice
from .fields import GIB

VENDOR_ID = 0x1002
UW_PER_W = 1e6
HZ_PER_MHZ = 1e6
_DPM_RE = re.compile(r"(\d+(?:\.\d+)?)\s*mhz", re.IGNORECASE)


def parse_dpm(text: str | None) -> float | None:
    """Current level of a ``pp_dpm_*`` table: the line marked ``*``, in MHz.

    Example line: ``1: 2162Mhz *``.  ``None`` if no line is marked or the
    text is garbage.
    """
    if not text:
        return None
    for line in text.splitlines():
        if line.rstrip().endswith("*"):
            m = _DPM_RE.search(line)
            return float(m.group(1)) if m else None
    return None


class AmdDevice(BaseDevice):
    """An amdgpu card; ``card`` is ``/sys/class/drm/cardN``."""

    vendor = "amd"

    def __init__(self, index: int, card: str) -> None:
        self.card = card
        self.dev = dev = card + "/device"
        product = sysfs.read(dev + "/product_name")
        name = product or pciids.name_for(VENDOR_ID, sysfs.read_int(dev + "/device"))
        super().__init__(index, name)
        hw = hwmon.find(dev)
        self._temps = hwmon.temperature_files(hw)
        self._power = hwmon.first_existing(hw, "power1_average", "power1_input")
        self._power_cap = hwmon.first_existing(hw, "power1_cap")
        self._fan_rpm = hwmon.first_existing(hw, "fan1_input")
        self._fan_max = hwmon.first_existing(hw, "fan1_max")
        self._pwm = hwmon.first_existing(hw, "pwm1")
        self._pwm_max = hwmon.first_existing(hw, "pwm1_max")
        self._freq = {}
        for n in ("1", "2"):
            label = sysfs.read(f"{hw}/freq{n}_label") if hw else None
            if label in ("sclk", "mclk"):
                self._freq[label] = f"{hw}/freq{n}_input"

    def utilization(self) -> float | None:
        """GPU utilization in % (``device/gpu_busy_percent``)."""
        return sysfs.read_float(self.dev + "/gpu_busy_percent")

    def _vram_bytes(self) -> tuple[int | None, int | None]:
        """VRAM (used, total) in bytes (``mem_info_vram_used``, ``mem_info_vram_total``)."""
        return (sysfs.read_int(self.dev + "/mem_info_vram_used"),
                sysfs.read_int(self.dev + "/mem_info_vram_total"))

    def power_w(self) -> float | None:
        """Power draw in W (hwmon ``power1_average``, else ``power1_input``; µW)."""
        draw = sysfs.read_int(self._power) if self._power else None
        return draw / UW_PER_W if draw is not None else None

    def power_limit_w(self) -> float | None:
        """Power cap in W (hwmon ``power1_cap``, µW; 0 means none)."""
        cap = sysfs.read_int(self._power_cap) if self._power_cap else None
        return cap / UW_PER_W if cap else None

    def fan_rpm(self) -> float | None:
        """Fan speed in RPM (hwmon ``fan1_input``)."""
        rpm = sysfs.read_int(self._fan_rpm) if self._fan_rpm else None
        return float(rpm) if rpm is not None else None

    def fan_percent(self, rpm: float | None = None) -> float | None:
        """Fan speed in % (hwmon ``pwm1``/``pwm1_max``, else ``fan1_input``/``fan1_max``).

        The PWM range is read from ``pwm1_max``, never assumed; ``rpm`` is a
        ``fan1_input`` reading already taken, for the fallback.
        """
        if self._pwm and self._pwm_max:
            pwm, top = sysfs.read_int(self._pwm), sysfs.read_int(self._pwm_max)
            if pwm is not None and top:
                return pwm / top * 100.0
        if self._fan_max:
            rpm = rpm if rpm is not None else self.fan_rpm()
            top = sysfs.read_int(self._fan_max)
            if rpm is not None and top:
                return rpm / top * 100.0
        return None

    def _clock(self, domain: str) -> float | None:
        """Current clock in MHz of ``sclk|mclk|fclk|socclk`` (``pp_dpm_<domain>``, level marked ``*``).

        Falls back to hwmon ``freqN_input`` (Hz) labelled ``sclk``/``mclk``.
        """
        v = parse_dpm(sysfs.read(f"{self.dev}/pp_dpm_{domain}"))
        if v is None and domain in self._freq:
            hz = sysfs.read_int(self._freq[domain])
            v = hz / HZ_PER_MHZ if hz is not None else None
        return v

    def clock_graphics_mhz(self) -> float | None:
        """Shader clock in MHz (``pp_dpm_sclk``)."""
        return self._clock("sclk")

    def clock_memory_mhz(self) -> float | None:
        """Memory clock in MHz (``pp_dpm_mclk``)."""
        return self._clock("mclk")

    def clock_fclk_mhz(self) -> float | None:
        """Fabric clock in MHz (``pp_dpm_fclk``)."""
        return self._clock("fclk")

    def clock_socclk_mhz(self) -> float | None:
        """SoC clock in MHz (``pp_dpm_socclk``)."""
        return self._clock("socclk")

    def perf_state(self) -> str | None:
        """Performance level string, e.g. ``auto`` (``power_dpm_force_performance_level``)."""
        return sysfs.read(self.dev + "/power_dpm_force_performance_level")

    def _read(self) -> dict[str, Any]:
        used, total = self._vram_bytes()
        rpm = self.fan_rpm()
        out: dict[str, Any] = {
            "utilization": self.utilization(),
            "memory_used_gb": used / GIB if used is not None else None,
            "memory_total_gb": total / GIB if total else None,
            "power_w": self.power_w(), "power_limit_w": self.power_limit_w(),
            "fan_percent": self.fan_percent(rpm), "fan_rpm": rpm,
            "clock_graphics_mhz": self.clock_graphics_mhz(),
            "clock_memory_mhz": self.clock_memory_mhz(),
            "clock_fclk_mhz": self.clock_fclk_mhz(),
            "clock_socclk_mhz": self.clock_socclk_mhz(),
            "perf_state": self.perf_state(),
        }
        out.update(hwmon.read_temperatures(self._temps))
        return out
