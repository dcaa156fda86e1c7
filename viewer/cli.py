"""trackio-view: terminal dashboard for Trackio projects and GPUs.

Reads Trackio's SQLite files read-only, and the run journals of ``--runs``
(``runs/<project>/<run>/metrics.jsonl``) for projects no Trackio database
holds; ``--once`` prints plain text for scripts, otherwise the live
workspace (``viewer.workspace``; ``?`` lists its keys), or the ``--gpu`` /
``--gpu-db`` live views.
"""
from __future__ import annotations

import argparse
import math
import os
import sys
from pathlib import Path

from ktrack.messages import fail, printable, usage, warn
from viewer.model import NoMetric
from rundata.store import Project, RunInfo, StoreError, data_dir, file_stem, open_project, project_files

PROG = "trackio-view"
ZOOM_HELP = ("Initial zoom level (default: 0): 0 = All data, 1 = Last 500 iterations, "
             "2 = Last 200, 3 = Last 100, 4 = Last 50")


class UserError(Exception):
    """A one-line message for the user; exit status 1."""


def interval(text: str) -> float:
    """``--interval``: a finite number of seconds > 0."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{text}' is not a number of seconds") from None
    if not math.isfinite(value) or value <= 0:
        raise argparse.ArgumentTypeError(f"'{text}' must be a number of seconds above 0, e.g. 2")
    return value


class _Formatter(argparse.HelpFormatter):
    """argparse's own layout; the terminal width found as ``shutil.get_terminal_size``
    finds it, without importing shutil (and bz2, lzma) into every ``--once``."""

    def __init__(self, prog: str, indent_increment: int = 2, max_help_position: int = 24,
                 width: int | None = None) -> None:
        if width is None:
            try:
                width = int(os.environ["COLUMNS"])
            except (KeyError, ValueError):
                width = 0
            if width <= 0:
                try:
                    width = os.get_terminal_size(sys.__stdout__.fileno()).columns or 80  # type: ignore[union-attr]
                except (AttributeError, ValueError, OSError):
                    width = 80
            width -= 2
        super().__init__(prog, indent_increment, max_help_position, width)


def build_parser() -> argparse.ArgumentParser:
    """The argument parser (options as in the trackio-view documentation)."""
    p = argparse.ArgumentParser(prog=PROG, description="Terminal dashboard for Trackio experiments.",
                                formatter_class=_Formatter)
    p.add_argument("-p", "--project", metavar="TEXT",
                   help="Project name to monitor (shows all if not specified)")
    p.add_argument("-i", "--interval", type=interval, default=2.0, metavar="INT",
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
    p.add_argument("--runs", metavar="DIR", default="runs",
                   help="ktrack run folders (default: ./runs): projects no Trackio database holds are "
                        "read from their journals, DIR/<project>/<run>/metrics.jsonl")
    return p


def _journals(args: argparse.Namespace, names: set[str]) -> list[Project]:
    from viewer.store_journal import journal_projects

    return list(journal_projects(Path(args.runs).expanduser(), names))


def _with_twin(args: argparse.Namespace, pr: Project) -> Project:
    """``pr`` with its journal-only runs attached (``Project.twin``), so that every view shows
    a project's runs together whatever they were tracked to."""
    from viewer.store_journal import journal_twin

    pr.twin = journal_twin(Path(args.runs).expanduser(), pr)
    return pr


def find_projects(args: argparse.Namespace) -> list[Project]:
    """Open the requested project, or every project most recently updated first.

    Trackio databases come first; ``--runs`` journals fill in projects no
    database holds.  Unreadable databases are skipped with a warning (one
    named with ``--project`` is an error).  Connections are released again,
    so any number of projects can be listed.
    """
    root, source = data_dir(args.dir)
    files = project_files(root)
    if args.project is not None:
        path = files.get(args.project) or files.get(file_stem(args.project))
        if path is not None:
            pr = open_project(args.project if args.project in files else file_stem(args.project), path)
            return [_with_twin(args, pr)]
        journal = [pr for pr in _journals(args, set(files)) if pr.name == args.project]
        if journal:
            return journal
        known = ", ".join(list(files) + [pr.name for pr in _journals(args, set(files))]) or "none"
        raise UserError(f"no project '{args.project}' in {root} or {args.runs}; available: {known}")
    projects: list[tuple[str, Project]] = []
    for name, path in files.items():
        try:
            pr = _with_twin(args, open_project(name, path))
            projects.append((max(pr.last_update(), pr.twin.last_update() if pr.twin else ""), pr))
            pr.close()
        except StoreError as exc:
            warn(PROG, f"skipping {exc}")
    projects += [(pr.last_update(), pr) for pr in _journals(args, set(files))]
    if not projects:
        raise UserError(f"No Trackio data found: no readable <project>.db in {root} (from {source}) and no "
                        f"run journals in {args.runs}; run training with Trackio logging enabled, or pass "
                        f"--dir / --runs")
    return [pr for _, pr in sorted(projects, key=lambda t: t[0], reverse=True)]


