"""Fixtures for the gpu tests: fake sysfs roots and the fake NVML module."""
from __future__ import annotations

import shutil
import sys
from pathlib import Path

import pytest

from gpu import nvml
from tests.gpu import fake_pynvml
from tests.gpu.fake_pynvml import A100, RTX

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


@pytest.fixture
def fake_nvml(monkeypatch):
    """Inject the fake NVML module as ``pynvml`` with two GPUs (A100, RTX 4090)."""
    fake_pynvml.configure([dict(A100), dict(RTX)])
    monkeypatch.setitem(sys.modules, "pynvml", fake_pynvml)
    nvml.reset()
    return fake_pynvml
