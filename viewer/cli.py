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
import re
import sys
from pathlib import Path
from typing import Any

from ktrack.messages import fail, printable, usage, warn
from viewer import jsondoc
from viewer.model import NoMetric
from ktrack.names import trackio_file_name
from rundata.store import Project, RunInfo, StoreError, data_dir, open_project, project_files

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
    p.add_argument("-l", "--log", metavar="FILE",
                   help="Show a training log file instead of a tracker: AdamWPrune's 'Iter N | loss ...' lines "
                        "or ktrack's console.log; live it follows the file")
    p.add_argument("--run", metavar="NAME", help="Run name or id (default: the project's most recent run)")
    p.add_argument("--metric", metavar="KEY", help="Chart this metric instead of the loss (e.g. val/loss)")
    p.add_argument("--list", action="store_true", help="List projects and runs with step counts and exit")
    p.add_argument("--compare", nargs="*", metavar="RUN",
                   help="Compare runs (names or ids) of --project: differing Kconfig symbols, "
                        "a table and overlaid loss curves; no RUN: all runs")
    p.add_argument("--json", action="store_true",
                   help="Print one JSON document instead of text (implies --once; keys in docs/viewer.md)")
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
    from rundata.journal_project import journal_projects

    return list(journal_projects(Path(args.runs).expanduser(), names))


def _with_twin(args: argparse.Namespace, pr: Project) -> Project:
    """``pr`` with its journal-only runs attached (``Project.twin``), so that every view shows
    a project's runs together whatever they were tracked to."""
    from rundata.journal_project import journal_twin

    pr.twin = journal_twin(Path(args.runs).expanduser(), pr)
    return pr


def no_data(root: Path, source: str, runs: str, what: str) -> str:
    """The message when no project exists at all; it begins with the seed's words."""
    return (f"No TrackIO data found: {what} in {root} (from {source}) and no run journals in {runs}; "
            f"run training with Trackio logging enabled, or pass --dir / --runs")


def config_project(path: Path = Path(".config")) -> str | None:
    """The ``CONFIG_TRACKER_PROJECT`` a ktrack checkout's ``.config`` names, or None."""
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return None
    m = re.search(r'^CONFIG_TRACKER_PROJECT="((?:[^"\\]|\\.)*)"[ \t]*$', text, re.M)
    return re.sub(r"\\(.)", r"\1", m.group(1)) if m and m.group(1) else None


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
        stem = args.project if args.project in files else trackio_file_name(args.project)
        path = files.get(stem)
        found = [_with_twin(args, open_project(stem, path))] \
            if path is not None else [pr for pr in _journals(args, set(files)) if pr.name == args.project]
        if found and args.from_config:
            print(printable(f"{PROG}: project '{args.project}', named by ./.config (CONFIG_TRACKER_PROJECT); "
                            f"--project NAME shows another"), file=sys.stderr)
        if found:
            return found
        known = ", ".join(list(files) + [pr.name for pr in _journals(args, set(files))])
        if not known:
            raise UserError(no_data(root, source, args.runs, f"no project '{args.project}'"))
        if args.from_config:
            warn(PROG, f"./.config names project '{args.project}' (CONFIG_TRACKER_PROJECT), which has no data "
                       f"in {root} or {args.runs} yet; showing every project")
            args.project, args.from_config = None, False
            return find_projects(args)
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
        raise UserError(no_data(root, source, args.runs, "no readable <project>.db"))
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


def skipped_words(n: int, m: int = 0) -> str | None:
    """``n`` rows left out for their step or run type and ``m`` rows whose metrics are JSON
    but not an object, in words (None when both are 0)."""
    parts = [f"{n} metrics row{'s' if n != 1 else ''} skipped (a step that is not an integer or a run id "
             f"that is not text)"] if n else []
    if m:
        parts.append(f"{m} row{'s' if m != 1 else ''} whose metrics are JSON but not an object (no values)")
    return "; ".join(parts) or None


def warn_skipped(pr: Project) -> int:
    """Warn (stderr) about rows of ``pr`` left out for their types, and return how many."""
    n = pr.read(pr.skipped)
    note = skipped_words(n)
    if note:
        warn(PROG, f"{pr.path}: {note}; the other rows are shown")
    return n


