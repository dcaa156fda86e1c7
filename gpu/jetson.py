"""NVIDIA Jetson (Tegra) GPUs through sysfs, with ``tegrastats`` as fallback.

Found by name, not by board address: the GPU devfreq node is the entry of
``/sys/class/devfreq`` whose name ends in a Tegra GPU name (``ga10b``,
``gv11b``, ``gp10b``, ``gm20b``, ``gpu``); its ``device/load`` is the load in
tenths of a percent and ``cur_freq`` the clock in Hz.  The temperature is the
thermal zone whose ``type`` starts with ``gpu``; power is the INA3221 rail
whose label names the GPU.  Memory is the RAM the GPU shares with the CPU.
"""
from __future__ import annotations

import re
from typing import Any

from . import hwmon, sysfs
from .device import BaseDevice
from .tegrastats import TegrastatsReader

GPU_NAMES = ("ga10b", "gv11b", "gp10b", "gm20b", "gpu")
_DEVFREQ = "/sys/class/devfreq"
_IN_LABEL = re.compile(r"^in(\d+)_label$")
_RAIL_NAME = re.compile(r"^rail_name_(\d+)$")


def find_devfreq() -> str | None:
    """Path of the GPU's devfreq directory, or ``None`` when not a Jetson."""
    for entry in sysfs.listdir(_DEVFREQ):
        if entry.lower().split(".")[-1] in GPU_NAMES:
            return f"{_DEVFREQ}/{entry}"
    return None


def _thermal_zone() -> str | None:
    """``temp`` file of the thermal zone whose ``type`` starts with ``gpu``."""
    base = "/sys/class/thermal"
    for zone in sysfs.listdir(base):
        if zone.startswith("thermal_zone"):
            kind = (sysfs.read(f"{base}/{zone}/type") or "").lower()
            if kind.startswith("gpu"):
                return f"{base}/{zone}/temp"
    return None


def _power_rail() -> tuple[str, str | None, str | None] | None:
    """The GPU power rail: ``("hwmon", mV file, mA file)`` or ``("iio", mW file, None)``."""
    for drv in ("ina3221", "ina3221x"):
        base = f"/sys/bus/i2c/drivers/{drv}"
        for addr in sysfs.listdir(base):
            dev = f"{base}/{addr}"
            hw = hwmon.find(dev)
            for entry in sysfs.listdir(hw) if hw else []:
                m = _IN_LABEL.match(entry)
                if m and "GPU" in (sysfs.read(f"{hw}/{entry}") or "").upper():
                    n = m.group(1)
                    return "hwmon", f"{hw}/in{n}_input", f"{hw}/curr{n}_input"
            for sub in sysfs.listdir(dev):
                if not sub.startswith("iio:device"):
                    continue
                for entry in sysfs.listdir(f"{dev}/{sub}"):
                    m = _RAIL_NAME.match(entry)
                    if m and "GPU" in (sysfs.read(f"{dev}/{sub}/{entry}") or "").upper():
                        return "iio", f"{dev}/{sub}/in_power{m.group(1)}_input", None
    return None


def board_name() -> str:
    """Board model from ``/proc/device-tree/model`` (NUL-terminated), else ``NVIDIA Jetson``."""
    model = (sysfs.read("/proc/device-tree/model") or "").replace("\x00", "").strip()
    return model or "NVIDIA Jetson"


class JetsonDevice(BaseDevice):
    """The integrated GPU of a Jetson board."""

    vendor = "jetson"

    def __init__(self, index: int, devfreq: str) -> None:
        super().__init__(index, board_name())
        self.devfreq = devfreq
        self._load = devfreq + "/device/load"
        for alt in ("/sys/devices/platform/gpu.0/load", "/sys/devices/gpu.0/load"):
            if sysfs.read(self._load) is None and sysfs.read(alt) is not None:
                self._load = alt
        self._temp = _thermal_zone()
        self._rail = _power_rail()
        self._tegrastats: TegrastatsReader | None = None
        if sysfs.read(self._load) is None and TegrastatsReader.available():
            self._tegrastats = TegrastatsReader()

    def utilization(self) -> float | None:
        """GPU load in % (``<devfreq>/device/load``, tenths of a percent)."""
        v = sysfs.read_int(self._load)
        return v / 10.0 if v is not None else None

    def clock_graphics_mhz(self) -> float | None:
        """GPU clock in MHz (``<devfreq>/cur_freq``, Hz)."""
        v = sysfs.read_int(self.devfreq + "/cur_freq")
        return v / 1e6 if v is not None else None

    def temperature_c(self) -> float | None:
        """GPU temperature in °C (``/sys/class/thermal/thermal_zone*/temp`` of type ``gpu-thermal``, m°C)."""
        v = sysfs.read_int(self._temp) if self._temp else None
        return v / 1000.0 if v is not None else None

    def power_w(self) -> float | None:
        """GPU rail power in W (INA3221 hwmon ``inN_input`` mV × ``currN_input`` mA, or iio ``in_powerN_input`` mW)."""
        if not self._rail:
            return None
        kind, a, b = self._rail
        if kind == "iio":
            mw = sysfs.read_int(a) if a else None
            return mw / 1000.0 if mw is not None else None
        mv = sysfs.read_int(a) if a else None
        ma = sysfs.read_int(b) if b else None
        return mv * ma / 1e6 if mv is not None and ma is not None else None

    def _shared_memory_gb(self) -> tuple[float | None, float | None]:
        """Used and total RAM shared with the GPU in GB (``/proc/meminfo`` MemTotal − MemAvailable, kB)."""
        info: dict[str, int] = {}
        for line in (sysfs.read("/proc/meminfo") or "").splitlines():
            key, _, rest = line.partition(":")
            parts = rest.split()
            if parts and parts[0].isdigit():
                info[key] = int(parts[0])
        total, avail = info.get("MemTotal"), info.get("MemAvailable")
        if not total:
            return None, None
        used = (total - avail) / 1024.0 ** 2 if avail is not None else None
        return used, total / 1024.0 ** 2

    def _read(self) -> dict[str, Any]:
        used, total = self._shared_memory_gb()
        out: dict[str, Any] = {
            "utilization": self.utilization(),
            "clock_graphics_mhz": self.clock_graphics_mhz(),
            "temperature_c": self.temperature_c(),
            "power_w": self.power_w(),
            "memory_used_gb": used, "memory_total_gb": total,
        }
        if self._tegrastats is not None:
            for key, value in self._tegrastats.latest().items():
                if key != "rails" and out.get(key) is None:
                    out[key] = value
        return out
