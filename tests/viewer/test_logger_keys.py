"""The keys other loggers write: accelerate's `training_loss` (a real Accelerator
logging to trackio), the Hugging Face Trainer's rows through trackio (`train/loss`,
`eval/loss`, `train/learning_rate`, `train/global_step`), AdamWPrune's `gpu/*_avg`
keys and Trackio's own system metrics in --gpu-db, energy wherever it is kept."""
from __future__ import annotations

from pathlib import Path

from tests.viewer.conftest import view, write


def test_accelerate_project(tmp_path: Path) -> None:
    write(tmp_path, """
        from accelerate import Accelerator
        acc = Accelerator(log_with="trackio", cpu=True)
        acc.init_trackers("accel-proj")
        for step in range(1, 41):
            acc.log({"training_loss": 4.0 - step / 20, "learning_rate": 1e-4}, step=step)
        acc.end_training()
    """)
    out = view(tmp_path, "--once", "-p", "accel-proj", check=True).stdout
    assert "Latest Iteration: 40\nLatest Loss: 2.0000" in out and "Learning Rate: 1.00e-04" in out


def test_hugging_face_trainer_rows(tmp_path: Path) -> None:
    # what transformers' TrackioCallback logs: rewrite_logs() keys plus train/global_step, no step
    write(tmp_path, """
        trackio.init(project="hf-proj", name="trainer")
        for i in range(1, 31):
            trackio.log({"train/loss": 3.0 - i / 30, "train/learning_rate": 5e-5, "train/epoch": i / 10,
                         "train/global_step": 10 * i})
            if i % 10 == 0:
                trackio.log({"eval/loss": 2.5 - i / 100, "train/global_step": 10 * i})
        trackio.finish()
        trackio.init(project="hf-eval", name="evaluate-only")
        for i in range(1, 6):
            trackio.log({"eval/loss": 1.0 / i, "train/global_step": 100 * i})
        trackio.finish()
    """)
    out = view(tmp_path, "--once", "-p", "hf-proj", check=True).stdout
    assert "Latest Iteration: 300\nLatest Loss: 2.0000" in out and "Learning Rate: 5.00e-05" in out
    assert "Loss Trend (Iterations 10 to 300):" in out
    evals = view(tmp_path, "--once", "-p", "hf-eval", check=True).stdout
    assert "Latest Iteration: 500\nLatest Loss: 0.2000" in evals


def test_gpu_db_adamwprune_and_trackio_system_keys(tmp_path: Path) -> None:
    write(tmp_path, """
        rows = [{"train_loss": 2.0, "iteration": s, "gpu/compute_util_avg": 80.0 + s % 3,
                 "gpu/memory_util_avg": 30.0, "gpu/memory_used_avg_gb": 12.5, "gpu/memory_used_total_gb": 25.0,
                 "gpu/memory_total_gb": 80.0} for s in range(10)]
        bulk("awp", "r", rows, list(range(10)))
        trackio.init(project="native", name="r", config={"summary": {"gpu/energy_wh": 3.5, "gpu1/energy_wh": 1.5}})
        trackio.log({"loss": 1.0})
        for i in range(4):
            trackio.log_system({"gpu/0/utilization": 60.0 + i, "gpu/0/temp": 65.0, "gpu/0/power": 200.0,
                                "gpu/0/allocated_memory": 9.5, "gpu1/utilization": 30.0, "gpu1/power_w": 90.0,
                                "gpu/0/energy_consumed": 7200.0})
        trackio.finish()
    """)
    awp = view(tmp_path, "--gpu-db", "-p", "awp", "--once", check=True).stdout
    assert "Latest GPU Status (Step 9):\n  GPU Utilization: 80.0%\n  Memory Usage: 12.5 GB" in awp
    assert "  Utilization: 80.0% - 82.0% (avg: 80.9%)" in awp and "  - compute_util_avg (10 data points)" in awp
    native = view(tmp_path, "--gpu-db", "-p", "native", "--once", check=True).stdout
    assert "No gpu/* keys logged with steps in the metrics table." in native
    assert "  GPU 0 latest: util 63.0%, mem 9.5 GB, temp 65\u00b0C, power 200W" in native
    assert "  GPU 1 latest: util 30.0%, power 90W" in native
    assert "GPU Energy (from the run config):\n  GPU 0: 3.500 Wh\n  GPU 1: 1.500 Wh\n  Total: 5.000 Wh" in native


def test_gpu_db_energy_from_trackio_counter(tmp_path: Path) -> None:
    write(tmp_path, """
        trackio.init(project="joules", name="r")
        trackio.log({"loss": 1.0})
        trackio.log_system({"gpu/0/utilization": 50.0, "gpu/0/energy_consumed": 7200.0})
        trackio.finish()
    """)
    out = view(tmp_path, "--gpu-db", "-p", "joules", "--once", check=True).stdout
    assert "GPU Energy (from the Trackio system metrics):\n  GPU 0: 2.000 Wh" in out
