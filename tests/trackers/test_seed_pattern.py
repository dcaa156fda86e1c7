"""A hand-written tracker script (trackio.init / wandb.init guarded by config.py) keeps working."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

from trackers.readback import trackio_rows

REPO = Path(__file__).resolve().parents[2]

SCRIPT = textwrap.dedent('''
    import sys
    sys.path.append('.')
    from config import config

    trackio_enabled = getattr(config, 'ENABLE_TRACKIO', False)
    wandb_enabled = getattr(config, 'ENABLE_WANDB', False)
    project = getattr(config, 'TRACKER_PROJECT', 'my-project')
    training_config = {"lr": 6e-4, "batch_size": 12}

    if trackio_enabled:
        import trackio
        trackio.init(project=project, config=training_config)
    if wandb_enabled:
        import wandb
        wandb_project = getattr(config, 'WANDB_PROJECT', project)
        wandb.init(project=wandb_project, config=training_config)

    def log_metrics(metrics):
        if trackio_enabled:
            trackio.log(metrics)
        if wandb_enabled:
            wandb.log(metrics)

    for step in range(5):
        log_metrics({"train/loss": 5.0 - step})
    if trackio_enabled:
        trackio.finish()
    if wandb_enabled:
        wandb.finish()
    print(project)
''')


def test_hand_written_tracker_script(tree: Path, isolated_env: dict[str, str]) -> None:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    configured = subprocess.run([sys.executable, "-m", "kconf", "defconfig", "default", "--tracker", "both"],
                                cwd=tree, env=env, capture_output=True, text=True, timeout=120)
    assert configured.returncode == 0, configured.stderr
    result = subprocess.run([sys.executable, "-c", SCRIPT], cwd=tree, env=env, capture_output=True, text=True,
                            timeout=300)
    assert result.returncode == 0, result.stderr
    project = result.stdout.strip().splitlines()[-1]
    assert project.startswith("gpt2-")
    assert len(trackio_rows(Path(isolated_env["TRACKIO_DIR"]) / f"{project}.db", None)) == 5
    assert list(Path(isolated_env["WANDB_DIR"]).glob("wandb/offline-run-*/run-*.wandb"))
