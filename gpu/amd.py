"""AMD GPUs through amdgpu sysfs: ``/sys/class/drm/card*/device``.

Discovery resolves which value files exist (hwmon directory, labelled
temperature inputs, power file); :meth:`AmdDevice.sample` then only reads them.
"""
from __future__ import annotations

import re
from typing import Any

from . import hwmon, pciids, sysfs
from .device import Device
from .sample import GIB

VENDOR_ID = 0x1002
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


class AmdDevice(Device):
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

    def gpu_busy_percent(self) -> float | None:
        """GPU utilization in % (``device/gpu_busy_percent``)."""
        return sysfs.read_float(self.dev + "/gpu_busy_percent")

    def vram_bytes(self) -> tuple[int | None, int | None]:
        """VRAM (used, total) in bytes (``mem_info_vram_used``, ``mem_info_vram_total``)."""
        return (sysfs.read_int(self.dev + "/mem_info_vram_used"),
                sysfs.read_int(self.dev + "/mem_info_vram_total"))

    def power_watts(self) -> tuple[float | None, float | None]:
        """Power draw and cap in W (hwmon ``power1_average``|``power1_input``, ``power1_cap``; µW)."""
        draw = sysfs.read_int(self._power) if self._power else None
        cap = sysfs.read_int(self._power_cap) if self._power_cap else None
        return (draw / 1e6 if draw is not None else None,
                cap / 1e6 if cap else None)

    def fan(self) -> tuple[float | None, float | None]:
        """Fan speed in % and RPM (hwmon ``pwm1``/``pwm1_max``, ``fan1_input``).

        The PWM range is read from ``pwm1_max``, never assumed; without it
        the percentage comes from ``fan1_input``/``fan1_max``.
        """
        rpm = sysfs.read_int(self._fan_rpm) if self._fan_rpm else None
        pct = None
        if self._pwm and self._pwm_max:
            pwm, top = sysfs.read_int(self._pwm), sysfs.read_int(self._pwm_max)
            if pwm is not None and top:
                pct = pwm / top * 100.0
        if pct is None and rpm is not None and self._fan_max:
            top = sysfs.read_int(self._fan_max)
            if top:
                pct = rpm / top * 100.0
        return pct, (float(rpm) if rpm is not None else None)

    def clock_mhz(self, domain: str) -> float | None:
        """Current clock in MHz of ``sclk|mclk|fclk|socclk`` (``pp_dpm_<domain>``, level marked ``*``).

        Falls back to hwmon ``freqN_input`` (Hz) labelled ``sclk``/``mclk``.
        """
        v = parse_dpm(sysfs.read(f"{self.dev}/pp_dpm_{domain}"))
        if v is None and domain in self._freq:
            hz = sysfs.read_int(self._freq[domain])
            v = hz / 1e6 if hz is not None else None
        return v

    def perf_level(self) -> str | None:
        """Performance level string, e.g. ``auto`` (``power_dpm_force_performance_level``)."""
        return sysfs.read(self.dev + "/power_dpm_force_performance_level")

    def _read(self) -> dict[str, Any]:
        used, total = self.vram_bytes()
        power, cap = self.power_watts()
        fan_pct, fan_rpm = self.fan()
        out: dict[str, Any] = {
            "utilization": self.gpu_busy_percent(),
            "memory_used_gb": used / GIB if used is not None else None,
            "memory_total_gb": total / GIB if total else None,
            "power_w": power, "power_limit_w": cap,
            "fan_percent": fan_pct, "fan_rpm": fan_rpm,
            "clock_graphics_mhz": self.clock_mhz("sclk"),
            "clock_memory_mhz": self.clock_mhz("mclk"),
            "clock_fclk_mhz": self.clock_mhz("fclk"),
            "clock_socclk_mhz": self.clock_mhz("socclk"),
            "perf_state": self.perf_level(),
        }
        out.update(hwmon.read_temperatures(self._temps))
        return out
