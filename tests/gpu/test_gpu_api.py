from __future__ import annotations

import dataclasses
import json
import subprocess
import sys
import time
from pathlib import Path

import pytest

import gpu
from gpu.__main__ import main
from gpu.sample import GpuSample, make_sample
from tests.conftest import home_env

REPO = Path(__file__).resolve().parents[2]


def _s(index=0, **kw):
    return GpuSample(index=index, vendor="amd", name=f"GPU{index}", timestamp=0.0, **kw)


def test_sample_is_frozen():
    s = _s()
    with pytest.raises(dataclasses.FrozenInstanceError):
        s.utilization = 3  # type: ignore[misc]
    assert s.as_dict()["power_w"] is None


@pytest.mark.parametrize("args,expected", [
    ((None,), "N/A"), ((None, "%"), "N/A"), ((12.345, "%"), "12.3%"),
    ((70.0, "°C", 0), "70°C"), ((2162, " MHz", 0), "2162 MHz"), (("auto",), "auto"),
    ((0,), "0.0"), ((1.25, "", 2), "1.25"),
])
def test_fmt(args, expected):
    assert gpu.fmt(*args) == expected


FULL = dict(utilization=1, memory_used_gb=2, memory_percent=3, temperature_c=4,
            power_w=5, clock_graphics_mhz=6, clock_memory_mhz=7, clock_fclk_mhz=8,
            clock_socclk_mhz=9, fan_percent=10, fan_rpm=11, perf_state="P2",
            memory_total_gb=99, power_limit_w=99, energy_j=1e6, throttle="power")


def test_to_metrics_numeric_keys_and_prefixes():
    m = gpu.to_metrics([_s(0, **FULL), _s(2, utilization=50.0)])
    assert sorted(k for k in m if k.startswith("gpu/")) == sorted(
        "gpu/" + k for k in ["utilization", "memory_used_gb", "memory_percent",
                             "temperature_c", "power_w", "clock_graphics_mhz",
                             "clock_memory_mhz", "clock_fclk_mhz", "clock_socclk_mhz",
                             "fan_speed", "fan_rpm"])
    assert all(type(v) is float for v in m.values())   # strings go to to_info
    assert m["gpu/fan_speed"] == 10.0
    assert m["gpu2/utilization"] == 50.0 and "gpu2/power_w" not in m
    assert gpu.to_metrics([]) == {}


def test_to_info_string_fields():
    info = gpu.to_info([_s(0, **FULL), _s(1, throttle=""), _s(3)])
    assert info == {"gpu/name": "GPU0", "gpu/vendor": "amd", "gpu/perf_state": "P2", "gpu/throttle": "power",
                    "gpu1/name": "GPU1", "gpu1/vendor": "amd", "gpu1/throttle": "",
                    "gpu3/name": "GPU3", "gpu3/vendor": "amd"}
    assert gpu.to_info([]) == {}


def test_make_sample_rejects_unknown_fields():
    with pytest.raises(TypeError, match="temprature_c"):
        make_sample(0, "amd", "x", 0.0, temprature_c=70)
    assert make_sample(0, "amd", "x", 0.0, temperature_c=70).temperature_c == 70


def test_backend_with_misspelt_field_fails_its_sample():
    class Typo(gpu.BaseDevice):
        vendor = "amd"

        def _read(self):
            return {"temprature_c": 70.0}

    with pytest.raises(TypeError, match="unknown GPU sample field"):
        Typo(0, "typo").sample()


def test_render_missing_values_and_two_gpus():
    text = gpu.render_once([_s(0), _s(1, power_w=240.4, memory_used_gb=1.0,
                                       memory_total_gb=2.0, fan_rpm=900.0)])
    lines = text.splitlines()
    assert lines[:4] == ["=" * 60, "GPU Status", "=" * 60, ""]
    assert lines[4:13] == ["GPU0", "  Utilization: N/A", "  Memory: N/A",
                           "  Temperature: N/A", "  Power: N/A", "  Fan: N/A",
                           "  GPU Clock: N/A", "  Mem Clock: N/A", "  Perf State: N/A"]
    assert lines[13] == "" and lines[14] == "GPU1"
    assert "  Power: 240W" in lines and "  Fan: 900 RPM" in lines
    assert "  Memory: 1.0/2.0 GB" in lines            # no percent given: none shown
    assert "No GPUs found" in gpu.render_once([])


def test_sampler(use_tree):
    use_tree("amd_w7900")
    s = gpu.Sampler(interval=0.02, history=3)
    assert [d.name for d in s.devices] == ["AMD Radeon Pro W7900"]
    assert s.latest() == [] and s.history(0) == []
    with s:
        s.start()                                     # idempotent
        assert s.running and s.latest()[0].utilization == 100.0
        time.sleep(0.2)
    assert not s.running
    s.stop()
    hist = s.history(0)
    assert len(hist) == 3 and hist[0].timestamp <= hist[-1].timestamp
    assert s.history(5) == []


def test_sampler_without_gpus():
    with gpu.Sampler(interval=0.01) as s:
        assert s.devices == [] and not s.running and s.latest() == []


def test_sampler_survives_failing_device():
    class Bad(gpu.BaseDevice):
        vendor = "amd"

        def _read(self):
            raise RuntimeError("boom")

    with gpu.Sampler(interval=0.01, devices=[Bad(0, "bad")]) as s:
        time.sleep(0.05)
        (sample,) = s.latest()
        assert sample.name == "bad" and sample.utilization is None


def test_main_text_and_json(use_tree, capsys):
    use_tree("amd_w7900")
    assert main([]) == 0
    assert "  Perf State: auto" in capsys.readouterr().out
    assert main(["--json"]) == 0
    (d,) = json.loads(capsys.readouterr().out)
    assert d["name"] == "AMD Radeon Pro W7900" and d["fan_rpm"] == 1938


def test_main_no_gpus(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main([])
    assert exit_info.value.code == 1
    err = capsys.readouterr().err
    assert err.startswith("gpu: error: No GPUs found (checked: ") and err.count("\n") == 1


@pytest.mark.e2e
def test_module_entry_point(use_tree, tmp_path):
    empty = tmp_path / "e"
    empty.mkdir()
    env = {**home_env(), "KTRACK_SYSFS_ROOT": str(empty), "PYTHONPATH": str(REPO), "PATH": "/usr/bin:/bin"}
    r = subprocess.run([sys.executable, "-m", "gpu"], env=env, capture_output=True,
                       text=True, timeout=60)
    assert r.returncode == 1 and "No GPUs found (checked:" in r.stderr
    assert "Traceback" not in r.stderr
