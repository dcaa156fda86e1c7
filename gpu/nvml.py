"""NVIDIA GPUs through NVML (``nvidia-ml-py``, imported as ``pynvml``).

Every NVML call goes through :func:`query`, which imports and initialises the
library lazily and turns any NVML error into ``None``.  Each device remembers
which calls are not supported (or not permitted) and stops asking; a lost GPU
(``GpuIsLost``) gives empty samples from then on.  No library, no driver or
no devices means this backend finds nothing.
"""
from __future__ import annotations

import logging
import threading
from typing import Any, Callable

from .device import Device
from .sample import GIB

log = logging.getLogger(__name__)

_lock = threading.Lock()
_state: dict[str, Any] = {"lib": None, "tried": False}
_missing_logged: set[str] = set()

# NVML return codes (stable across releases; see nvml.h).
ERROR_NOT_SUPPORTED = 3
ERROR_NO_PERMISSION = 4
ERROR_FUNCTION_NOT_FOUND = 13
ERROR_GPU_IS_LOST = 15
_SKIP_AFTER = {ERROR_NOT_SUPPORTED, ERROR_NO_PERMISSION, ERROR_FUNCTION_NOT_FOUND}


def library() -> Any | None:
    """The initialised ``pynvml`` module, or ``None`` if it cannot be used."""
    if _state["tried"]:
        return _state["lib"]
    with _lock:
        if not _state["tried"]:
            try:
                import pynvml  # nvidia-ml-py
                pynvml.nvmlInit()
                _state["lib"] = pynvml
            except Exception as exc:  # ImportError, NVMLError_LibraryNotFound, ...
                log.debug("NVML unavailable: %s", exc)
            _state["tried"] = True
    return _state["lib"]


def reset() -> None:
    """Forget the initialised library (tests, or after ``nvmlShutdown``)."""
    with _lock:
        _state.update(lib=None, tried=False)


def query(func: str, *args: Any, on_error: Callable[[int | None], None] | None = None) -> Any:
    """Call ``pynvml.<func>(*args)``; ``None`` on any failure.

    A function missing from the installed binding is logged once.  On an
    NVML error ``on_error`` receives its return code (``NVMLError.value``).
    """
    lib = library()
    if lib is None:
        return None
    fn = getattr(lib, func, None)
    if fn is None:
        if func not in _missing_logged:
            _missing_logged.add(func)
            log.debug("NVML binding has no %s", func)
        if on_error:
            on_error(ERROR_FUNCTION_NOT_FOUND)
        return None
    try:
        return fn(*args)
    except Exception as exc:
        if on_error:
            on_error(getattr(exc, "value", None))
        return None


def _text(value: Any) -> str | None:
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return value if isinstance(value, str) else None


