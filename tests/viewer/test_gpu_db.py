"""--gpu-db: gpu/* keys logged with steps in `metrics` and Trackio's own
`system_metrics` (gpu/<i>/... keys, no step), both shown."""
from __future__ import annotations

from pathlib import Path

import pytest

from tests.viewer.conftest import view, write

EXPECTED_HEAD = """\
================================================================================
GPU Metrics from Database - Project: my-training
================================================================================

Latest GPU Status (Step 1000):
  GPU Utilization: 95.2%
  Memory Usage: 22.1 GB (46.0%)
  Temperature: 75\u00b0C
  Power: 285W
  Clock Frequencies:
    Graphics: 2100 MHz
    Memory: 1124 MHz
    Fclk: 1600 MHz
    Socclk: 1058 MHz

Latest GPU 1 Status (Step 1000):
  Utilization: 10.0%

Historical Data (1001 logged entries):
  Utilization: 85.0% - 100.0% (avg: 92.5%)
  Temperature: 65\u00b0C - 82\u00b0C (avg: 74\u00b0C)
  Power: 200W - 295W (avg: 248W)

Data Range: Steps 0 - 1000

Available GPU Metrics:
  - utilization (1001 data points)
  - memory_used_gb (1001 data points)
  - memory_percent (1001 data points)
  - temperature_c (1001 data points)
  - power_w (1001 data points)
  - clock_graphics_mhz (1001 data points)
  - clock_memory_mhz (1001 data points)
  - clock_fclk_mhz (1001 data points)
  - clock_socclk_mhz (1001 data points)
  - fan_speed (1001 data points)
  - fan_rpm (1001 data points)
  - perf_state (1001 data points)
  - gpu1/utilization (101 data points)
"""


@pytest.fixture(scope="module")
def gpu_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("gpudb")
    write(root, """
        rows, steps = [], []
        for s in range(1001):
            last = s == 1000
            m = {"loss": 1.0,
                 "gpu/utilization": 95.2 if last else 85.0 + 15.0 * (s % 2),
                 "gpu/memory_used_gb": 22.1, "gpu/memory_percent": 46.0,
                 "gpu/temperature_c": 75.0 if last else (65.0 if s % 2 else 82.0),
                 "gpu/power_w": 285.0 if last else (200.0 if s % 2 else 295.0),
                 "gpu/clock_graphics_mhz": 2100, "gpu/clock_memory_mhz": 1124,
                 "gpu/clock_fclk_mhz": 1600, "gpu/clock_socclk_mhz": 1058,
                 "gpu/fan_speed": 40.0, "gpu/fan_rpm": 1900, "gpu/perf_state": "P0"}
            if s % 10 == 0:
                m["gpu1/utilization"] = 10.0
            rows.append(m); steps.append(s)
        bulk("my-training", "run", rows, steps)
        trackio.init(project="my-training", name="run", resume="allow")
        for i in range(3):
            trackio.log_system({"gpu/0/utilization": 90.0 + i, "gpu/0/temp": 70.0,
                                "gpu/0/power": 250.0, "gpu/0/allocated_memory": 20.5,
                                "gpu/1/utilization": 5.0})
        trackio.finish()
    """)
    return root


def test_gpu_db_report(gpu_root: Path) -> None:
    out = view(gpu_root, "--gpu-db", "-p", "my-training", "--once", check=True).stdout
    assert out.startswith(EXPECTED_HEAD), out
    tail = out[len(EXPECTED_HEAD):]
    assert "Trackio System Metrics (system_metrics table, 3 logged entries):" in tail
    assert "  GPU 0 latest: util 92.0%, mem 20.5 GB, temp 70\u00b0C, power 250W" in tail
    assert "  GPU 1 latest: util 5.0%" in tail
    assert "  - gpu/0/utilization (3 data points)" in tail


