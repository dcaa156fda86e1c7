"""The trackers' own dashboards: ``wandb sync`` for offline runs and ``trackio show``.

``python -m trackers.dashboards wandb-sync [--dry-run] [--all] [--project P]``
uploads every offline W&B run of the project (``make wandb-sync``);
``python -m trackers.dashboards trackio-show [--dry-run] [--port N]`` opens
Trackio's web dashboard (``make trackio-show``). The project, runs folder, W&B
entity and port come from the configuration.
"""

from __future__ import annotations

import argparse
import os
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import kconf
from ktrack.messages import fail
from trackers.backends.wandb_backend import logged_in
from trackers.readback import wandb_records

PROG = "python -m trackers.dashboards"


def run_project(run_dir: Path) -> str | None:
    """The project an offline W&B run folder was logged to (its first ``run`` record), None if unreadable."""
    for path in sorted(run_dir.glob("run-*.wandb")):
        try:
            for rec in wandb_records(path):
                if rec.WhichOneof("record_type") == "run":
                    return str(rec.run.project)
        except Exception:  # noqa: BLE001 - unreadable, not W&B, or a half-written protobuf: not this project's
            continue
    return None


def offline_runs(project: str, roots: list[Path]) -> list[Path]:
    """Offline W&B run folders (``offline-run-*``) of ``project`` under ``roots``."""
    found: set[Path] = set()
    for root in roots:
        if not root.is_dir():
            continue
        for run in root.rglob("offline-run-*"):
            if run.is_dir() and run_project(run) == project:
                found.add(run)
    return sorted(found)


def synced(run_dir: Path) -> bool:
    """True when ``wandb sync`` already uploaded the run (it leaves ``*.wandb.synced``)."""
    return any(run_dir.glob("run-*.wandb.synced"))


def _tool(name: str) -> list[str]:
    """``name`` beside this Python, else on PATH, else ``python -m name``."""
    exe = Path(sys.executable).with_name(name)
    if exe.is_file():
        return [str(exe)]
    found = shutil.which(name)
    return [found] if found else [sys.executable, "-m", name]


def sync_commands(project: str, roots: list[Path], entity: str = "", include_synced: bool = False
                  ) -> tuple[list[list[str]], list[Path]]:
    """``wandb sync`` commands for every offline run of ``project``, and the runs skipped as synced."""
    commands, skipped = [], []
    for run in offline_runs(project, roots):
        if synced(run) and not include_synced:
            skipped.append(run)
            continue
        cmd = [*_tool("wandb"), "sync", "--project", project]
        if entity:
            cmd += ["--entity", entity]
        commands.append([*cmd, str(run)])
    return commands, skipped


def sync_roots(runs_dir: Path, project: str) -> list[Path]:
    """Where offline runs are: the project's run folders and ``$WANDB_DIR`` (or the working folder)."""
    wandb_dir = os.environ.get("WANDB_DIR")
    return [runs_dir / project, Path(wandb_dir) if wandb_dir else Path.cwd()]


#: Trackio's order of the dashboard's sections and charts (its ``TRACKIO_PLOT_ORDER``): the losses first, then
#: the rest of train/ and val/; the sections it does not name follow by name (the unprefixed charts such as
#: ``lr``, then ``numerics``, hundreds of charts that would otherwise come before ``train``).
TRACKIO_PLOT_ORDER = "train/loss,val/loss,train/*,val/*"


def trackio_show_command(project: str, port: int) -> tuple[list[str], dict[str, str]]:
    """``trackio show --project P`` and its environment: the port in ``GRADIO_SERVER_PORT`` (``trackio
    show`` has no port option) and :data:`TRACKIO_PLOT_ORDER` unless the user set their own."""
    exe = Path(sys.executable).with_name("trackio")
    cmd = [str(exe) if exe.is_file() else (shutil.which("trackio") or "trackio"), "show", "--project", project]
    order = os.environ.get("TRACKIO_PLOT_ORDER", "").strip() or TRACKIO_PLOT_ORDER
    return cmd, {"GRADIO_SERVER_PORT": str(port), "TRACKIO_PLOT_ORDER": order}


def run(cmd: list[str], env: dict[str, str] | None = None) -> int:
    """Run ``cmd`` in the foreground; Ctrl+C returns 130, a missing program 127."""
    try:
        return subprocess.call(cmd, env={**os.environ, **(env or {})})
    except KeyboardInterrupt:
        return 130
    except FileNotFoundError:
        return 127


