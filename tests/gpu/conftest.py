"""Fixtures for the gpu tests: fake sysfs roots and the fake NVML module."""
from __future__ import annotations

import shutil
import sys
from pathlib import Path

import pytest

from gpu import nvml
from tests.gpu import fake_pynvml

FIXTURES = Path(__file__).resolve().parent / "fixtures"


@pytest.fixture(autouse=True)
def no_real_gpus(monkeypatch, tmp_path):
    """Every test starts on an empty sysfs root and without NVML."""
    empty = tmp_path / "emptyroot"
    empty.mkdir()
    monkeypatch.setenv("KTRACK_SYSFS_ROOT", str(empty))
    monkeypatch.setitem(sys.modules, "pynvml", None)   # import fails -> no NVML
    monkeypatch.setenv("PATH", str(tmp_path / "nobin"))
    nvml.reset()
    yield
    nvml.reset()


@pytest.fixture
def use_tree(monkeypatch, tmp_path):
    """``use_tree(name, copy=False)`` points ``KTRACK_SYSFS_ROOT`` at a fixture tree.

    With ``copy=True`` the tree is copied to tmp first so the test may change it.
    Returns the root as a Path.
    """
    def _use(name: str, copy: bool = False) -> Path:
        root = FIXTURES / name
        if copy:
            dst = tmp_path / name
            shutil.copytree(root, dst)
            root = dst
        monkeypatch.setenv("KTRACK_SYSFS_ROOT", str(root))
        return root
    return _use


A100 = {"name": b"NVIDIA A100-SXM4-80GB", "util": 87, "memory": (40 * 2**30, 80 * 2**30),
        "temp": 61, "mem_temp": 70, "power_mw": 312456, "limit_mw": 400000,
        "fan": fake_pynvml.Err(fake_pynvml.NVML_ERROR_NOT_SUPPORTED),
        "fan_rpm": fake_pynvml.Err(fake_pynvml.NVML_ERROR_NOT_SUPPORTED),
        "clock_gr": 1410, "clock_mem": 1593, "pstate": 0}
RTX = {"name": "NVIDIA GeForce RTX 4090", "util": 12, "memory": (3 * 2**30, 24 * 2**30),
       "temp": 48, "mem_temp": fake_pynvml.Err(fake_pynvml.NVML_ERROR_NOT_SUPPORTED),
       "power_mw": 35000, "limit_mw": 450000, "fan": 30, "fan_rpm": 1100,
       "clock_gr": 210, "clock_mem": 405, "pstate": 8}


@pytest.fixture
def fake_nvml(monkeypatch):
    """Inject the fake NVML module as ``pynvml`` with two GPUs (A100, RTX 4090)."""
    fake_pynvml.configure([dict(A100), dict(RTX)])
    monkeypatch.setitem(sys.modules, "pynvml", fake_pynvml)
    nvml.reset()
    return fake_pynvml
