"""The trackers' own tools: ``wandb sync`` for offline runs and ``trackio show`` for the dashboard."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

_SCAN_BYTES = 1 << 20


def _varint(n: int) -> bytes:
    out = bytearray()
    while True:
        byte, n = n & 0x7F, n >> 7
        out.append(byte | (0x80 if n else 0))
        if not n:
            return bytes(out)


def belongs(run_dir: Path, project: str) -> bool:
    """True when the offline run in ``run_dir`` was logged to ``project``."""
    needle = _varint(len(project.encode())) + project.encode()
    for path in run_dir.glob("run-*.wandb"):
        try:
            with open(path, "rb") as handle:
                if needle in handle.read(_SCAN_BYTES):
                    return True
        except OSError:
            continue
    return False


def offline_runs(project: str, roots: list[Path]) -> list[Path]:
    """Offline W&B run folders (``offline-run-*``) of ``project`` under ``roots``."""
    found: set[Path] = set()
    for root in roots:
        if not root.is_dir():
            continue
        for run in root.rglob("offline-run-*"):
            if run.is_dir() and belongs(run, project):
                found.add(run)
    return sorted(found)


def synced(run_dir: Path) -> bool:
    """True when ``wandb sync`` already uploaded the run (it leaves ``*.wandb.synced``)."""
    return any(run_dir.glob("run-*.wandb.synced"))


def wandb_exe() -> list[str]:
    """The ``wandb`` command beside this Python, else on PATH, else ``python -m wandb``."""
    exe = Path(sys.executable).with_name("wandb")
    if exe.is_file():
        return [str(exe)]
    found = shutil.which("wandb")
    return [found] if found else [sys.executable, "-m", "wandb"]


def sync_commands(project: str, roots: list[Path], entity: str = "", include_synced: bool = False
                  ) -> tuple[list[list[str]], list[Path]]:
    """``wandb sync`` commands for every offline run of ``project``, and the runs skipped as synced."""
    commands, skipped = [], []
    for run in offline_runs(project, roots):
        if synced(run) and not include_synced:
            skipped.append(run)
            continue
        cmd = [*wandb_exe(), "sync", "--project", project]
        if entity:
            cmd += ["--entity", entity]
        commands.append([*cmd, str(run)])
    return commands, skipped


def sync_roots(runs_dir: Path, project: str) -> list[Path]:
    """Where offline runs are: ``$WANDB_DIR`` (or ./wandb) and the project's run directories."""
    roots = [runs_dir / project]
    wandb_dir = os.environ.get("WANDB_DIR")
    roots.append(Path(wandb_dir) if wandb_dir else Path.cwd())
    return roots


def trackio_show_command(project: str, port: int) -> tuple[list[str], dict[str, str]]:
    """``trackio show --project P`` and its environment (the port goes in ``GRADIO_SERVER_PORT``:
    ``trackio show`` has no port option)."""
    exe = Path(sys.executable).with_name("trackio")
    cmd = [str(exe) if exe.is_file() else (shutil.which("trackio") or "trackio"), "show", "--project", project]
    return cmd, {"GRADIO_SERVER_PORT": str(port)}


def run(cmd: list[str], env: dict[str, str] | None = None) -> int:
    """Run ``cmd`` in the foreground; Ctrl+C returns 130."""
    try:
        return subprocess.call(cmd, env={**os.environ, **(env or {})})
    except KeyboardInterrupt:
        return 130
    except FileNotFoundError:
        return 127
