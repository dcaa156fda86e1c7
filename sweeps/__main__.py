"""ktrack-sweep: run a sweep, summarize it, compare runs, and hand runs to the trackers' tools.

Usage:
  python -m sweeps run SWEEP.yaml [--jobs N] [--executor local|slurm] [--set "SYM=v ..."] [--tracker T]
  python -m sweeps summary SWEEP.yaml [--csv FILE]
  python -m sweeps diffconfig A B          (run directories or run names under RUNS_DIR)
  python -m sweeps compare RUN [RUN ...]
  python -m sweeps wandb-sync [--dry-run] [--all]
  python -m sweeps trackio-show [--dry-run]

JOBS, SWEEP_EXECUTOR, SET and TRACKER are also read from the environment
(make exports command-line variables). Errors are one line and exit 1.
"""

from __future__ import annotations

import argparse
import os
import shlex
import sys
from pathlib import Path
from typing import Any

from kconf.configure import parse_assignments
from kconf.errors import ConfigError
from sweeps.errors import SweepError

PROG = "ktrack-sweep"


def _env_int(name: str) -> int | None:
    value = os.environ.get(name, "").strip()
    if not value:
        return None
    try:
        return int(value)
    except ValueError:
        raise SweepError(f"{name}={value!r} is not a whole number") from None


def _extra(args: argparse.Namespace) -> list[tuple[str, str]]:
    text = args.set if args.set is not None else os.environ.get("SET", "")
    return parse_assignments(text) if text.strip() else []


def _cfg() -> Any:
    import kconf

    return kconf.load()


def cmd_run(args: argparse.Namespace) -> int:
    from sweeps.runner import run

    return run(args.sweep, jobs=args.jobs or _env_int("JOBS"),
               executor=args.executor or os.environ.get("SWEEP_EXECUTOR") or None, extra=_extra(args),
               tracker=args.tracker or os.environ.get("TRACKER") or None, cluster=args.cluster)


def cmd_summary(args: argparse.Namespace) -> int:
    from rich.console import Console

    from sweeps import summary
    from sweeps.runner import open_state

    sweep, state = open_state(args.sweep, extra=_extra(args))
    if not state.points:
        raise SweepError(f"sweep {sweep.name} has not run yet (no {state.path}); run: make sweep SWEEP={args.sweep}")
    table = summary.rows(state, sweep.metric, sweep.direction, list(sweep.vary))
    csv_path = Path(args.csv) if args.csv else state.path.with_suffix(".csv")
    csv_path.write_text(summary.csv_text(table, sweep.metric), encoding="utf-8")
    Console().print(summary.rich_table(table, f"sweep {sweep.name} ({state.data.get('project')}), "
                                              f"sorted by {sweep.metric}", sweep.metric))
    print(f"CSV: {csv_path}")
    return 0


def _runs_dir(args: argparse.Namespace) -> str:
    return args.runs_dir or str(getattr(_cfg(), "RUNS_DIR", "") or "runs")


def cmd_diffconfig(args: argparse.Namespace) -> int:
    from sweeps import compare

    a, b = compare.load_runs([args.a, args.b], _runs_dir(args))
    lines = compare.diff_lines(a.config, b.config)
    print("\n".join(lines) if lines else f"# {a.name} and {b.name} have the same configuration")
    return 0


def cmd_compare(args: argparse.Namespace) -> int:
    from sweeps import compare

    print(compare.compare_text(compare.load_runs(args.runs, _runs_dir(args))))
    return 0


def _project(args: argparse.Namespace, cfg: Any) -> str:
    project = args.project or getattr(cfg, "TRACKER_PROJECT", "")
    if not project:
        raise SweepError("no project: run 'make defconfig' first or pass --project NAME")
    return project


def cmd_wandb_sync(args: argparse.Namespace) -> int:
    from sweeps import ecosystem

    cfg = _cfg()
    project = _project(args, cfg)
    roots = ecosystem.sync_roots(Path(str(getattr(cfg, "RUNS_DIR", "") or "runs")), project)
    commands, skipped = ecosystem.sync_commands(project, roots, getattr(cfg, "WANDB_ENTITY", ""), args.all)
    for run in skipped:
        print(f"  skip    {run} (already synced; --all syncs it again)")
    if not commands:
        print(f"wandb-sync: no offline W&B runs to sync for project {project} (looked in "
              f"{', '.join(map(str, roots))})")
        return 0
    failed = 0
    for cmd in commands:
        print(("  would run " if args.dry_run else "  SYNC    ") + shlex.join(cmd), flush=True)
        if not args.dry_run:
            failed += ecosystem.run(cmd) != 0
    verb = "would sync" if args.dry_run else "synced"
    print(f"wandb-sync: {verb} {len(commands) - failed} run(s) of project {project}"
          + (f", {failed} failed" if failed else ""))
    return 1 if failed else 0


def cmd_trackio_show(args: argparse.Namespace) -> int:
    from sweeps import ecosystem

    cfg = _cfg()
    port = args.port or int(getattr(cfg, "TRACKIO_PORT", 7860) or 7860)
    cmd, env = ecosystem.trackio_show_command(_project(args, cfg), port)
    print(" ".join(f"{k}={v}" for k, v in env.items()) + " " + shlex.join(cmd), flush=True)
    if args.dry_run:
        return 0
    rc = ecosystem.run(cmd, env)
    if rc == 127:
        raise SweepError("trackio is not installed: pip install trackio (or make venv)")
    return rc


def build_parser() -> argparse.ArgumentParser:
    """The command-line parser (subcommands run, summary, diffconfig, compare, wandb-sync, trackio-show)."""
    parser = argparse.ArgumentParser(prog=PROG, description=__doc__.splitlines()[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("run", help="run every point of a sweep (resumes an interrupted one)")
    p.add_argument("sweep")
    p.add_argument("--jobs", type=int, help="points at a time on this machine (JOBS, SWEEP_JOBS)")
    p.add_argument("--executor", choices=("local", "slurm"), help="SWEEP_EXECUTOR")
    p.add_argument("--cluster", help=argparse.SUPPRESS)  # submitit cluster: "local" runs jobs here (tests)
    p.add_argument("--set", help="SYM=value overrides for every point (SET)")
    p.add_argument("--tracker", help="TRACKER for every point")
    p.set_defaults(func=cmd_run)
    p = sub.add_parser("summary", help="table and CSV of every point, best first")
    p.add_argument("sweep")
    p.add_argument("--csv", help="CSV file (default: next to the sweep state file)")
    p.add_argument("--set", help="the SET= the sweep ran with, if it changed RUNS_DIR or the project")
    p.set_defaults(func=cmd_summary)
    for name, func, help_text in (("diffconfig", cmd_diffconfig, "kernel-style diff of two runs' configs"),
                                  ("compare", cmd_compare, "symbols that differ, table and loss chart of runs")):
        p = sub.add_parser(name, help=help_text)
        if name == "diffconfig":
            p.add_argument("a")
            p.add_argument("b")
        else:
            p.add_argument("runs", nargs="+")
        p.add_argument("--runs-dir", help="where run names are looked up (default: RUNS_DIR)")
        p.set_defaults(func=func)
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
    """Entry point; user mistakes end as one ``ktrack-sweep: error: ...`` line, exit 1."""
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except (SweepError, ConfigError) as exc:
        print(f"{PROG}: error: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
