"""ktrack-config: configure an experiment (what ``make defconfig`` and friends run).

Usage:
  python -m kconf defconfig NAME [--tracker T] [--set "SYM=value ..."]
  python -m kconf restore RUN [--force]
  python -m kconf olddefconfig | genconfig | check
  python -m kconf savedefconfig [--out defconfig]
  python -m kconf diffconfig A B
  python -m kconf list-defconfigs [--make-help]
  python -m kconf project-name MODEL
  python -m kconf trackers VALUE

``defconfig`` also reads TRACKER and SET from the environment, and
``restore`` FORCE (make exports its variables to the recipes, so the values
never pass through a shell command line). Errors are one line and exit 1.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import re
import sys
from pathlib import Path

import kconfiglib

from kconf.configure import defconfig, list_defconfigs, olddefconfig, savedefconfig
from kconf.diff import diffconfig
from kconf.errors import ConfigError
from kconf.files import config_lock
from kconf.generate import generate
from kconf.load import load
from kconf.projectname import project_name
from kconf.runs import config_values, find_run, restore, runs_dir, tree_changes
from kconf.trackerspec import TRACKER_SYMBOLS, parse_trackers
from kconf.tree import open_tree, read_config
from ktrack.messages import fail, printable

PROG = "ktrack-config"

#: Commands that read or write the configuration: one at a time per configuration file
#: (:func:`kconf.files.config_lock`), so ``.config`` and its generated files always agree.
_LOCKED = frozenset({"defconfig", "restore", "olddefconfig", "genconfig", "check", "savedefconfig"})
#: make variables a user may give, checked for a ``$`` that make expanded away.
MAKE_VARIABLES = ("DEFCONFIG", "TRACKER", "SET", "RUN", "A", "B")
_LONE_DOLLAR = re.compile(r"\$(?![$({])")


def check_make_dollars(environ: dict[str, str] | os._Environ[str] = os.environ) -> None:
    """Refuse a make variable whose text held a ``$`` that make expanded away (``SET='X=cost$5'``).

    The Makefile passes each variable's unexpanded text as ``KTRACK_RAW_<NAME>``;
    a ``$`` not followed by ``$``, ``(`` or ``{`` there was a make reference to a
    one-letter variable, almost surely meant literally.
    """
    for name in MAKE_VARIABLES:
        raw = environ.get(f"KTRACK_RAW_{name}")
        if raw and _LONE_DOLLAR.search(raw.replace("$$", "")):
            raise ConfigError(f"{name}={raw!r}: make expands '$' in variables; write '$$' for each literal '$' "
                              f"({name}='{raw.replace('$', '$$')}')")


def _config_path(args: argparse.Namespace) -> Path:
    return Path(args.config or os.environ.get("KCONFIG_CONFIG") or ".config")


def _summary(tree: kconfiglib.Kconfig) -> str:
    cfg = load(tree)
    trackers = [name for name, sym in TRACKER_SYMBOLS.items() if getattr(cfg, sym)]
    return f"  model {cfg.MODEL}, trackers: {', '.join(trackers) or 'none'}, project: {cfg.TRACKER_PROJECT}"


def _generate(tree: kconfiglib.Kconfig, args: argparse.Namespace) -> None:
    # Generated files go beside the configuration they come from, like the
    # kernel's O= build directory: another KCONFIG_CONFIG never touches the
    # checkout's config.py.
    for name in generate(tree, _config_path(args).resolve().parent):
        print(f"  GEN     {name}")


def _env(name: str) -> str | None:
    return os.environ.get(name) or None


def _cmd_defconfig(args: argparse.Namespace) -> None:
    tracker = args.tracker if args.tracker is not None else _env("TRACKER")
    assignments = args.set if args.set is not None else _env("SET")
    config = _config_path(args)
    tree = defconfig(args.root, args.name, config, tracker=tracker, assignments=assignments)
    _generate(tree, args)
    print(f"# configuration written to {config} (defconfig {args.name})")
    print(_summary(tree))


def _cmd_restore(args: argparse.Namespace) -> None:
    if _env("SET") or _env("TRACKER"):
        raise ConfigError("RUN= restores a run's configuration as it was: drop SET= and TRACKER= "
                          "(change the restored .config afterwards, e.g. with 'make menuconfig')")
    config = _config_path(args)
    run = find_run(args.run, runs_dir(args.root, config))
    force = args.force or os.environ.get("FORCE", "") not in ("", "0", "n", "no")
    changes = tree_changes(args.root, run)
    for line in changes:
        print(f"  {printable(line)}", file=sys.stderr)
    tree, changed = restore(args.root, run, config, force=force, changes=changes)
    _generate(tree, args)
    how = f"FORCE: {len(changed)} symbol(s) as the tree allows" if changed else "byte for byte"
    print(f"# configuration of run {run} restored to {config} ({how})")
    print(_summary(tree))


def _cmd_olddefconfig(args: argparse.Namespace) -> None:
    tree = olddefconfig(args.root, _config_path(args))
    _generate(tree, args)
    print(f"# configuration written to {_config_path(args)}")


def _cmd_genconfig(args: argparse.Namespace) -> None:
    tree = open_tree(args.root)
    read_config(tree, _config_path(args))
    _generate(tree, args)


def _cmd_check(args: argparse.Namespace) -> None:
    tree = open_tree(args.root)
    read_config(tree, _config_path(args))
    print(f"{_config_path(args)}: OK")
    print(_summary(tree))


def _cmd_savedefconfig(args: argparse.Namespace) -> None:
    savedefconfig(args.root, _config_path(args), args.out)
    print(f"# minimal configuration saved to {args.out} (copy it to defconfigs/<name> to keep it)")


def _cmd_diffconfig(args: argparse.Namespace) -> None:
    if not args.a.strip() or not args.b.strip():
        raise ConfigError("diffconfig needs two configurations: make diffconfig A=<run|.config|defconfig> B=<...>")
    base = runs_dir(args.root, _config_path(args))
    (label_a, a), (label_b, b) = (config_values(spec, args.root, base) for spec in (args.a, args.b))
    lines = diffconfig(a, b, render=str)
    print("\n".join(printable(line) for line in lines) if lines
          else f"# {printable(label_a)} and {printable(label_b)} have the same configuration")


def _cmd_list(args: argparse.Namespace) -> None:
    for name, description in list_defconfigs(args.root).items():
        if args.make_help:
            print(f"  defconfig-{name:<30} - {description}")
        else:
            print(f"{name:<32} {description}")


def _cmd_project_name(args: argparse.Namespace) -> None:
    try:
        print(project_name(args.model))
    except ValueError as exc:
        raise ConfigError(str(exc)) from None


def _cmd_trackers(args: argparse.Namespace) -> None:
    try:
        enabled = parse_trackers(args.value)
    except ValueError as exc:
        raise ConfigError(str(exc)) from None
    for name, sym in TRACKER_SYMBOLS.items():
        print(f"CONFIG_{sym}={'y' if name in enabled else 'n'}")


def build_parser() -> argparse.ArgumentParser:
    """Return the argument parser of ``python -m kconf``."""
    parser = argparse.ArgumentParser(prog=PROG, description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--root", type=Path, default=Path("."), help="tree holding Kconfig (default: .)")
    parser.add_argument("--config", help="configuration file (default: $KCONFIG_CONFIG or .config)")
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("defconfig", help="apply defconfigs/NAME plus TRACKER/SET overrides")
    p.add_argument("name")
    p.add_argument("--tracker", help="none, trackio, wandb, tensorboard, both, or a comma list")
    p.add_argument("--set", help='overrides, e.g. "TRAIN_MAX_ITERS=200 TRAIN_LEARNING_RATE=3e-4"')
    p.set_defaults(func=_cmd_defconfig)
    p = sub.add_parser("restore", help="put a run's .config back (make defconfig RUN=<project>/<run>)")
    p.add_argument("run", help="run folder, <project>/<run>, or a run name under RUNS_DIR")
    p.add_argument("--force", action="store_true", help="restore even when the Kconfig tree changed (FORCE=1)")
    p.set_defaults(func=_cmd_restore)
    sub.add_parser("olddefconfig", help="refresh .config with defaults for new symbols").set_defaults(
        func=_cmd_olddefconfig)
    sub.add_parser("genconfig", help="regenerate config.py, config.json, autoconf.h").set_defaults(
        func=_cmd_genconfig)
    sub.add_parser("check", help="validate .config").set_defaults(func=_cmd_check)
    p = sub.add_parser("savedefconfig", help="write a minimal defconfig")
    p.add_argument("--out", default="defconfig")
    p.set_defaults(func=_cmd_savedefconfig)
    p = sub.add_parser("diffconfig", help="symbols that differ between two runs, .config files or defconfigs")
    p.add_argument("a")
    p.add_argument("b")
    p.set_defaults(func=_cmd_diffconfig)
    p = sub.add_parser("list-defconfigs", help="list defconfigs with their descriptions")
    p.add_argument("--make-help", action="store_true", help=argparse.SUPPRESS)
    p.set_defaults(func=_cmd_list)
    p = sub.add_parser("project-name", help="print MODEL-xxxxx for this machine and directory")
    p.add_argument("model")
    p.set_defaults(func=_cmd_project_name)
    p = sub.add_parser("trackers", help="show which ENABLE_* symbols a TRACKER value sets")
    p.add_argument("value")
    p.set_defaults(func=_cmd_trackers)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run ktrack-config; return the exit status (errors end in :func:`ktrack.messages.fail`)."""
    args = build_parser().parse_args(argv)
    try:
        check_make_dollars()
        with config_lock(_config_path(args)) if args.command in _LOCKED else contextlib.nullcontext():
            args.func(args)
    except ConfigError as exc:
        fail(PROG, exc)
    return 0
