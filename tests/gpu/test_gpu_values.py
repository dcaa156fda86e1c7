"""Values no hardware can report are None: N/A on screen, null in JSON (fake sysfs and fake NVML)."""
from __future__ import annotations

import json
import math
import re
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import gpu
from gpu.__main__ import main as gpu_main
from gpu.fields import RANGES, plausible
from gpu.sample import make_sample
from tests.gpu import fake_pynvml

FIXTURES = Path(__file__).resolve().parent / "fixtures"
_VALUE = re.compile(r"^  [^:]+: (.*)$")
_BAD_TEXT = re.compile(r"nan|inf|e\+|\d{7,}|-0(\.0*)?(?![.\d])", re.IGNORECASE)
_NEGATIVE = re.compile(r"-\d")


def _strict_json(samples) -> list:
    """The ``python -m gpu --json`` document, parsed back with NaN/Infinity refused."""
    text = json.dumps([s.as_dict() for s in samples], allow_nan=False)

    def refuse(name):
        raise AssertionError(f"non-JSON constant {name}")
    return json.loads(text, parse_constant=refuse)


def assert_plausible(samples) -> None:
    """Every number within its field's range, the screen shows no impossible value, JSON is JSON."""
    for s in samples:
        for field, (lo, hi) in RANGES.items():
            v = getattr(s, field)
            assert v is None or (type(v) is float and lo <= v <= hi), (field, v)
        for field in ("perf_state", "throttle"):
            v = getattr(s, field)
            assert v is None or (isinstance(v, str) and v.isprintable()), (field, v)
    for line in gpu.render_once(samples).splitlines():
        m = _VALUE.match(line)
        if m and not line.startswith("  Perf State:"):
            assert not _BAD_TEXT.search(m.group(1)), line
            if not line.startswith("  Temperature:"):       # only temperatures can be below 0
                assert not _NEGATIVE.search(m.group(1)), line
    _strict_json(samples)


# -- the range table ----------------------------------------------------------

@pytest.mark.parametrize("field,value,expected", [
    ("utilization", -5.0, None), ("utilization", 100.0, 100.0), ("utilization", 100.5, None),
    ("temperature_c", -1000.0, None), ("temperature_c", -20.0, -20.0), ("temperature_c", 1e300, None),
    ("power_w", float("nan"), None), ("power_w", float("inf"), None), ("power_w", 312.5, 312.5),
    ("clock_memory_mhz", 10501, 10501.0), ("fan_rpm", True, None), ("memory_used_gb", "12", 12.0),
    ("energy_j", -1.0, None), ("energy_j", 3.6e6, 3.6e6), ("power_w", "abc", None), ("power_w", 10**400, None),
])
def test_plausible(field, value, expected):
    assert plausible(field, value) == expected


def test_range_table_covers_every_numeric_field():
    from gpu.fields import STRING_FIELDS, VALUE_FIELDS
    assert set(RANGES) | set(STRING_FIELDS) == set(VALUE_FIELDS)
    assert set(STRING_FIELDS) == {"perf_state", "throttle"}
    with pytest.raises(KeyError):
        plausible("temprature_c", 1.0)


def test_make_sample_applies_the_ranges():
    s = make_sample(0, "amd", "x", 0.0, utilization=-5.0, temperature_c=-1000.0, power_w=float("nan"),
                    clock_graphics_mhz=1e300, memory_used_gb=50.0, memory_total_gb=48.0, perf_state="a\x1b[2J")
    assert (s.utilization, s.temperature_c, s.power_w, s.clock_graphics_mhz) == (None, None, None, None)
    assert s.memory_percent is None and s.memory_used_gb == 50.0    # used > total: no percentage
    assert s.perf_state is None                                     # control characters: not shown raw
    assert "  Utilization: N/A" in gpu.render_once([s]) and "  Temperature: N/A" in gpu.render_once([s])
    assert gpu.fmt(float("nan"), "%") == "N/A" and gpu.fmt(float("-inf")) == "N/A"
    assert gpu.fmt(-0.001, "°C", 0) == "0°C" and gpu.fmt(-0.04) == "0.0" and gpu.fmt(-20.0, "°C", 0) == "-20°C"


# -- fake sysfs -----------------------------------------------------------------

_NUMBER_TEXT = st.one_of(
    st.integers(min_value=-(10**30), max_value=10**30).map(str),
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.sampled_from(["-5", "-1000000", "nan", "inf", "-inf", "1e300", "0x7fffffffffffffff", "4294967295",
                     "18446744073709551615", "", "  ", "garbage", "1: 9e99Mhz *", "0: -5Mhz *"]),
    st.text(max_size=12),
)
_TREE_FILES = {
    "amd_w7900": ["device/gpu_busy_percent", "device/mem_info_vram_used", "device/mem_info_vram_total",
                  "device/hwmon/hwmon3/temp1_input", "device/hwmon/hwmon3/temp2_input",
                  "device/hwmon/hwmon3/power1_average", "device/hwmon/hwmon3/power1_cap",
                  "device/hwmon/hwmon3/fan1_input", "device/hwmon/hwmon3/pwm1", "device/hwmon/hwmon3/pwm1_max",
                  "device/pp_dpm_sclk", "device/pp_dpm_mclk", "device/power_dpm_force_performance_level"],
    "intel_xe": ["device/hwmon/hwmon4/energy1_input", "device/hwmon/hwmon4/power1_max",
                 "device/hwmon/hwmon4/temp2_input", "device/tile0/gt0/freq0/act_freq",
                 "device/tile0/gt0/freq0/throttle/status", "device/tile0/gt0/freq0/throttle/reason_pl1"],
}


