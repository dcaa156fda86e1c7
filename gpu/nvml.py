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

from . import throttle
from .device import BaseDevice
from .fields import GIB

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

# NVML enum values and field ids (nvml.h; pynvml has the same names).
NVML_SUCCESS = 0
NVML_TEMPERATURE_GPU = 0
NVML_CLOCK_GRAPHICS = 0
NVML_CLOCK_MEM = 2
NVML_FI_DEV_MEMORY_TEMP = 82
NVML_PSTATE_MAX = 15                 # P0..P15; NVML_PSTATE_UNKNOWN is 32
MW_PER_W = 1000.0
MJ_PER_J = 1000.0


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
            except Exception as exc:  # noqa: BLE001 - ImportError, NVMLError_LibraryNotFound, ...
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
    except Exception as exc:  # noqa: BLE001 - every NVML error means "no value"
        if on_error:
            on_error(getattr(exc, "value", None))
        return None


def _text(value: Any) -> str | None:
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return value if isinstance(value, str) else None


class NvmlDevice(BaseDevice):
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

    def _memory_bytes(self) -> tuple[int | None, int | None]:
        """Memory (used, total) in bytes (``nvmlDeviceGetMemoryInfo``; memory.used, memory.total)."""
        m = self._q("nvmlDeviceGetMemoryInfo")
        return (m.used, m.total) if m is not None else (None, None)

    def temperature_c(self) -> float | None:
        """GPU temperature in °C (``nvmlDeviceGetTemperature(NVML_TEMPERATURE_GPU)``; temperature.gpu)."""
        v = self._q("nvmlDeviceGetTemperature", NVML_TEMPERATURE_GPU)
        return float(v) if v is not None else None

    def temperature_memory_c(self) -> float | None:
        """HBM temperature in °C (``nvmlDeviceGetFieldValues(NVML_FI_DEV_MEMORY_TEMP)``; temperature.memory).

        NVML reports 0 where the board has no memory sensor: that is ``None``.
        """
        vals = self._q("nvmlDeviceGetFieldValues", [NVML_FI_DEV_MEMORY_TEMP])
        try:
            fv = vals[0]
            if fv.nvmlReturn != NVML_SUCCESS:
                return None
            v = float(fv.value.uiVal)
        except (TypeError, IndexError, AttributeError):
            return None
        return v if v > 0 else None

    def power_w(self) -> float | None:
        """Power draw in W (``nvmlDeviceGetPowerUsage``, mW; power.draw)."""
        v = self._q("nvmlDeviceGetPowerUsage")
        return v / MW_PER_W if v is not None else None

    def power_limit_w(self) -> float | None:
        """Enforced power limit in W (``nvmlDeviceGetEnforcedPowerLimit``, mW; enforced.power.limit)."""
        v = self._q("nvmlDeviceGetEnforcedPowerLimit")
        return v / MW_PER_W if v else None

    def energy_j(self) -> float | None:
        """Energy counter in J since the driver loaded (``nvmlDeviceGetTotalEnergyConsumption``, mJ; Volta+)."""
        v = self._q("nvmlDeviceGetTotalEnergyConsumption")
        return v / MJ_PER_J if isinstance(v, int) else None

    def fan_percent(self) -> float | None:
        """Fan speed in % of maximum (``nvmlDeviceGetFanSpeed``; fan.speed)."""
        v = self._q("nvmlDeviceGetFanSpeed")
        return float(v) if v is not None else None

    def fan_rpm(self) -> float | None:
        """Fan speed in RPM (``nvmlDeviceGetFanSpeedRPM``, driver 545+), where offered."""
        v = self._q("nvmlDeviceGetFanSpeedRPM")
        v = getattr(v, "speed", v)
        return float(v) if isinstance(v, (int, float)) else None

    def clock_graphics_mhz(self) -> float | None:
        """Graphics clock in MHz (``nvmlDeviceGetClockInfo(NVML_CLOCK_GRAPHICS)``; clocks.gr)."""
        v = self._q("nvmlDeviceGetClockInfo", NVML_CLOCK_GRAPHICS)
        return float(v) if v is not None else None

    def clock_memory_mhz(self) -> float | None:
        """Memory clock in MHz (``nvmlDeviceGetClockInfo(NVML_CLOCK_MEM)``; clocks.mem)."""
        v = self._q("nvmlDeviceGetClockInfo", NVML_CLOCK_MEM)
        return float(v) if v is not None else None

    def perf_state(self) -> str | None:
        """Performance state ``P0``..``P15`` (``nvmlDeviceGetPerformanceState``; pstate); unknown is ``None``."""
        v = self._q("nvmlDeviceGetPerformanceState")
        return f"P{v}" if isinstance(v, int) and 0 <= v <= NVML_PSTATE_MAX else None

    def throttle(self) -> str | None:
        """Active throttle reasons (``nvmlDeviceGetCurrentClocksEventReasons``; clocks_event_reasons.active).

        Bindings older than the rename offer ``nvmlDeviceGetCurrentClocksThrottleReasons``
        (same bits).  See :mod:`gpu.throttle` for the names.
        """
        mask = self._q("nvmlDeviceGetCurrentClocksEventReasons")
        if mask is None:
            mask = self._q("nvmlDeviceGetCurrentClocksThrottleReasons")
        return throttle.from_nvml_mask(mask) if isinstance(mask, int) else None

    def _read(self) -> dict[str, Any]:
        if self.lost:
            return {}
        used, total = self._memory_bytes()
        return {
            "utilization": self.utilization(),
            "memory_used_gb": used / GIB if used is not None else None,
            "memory_total_gb": total / GIB if total else None,
            "temperature_c": self.temperature_c(),
            "temperature_memory_c": self.temperature_memory_c(),
            "power_w": self.power_w(),
            "power_limit_w": self.power_limit_w(),
            "energy_j": self.energy_j(),
            "fan_percent": self.fan_percent(),
            "fan_rpm": self.fan_rpm(),
            "clock_graphics_mhz": self.clock_graphics_mhz(),
            "clock_memory_mhz": self.clock_memory_mhz(),
            "perf_state": self.perf_state(),
            "throttle": self.throttle(),
        }


def discover(start_index: int = 0) -> list[NvmlDevice]:
    """NVIDIA GPUs in NVML order, indexed from ``start_index``; ``[]`` without NVML."""
    count = query("nvmlDeviceGetCount")
    if not isinstance(count, int):
        return []
    devices: list[NvmlDevice] = []
    for i in range(count):
        handle = query("nvmlDeviceGetHandleByIndex", i)
        if handle is not None:
            devices.append(NvmlDevice(start_index + len(devices), i, handle))
    return devices
