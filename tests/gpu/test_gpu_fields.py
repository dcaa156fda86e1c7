"""The GPU field table (gpu.fields): one row per sample field, and one parser for every key spelling."""
from __future__ import annotations

import dataclasses

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gpu.fields import BY_NAME, FIELDS, VALUE_FIELDS, by_gpu, format_key, parse_key, value
from gpu.sample import GpuSample

NAMES = [f.name for f in FIELDS]


def test_the_table_has_a_row_for_every_sample_field() -> None:
    identity = {"index", "vendor", "name", "timestamp"}
    assert {f.name for f in dataclasses.fields(GpuSample)} - identity == set(VALUE_FIELDS)
    assert len(set(NAMES)) == len(NAMES)


def test_fan_percent_is_logged_as_fan_speed() -> None:
    """The one decision: the sample field fan_percent, the key ktrack logs (and has always logged) fan_speed;
    both spellings read as the field."""
    assert BY_NAME["fan_percent"].key == "fan_speed"
    assert format_key("fan_percent", 1) == "gpu1/fan_speed"
    for key in ("gpu/fan_speed", "gpu/fan_percent", "gpu/0/fan_speed", "gpu.0.fanSpeed"):
        assert parse_key(key).field == "fan_percent", key  # type: ignore[union-attr]


@pytest.mark.parametrize("key,node,index,field,aggregate", [
    ("gpu/utilization", None, 0, "utilization", None),
    ("gpu1/power_w", None, 1, "power_w", None),
    ("gpu/1/temp", None, 1, "temperature_c", None),
    ("gpu/0/allocated_memory", None, 0, "memory_used_gb", None),
    ("gpu/a/1/power_w", "a", 1, "power_w", None),
    ("gpu/node-7/0/sm_clock", "node-7", 0, "clock_graphics_mhz", None),
    ("gpu.0.powerWatts", None, 0, "power_w", None),
    ("gpu.0.gpu", None, 0, "utilization", None),
    ("gpu.a.2.memoryAllocatedBytes", "a", 2, "memory_used_gb", None),
    ("gpu/compute_util_avg", None, None, "utilization", "avg"),
    ("gpu/memory_used_avg_gb", None, None, "memory_used_gb", "avg"),
    ("gpu/energy_wh", None, 0, "energy_wh", None),  # not a sample field: its name as it is
])
def test_every_spelling_in_use(key: str, node: str | None, index: int | None, field: str,
                               aggregate: str | None) -> None:
    k = parse_key(key)
    assert k is not None and (k.node, k.gpu, k.field, k.aggregate) == (node, index, field, aggregate)


@pytest.mark.parametrize("key", ["loss", "gpu", "gpu/", "gpux/power_w", "gpu/0/1/power_w", "gpu1/0/power_w",
                                 "gpu_total/energy_wh", "gpu/a/b/power_w", "gpu.x.power", "numerics/gpu/x",
                                 "gpu/a/1/x/y"])
def test_not_gpu_keys(key: str) -> None:
    assert parse_key(key) is None


def test_scales_read_back_in_the_tables_units() -> None:
    assert value("gpu/0/memory_usage", 0.5) == 50.0  # Trackio: a fraction
    assert value("gpu.0.memoryAllocatedBytes", 2 * 1024 ** 3) == 2.0
    assert value("gpu/power_w", 250.0) == 250.0


def test_by_gpu_prefers_ktracks_spelling() -> None:
    keys = ["gpu/temp", "gpu/temperature_c", "gpu/compute_util_avg", "gpu1/power_w", "gpu/a/0/power_w", "loss"]
    assert by_gpu(keys) == {("", 0): {"temperature_c": "gpu/temperature_c", "utilization": "gpu/compute_util_avg"},
                            ("", 1): {"power_w": "gpu1/power_w"}, ("a", 0): {"power_w": "gpu/a/0/power_w"}}


NODE = st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789-_", min_size=1, max_size=12).filter(
    lambda s: not s.isdigit())


@given(field=st.sampled_from(NAMES), index=st.integers(0, 64), node=st.none() | NODE,
       tracker=st.sampled_from(["ktrack", "trackio", "wandb"]))
def test_format_then_parse_round_trips(field: str, index: int, node: str | None, tracker: str) -> None:
    key = format_key(field, index, node, tracker)
    k = parse_key(key)
    assert k is not None, key
    assert (k.node, k.gpu, k.field, k.aggregate) == (node, index, field, None), key
    assert format_key(k.field, k.gpu or 0, k.node, tracker) == key


@given(st.text(max_size=30))
def test_parse_never_raises(key: str) -> None:
    k = parse_key(key)
    assert k is None or key.startswith("gpu")
