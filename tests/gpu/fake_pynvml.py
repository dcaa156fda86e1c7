"""A stand-in for the ``pynvml`` module (nvidia-ml-py) used by the NVIDIA tests.

Only the module is fake: ``gpu.nvml`` runs unchanged against it.  Configure
with :func:`configure`; a field set to one of the ``NVML_ERROR_*`` codes wrapped
in :class:`Err` raises that NVML error when queried.  The A100 has the total
energy counter (``energy_mj``, mJ) and the RTX does not, so both energy paths
(counter, integrated power) run.
"""
from __future__ import annotations

from collections import Counter
from types import SimpleNamespace
from typing import Any

NVML_SUCCESS = 0
NVML_ERROR_UNINITIALIZED = 1
NVML_ERROR_NOT_SUPPORTED = 3
NVML_ERROR_NO_PERMISSION = 4
NVML_ERROR_LIBRARY_NOT_FOUND = 12
NVML_ERROR_FUNCTION_NOT_FOUND = 13
NVML_ERROR_GPU_IS_LOST = 15
NVML_TEMPERATURE_GPU = 0
NVML_CLOCK_GRAPHICS = 0
NVML_CLOCK_MEM = 2
NVML_FI_DEV_MEMORY_TEMP = 82
nvmlClocksEventReasonGpuIdle = 0x1
nvmlClocksEventReasonSwPowerCap = 0x4
nvmlClocksEventReasonSwThermalSlowdown = 0x20
nvmlClocksEventReasonHwThermalSlowdown = 0x40


class NVMLError(Exception):
    def __init__(self, value: int) -> None:
        super().__init__(value)
        self.value = value


class NVMLError_NotSupported(NVMLError):
    pass


class NVMLError_NoPermission(NVMLError):
    pass


class NVMLError_GpuIsLost(NVMLError):
    pass


_CLASSES = {3: NVMLError_NotSupported, 4: NVMLError_NoPermission, 15: NVMLError_GpuIsLost}


class Err:
    """Marks a field whose query raises NVML error ``code``."""

    def __init__(self, code: int) -> None:
        self.code = code


GPUS: list[dict[str, Any]] = []
calls: Counter[str] = Counter()
init_error: int | None = None


def configure(gpus: list[dict[str, Any]], init_fails: int | None = None) -> None:
    global init_error
    GPUS[:] = gpus
    calls.clear()
    init_error = init_fails


def _get(handle: SimpleNamespace, key: str, fn: str) -> Any:
    calls[fn] += 1
    gpu = GPUS[handle.index]
    if gpu.get("lost"):
        raise NVMLError_GpuIsLost(NVML_ERROR_GPU_IS_LOST)
    value = gpu.get(key, Err(NVML_ERROR_NOT_SUPPORTED))
    if isinstance(value, Err):
        raise _CLASSES.get(value.code, NVMLError)(value.code)
    return value


def nvmlInit() -> None:
    calls["nvmlInit"] += 1
    if init_error is not None:
        raise NVMLError(init_error)


def nvmlShutdown() -> None:
    pass


def nvmlDeviceGetCount() -> int:
    return len(GPUS)


def nvmlDeviceGetHandleByIndex(i: int) -> SimpleNamespace:
    if not 0 <= i < len(GPUS):
        raise NVMLError(2)
    return SimpleNamespace(index=i)


def nvmlDeviceGetName(h): return _get(h, "name", "nvmlDeviceGetName")
def nvmlDeviceGetPowerUsage(h): return _get(h, "power_mw", "nvmlDeviceGetPowerUsage")
def nvmlDeviceGetEnforcedPowerLimit(h): return _get(h, "limit_mw", "nvmlDeviceGetEnforcedPowerLimit")
def nvmlDeviceGetFanSpeed(h): return _get(h, "fan", "nvmlDeviceGetFanSpeed")
def nvmlDeviceGetFanSpeedRPM(h): return _get(h, "fan_rpm", "nvmlDeviceGetFanSpeedRPM")
def nvmlDeviceGetPerformanceState(h): return _get(h, "pstate", "nvmlDeviceGetPerformanceState")
def nvmlDeviceGetTotalEnergyConsumption(h): return _get(h, "energy_mj", "nvmlDeviceGetTotalEnergyConsumption")
def nvmlDeviceGetCurrentClocksEventReasons(h): return _get(h, "reasons", "nvmlDeviceGetCurrentClocksEventReasons")


def nvmlDeviceGetUtilizationRates(h):
    return SimpleNamespace(gpu=_get(h, "util", "nvmlDeviceGetUtilizationRates"), memory=0)


def nvmlDeviceGetMemoryInfo(h):
    used, total = _get(h, "memory", "nvmlDeviceGetMemoryInfo")
    return SimpleNamespace(used=used, total=total, free=total - used)


def nvmlDeviceGetTemperature(h, sensor):
    assert sensor == NVML_TEMPERATURE_GPU
    return _get(h, "temp", "nvmlDeviceGetTemperature")


def nvmlDeviceGetClockInfo(h, kind):
    return _get(h, {NVML_CLOCK_GRAPHICS: "clock_gr", NVML_CLOCK_MEM: "clock_mem"}[kind],
                "nvmlDeviceGetClockInfo")


def nvmlDeviceGetFieldValues(h, ids):
    assert ids == [NVML_FI_DEV_MEMORY_TEMP]
    try:
        v = _get(h, "mem_temp", "nvmlDeviceGetFieldValues")
        ret = 0
    except NVMLError as exc:
        v, ret = 0, exc.value
    return [SimpleNamespace(nvmlReturn=ret, value=SimpleNamespace(uiVal=v))]


# Two devices used by the tests and the benchmark: a datacenter and a desktop card.
A100 = {"name": b"NVIDIA A100-SXM4-80GB", "util": 87, "memory": (40 * 2**30, 80 * 2**30),
        "temp": 61, "mem_temp": 70, "power_mw": 312456, "limit_mw": 400000,
        "fan": Err(NVML_ERROR_NOT_SUPPORTED),
        "fan_rpm": Err(NVML_ERROR_NOT_SUPPORTED),
        "clock_gr": 1410, "clock_mem": 1593, "pstate": 0,
        "energy_mj": 987_654_321_000, "reasons": nvmlClocksEventReasonGpuIdle}
RTX = {"name": "NVIDIA GeForce RTX 4090", "util": 12, "memory": (3 * 2**30, 24 * 2**30),
       "temp": 48, "mem_temp": Err(NVML_ERROR_NOT_SUPPORTED),
       "power_mw": 35000, "limit_mw": 450000, "fan": 30, "fan_rpm": 1100,
       "clock_gr": 210, "clock_mem": 405, "pstate": 8,
       "energy_mj": Err(NVML_ERROR_NOT_SUPPORTED),
       "reasons": nvmlClocksEventReasonSwPowerCap | nvmlClocksEventReasonSwThermalSlowdown}