def list_data(projects: list[Project]) -> list[dict[str, Any]]:
    """``--list`` (and its ``--json``): every project with its runs (its journal-only ones
    too, ``journals`` naming where they were read), steps and last update."""
    out: list[dict[str, Any]] = []
    for pr in projects:
        entry: dict[str, Any] = {"project": pr.name, "path": str(pr.path),
                                 "journals": str(pr.twin.path) if pr.twin is not None else None, "error": None,
                                 "skipped_rows": 0, "non_object_rows": 0, "runs": []}
        out.append(entry)
        try:
            runs = [r for _, r in pr.all_runs(counts=True)]
            entry["skipped_rows"], entry["non_object_rows"] = pr.read(pr.skipped), pr.read(pr.not_objects)
        except StoreError as exc:
            entry["error"] = str(exc)
            continue
        finally:
            pr.close()
        entry["runs"] = [{"run": r.name, "run_id": r.run_id, "steps": r.rows, "last_step": r.last_step,
                          "last_update": r.last_update} for r in runs]
    return out


def list_text(projects: list[dict[str, Any]]) -> str:
    """``--list`` text of :func:`list_data`.

    The columns line up over the whole listing: names of up to 28 cells and
    numbers of up to 9 digits keep the widths the seed shows; longer ones
    widen their column.
    """
    from rich.cells import cell_len

    listed = [r for pr in projects for r in pr["runs"]]
    name_w = max([28] + [cell_len(printable(r["run"])) for r in listed])
    steps_w = max([9] + [len(str(r["steps"])) for r in listed])
    last_w = max([9] + [len(str(r["last_step"])) for r in listed])
    out = []
    for pr in projects:
        journals = f"; journals: {pr['journals']}" if pr["journals"] is not None else ""
        out.append(printable(f"{pr['project']}  ({pr['path']}{journals})"))
        if pr["error"] is not None:
            out.append(printable(f"  (unreadable: {pr['error']})"))
            continue
        note = skipped_words(pr["skipped_rows"], pr["non_object_rows"])
        if note:
            out.append(f"  ({note})")
        if not pr["runs"]:
            out.append("  (no runs)")
        for r in pr["runs"]:
            name = printable(r["run"])
            when = (r["last_update"] or "")[:19].replace("T", " ")
            out.append(f"  {name}{' ' * (name_w - cell_len(name))} {r['steps']:>{steps_w}} steps  "
                       f"last step {r['last_step']!s:>{last_w}}  updated {when}  id {printable(r['run_id'])}")
    return "\n".join(out)


def rewinds(run_dir: Path) -> list[int]:
    """The checkpoint steps the run's resumes went back to (``config.json``'s ``resumes``), [] when none."""
    from ktrack.runfolder import RunFolder, read_json

    resumes = read_json(RunFolder(run_dir).config_json).get("resumes")
    return [r["rewound_to"] for r in resumes if isinstance(r, dict) and isinstance(r.get("rewound_to"), int)] \
        if isinstance(resumes, list) else []


def once_data(args: argparse.Namespace, pr: Project) -> dict[str, Any]:
    """One project's ``--once`` (or ``--gpu-db --once``) data, read from the project that
    holds the run (``pr`` or its journal twin); rows skipped are counted in ``pr``'s file,
    as ``--list`` and ``--compare`` count them."""
    holder, run = pick_run(pr, args.run)
    skipped = warn_skipped(pr)
    if args.gpu_db:
        from viewer import gpu_db

        d = holder.read(lambda: gpu_db.data(holder, run))
    else:
        from viewer import once

        d = once.data(holder, run, args.zoom, args.metric, not args.no_cache)
        d["rewound_to"] = rewinds(Path(args.runs).expanduser() / pr.name / run.name)
    d["skipped_rows"] = skipped
    return d


def once_output(args: argparse.Namespace, projects: list[Project]) -> tuple[str, int]:
    """All ``--once`` blocks joined by blank lines (or the ``--json`` document), and how
    many projects could not be read.

    With several projects, each that cannot be shown gets its header and one
    line (in JSON its name and ``error``), and the others are shown as usual.
    """
    from gpu.render import db_report
    from viewer import once

    entries: list[dict[str, Any]] = []
    blocks, bad = [], 0
    for pr in projects:
        try:
            d = once_data(args, pr)
            entries.append(d)
            blocks.append(db_report(d) if args.gpu_db else once.render(d))
        except (NoMetric, StoreError) as exc:
            if len(projects) == 1:
                raise
            if not isinstance(exc, NoMetric):
                bad += 1
                warn(PROG, exc)
            entries.append({"project": pr.name, "error": str(exc)})
            blocks.append(once.message_block(pr, args.zoom, str(exc)))
        finally:
            pr.close()
    if args.json:
        return jsondoc.dumps({"kind": "gpu-db" if args.gpu_db else "once", "projects": entries}), bad
    return "\n\n".join(blocks), bad


