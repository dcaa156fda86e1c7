"""Sweep files built to hurt: alias bombs, self-referencing aliases, huge grids, unknown keys in any section.

Each is one line (``SweepError``, or ``ktrack-sweep: error:`` from the
command) in well under a second and a few MiB, measured with tracemalloc in
the process and with getrusage for the command.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
import tracemalloc
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sweeps import spec
from sweeps.errors import SweepError
from tests.sweeps.conftest import REPO, write_sweep

#: Bounds a refusal must keep: a real sweep file loads in milliseconds and kilobytes.
SECONDS = 1.0
PEAK_BYTES = 8 << 20


def laughs(levels: int = 9, width: int = 9) -> tuple[str, str]:
    """The anchors of a "billion laughs" bomb (``width ** levels`` values) and the alias of its top."""
    lines = ["_l0: &l0 lol"]
    for i in range(1, levels + 1):
        lines.append(f"_l{i}: &l{i} [{', '.join([f'*l{i - 1}'] * width)}]")
    return "\n".join(lines), f"*l{levels}"


def anchored(levels: int = 9, width: int = 9) -> tuple[str, str]:
    """A ``count:`` list defining the bomb's anchors (YAML defines an anchor where it first appears; the
    size check comes before ``count:`` is read) and the alias of the bomb's top."""
    anchors, top = laughs(levels, width)
    return "count:\n" + "\n".join("  - " + line.split(": ", 1)[1] for line in anchors.splitlines()) + "\n", top


def _load_measured(path: Path) -> tuple[str, float, int]:
    tracemalloc.start()
    start = time.perf_counter()
    try:
        with pytest.raises(SweepError) as err:
            spec.load(path)
    finally:
        elapsed = time.perf_counter() - start
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    return str(err.value), elapsed, peak


@pytest.mark.parametrize("field", ["defconfig", "name", "project", "command", "metric", "direction", "tracker",
                                   "vary", "set", "optuna"])
def test_an_alias_bomb_in_any_field_is_one_line_fast_and_small(tmp_path: Path, field: str) -> None:
    anchors, top = anchored()
    body = {"defconfig": "lenet5-cpu", "vary": "{lr: [1e-3]}"}
    body[field] = {"vary": f"{{lr: {top}}}", "optuna": f"{{trials: {top}}}", "set": f"{{MODEL: {top}}}"}.get(field, top)
    text = anchors + "\n".join(f"{k}: {v}" for k, v in body.items()) + "\n"
    message, elapsed, peak = _load_measured(write_sweep(tmp_path, "bomb", text))
    assert "aliases expand to more than 10000 values" in message and "\n" not in message, message
    assert elapsed < SECONDS and peak < PEAK_BYTES, (elapsed, peak)


def test_the_command_refuses_a_bomb_in_one_line_within_bounded_memory(tmp_path: Path) -> None:
    anchors, top = anchored(levels=12)  # 9**12 values: terabytes as text
    path = write_sweep(tmp_path, "bomb", f"{anchors}defconfig: {top}\nvary: {{lr: [1e-3]}}\n")
    # a fresh parent, so RUSAGE_CHILDREN measures this command alone (not earlier tests' children)
    probe = ("import resource, subprocess, sys, time; t = time.perf_counter(); "
             "r = subprocess.run([sys.executable, '-m', 'sweeps', 'run', sys.argv[1]], "
             "capture_output=True, text=True); "
             "print(r.returncode, time.perf_counter() - t, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss); "
             "sys.stderr.write(r.stderr)")
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    result = subprocess.run([sys.executable, "-c", probe, str(path)], capture_output=True, text=True, env=env,
                            timeout=120, cwd=Path.cwd())
    rc, elapsed, peak_kib = result.stdout.split()
    assert rc == "1" and result.stderr.count("\n") == 1, result.stderr
    assert result.stderr.startswith("ktrack-sweep: error: ") and "aliases expand" in result.stderr
    assert int(peak_kib) < 300 << 10, peak_kib  # the interpreter and its imports (MiB), not gigabytes
    assert float(elapsed) < 30, elapsed  # starting Python and its imports on a busy machine; the check is ms


@pytest.mark.parametrize("text, why", [
    ("a: &a [1, *a]\ndefconfig: lenet5-cpu\n", "refers to itself"),
    ("defconfig: lenet5-cpu\nvary: &v {lr: [1e-3], again: *v}\n", "refers to itself"),
    ("defconfig: lenet5-cpu\nvary: {lr: " + "[" * 5000 + "]" * 5000 + "}\n", "not valid YAML"),
])
def test_aliases_into_themselves_and_deep_nesting_are_one_line(tmp_path: Path, text: str, why: str) -> None:
    message, elapsed, peak = _load_measured(write_sweep(tmp_path, "self", text))
    assert why in message and "\n" not in message, message
    assert elapsed < SECONDS and peak < PEAK_BYTES


