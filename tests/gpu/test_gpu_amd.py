from __future__ import annotations

import shutil

import pytest

import gpu
from gpu.amd import AmdDevice, parse_dpm

W7900_BLOCK = """\
============================================================
GPU Status
============================================================

AMD Radeon Pro W7900
  Utilization: 100.0%
  Memory: 29.2/48.0 GB (60.8%)
  Temperature: 70°C
  Power: 240/241W
  Fan: 48.9% (1938 RPM)
  GPU Clock: 2162 MHz
  Mem Clock: 1124 MHz
  Perf State: auto"""


def test_w7900_reproduces_the_trackio_view_block(use_tree):
    use_tree("amd_w7900")
    devices = gpu.discover()
    assert [(d.index, d.vendor, d.name) for d in devices] == [(0, "amd", "AMD Radeon Pro W7900")]
    assert gpu.render_once([devices[0].sample()]) == W7900_BLOCK


def test_w7900_values(use_tree):
    use_tree("amd_w7900")
    s = gpu.discover()[0].sample()
    assert s.utilization == 100.0
    assert s.memory_total_gb == 48.0 and round(s.memory_used_gb, 1) == 29.2
    assert round(s.memory_percent, 1) == 60.8
    assert (s.temperature_c, s.temperature_hotspot_c, s.temperature_memory_c) == (70, 85, 80)
    assert (s.power_w, s.power_limit_w) == (240.0, 241.0)
    assert s.fan_percent == pytest.approx(44 / 90 * 100)   # pwm1_max is 90, not 255
    assert s.fan_rpm == 1938
    assert (s.clock_graphics_mhz, s.clock_memory_mhz) == (2162, 1124)
    assert (s.clock_fclk_mhz, s.clock_socclk_mhz) == (1600, 1058)
    assert s.perf_state == "auto"


def test_mi210_has_no_fan(use_tree):
    use_tree("amd_mi210")
    (dev,) = gpu.discover()
    s = dev.sample()
    assert dev.name == "AMD Instinct MI210"           # from product_name
    assert s.fan_percent is None and s.fan_rpm is None
    assert s.power_w == 95 and s.power_limit_w == 300 and s.perf_state == "manual"
    assert "  Fan: N/A" in gpu.render_once([s])


def test_power_input_and_hwmon_clock_fallback(use_tree):
    root = use_tree("amd_w7900", copy=True)
    dev_dir = root / "sys/class/drm/card0/device"
    hw = dev_dir / "hwmon/hwmon3"
    (hw / "power1_average").rename(hw / "power1_input")
    (dev_dir / "pp_dpm_sclk").unlink()
    (hw / "pwm1_max").unlink()
    s = gpu.discover()[0].sample()
    assert s.power_w == 240
    assert s.clock_graphics_mhz == 2162                # hwmon freq1_input (Hz)
    assert s.fan_percent == pytest.approx(1938 / 3850 * 100)   # fan1_input / fan1_max


def test_only_value_files_are_read_after_discovery(use_tree):
    root = use_tree("amd_w7900", copy=True)
    dev = gpu.discover()[0]
    (root / "sys/class/drm/card0/device/gpu_busy_percent").write_text("7\n")
    assert dev.sample().utilization == 7
    shutil.rmtree(root / "sys/class/drm/card0/device/hwmon")
    s = dev.sample()                                   # files gone -> None, no crash
    assert s.temperature_c is None and s.power_w is None and s.utilization == 7


@pytest.mark.parametrize("text,expected", [
    ("0: 500Mhz\n1: 2162Mhz *\n", 2162.0),
    ("0: 500Mhz *\n1: 2162Mhz\n", 500.0),
    ("0: 500Mhz\n", None), ("", None), (None, None), ("1: fast *", None),
    ("S: 19Mhz *\n0: 500Mhz\n", 19.0),
])
def test_parse_dpm(text, expected):
    assert parse_dpm(text) == expected


def test_broken_tree_never_crashes(use_tree):
    use_tree("broken")
    devices = gpu.discover()
    assert [d.vendor for d in devices] == ["amd", "intel", "jetson"]
    for d in devices:
        s = d.sample()
        assert s.temperature_c is None and s.power_w is None
        assert s.memory_used_gb is None and s.memory_total_gb is None
    amd = devices[0].sample()
    assert amd.utilization is None and amd.clock_graphics_mhz is None
    assert amd.clock_memory_mhz is None and amd.perf_state is None
    assert amd.fan_percent is None and amd.fan_rpm is None and amd.power_limit_w is None
    assert devices[0].name == "AMD GPU"
    text = gpu.render_once([d.sample() for d in devices])
    assert text.count("N/A") >= 20


def test_permission_denied_file(use_tree):
    root = use_tree("amd_w7900", copy=True)
    busy = root / "sys/class/drm/card0/device/gpu_busy_percent"
    busy.chmod(0)
    try:
        s = AmdDevice(0, "/sys/class/drm/card0").sample()
        assert s.utilization in (None, 100.0)          # root may still read it
    finally:
        busy.chmod(0o644)
    busy.unlink()
    busy.mkdir()                                       # unreadable even for root
    assert AmdDevice(0, "/sys/class/drm/card0").sample().utilization is None