def need_terminal() -> None:
    """Refuse a live view without a terminal to draw on: a pipe, a file, cron (no tty) or
    ``TERM=dumb`` would get escape codes and a view that never ends."""
    term = os.environ.get("TERM", "")
    why = ("standard output is not a terminal" if not sys.stdout.isatty()
           else f"TERM={term or '(unset)'} cannot draw it" if term in ("", "dumb") else None)
    if why:
        raise UserError(f"the live view needs a terminal ({why}); use --once for plain text, "
                        f"e.g. trackio-view --once > metrics.txt")


def run_log(args: argparse.Namespace) -> int:
    """``--log FILE``: the file's dashboard once, or followed live."""
    from viewer import logfile, once

    path, name = Path(args.log).expanduser(), args.project or "training"  # the seed's name for a log
    if not args.once:
        if not path.is_file():
            raise UserError(f"cannot read {path}: not a file; pass the training log, "
                            f"e.g. runs/<project>/<run>/console.log")
        return logfile.follow(path, args, name)
    try:
        log = logfile.read(path)
    except OSError as exc:
        raise UserError(f"cannot read {path}: {exc.strerror or exc}; pass the training log, "
                        f"e.g. runs/<project>/<run>/console.log") from None
    d = logfile.data(log, name, path, args.zoom)
    if log.malformed:
        warn(PROG, f"{path}: {log.malformed} malformed training line{'s' if log.malformed != 1 else ''} "
                   f"skipped, e.g. {log.first_malformed!r}")
    print(jsondoc.dumps({"kind": "once", "projects": [d]}) if args.json else once.render(d))
    return 0


def run(args: argparse.Namespace) -> int:
    """Do what the parsed arguments ask; raise UserError/StoreError on failure."""
    if not args.once and not args.list:
        need_terminal()
    if args.log is not None:
        return run_log(args)
    if args.gpu:
        import gpu

        if args.once:
            devices = gpu.discover()
            if not devices:
                raise UserError(f"No GPUs found (checked: {', '.join(gpu.checked())})")
            samples = [dev.sample() for dev in devices]
            print(jsondoc.dumps({"kind": "gpu", "gpus": [s.as_dict() for s in samples]}) if args.json
                  else gpu.render_once(samples))
            return 0
        from viewer.live import run_gpu

        return run_gpu(gpu, args.interval)
    projects = find_projects(args)
    if args.list:
        listed = list_data(projects)
        print(jsondoc.dumps({"kind": "list", "projects": listed}) if args.json else list_text(listed))
        return 0
    if args.once and args.compare is not None:
        from viewer import compare_render
        from viewer.compare_runs import compare_runs

        warn_skipped(projects[0])
        runs = compare_runs(projects[0], args.compare, args.metric, not args.no_cache)
        print(jsondoc.dumps({"kind": "compare", "project": projects[0].name, **compare_render.compare_data(runs)})
              if args.json else compare_render.compare_text(runs))
        return 0
    if args.once:
        text, bad = once_output(args, projects)
        print(text)
        return 1 if bad else 0
    from viewer.live import run_dashboard

    return run_dashboard(projects, args)


def main(argv: list[str] | None = None) -> int:
    """Console-script entry point: parse, run, turn user errors into one line."""
    parser = build_parser()
    args = parser.parse_args(argv)
    args.from_config = False
    args.once = args.once or args.json
    if args.project is None and not (args.gpu or args.list or args.log):
        # As the seed's tool does: inside a ktrack checkout, the project its .config names.
        args.project = config_project()
        if args.project is not None:
            args.from_config = True
    for bad, msg in ((args.gpu_db and not args.project, "--gpu-db requires --project"),
                     (args.compare is not None and not args.project, "--compare requires --project"),
                     (args.compare is not None and (args.gpu or args.gpu_db),
                      "--compare cannot be combined with --gpu or --gpu-db"),
                     (args.gpu and args.gpu_db, "--gpu and --gpu-db cannot be combined"),
                     (args.log is not None and (args.gpu or args.gpu_db or args.list or args.compare is not None),
                      "--log cannot be combined with --gpu, --gpu-db, --list or --compare")):
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