class NvmlDevice(Device):
    """One GPU as NVML numbers it (``nvmlDeviceGetHandleByIndex``)."""

    vendor = "nvidia"

    def __init__(self, index: int, nvml_index: int, handle: Any) -> None:
        self.nvml_index = nvml_index
        self.handle = handle
        self.lost = False
        self._skip: set[str] = set()
        super().__init__(index, "NVIDIA GPU")
        self.name = _text(self._q("nvmlDeviceGetName")) or "NVIDIA GPU"

    def _q(self, func: str, *args: Any) -> Any:
        """Query ``func`` for this handle unless it is known unsupported or the GPU is lost."""
        key = func + repr(args)
        if self.lost or key in self._skip:
            return None

        def on_error(code: int | None) -> None:
            if code == ERROR_GPU_IS_LOST:
                self.lost = True
            elif code in _SKIP_AFTER:
                self._skip.add(key)

        return query(func, self.handle, *args, on_error=on_error)

    def utilization(self) -> float | None:
        """GPU utilization in % (``nvmlDeviceGetUtilizationRates().gpu``; nvidia-smi utilization.gpu)."""
        u = self._q("nvmlDeviceGetUtilizationRates")
        return float(u.gpu) if u is not None else None

    def memory_bytes(self) -> tuple[int | None, int | None]:
        """Memory (used, total) in bytes (``nvmlDeviceGetMemoryInfo``; memory.used, memory.total)."""
        m = self._q("nvmlDeviceGetMemoryInfo")
        return (m.used, m.total) if m is not None else (None, None)

    def temperature_c(self) -> float | None:
        """GPU temperature in °C (``nvmlDeviceGetTemperature(NVML_TEMPERATURE_GPU)``; temperature.gpu)."""
        v = self._q("nvmlDeviceGetTemperature", 0)
        return float(v) if v is not None else None

    def memory_temperature_c(self) -> float | None:
        """HBM temperature in °C (``nvmlDeviceGetFieldValues(NVML_FI_DEV_MEMORY_TEMP)``; temperature.memory)."""
        vals = self._q("nvmlDeviceGetFieldValues", [82])
        try:
            fv = vals[0]
            if fv.nvmlReturn != 0:
                return None
            v = float(fv.value.uiVal)
        except (TypeError, IndexError, AttributeError):
            return None
        return v if v > 0 else None

    def power_w(self) -> float | None:
        """Power draw in W (``nvmlDeviceGetPowerUsage``, mW; power.draw)."""
        v = self._q("nvmlDeviceGetPowerUsage")
        return v / 1000.0 if v is not None else None

    def power_limit_w(self) -> float | None:
        """Enforced power limit in W (``nvmlDeviceGetEnforcedPowerLimit``, mW; enforced.power.limit)."""
        v = self._q("nvmlDeviceGetEnforcedPowerLimit")
        return v / 1000.0 if v else None

    def fan_percent(self) -> float | None:
        """Fan speed in % of maximum (``nvmlDeviceGetFanSpeed``; fan.speed)."""
        v = self._q("nvmlDeviceGetFanSpeed")
        return float(v) if v is not None else None

    def fan_rpm(self) -> float | None:
        """Fan speed in RPM (``nvmlDeviceGetFanSpeedRPM``, driver 545+), where offered."""
        v = self._q("nvmlDeviceGetFanSpeedRPM")
        v = getattr(v, "speed", v)
        return float(v) if isinstance(v, (int, float)) else None

    def clock_mhz(self, clock_type: int) -> float | None:
        """Current clock in MHz (``nvmlDeviceGetClockInfo``; 0 graphics, 2 memory; clocks.gr, clocks.mem)."""
        v = self._q("nvmlDeviceGetClockInfo", clock_type)
        return float(v) if v is not None else None

    def perf_state(self) -> str | None:
        """Performance state ``P0``..``P15`` (``nvmlDeviceGetPerformanceState``; pstate); 32 = unknown."""
        v = self._q("nvmlDeviceGetPerformanceState")
        return f"P{v}" if isinstance(v, int) and 0 <= v <= 15 else None

    def _read(self) -> dict[str, Any]:
        if self.lost:
            return {}
        used, total = self.memory_bytes()
        return {
            "utilization": self.utilization(),
            "memory_used_gb": used / GIB if used is not None else None,
            "memory_total_gb": total / GIB if total else None,
            "temperature_c": self.temperature_c(),
            "temperature_memory_c": self.memory_temperature_c(),
            "power_w": self.power_w(),
            "power_limit_w": self.power_limit_w(),
            "fan_percent": self.fan_percent(),
            "fan_rpm": self.fan_rpm(),
            "clock_graphics_mhz": self.clock_mhz(0),
            "clock_memory_mhz": self.clock_mhz(2),
            "perf_state": self.perf_state(),
        }


def discover(start_index: int = 0) -> list[NvmlDevice]:
    """NVIDIA GPUs in NVML order, indexed from ``start_index``; ``[]`` without NVML."""
    count = query("nvmlDeviceGetCount")
    if not isinstance(count, int):
        return []
    devices = []
    for i in range(count):
        handle = query("nvmlDeviceGetHandleByIndex", i)
        if handle is not None:
            devices.append(NvmlDevice(start_index + len(devices), i, handle))
    return devices
