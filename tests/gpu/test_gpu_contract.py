"""The Device protocol and its one vocabulary, checked on every backend."""
from __future__ import annotations

import inspect

import pytest

import gpu
from gpu.amd import AmdDevice
from gpu.intel import IntelDevice
from gpu.jetson import JetsonDevice
from gpu.nvml import NvmlDevice
from gpu.fields import VALUE_FIELDS

BACKENDS = (NvmlDevice, AmdDevice, IntelDevice, JetsonDevice)


@pytest.mark.parametrize("cls", BACKENDS, ids=lambda c: c.__name__)
def test_public_getters_are_named_after_sample_fields(cls):
    """``power_w`` is ``power_w`` everywhere: no ``power_watts``, ``gpu_busy_percent``, ``load_percent``."""
    public = {name for name, _ in inspect.getmembers(cls, inspect.isfunction) if not name.startswith("_")}
    assert public - {"sample"} <= set(VALUE_FIELDS), sorted(public - {"sample"} - set(VALUE_FIELDS))
    assert "utilization" in public


@pytest.mark.parametrize("tree", ["amd_w7900", "intel_xe", "jetson_orin", "mixed"])
def test_discovered_devices_meet_the_protocol(use_tree, tree):
    use_tree(tree)
    devices = gpu.discover()
    assert devices and all(isinstance(d, gpu.Device) for d in devices)
    for d in devices:
        s = d.sample()
        assert (s.index, s.vendor, s.name) == (d.index, d.vendor, d.name)


def test_nvml_devices_meet_the_protocol(fake_nvml):
    assert all(isinstance(d, gpu.Device) for d in gpu.discover())


def test_a_sampler_takes_any_protocol_device():
    """Not only the base class: anything with index, vendor, name and sample()."""
    class Plain:
        index, vendor, name = 0, "amd", "plain"

        def sample(self):
            return gpu.sample.make_sample(0, "amd", "plain", 1.0, power_w=100.0)

    dev = Plain()
    assert isinstance(dev, gpu.Device)
    with gpu.Sampler(interval=10, devices=[dev]) as s:
        assert s.latest()[0].power_w == 100.0
