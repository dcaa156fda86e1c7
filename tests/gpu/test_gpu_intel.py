from __future__ import annotations

import os
import time

import pytest

import gpu
from gpu import fdinfo


def _client(root, pid, fd, text, target="/dev/dri/renderD128"):
    (root / f"proc/{pid}/fd").mkdir(parents=True, exist_ok=True)
    (root / f"proc/{pid}/fdinfo").mkdir(parents=True, exist_ok=True)
    link = root / f"proc/{pid}/fd/{fd}"
    if not link.is_symlink():
        os.symlink(target, link)
    (root / f"proc/{pid}/fdinfo/{fd}").write_text(text)


def _i915(ns, cid=7, pdev="0000:03:00.0"):
    return (f"pos:\t0\nflags:\t02100002\ndrm-driver:\ti915\ndrm-client-id:\t{cid}\n"
            f"drm-pdev:\t{pdev}\ndrm-engine-render:\t{ns} ns\ndrm-engine-copy:\t0 ns\n"
            f"drm-engine-capacity-video:\t2\n")


def _xe(cycles, total, cid=4):
    return (f"drm-driver:\txe\ndrm-client-id:\t{cid}\ndrm-pdev:\t0000:04:00.0\n"
            f"drm-cycles-rcs:\t{cycles}\ndrm-total-cycles-rcs:\t{total}\n"
            f"drm-cycles-bcs:\t0\ndrm-total-cycles-bcs:\t{total}\n")


def test_i915_arc(use_tree):
    root = use_tree("intel_arc_i915", copy=True)
    (dev,) = gpu.discover()
    assert (dev.vendor, dev.name, dev.driver) == ("intel", "Intel Arc A770", "i915")
    energy = root / "sys/class/drm/card0/device/hwmon/hwmon2/energy1_input"
    t0 = time.monotonic()
    energy.write_text(str(1_000_000_000 + 50_000_000))   # +50 J
    time.sleep(0.2)
    s = dev.sample()
    dt = time.monotonic() - t0
    assert s.clock_graphics_mhz == 2400 and s.power_limit_w == 225 and s.fan_rpm == 1200
    assert 50 / (dt + 0.2) < s.power_w < 50 / 0.19
    assert s.memory_used_gb is None and s.perf_state is None
    energy.write_text("5")                                # counter wrapped -> None
    assert dev.sample().power_w is None


def test_i915_idle_reports_requested_freq(use_tree):
    root = use_tree("intel_arc_i915", copy=True)
    (root / "sys/class/drm/card0/gt_act_freq_mhz").write_text("0\n")
    (root / "sys/class/drm/card0/gt_cur_freq_mhz").write_text("300\n")
    assert gpu.discover()[0].sample().clock_graphics_mhz == 300


def test_i915_fdinfo_utilization(use_tree):
    root = use_tree("intel_arc_i915", copy=True)
    _client(root, 100, 5, _i915(0))
    _client(root, 100, 6, _i915(0))                    # same client id: counted once
    _client(root, 200, 3, _i915(0, cid=9, pdev="0000:00:02.0"))  # other GPU
    _client(root, 300, 1, "pos: 0\n", target="/home/x/file")     # not DRM
    (dev,) = gpu.discover()
    t0 = time.monotonic()
    time.sleep(0.1)
    _client(root, 100, 5, _i915(40_000_000))          # 40 ms busy
    _client(root, 100, 6, _i915(40_000_000))
    _client(root, 200, 3, _i915(10**12, cid=9, pdev="0000:00:02.0"))
    util = dev.sample().utilization
    wall = time.monotonic() - t0
    assert util == pytest.approx(0.04 / wall * 100, rel=0.2)


def test_xe_card(use_tree):
    root = use_tree("intel_xe", copy=True)
    _client(root, 42, 9, _xe(0, 1000))
    (dev,) = gpu.discover()
    assert (dev.name, dev.driver) == ("Intel Arc B580", "xe")
    _client(root, 42, 9, _xe(250, 2000))               # 250 of 1000 cycles busy
    s = dev.sample()
    assert s.utilization == pytest.approx(25.0)
    assert s.clock_graphics_mhz == 2850                # tile0/gt0, not the media gt1
    assert (s.temperature_c, s.temperature_memory_c) == (58, 61)
    assert s.power_limit_w == 190


def test_utilization_none_without_proc(use_tree):
    use_tree("intel_xe")
    (dev,) = gpu.discover()
    assert dev.sample().utilization is None


def test_utilization_none_when_processes_unreadable(use_tree):
    root = use_tree("intel_xe", copy=True)
    (root / "proc/77").mkdir(parents=True)
    (root / "proc/77/fd").write_text("not a directory")  # unreadable fd list
    (dev,) = gpu.discover()
    assert dev.sample().utilization is None


def test_fdinfo_parse():
    info = fdinfo.parse("drm-driver:\ti915\ndrm-engine-render:\t12 ns\nnoise\n")
    assert info == {"drm-driver": "i915", "drm-engine-render": "12 ns"}


def test_mixed_machine(use_tree):
    use_tree("mixed")
    devices = gpu.discover()
    assert [(d.index, d.vendor, d.name) for d in devices] == [
        (0, "intel", "Intel UHD Graphics 770"), (1, "amd", "AMD Radeon Pro W7900")]
    samples = [d.sample() for d in devices]
    metrics = gpu.to_metrics(samples)
    assert metrics["gpu1/utilization"] == 100.0 and metrics["gpu/clock_graphics_mhz"] == 2400
    assert "gpu1/fan_speed" in metrics and "gpu/fan_speed" not in metrics


def test_backend_filter(use_tree):
    use_tree("mixed")
    assert [d.vendor for d in gpu.discover(backends=["amd"])] == ["amd"]
    assert [d.index for d in gpu.discover(backends=["intel"])] == [0]
    assert gpu.discover(backends=[]) == []


def test_i915_throttle_reasons(use_tree):
    root = use_tree("intel_arc_i915", copy=True)
    gt = root / "sys/class/drm/card0/gt/gt0"
    (dev,) = gpu.discover()
    assert dev.sample().throttle == ""                       # status 0: not throttled
    for name in ("status", "pl1", "pl2", "thermal"):
        (gt / f"throttle_reason_{name}").write_text("1\n")
    assert dev.sample().throttle == "power,thermal"          # pl1 and pl2 are both "power"
    (gt / "throttle_reason_pl1").write_text("0\n")
    (gt / "throttle_reason_pl2").write_text("0\n")
    (gt / "throttle_reason_thermal").write_text("0\n")
    assert dev.sample().throttle == "other"                  # throttled, no reason named


def test_xe_throttle_reasons_and_unknown(use_tree):
    root = use_tree("intel_xe", copy=True)
    (dev,) = gpu.discover()
    assert dev.sample().throttle == "power,thermal"
    for f in (root / "sys/class/drm/card0/device/tile0/gt0/freq0/throttle").iterdir():
        f.write_text("garbage\n")
    assert dev.sample().throttle is None                     # nothing readable: unknown
    use_tree("mixed")
    assert [d.sample().throttle for d in gpu.discover()] == ["", None]   # Intel, then AMD (no reasons)


def test_intel_energy_counter(use_tree):
    root = use_tree("intel_arc_i915", copy=True)
    (dev,) = gpu.discover()
    assert dev.sample().energy_j == pytest.approx(1000.0)          # 1e9 µJ
    (root / "sys/class/drm/card0/device/hwmon/hwmon2/energy1_input").write_text("1000000001\n")
    assert dev.sample().energy_j == pytest.approx(1000.000001)