def pick_run(project: Project, wanted: str | None) -> tuple[Project, RunInfo]:
    """The run to show and the project that reads it (``project`` or its journal twin),
    or a UserError naming the runs that exist."""
    found = project.find_run(wanted)
    if found is None:
        if wanted is None:
            raise NoMetric(f"project '{project.name}' has no metrics logged yet")
        names = ", ".join(dict.fromkeys(r.name for _, r in project.all_runs())) or "none"
        raise UserError(f"no run '{wanted}' in project '{project.name}'; runs: {names}")
    return found


def list_text(projects: list[Project]) -> str:
    """``--list``: every project with its runs (journal-only ones too), steps and last update.

    The columns line up over the whole listing: names of up to 28 cells and
    numbers of up to 9 digits keep the widths the seed shows; longer ones
    widen their column.
    """
    from rich.cells import cell_len

    blocks: list[tuple[str, list[RunInfo] | str]] = []
    for pr in projects:
        head = f"{pr.name}  ({pr.path}" + (f"; journals: {pr.twin.path})" if pr.twin is not None else ")")
        try:
            blocks.append((printable(head), [r for _, r in pr.all_runs(counts=True)]))
        except StoreError as exc:
            blocks.append((printable(head), printable(f"  (unreadable: {exc})")))
        finally:
            pr.close()
    listed = [r for _, runs in blocks if not isinstance(runs, str) for r in runs]
    name_w = max([28] + [cell_len(printable(r.name)) for r in listed])
    steps_w = max([9] + [len(str(r.steps)) for r in listed])
    last_w = max([9] + [len(str(r.last_step)) for r in listed])
    out = []
    for head, runs in blocks:
        out.append(head)
        if isinstance(runs, str):
            out.append(runs)
            continue
        if not runs:
            out.append("  (no runs)")
        for r in runs:
            name = printable(r.name)
            when = (r.last_update or "")[:19].replace("T", " ")
            out.append(f"  {name}{' ' * (name_w - cell_len(name))} {r.steps:>{steps_w}} steps  "
                       f"last step {r.last_step!s:>{last_w}}  updated {when}  id {printable(r.run_id)}")
    return "\n".join(out)


def once_block(args: argparse.Namespace, pr: Project) -> str:
    """One project's ``--once`` (or ``--gpu-db --once``) block."""
    pr, run = pick_run(pr, args.run)
    if args.gpu_db:
        from viewer import gpu_db

        return pr.read(lambda: gpu_db.report(pr, run))
    from viewer import once

    return once.dashboard(pr, run, args.zoom, args.metric, not args.no_cache)


def once_text(args: argparse.Namespace, projects: list[Project]) -> tuple[str, int]:
    """All ``--once`` blocks joined by blank lines, and how many projects could not be read.

    With several projects, each that cannot be shown gets its header and one
    line, and the others are shown as usual.
    """
    from viewer import once

    blocks, bad = [], 0
    for pr in projects:
        try:
            blocks.append(once_block(args, pr))
        except (NoMetric, StoreError) as exc:
            if len(projects) == 1:
                raise
            if not isinstance(exc, NoMetric):
                bad += 1
                warn(PROG, exc)
            blocks.append(once.message_block(pr, args.zoom, str(exc)))
        finally:
            pr.close()
    return "\n\n".join(blocks), bad


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
        from viewer.compare_runs import compare_text

        print(compare_text(projects[0], args.compare, args.metric, not args.no_cache))
        return 0
    if args.once:
        text, bad = once_text(args, projects)
        print(text)
        return 1 if bad else 0
    from viewer.live import run_dashboard

    return run_dashboard(projects, args)


def main(argv: list[str] | None = None) -> int:
    """Console-script entry point: parse, run, turn user errors into one line."""
    parser = build_parser()
    args = parser.parse_args(argv)
    for bad, msg in ((args.gpu_db and not args.project, "--gpu-db requires --project"),
                     (args.compare is not None and not args.project, "--compare requires --project"),
                     (args.compare is not None and (args.gpu or args.gpu_db),
                      "--compare cannot be combined with --gpu or --gpu-db"),
                     (args.gpu and args.gpu_db, "--gpu and --gpu-db cannot be combined")):
        if bad:
            parser.print_usage(sys.stderr)
            usage(PROG, msg)
    try:
        return run(args)
    except (UserError, StoreError) as exc:
        fail(PROG, exc)
    except BrokenPipeError:
        sys.stderr.close()
        return 0


if __name__ == "__main__":
    sys.exit(main())
