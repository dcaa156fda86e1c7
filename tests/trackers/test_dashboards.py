"""make wandb-sync and make trackio-show (trackers.dashboards): the commands they would run (--dry-run, no network)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def cli(*args: str, env: dict[str, str | None] | None = None) -> subprocess.CompletedProcess:
    """``python -m trackers.dashboards ARGS`` with the repo on PYTHONPATH (an ``env`` value None unsets)."""
    full = {key: value for key, value in {**os.environ, **(env or {})}.items() if value is not None}
    full["PYTHONPATH"] = os.pathsep.join([str(REPO), full.get("PYTHONPATH", "")])
    return subprocess.run([sys.executable, "-m", "trackers.dashboards", *args], capture_output=True, text=True,
                          env=full, timeout=120, cwd=Path.cwd())


def _config(tmp_path: Path, project: str) -> Path:
    from kconf.configure import defconfig

    path = tmp_path / ".config"
    defconfig(REPO, "lenet5-cpu", path, assignments=f"TRACKER_PROJECT={project} TRACKIO_PORT=7861 "
                                                     f"RUNS_DIR={tmp_path / 'runs'}")
    return path


def test_wandb_sync_dry_run_lists_offline_runs_of_the_project(tmp_path: Path, isolated_env: dict[str, str]) -> None:
    wandb_dir = Path(isolated_env["WANDB_DIR"])
    code = ("import wandb\n"
            "for project in ('sweepproj', 'other'):\n"
            "    r = wandb.init(project=project, name='r', dir=%r, mode='offline', reinit='create_new',\n"
            "                   settings=wandb.Settings(console='off', silent=True, x_disable_stats=True))\n"
            "    r.log({'a': 1}); r.finish()\n") % str(wandb_dir)
    subprocess.run([sys.executable, "-c", code], check=True, env=dict(os.environ), timeout=120, capture_output=True)
    runs = sorted((wandb_dir / "wandb").glob("offline-run-*"))
    assert len(runs) == 2
    env = {"KCONFIG_CONFIG": str(_config(tmp_path, "sweepproj"))}
    result = cli("wandb-sync", "--dry-run", env=env)
    assert result.returncode == 0, result.stderr
    would = [line for line in result.stdout.splitlines() if "would run" in line]
    assert len(would) == 1 and "sync --project sweepproj" in would[0]
    assert "would sync 1 run(s) of project sweepproj" in result.stdout
    (next(p for p in runs if p.as_posix() in would[0]) / "run-x.wandb.synced").touch()
    again = cli("wandb-sync", "--dry-run", env=env)
    assert "already synced" in again.stdout and "no offline W&B runs to sync" in again.stdout


def _offline_runs(wandb_dir: Path, project: str, count: int) -> None:
    code = ("import wandb\n"
            f"for _ in range({count}):\n"
            f"    r = wandb.init(project={project!r}, name='r', dir={str(wandb_dir)!r}, mode='offline',\n"
            "                   reinit='create_new',\n"
            "                   settings=wandb.Settings(console='off', silent=True, x_disable_stats=True))\n"
            "    r.log({'a': 1}); r.finish()\n")
    subprocess.run([sys.executable, "-c", code], check=True, env=dict(os.environ), timeout=120, capture_output=True)


def test_wandb_sync_not_logged_in_says_so_once(tmp_path: Path, isolated_env: dict[str, str]) -> None:
    _offline_runs(Path(isolated_env["WANDB_DIR"]), "syncproj", 3)
    result = cli("wandb-sync", env={"KCONFIG_CONFIG": str(_config(tmp_path, "syncproj")), "WANDB_MODE": None})
    assert result.returncode == 1 and result.stdout == ""
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("python -m trackers.dashboards: ")
    assert "not logged in" in lines[0] and "3 offline run(s) of project syncproj" in lines[0]
    assert "wandb login" in lines[0]


def test_wandb_sync_gives_one_cause_once_with_its_run_count(tmp_path: Path, isolated_env: dict[str, str]) -> None:
    """Every run fails the same way (a key wandb refuses at once, no network): the cause is said once."""
    _offline_runs(Path(isolated_env["WANDB_DIR"]), "syncproj", 3)
    env = {"KCONFIG_CONFIG": str(_config(tmp_path, "syncproj")), "WANDB_MODE": None, "WANDB_API_KEY": "short",
           "WANDB_BASE_URL": "http://127.0.0.1:9"}
    result = cli("wandb-sync", env=env)
    assert result.returncode == 1
    failures = [line for line in result.stderr.splitlines() if "failed" in line]
    assert len(failures) == 1, result.stderr
    assert failures[0].startswith("wandb-sync: 3 run(s) failed: ") and "API key" in failures[0]
    assert "and 2 more" in failures[0]
    assert result.stderr.count("API key") == 1
    assert "synced 0 run(s) of project syncproj, 3 failed" in result.stdout


def test_trackio_show_dry_run(tmp_path: Path, isolated_env: dict[str, str]) -> None:
    result = cli("trackio-show", "--dry-run", env={"KCONFIG_CONFIG": str(_config(tmp_path, "showproj"))})
    assert result.returncode == 0, result.stderr
    line = result.stdout.strip()
    assert line.startswith("GRADIO_SERVER_PORT=7861 TRACKIO_PLOT_ORDER='train/loss,val/loss,train/*,val/*' ")
    assert line.endswith("show --project showproj")


def test_make_targets_use_the_trackers_module() -> None:
    makefile = (REPO / "Makefile").read_text()
    assert "-m trackers.dashboards trackio-show" in makefile and "-m trackers.dashboards wandb-sync" in makefile

