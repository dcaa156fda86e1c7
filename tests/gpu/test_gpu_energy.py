"""Energy per GPU: the device's counter where it has one, else the integral of sampled power."""
from __future__ import annotations

import time

import pytest

import gpu
from gpu.energy import EnergyMeter, interval_joules
from gpu.sample import make_sample


def _s(t, index=0, power=None, energy=None):
    return make_sample(index, "x", "x", t, power_w=power, energy_j=energy)


def test_counter_delta_wins_over_power():
    m = EnergyMeter()
    for t, e in ((0.0, 1000.0), (1.0, 1300.0), (3.0, 1900.0)):
        m.add(_s(t, power=10.0, energy=e))                 # the power says 30 J; the counter 900 J
    assert m.joules() == {0: 900.0}
    assert m.wh() == {0: pytest.approx(0.25)}


def test_power_trapezoid_without_counter():
    m = EnergyMeter()
    for t, p in ((0.0, 100.0), (2.0, 200.0), (3.0, None), (4.0, 300.0)):
        m.add(_s(t, power=p))
    # 0-2 s: (100+200)/2*2 = 300; 2-3 s: only 200 known -> 200; 3-4 s: only 300 -> 300
    assert m.joules() == {0: pytest.approx(800.0)}


def test_counter_reset_or_wrap_falls_back_to_power_for_that_interval():
    m = EnergyMeter()
    for t, e in ((0.0, 5000.0), (1.0, 5100.0), (2.0, 3.0), (3.0, 103.0)):   # driver reload at t=2
        m.add(_s(t, power=50.0, energy=e))
    assert m.joules()[0] == pytest.approx(100.0 + 50.0 + 100.0)


def test_counter_jump_beyond_any_power_is_ignored():
    a, b = _s(0.0, power=10.0, energy=0.0), _s(1.0, power=10.0, energy=1e9)
    assert interval_joules(a, b) == pytest.approx(10.0)


def test_clock_going_backwards_adds_nothing():
    m = EnergyMeter()
    m.add(_s(10.0, power=100.0))
    m.add(_s(5.0, power=100.0))
    m.add(_s(11.0, power=100.0))
    assert m.joules() == {0: pytest.approx(100.0)}


def test_gpus_are_kept_apart_and_a_gpu_without_power_counts_zero():
    m = EnergyMeter()
    for t in (0.0, 1.0):
        m.add(_s(t, 0, power=100.0))
        m.add(_s(t, 1))
    assert m.joules() == {0: pytest.approx(100.0), 1: 0.0}


def test_sampler_energy_nvml_counter_and_power(fake_nvml):
    """A100: NVML total energy counter (mJ); RTX 4090 (no counter): 35 W integrated."""
    s = gpu.Sampler(interval=3600)
    with s:
        time.sleep(0.05)
        fake_nvml.GPUS[0]["energy_mj"] += 18_000               # +18 J (at most 360 W over 50 ms)
    e = s.energy_wh()
    hist = s.history(1)
    assert len(hist) == 2                                      # start() and stop() each took one
    assert e[0] == pytest.approx(18.0 / 3600)                  # the counter, not 312 W x time
    assert e[1] == pytest.approx(35.0 * (hist[-1].timestamp - hist[0].timestamp) / 3600)
    assert e[1] > 0


def test_sampler_energy_intel_counter(use_tree):
    root = use_tree("intel_arc_i915", copy=True)
    counter = root / "sys/class/drm/card0/device/hwmon/hwmon2/energy1_input"
    s = gpu.Sampler(interval=3600)
    with s:
        time.sleep(0.05)
        counter.write_text(str(1_000_000_000 + 9_000_000))      # +9 J
    assert s.energy_wh() == {0: pytest.approx(9.0 / 3600)}


def test_sampler_energy_amd_power_integral(use_tree):
    use_tree("amd_w7900")
    s = gpu.Sampler(interval=0.02)
    with s:
        time.sleep(0.15)
    hist = s.history(0)
    assert len(hist) >= 3
    assert s.energy_wh()[0] == pytest.approx(240.0 * (hist[-1].timestamp - hist[0].timestamp) / 3600)


def test_energy_before_any_sample_is_empty():
    assert gpu.Sampler(devices=[]).energy_wh() == {}
