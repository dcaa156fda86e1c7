"""--gpu on the gpu package's fixture sysfs trees (KTRACK_SYSFS_ROOT), NVML off."""
from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.viewer.conftest import REPO, env_for

import gpu  # noqa: F401
TREES = REPO / "tests" / "gpu" / "fixtures"


def gpu_env(tmp_path: Path, tree: str) -> dict[str, str]:
    shim = tmp_path / "nonvml"
    shim.mkdir(exist_ok=True)
    (shim / "pynvml.py").write_text('raise ImportError("NVML disabled in tests")\n')
    env = env_for(tmp_path)
    env.update(KTRACK_SYSFS_ROOT=str(TREES / tree), PYTHONPATH=f"{REPO}:{shim}")
    return env


@pytest.mark.skipif(not (TREES / "amd_w7900").is_dir(), reason="no amd_w7900 fixture tree")
def test_gpu_once_seed_block(tmp_path: Path) -> None:
    p = subprocess.run([sys.executable, "-m", "viewer", "--gpu", "--once"], env=gpu_env(tmp_path, "amd_w7900"),
                       capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, p.stderr
    assert p.stdout == ("=" * 60 + "\nGPU Status\n" + "=" * 60 + "\n\nAMD Radeon Pro W7900\n"
                        "  Utilization: 100.0%\n  Memory: 29.2/48.0 GB (60.8%)\n  Temperature: 70\u00b0C\n"
                        "  Power: 240/241W\n  Fan: 48.9% (1938 RPM)\n  GPU Clock: 2162 MHz\n"
                        "  Mem Clock: 1124 MHz\n  Perf State: auto\n")


@pytest.mark.tmux
@pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux not installed")
@pytest.mark.skipif(not (TREES / "mixed").is_dir(), reason="no mixed fixture tree")
def test_gpu_live_number_keys(tmp_path: Path) -> None:
    import shlex

    from tests.tmux_driver import Tmux

    env = gpu_env(tmp_path, "mixed")
    env = {k: env[k] for k in ("KTRACK_SYSFS_ROOT", "PYTHONPATH", "HOME")}
    env["TERM"] = "xterm-256color"
    with Tmux(f"{shlex.quote(sys.executable)} -m viewer --gpu -i 0.3", cwd=str(tmp_path), env=env,
              width=110, height=45) as t:
        first = t.wait_for("GPU 0 [0-1]", timeout=60)
        t.send("1")
        second = t.wait_for("GPU 1 [0-1]")
        names = ("Intel UHD Graphics 770", "AMD Radeon Pro W7900")
        assert [n for n in names if n in first] != [n for n in names if n in second]
        t.send("q")
        assert t.exit_status() == 0


def test_gpu_once_without_gpus_is_an_error(tmp_path):
    """No GPU: one line naming what was checked, exit 1 (as python -m gpu does)."""
    env = env_for(tmp_path)
    (tmp_path / "sys").mkdir()
    env["KTRACK_SYSFS_ROOT"] = str(tmp_path)
    proc = subprocess.run([sys.executable, "-m", "viewer", "--gpu", "--once"], env=env,
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 1 and proc.stdout == ""
    assert proc.stderr.startswith("trackio-view: error: No GPUs found (checked: ")
    assert len(proc.stderr.strip().splitlines()) == 1
