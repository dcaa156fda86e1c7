from __future__ import annotations

import os
import time

import pytest

import gpu
from gpu.tegrastats import TegrastatsReader, parse_line

ORIN = ("RAM 2448/30536MB (lfb 6572x4MB) SWAP 0/15268MB (cached 0MB) CPU [0%@729,0%@729] "
        "EMC_FREQ 0%@2133 GR3D_FREQ 0%@[306] VIC_FREQ 729 APE 174 CV0@-256C CPU@45.5C "
        "GPU@43.843C VDD_GPU_SOC 3172mW/3172mW VDD_CPU_CV 793mW/793mW VIN_SYS_5V0 4045mW/4045mW")
AGX = ORIN.replace("GR3D_FREQ 0%@[306]", "GR3D_FREQ 37%@[1300,1298]")
XAVIER = ("RAM 1234/3956MB (lfb 5x4MB) SWAP 0/1978MB (cached 0MB) CPU [5%@102,off,off,3%@102] "
          "EMC_FREQ 0%@1600 GR3D_FREQ 12%@1300 APE 25 PLL@30C CPU@32.5C PMIC@100C GPU@30.5C "
          "AO@39.5C thermal@31.25C POM_5V_IN 2049/2049 POM_5V_GPU 512/480 POM_5V_CPU 409/409")


def test_orin_sysfs(use_tree):
    use_tree("jetson_orin")
    (dev,) = gpu.discover()
    assert (dev.vendor, dev.name) == ("jetson", "NVIDIA Jetson AGX Orin Developer Kit")
    s = dev.sample()
    assert s.utilization == pytest.approx(52.3)          # load is tenths of a percent
    assert s.clock_graphics_mhz == pytest.approx(1300.5)
    assert s.temperature_c == pytest.approx(43.843)      # gpu-thermal zone, not cpu
    assert s.power_w == pytest.approx(5000 * 634 / 1e6)  # VDD_GPU_SOC mV x mA
    assert s.memory_total_gb == pytest.approx(31268696 / 1024 ** 2)
    assert s.memory_used_gb == pytest.approx((31268696 - 28761176) / 1024 ** 2)


def test_tx2_iio_rails(use_tree):
    use_tree("jetson_tx2")
    (dev,) = gpu.discover()
    s = dev.sample()
    assert dev.name == "quill" and s.utilization == 12.0
    assert s.power_w == pytest.approx(1.532) and s.temperature_c == 30.5


def test_tegrastats_orin_bracket_format():
    d = parse_line(ORIN)
    assert d["utilization"] == 0.0 and d["clock_graphics_mhz"] == 306
    assert d["clock_memory_mhz"] == 2133 and d["temperature_c"] == pytest.approx(43.843)
    assert d["power_w"] == pytest.approx(3.172)
    assert d["rails"]["VIN_SYS_5V0"] == (4045, 4045)
    assert d["memory_total_gb"] == pytest.approx(30536 / 1024)
    assert parse_line(AGX)["clock_graphics_mhz"] == 1300 and parse_line(AGX)["utilization"] == 37


def test_tegrastats_old_format_with_pom_rails():
    d = parse_line(XAVIER)
    assert d["utilization"] == 12.0 and d["clock_graphics_mhz"] == 1300
    assert d["rails"] == {"POM_5V_IN": (2049, 2049), "POM_5V_GPU": (512, 480),
                          "POM_5V_CPU": (409, 409)}
    assert d["power_w"] == pytest.approx(0.512) and d["temperature_c"] == 30.5


@pytest.mark.parametrize("line", ["", "garbage", "GR3D_FREQ x%", "RAM lots"])
def test_tegrastats_garbage(line):
    assert parse_line(line) == {}


def test_tegrastats_without_frequency():
    assert parse_line("GR3D_FREQ 5%") == {"utilization": 5.0}


def test_tegrastats_fallback_when_load_missing(use_tree, tmp_path, monkeypatch):
    root = use_tree("jetson_orin", copy=True)
    (root / "sys/class/devfreq/17000000.ga10b/device/load").unlink()
    bindir = tmp_path / "bin"
    bindir.mkdir()
    tool = bindir / "tegrastats"
    tool.write_text(f"#!/bin/sh\necho '{XAVIER}'\nexec sleep 30\n")
    tool.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bindir}:{os.environ.get('PATH', '')}")
    (dev,) = gpu.discover()
    try:
        deadline = time.monotonic() + 5
        s = dev.sample()
        while s.utilization is None and time.monotonic() < deadline:
            time.sleep(0.05)
            s = dev.sample()
        assert s.utilization == 12.0                        # from tegrastats
        assert s.clock_graphics_mhz == pytest.approx(1300.5)  # sysfs still wins
        assert s.clock_memory_mhz == 1600                   # EMC only in tegrastats
    finally:
        dev._tegrastats.close()


def test_no_tegrastats_no_reader(use_tree):
    root = use_tree("jetson_orin", copy=True)
    (root / "sys/class/devfreq/17000000.ga10b/device/load").unlink()
    (dev,) = gpu.discover()
    assert dev.sample().utilization is None
    assert TegrastatsReader().latest() == {}