def run_captured(cmd: list[str]) -> tuple[int, str]:
    """Run ``cmd``; its exit status (Ctrl+C 130, a missing program 127) and its output, both streams."""
    try:
        done = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, errors="replace")
    except KeyboardInterrupt:
        return 130, ""
    except FileNotFoundError as exc:
        return 127, f"{exc.strerror}: {cmd[0]}"
    return done.returncode, done.stdout


def failure_text(output: str, run_dir: Path) -> str:
    """What ``wandb sync`` said about a failure, without the lines that name the run (so that one cause
    given for many runs reads the same): its last lines, as one line."""
    lines = [line.strip() for line in output.splitlines()
             if line.strip() and run_dir.name not in line and "Syncing" not in line]
    return " ".join(lines[-2:]) or "no output"


def _config() -> kconf.Config:
    return kconf.load()


def _project(args: argparse.Namespace, cfg: kconf.Config) -> str:
    project = args.project or cfg.recorded().get("TRACKER_PROJECT")  # the configuration's own, not a default
    if not project:
        fail(PROG, "no project: run 'make defconfig' first or pass --project NAME")
    return str(project)


def cmd_wandb_sync(args: argparse.Namespace) -> int:
    """Sync (or with ``--dry-run`` list) every offline W&B run of the project."""
    cfg = _config()
    project = _project(args, cfg)
    roots = sync_roots(Path(cfg.RUNS_DIR), project)
    commands, skipped = sync_commands(project, roots, cfg.WANDB_ENTITY, args.all)
    for run_dir in skipped:
        print(f"  skip    {run_dir} (already synced; --all syncs it again)")
    if not commands:
        print(f"wandb-sync: no offline W&B runs to sync for project {project} (looked in "
              f"{', '.join(map(str, roots))})")
        return 0
    if not args.dry_run and not logged_in():
        fail(PROG, f"W&B is not logged in, so none of the {len(commands)} offline run(s) of project {project} "
                   "can be uploaded: run 'wandb login' (or set WANDB_API_KEY), then make wandb-sync again")
    causes: dict[str, list[Path]] = {}
    for cmd in commands:
        print(("  would run " if args.dry_run else "  SYNC    ") + shlex.join(cmd), flush=True)
        if args.dry_run:
            continue
        rc, output = run_captured(cmd)
        if rc == 0:
            print(output, end="", flush=True)
        else:
            causes.setdefault(failure_text(output, Path(cmd[-1])), []).append(Path(cmd[-1]))
    failed = sum(len(runs) for runs in causes.values())
    for cause, runs in causes.items():  # each cause once, however many runs it stopped
        print(f"wandb-sync: {len(runs)} run(s) failed: {cause}"
              + (f" ({runs[0]})" if len(runs) == 1 else f" ({runs[0]} and {len(runs) - 1} more)"), file=sys.stderr)
    verb = "would sync" if args.dry_run else "synced"
    print(f"wandb-sync: {verb} {len(commands) - failed} run(s) of project {project}"
          + (f", {failed} failed" if failed else ""))
    return 1 if failed else 0


def cmd_trackio_show(args: argparse.Namespace) -> int:
    """Open (or with ``--dry-run`` print) ``trackio show`` for the project."""
    cfg = _config()
    port = args.port or cfg.TRACKIO_PORT
    cmd, env = trackio_show_command(_project(args, cfg), port)
    print(" ".join(f"{k}={shlex.quote(v)}" for k, v in env.items()) + " " + shlex.join(cmd), flush=True)
    if args.dry_run:
        return 0
    rc = run(cmd, env)
    if rc == 127:
        fail(PROG, "trackio is not installed: pip install trackio (or make venv)")
    return rc


def build_parser() -> argparse.ArgumentParser:
    """The command-line parser (subcommands wandb-sync, trackio-show)."""
    parser = argparse.ArgumentParser(prog=PROG, description=(__doc__ or "").splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("wandb-sync", help="sync every offline W&B run of the project")
    p.add_argument("--project")
    p.add_argument("--all", action="store_true", help="also runs already synced")
    p.add_argument("--dry-run", action="store_true", help="print the wandb sync commands only")
    p.set_defaults(func=cmd_wandb_sync)
    p = sub.add_parser("trackio-show", help="open Trackio's dashboard for the project")
    p.add_argument("--project")
    p.add_argument("--port", type=int, help="default: CONFIG_TRACKIO_PORT")
    p.add_argument("--dry-run", action="store_true", help="print the command only")
    p.set_defaults(func=cmd_trackio_show)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point; a configuration problem is one error line, exit 1."""
    from kconf.errors import ConfigError

    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args))
    except ConfigError as exc:
        fail(PROG, exc)


if __name__ == "__main__":
    sys.exit(main())
