from __future__ import annotations

import sys

import pytest

import gpu
from gpu import nvml


def test_two_gpus(fake_nvml):
    devices = gpu.discover()
    assert [(d.index, d.vendor, d.name) for d in devices] == [
        (0, "nvidia", "NVIDIA A100-SXM4-80GB"), (1, "nvidia", "NVIDIA GeForce RTX 4090")]
    a100, rtx = (d.sample() for d in devices)
    assert a100.utilization == 87 and a100.memory_percent == 50.0
    assert (a100.memory_used_gb, a100.memory_total_gb) == (40.0, 80.0)
    assert a100.power_w == pytest.approx(312.456) and a100.power_limit_w == 400  # mW -> W
    assert a100.temperature_c == 61 and a100.temperature_memory_c == 70
    assert a100.fan_percent is None and a100.fan_rpm is None      # NotSupported
    assert (a100.clock_graphics_mhz, a100.clock_memory_mhz) == (1410, 1593)
    assert a100.perf_state == "P0" and rtx.perf_state == "P8"
    assert rtx.fan_percent == 30 and rtx.fan_rpm == 1100 and rtx.temperature_memory_c is None
    assert a100.temperature_hotspot_c is None and a100.clock_fclk_mhz is None


def test_not_supported_is_not_asked_again(fake_nvml):
    dev = gpu.discover()[0]
    dev.sample()
    before = fake_nvml.calls["nvmlDeviceGetFanSpeed"]
    dev.sample()
    dev.sample()
    assert fake_nvml.calls["nvmlDeviceGetFanSpeed"] == before
    assert fake_nvml.calls["nvmlDeviceGetUtilizationRates"] == 3


def test_no_permission_and_unknown_pstate(fake_nvml):
    fake_nvml.GPUS[1]["power_mw"] = fake_nvml.Err(fake_nvml.NVML_ERROR_NO_PERMISSION)
    fake_nvml.GPUS[1]["pstate"] = 32
    s = gpu.discover()[1].sample()
    assert s.power_w is None and s.perf_state is None and s.utilization == 12


def test_gpu_lost(fake_nvml):
    dev = gpu.discover()[0]
    assert dev.sample().utilization == 87
    fake_nvml.GPUS[0]["lost"] = True
    s = dev.sample()
    assert s.utilization is None and s.power_w is None and dev.lost
    calls = sum(fake_nvml.calls.values())
    assert dev.sample().name == "NVIDIA A100-SXM4-80GB"
    assert sum(fake_nvml.calls.values()) == calls            # lost: no more queries


def test_function_missing_from_binding(fake_nvml, monkeypatch):
    monkeypatch.delattr(fake_nvml, "nvmlDeviceGetFanSpeedRPM")
    s = gpu.discover()[1].sample()
    assert s.fan_rpm is None and s.fan_percent == 30


def test_init_failure_means_no_gpus(fake_nvml):
    fake_nvml.configure([{}], init_fails=fake_nvml.NVML_ERROR_LIBRARY_NOT_FOUND)
    nvml.reset()
    assert gpu.discover() == []


def test_missing_library_means_no_gpus(monkeypatch):
    monkeypatch.setitem(sys.modules, "pynvml", None)
    nvml.reset()
    assert nvml.library() is None and gpu.discover() == []


def test_nvml_first_then_sysfs(fake_nvml, use_tree):
    use_tree("mixed")
    devices = gpu.discover()
    assert [(d.index, d.vendor) for d in devices] == [
        (0, "nvidia"), (1, "nvidia"), (2, "intel"), (3, "amd")]
    samples = [d.sample() for d in devices]
    metrics, info = gpu.to_metrics(samples), gpu.to_info(samples)
    assert info["gpu/perf_state"] == "P0" and info["gpu3/perf_state"] == "auto"
    assert "gpu/fan_speed" not in metrics and metrics["gpu1/fan_rpm"] == 1100
    assert info["gpu1/throttle"] == "power,thermal" and "gpu3/throttle" not in info   # AMD: unknown


def test_jetson_nvml_duplicate_dropped(fake_nvml, use_tree):
    fake_nvml.configure([{"name": b"Orin (nvgpu)", "util": 5}])
    use_tree("jetson_orin")
    assert [d.vendor for d in gpu.discover()] == ["jetson"]


def test_energy_counter_and_throttle_reasons(fake_nvml):
    a100, rtx = gpu.discover()
    s = a100.sample()
    assert s.energy_j == pytest.approx(987_654_321.0)              # mJ -> J
    assert s.throttle == ""                                       # idle is no throttling
    r = rtx.sample()
    assert r.energy_j is None and r.throttle == "power,thermal"
    fake_nvml.GPUS[0]["reasons"] = (fake_nvml.nvmlClocksEventReasonHwThermalSlowdown | 0x8 | 0x80 | 0x10000)
    assert a100.sample().throttle == "hw_thermal,hw_slowdown,power_brake"   # unknown bits ignored


def test_throttle_unknown_without_the_query(fake_nvml, monkeypatch):
    """A binding without either reasons call, or a GPU that does not support it: None, asked once."""
    monkeypatch.delattr(fake_nvml, "nvmlDeviceGetCurrentClocksEventReasons")
    dev = gpu.discover()[0]
    assert dev.sample().throttle is None and dev.sample().throttle is None
    fake_nvml.configure([dict(fake_nvml.A100, reasons=fake_nvml.Err(fake_nvml.NVML_ERROR_NOT_SUPPORTED))])
    nvml.reset()
    assert gpu.discover()[0].sample().throttle is None


def test_named_constants_match_nvidia_ml_py():
    """The NVML enum values and throttle bits gpu/ names are those of the real binding."""
    import importlib.machinery
    import importlib.util

    from gpu import throttle

    spec = importlib.machinery.PathFinder.find_spec("pynvml")   # not sys.modules: the fixture hides it
    if spec is None or spec.loader is None:
        pytest.skip("nvidia-ml-py is not installed")
    real = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(real)                               # constants only; nvmlInit is not called
    assert nvml.NVML_TEMPERATURE_GPU == real.NVML_TEMPERATURE_GPU
    assert (nvml.NVML_CLOCK_GRAPHICS, nvml.NVML_CLOCK_MEM) == (real.NVML_CLOCK_GRAPHICS, real.NVML_CLOCK_MEM)
    assert nvml.NVML_FI_DEV_MEMORY_TEMP == real.NVML_FI_DEV_MEMORY_TEMP
    assert nvml.NVML_PSTATE_MAX < real.NVML_PSTATE_UNKNOWN and nvml.NVML_SUCCESS == real.NVML_SUCCESS
    assert (nvml.ERROR_NOT_SUPPORTED, nvml.ERROR_NO_PERMISSION, nvml.ERROR_FUNCTION_NOT_FOUND,
            nvml.ERROR_GPU_IS_LOST) == (real.NVML_ERROR_NOT_SUPPORTED, real.NVML_ERROR_NO_PERMISSION,
                                        real.NVML_ERROR_FUNCTION_NOT_FOUND, real.NVML_ERROR_GPU_IS_LOST)
    names = {"SwPowerCap": "power", "HwSlowdown": "hw_slowdown", "SwThermalSlowdown": "thermal",
             "HwThermalSlowdown": "hw_thermal", "HwPowerBrakeSlowdown": "power_brake",
             "BoardLimit": "board_limit", "Reliability": "reliability"}
    assert {getattr(real, "nvmlClocksThrottleReason" + k): v for k, v in names.items()} == throttle.NVML_BITS
