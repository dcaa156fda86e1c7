"""ktrack-sweep: run a sweep, summarize it, compare runs.

Usage (``ktrack-sweep`` is ``python -m sweeps``):
  ktrack-sweep run [SWEEP.yaml] [--jobs N] [--executor local|slurm] [--set "SYM=v ..."] [--tracker T]
  ktrack-sweep summary [SWEEP.yaml] [--csv FILE]
  ktrack-sweep diffconfig A B          (run folders or run names under RUNS_DIR)
  ktrack-sweep compare RUN [RUN ...]

SWEEP, JOBS, SWEEP_EXECUTOR, SET and TRACKER are also read from the
environment (make passes its command-line variables that way, so any value
arrives intact). Errors are one line and exit 1.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import kconf
from kconf.configure import parse_assignments
from kconf.errors import ConfigError
from ktrack.messages import fail
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


def _sweep_file(args: argparse.Namespace) -> str:
    path = args.sweep or os.environ.get("SWEEP", "")
    if not path:
        raise SweepError("no sweep file: give SWEEP=sweeps/<name>.yaml (see sweeps/*.yaml for examples)")
    return path


def cmd_run(args: argparse.Namespace) -> int:
    from sweeps.runner import run

    return run(_sweep_file(args), jobs=args.jobs or _env_int("JOBS"),
               executor=args.executor or os.environ.get("SWEEP_EXECUTOR") or None, extra=_extra(args),
               tracker=args.tracker or os.environ.get("TRACKER") or None, cluster=args.cluster)


def cmd_summary(args: argparse.Namespace) -> int:
    from rich.console import Console

    from sweeps import summary
    from sweeps.runner import open_state

    path = _sweep_file(args)
    sweep, state = open_state(path, extra=_extra(args))
    if not state.points:
        raise SweepError(f"sweep {sweep.name} has not run yet (no {state.path}); run: make sweep SWEEP={path}")
    table = summary.rows(state, sweep.metric, sweep.direction, list(sweep.vary))
    csv_path = Path(args.csv) if args.csv else state.path.with_suffix(".csv")
    csv_path.write_text(summary.csv_text(table, sweep.metric), encoding="utf-8")
    Console().print(summary.rich_table(table, f"sweep {sweep.name} ({state.data.get('project')}), "
                                              f"sorted by {sweep.metric}", sweep.metric))
    print(f"CSV: {csv_path}")
    return 0


def _runs_dir(args: argparse.Namespace) -> str:
    return args.runs_dir or str(kconf.load().RUNS_DIR)


def cmd_diffconfig(args: argparse.Namespace) -> int:
    from sweeps import run_folders

    a, b = run_folders.load_runs([args.a, args.b], _runs_dir(args))
    lines = run_folders.diff_lines(a.config, b.config)
    print("\n".join(lines) if lines else f"# {a.name} and {b.name} have the same configuration")
    return 0


def cmd_compare(args: argparse.Namespace) -> int:
    from sweeps import run_folders

    print(run_folders.compare_text(run_folders.load_runs(args.runs, _runs_dir(args))))
    return 0


def build_parser() -> argparse.ArgumentParser:
    """The command-line parser (subcommands run, summary, diffconfig, compare)."""
    parser = argparse.ArgumentParser(prog=PROG, description=__doc__.splitlines()[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("run", help="run every point of a sweep (resumes an interrupted one)")
    p.add_argument("sweep", nargs="?", help="the sweep file (default: SWEEP)")
    p.add_argument("--jobs", type=int, help="points at a time on this machine (JOBS, SWEEP_JOBS)")
    p.add_argument("--executor", choices=("local", "slurm"), help="SWEEP_EXECUTOR")
    p.add_argument("--cluster", help=argparse.SUPPRESS)  # submitit cluster: "local" runs jobs here (tests)
    p.add_argument("--set", help="SYM=value overrides for every point (SET)")
    p.add_argument("--tracker", help="TRACKER for every point")
    p.set_defaults(func=cmd_run)
    p = sub.add_parser("summary", help="table and CSV of every point, best first")
    p.add_argument("sweep", nargs="?", help="the sweep file (default: SWEEP)")
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
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point; user mistakes end as one ``ktrack-sweep: error: ...`` line, exit 1."""
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args))
    except (SweepError, ConfigError) as exc:
        fail(PROG, exc)


if __name__ == "__main__":
    sys.exit(main())