@pytest.fixture(scope="module")
def trees(tmp_path_factory):
    import shutil
    root = tmp_path_factory.mktemp("gpu-values")
    for name in (*_TREE_FILES, "jetson_orin"):
        shutil.copytree(FIXTURES / name, root / name)
    return root


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(tree=st.sampled_from(sorted(_TREE_FILES)), data=st.data(), text=_NUMBER_TEXT)
def test_any_sysfs_value_gives_a_plausible_sample(trees, monkeypatch, tree, data, text):
    rel = data.draw(st.sampled_from(_TREE_FILES[tree]))
    path = trees / tree / "sys/class/drm/card0" / rel
    original = path.read_text()
    monkeypatch.setenv("KTRACK_SYSFS_ROOT", str(trees / tree))
    try:
        path.write_text(text + "\n")
        devices = gpu.discover()
        assert len(devices) == 1
        assert_plausible([devices[0].sample(), devices[0].sample()])
    finally:
        path.write_text(original)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(rel=st.sampled_from(["sys/class/devfreq/17000000.ga10b/device/load",
                            "sys/class/devfreq/17000000.ga10b/cur_freq",
                            "sys/class/thermal/thermal_zone1/temp",
                            "sys/bus/i2c/drivers/ina3221/1-0040/hwmon/hwmon1/curr1_input", "proc/meminfo"]),
       text=_NUMBER_TEXT)
def test_any_jetson_value_gives_a_plausible_sample(trees, monkeypatch, rel, text):
    path = trees / "jetson_orin" / rel
    original = path.read_text()
    monkeypatch.setenv("KTRACK_SYSFS_ROOT", str(trees / "jetson_orin"))
    try:
        path.write_text(text + "\n")
        assert_plausible([d.sample() for d in gpu.discover()])
    finally:
        path.write_text(original)


def test_cli_shows_na_and_null_for_impossible_values(use_tree, capsys):
    """The reported case: -5 %, -1000 °C and NaN read from sysfs (``python -m gpu``'s main, in this process)."""
    root = use_tree("amd_w7900", copy=True)
    dev = root / "sys/class/drm/card0/device"
    (dev / "gpu_busy_percent").write_text("-5\n")
    (dev / "hwmon/hwmon3/temp1_input").write_text("-1000000\n")
    (dev / "hwmon/hwmon3/power1_average").write_text("nan\n")
    (dev / "hwmon/hwmon3/fan1_input").write_text("1e300\n")
    assert gpu_main([]) == 0
    text = capsys.readouterr().out
    assert "  Utilization: N/A" in text and "  Temperature: N/A" in text
    assert "nan" not in text.lower() and "-5.0%" not in text
    assert gpu_main(["--json"]) == 0
    (d,) = json.loads(capsys.readouterr().out, parse_constant=lambda name: pytest.fail(f"{name} is not JSON"))
    assert d["utilization"] is None and d["temperature_c"] is None and d["power_w"] is None
    assert d["temperature_hotspot_c"] == 85.0 and d["fan_rpm"] is None


# -- fake NVML ------------------------------------------------------------------

_UINT = st.one_of(st.integers(min_value=-(2**40), max_value=2**64), st.sampled_from([0, 2**32 - 1, 2**64 - 1]))
_NVML_VALUE = st.one_of(_UINT, st.floats(allow_nan=True, allow_infinity=True),
                        st.just(fake_pynvml.Err(fake_pynvml.NVML_ERROR_NOT_SUPPORTED)))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(values=st.fixed_dictionaries({k: _NVML_VALUE for k in (
    "util", "temp", "mem_temp", "power_mw", "limit_mw", "fan", "fan_rpm", "clock_gr", "clock_mem", "pstate",
    "energy_mj", "reasons")}), used=_UINT, total=_UINT)
def test_any_nvml_value_gives_a_plausible_sample(fake_nvml, values, used, total):
    from gpu import nvml
    fake_nvml.configure([{"name": "NVIDIA Fake", "memory": (used, total), **values}])
    nvml.reset()
    (dev,) = gpu.discover()
    s = dev.sample()
    assert_plausible([s])
    if isinstance(values["temp"], int) and not -55 <= values["temp"] <= 150:
        assert s.temperature_c is None
    if isinstance(values["util"], float) and math.isnan(values["util"]):
        assert s.utilization is None