def test_gpu_db_seed_snippets(gpu_root: Path, tmp_path: Path) -> None:
    import subprocess
    import sys
    from tests.viewer.conftest import env_for
    env = env_for(gpu_root)
    tv = f'"{sys.executable}" -m viewer'
    script = f'''gpu_util=$({tv} --gpu-db --project my-training --once | grep "GPU Utilization:" | \\
  awk '{{print $3}}' | sed 's/%//')
if (( $(echo "$gpu_util < 80" | bc -l) )); then
  echo "Warning: GPU underutilized at ${{gpu_util}}%"; else echo "ok $gpu_util"; fi
{tv} --gpu-db --project my-training --once | grep "Temperature" | head -1
{tv} --gpu-db --project my-training --once | grep "Memory" | head -1
'''
    p = subprocess.run(["bash", "-c", script], env=env, capture_output=True, text=True, timeout=60)
    assert p.stdout.splitlines() == ["ok 95.2", "  Temperature: 75\u00b0C", "  Memory Usage: 22.1 GB (46.0%)"]


def test_gpu_db_one_block_per_gpu(tmp_path: Path) -> None:
    """Two GPUs logged as gpu/ and gpu1/: the documented block, then one for GPU 1
    (its own latest row; 'Utilization:' so grep "GPU Utilization:" stays unique)."""
    write(tmp_path, """
        rows = []
        for s in range(50):
            m = {"loss": 1.0, "gpu/utilization": 50.0 + s, "gpu/temperature_c": 60.0}
            if s < 40:
                m.update({"gpu1/utilization": 20.0 + s, "gpu1/memory_used_gb": 3.5,
                          "gpu1/memory_percent": 10.0, "gpu1/temperature_c": 55.0, "gpu1/power_w": 120.0,
                          "gpu1/clock_graphics_mhz": 1500})
            rows.append(m)
        bulk("two", "r", rows, list(range(50)))
    """)
    out = view(tmp_path, "--gpu-db", "-p", "two", "--once", check=True).stdout
    assert """Latest GPU Status (Step 49):
  GPU Utilization: 99.0%
  Temperature: 60\u00b0C

Latest GPU 1 Status (Step 39):
  Utilization: 59.0%
  Memory Usage: 3.5 GB (10.0%)
  Temperature: 55\u00b0C
  Power: 120W
  Clock Frequencies:
    Graphics: 1500 MHz

Historical Data (50 logged entries):""" in out, out
    assert out.count("GPU Utilization:") == 1


GPULESS = """
import sys, types
import trackers
cfg = types.SimpleNamespace(MODEL="lenet5", OPTIMIZER="sgd", ENABLE_TRACKIO=True, ENABLE_WANDB=False,
                            ENABLE_TENSORBOARD=False, TRACKER_PROJECT="", TRACKER_RUN_NAME="", WANDB_ENTITY="",
                            WANDB_OFFLINE=False, TRACKER_LOG_GPU=False, GPU_NVML=False)
for name, on in (("asked", True), ("not-asked", False)):
    run = trackers.init(cfg=cfg, config={"TRACKER_LOG_GPU": on, "TRAIN_LR": 0.1}, project="gpuless",
                        run_name=name, run_dir=sys.argv[1] + "/" + name, trackers=["trackio"], log_gpu=on,
                        capture_console=False)
    run.log({"train/loss": 1.0})
    run.finish()
"""


def test_gpu_db_says_why_there_are_no_gpu_values(tmp_path: Path) -> None:
    """A run that had TRACKER_LOG_GPU=y on a machine without a GPU is not told to set it."""
    import subprocess
    import sys

    from tests.viewer.conftest import env_for

    fixtures = Path(__file__).resolve().parents[1] / "gpu" / "fixtures" / "empty"
    subprocess.run([sys.executable, "-c", GPULESS, str(tmp_path / "runs" / "gpuless")], check=True,
                   env={**env_for(tmp_path), "KTRACK_SYSFS_ROOT": str(fixtures)}, capture_output=True,
                   timeout=120)
    for run, said, not_said in (("asked", "TRACKER_LOG_GPU=y was set for this run", "log them with"),
                                ("not-asked", "log them with TRACKER_LOG_GPU=y", "was set")):
        p = view(tmp_path, "--gpu-db", "-p", "gpuless", "--run", run, "--once")
        assert p.returncode == 1 and "Traceback" not in p.stderr, p.stderr
        (line,) = p.stderr.strip().splitlines()
        assert line.startswith("trackio-view: error:") and "has no GPU metrics" in line, line
        assert said in line and not_said not in line, line
