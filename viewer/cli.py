"""trackio-view: terminal dashboard for Trackio projects and GPUs.

Reads Trackio's SQLite files read-only; ``--once`` prints plain text for
scripts, otherwise a live full-screen view (keys: + / - zoom, p next
project, c compare runs, 0-9 GPU, q quit).
"""
from __future__ import annotations

import argparse
import sys

from viewer.model import NoMetric
from viewer.store import Project, StoreError, data_dir, open_project, project_files

PROG = "trackio-view"
ZOOM_HELP = ("Initial zoom level (default: 0): 0 = All data, 1 = Last 500 iterations, "
             "2 = Last 200, 3 = Last 100, 4 = Last 50")


class UserError(Exception):
    """A one-line message for the user; exit status 1."""


def build_parser() -> argparse.ArgumentParser:
    """The argument parser (options as in the trackio-view documentation)."""
    p = argparse.ArgumentParser(prog=PROG, description="Terminal dashboard for TrackIO experiments.")
    p.add_argument("-p", "--project", metavar="TEXT",
                   help="Project name to monitor (shows all if not specified)")
    p.add_argument("-i", "--interval", type=float, default=2, metavar="INT",
                   help="Update interval in seconds (default: 2)")
    p.add_argument("--once", action="store_true", help="Display once and exit (no live monitoring)")
    p.add_argument("--gpu", action="store_true",
                   help="Show live GPU hardware metrics instead of training metrics")
    p.add_argument("--gpu-db", action="store_true",
                   help="Show GPU metrics from logged database instead of live hardware (requires --project)")
    p.add_argument("-z", "--zoom", type=int, choices=range(5), default=0, metavar="{0,1,2,3,4}",
                   help=ZOOM_HELP)
    p.add_argument("--run", metavar="NAME", help="Run name or id (default: the project's most recent run)")
    p.add_argument("--metric", metavar="KEY", help="Chart this metric instead of the loss (e.g. val/loss)")
    p.add_argument("--list", action="store_true", help="List projects and runs with step counts and exit")
    p.add_argument("--compare", nargs="*", metavar="RUN",
                   help="Compare runs (names or ids) of --project: differing Kconfig symbols, "
                        "a table and overlaid loss curves; no RUN: all runs")
    p.add_argument("--no-cache", action="store_true",
                   help="Do not read or write the run summary cache ($XDG_CACHE_HOME/ktrack/viewer)")
    p.add_argument("--dir", metavar="PATH",
                   help="Trackio data directory (default: $TRACKIO_DIR, $HF_HOME/trackio, "
                        "~/.cache/huggingface/trackio)")
    return p


def find_projects(args: argparse.Namespace) -> list[Project]:
    """Open the requested project, or every project most recently updated first."""
    root, source = data_dir(args.dir)
    files = project_files(root)
    if not files:
        raise UserError(f"No TrackIO data found: no <project>.db files in {root} (from {source}); "
                        f"run training with TrackIO logging enabled, or pass --dir")
    if args.project is not None:
        if args.project not in files:
            raise UserError(f"no project '{args.project}' in {root}; available: {', '.join(files)}")
        return [open_project(args.project, files[args.project])]
    projects: list[Project] = []
    for name, path in files.items():
        try:
            projects.append(open_project(name, path))
        except StoreError as exc:
            print(f"{PROG}: skipping {exc}", file=sys.stderr)
    if not projects:
        raise UserError(f"No TrackIO data found: no readable Trackio database in {root}")
    return sorted(projects, key=lambda pr: pr.last_update(), reverse=True)


def pick_run(project: Project, wanted: str | None):
    """The run to show, or a UserError naming the runs that exist."""
    run = project.pick_run(wanted)
    if run is None:
        if wanted is None:
            raise NoMetric(f"project '{project.name}' has no metrics logged yet")
        names = ", ".join(dict.fromkeys(r.name for r in project.runs())) or "none"
        raise UserError(f"no run '{wanted}' in project '{project.name}'; runs: {names}")
    return run


def list_text(projects: list[Project]) -> str:
    """``--list``: every project with its runs, steps and last update."""
    out = []
    for pr in projects:
        out.append(f"{pr.name}  ({pr.path})")
        runs = pr.runs(counts=True)
        if not runs:
            out.append("  (no runs)")
        for r in runs:
            when = (r.last_update or "")[:19].replace("T", " ")
            out.append(f"  {r.name:<28} {r.steps:>9} steps  last step {r.last_step!s:>9}  "
                       f"updated {when}  id {r.run_id}")
    return "\n".join(out)


def once_text(args: argparse.Namespace, projects: list[Project]) -> str:
    """All ``--once`` blocks, joined by blank lines."""
    from viewer import gpu_db, once

    blocks = []
    for pr in projects:
        try:
            run = pick_run(pr, args.run)
            blocks.append(gpu_db.report(pr, run) if args.gpu_db
                          else once.dashboard(pr, run, args.zoom, args.metric, not args.no_cache))
        except NoMetric as exc:
            if len(projects) == 1:
                raise
            blocks.append(once.no_metric_block(pr, args.zoom, str(exc)))
    return "\n\n".join(blocks)


def run(args: argparse.Namespace) -> int:
    """Do what the parsed arguments ask; raise UserError/StoreError on failure."""
    if args.gpu:
        import gpu

        if args.once:
            devices = gpu.discover()
            if not devices:
                raise UserError(f"No GPUs found (checked: {', '.join(gpu.checked())})")
            print(gpu.render_once([dev.sample() for dev in devices]))
            return 0
        from viewer.live import run_gpu

        return run_gpu(gpu, args.interval)
    projects = find_projects(args)
    if args.list:
        print(list_text(projects))
        return 0
    if args.once and args.compare is not None:
        from viewer.compare import compare_text

        print(compare_text(projects[0], args.compare, args.metric, not args.no_cache))
        return 0
    if args.once:
        print(once_text(args, projects))
        return 0
    from viewer.live import run_dashboard

    return run_dashboard(projects, args)


def main(argv: list[str] | None = None) -> int:
    """Console-script entry point: parse, run, turn user errors into one line."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.gpu_db and not args.project:
        parser.error("--gpu-db requires --project")
    if args.compare is not None and not args.project:
        parser.error("--compare requires --project")
    if args.compare is not None and (args.gpu or args.gpu_db):
        parser.error("--compare cannot be combined with --gpu or --gpu-db")
    if args.gpu and args.gpu_db:
        parser.error("--gpu and --gpu-db cannot be combined")
    try:
        return run(args)
    except (UserError, StoreError) as exc:
        print(f"{PROG}: {exc}", file=sys.stderr)
        return 1
    except BrokenPipeError:
        sys.stderr.close()
        return 0


if __name__ == "__main__":
    sys.exit(main())