def test_a_file_too_large_is_refused_unread(tmp_path: Path) -> None:
    path = tmp_path / "big.yaml"
    path.write_text("defconfig: lenet5-cpu\n#" + "x" * (2 << 20) + "\n")
    message, elapsed, peak = _load_measured(path)
    assert "larger than 1 MiB" in message and elapsed < SECONDS and peak < 3 << 20


@pytest.mark.parametrize("text, where, key", [
    ("defconfig: lenet5-cpu\noptuna: {trials: 4, sampler: tpe}\nvary: {lr: [1e-3]}\n", "optuna:", "sampler"),
    ("defconfig: lenet5-cpu\nvary: {lr: {min: 1e-4, max: 1e-2, step: 3}}\n", "the range of vary.TRAIN_LEARNING_RATE",
     "step"),
    ("defconfig: lenet5-cpu\noptuna_trials: 4\nvary: {lr: [1e-3]}\n", "the sweep file", "optuna_trials"),
])
def test_unknown_keys_in_every_section_name_the_key_and_the_allowed_ones(tmp_path: Path, text, where, key) -> None:
    with pytest.raises(SweepError) as err:
        spec.load(write_sweep(tmp_path, "keys", text))
    message = str(err.value)
    assert f"unknown key(s) {key} in {where}; allowed: " in message, message


@pytest.mark.parametrize("text, why", [
    ("defconfig: lenet5-cpu\nvary: {" + ", ".join(f"S{i}: [{', '.join(map(str, range(10)))}]" for i in range(6))
     + "}\n", "the sweep has 1000000 points; at most 10000"),
    ("defconfig: lenet5-cpu\nvary: {lr: {min: 1e-4, max: 1e-2, count: 100000000}}\n", "count must be a whole number"),
    ("defconfig: lenet5-cpu\noptuna: {trials: 1000000000}\nvary: {lr: [1e-3]}\n", "optuna.trials must be"),
    ("defconfig: lenet5-cpu\nseed: [1]\nvary: {lr: [1e-3]}\n", "seed must be a whole number"),
    ("defconfig: [lenet5-cpu]\nvary: {lr: [1e-3]}\n", "defconfig: must be one line of text"),
    ("defconfig: lenet5-cpu\noptuna: {metric: {a: 1}}\nvary: {lr: [1e-3]}\n", "optuna.metric: must be one line"),
    ("defconfig: lenet5-cpu\nvary: {lr: [[1e-3]]}\n", "must be a non-empty list of values"),
    ("defconfig: lenet5-cpu\nset: [1]\nvary: {lr: [1e-3]}\n", "set: must be a mapping"),
    ("defconfig: lenet5-cpu\nset: {MODEL: {a: 1}}\nvary: {lr: [1e-3]}\n", "set.MODEL must be one value"),
])
def test_shapes_and_sizes_a_sweep_cannot_have(tmp_path: Path, text: str, why: str) -> None:
    message, elapsed, peak = _load_measured(write_sweep(tmp_path, "shape", text))
    assert why in message and "\n" not in message, message
    assert elapsed < SECONDS and peak < PEAK_BYTES


def _expanded(value, budget: int) -> int:
    """How many values ``value`` stands for with every alias written out (brute force, stops past ``budget``)."""
    total, todo = 0, [value]
    while todo and total <= budget:
        item = todo.pop()
        total += 1
        if isinstance(item, dict):
            total += len(item)  # the keys
            todo.extend(item.values())
        elif isinstance(item, list):
            todo.extend(item)
    return total


@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(levels=st.integers(1, 12), width=st.integers(1, 12),
       field=st.sampled_from(["defconfig", "project", "command", "metric", "vary"]))
def test_refused_exactly_when_the_aliases_expand_beyond_the_bound(tmp_path_factory, levels, width, field) -> None:
    anchors, top = anchored(levels, width)
    value = f"{{lr: {top}}}" if field == "vary" else top
    text = anchors + ("" if field == "defconfig" else "defconfig: lenet5-cpu\n") + f"{field}: {value}\n" \
        + ("" if field == "vary" else "vary: {lr: [1e-3]}\n")
    path = write_sweep(tmp_path_factory.mktemp("p"), "b", text)
    expected = _expanded(yaml.safe_load(text), spec.MAX_VALUES) > spec.MAX_VALUES  # shared lists: cheap to load
    start = time.perf_counter()
    try:
        spec.load(path)
        refused = ""
    except SweepError as exc:
        refused = str(exc)
    assert time.perf_counter() - start < SECONDS
    assert ("aliases expand" in refused) == expected, refused
