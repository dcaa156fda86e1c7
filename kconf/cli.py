"""ktrack-config: configure an experiment (what ``make defconfig`` and friends run).

Usage:
  python -m kconf defconfig NAME [--tracker T] [--set "SYM=value ..."]
  python -m kconf olddefconfig | genconfig | check
  python -m kconf savedefconfig [--out defconfig]
  python -m kconf list-defconfigs [--make-help]
  python -m kconf project-name MODEL
  python -m kconf trackers VALUE

``defconfig`` also reads TRACKER and SET from the environment (make exports
command-line variables), so ``make defconfig TRACKER=wandb,trackio`` works
with any quoting. Errors are one line and exit 1.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from kconf.configure import defconfig, list_defconfigs, olddefconfig, savedefconfig
from kconf.errors import ConfigError
from kconf.generate import generate
from kconf.projectname import project_name
from kconf.trackerspec import TRACKER_SYMBOLS, parse_trackers
from kconf.tree import open_tree, read_config
from kconf.values import typed_values

PROG = "ktrack-config"


def _config_path(args: argparse.Namespace) -> Path:
    return Path(args.config or os.environ.get("KCONFIG_CONFIG") or ".config")


def _summary(values: dict[str, object]) -> str:
    trackers = [name for name, sym in TRACKER_SYMBOLS.items() if values.get(sym)]
    return (f"  model {values.get('MODEL', '?')}, trackers: {', '.join(trackers) or 'none'}, "
            f"project: {values.get('TRACKER_PROJECT', '?')}")


def _generate(tree, args: argparse.Namespace) -> None:
    # Generated files go beside the configuration they come from, like the
    # kernel's O= build directory: another KCONFIG_CONFIG never touches the
    # checkout's config.py.
    for name in generate(tree, _config_path(args).resolve().parent):
        print(f"  GEN     {name}")


def _cmd_defconfig(args: argparse.Namespace) -> None:
    tracker = args.tracker if args.tracker is not None else os.environ.get("TRACKER") or None
    assignments = args.set if args.set is not None else os.environ.get("SET") or None
    config = _config_path(args)
    tree = defconfig(args.root, args.name, config, tracker=tracker, assignments=assignments)
    _generate(tree, args)
    print(f"# configuration written to {config} (defconfig {args.name})")
    print(_summary(typed_values(tree)))


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
    print(_summary(typed_values(tree)))


def _cmd_savedefconfig(args: argparse.Namespace) -> None:
    savedefconfig(args.root, _config_path(args), args.out)
    print(f"# minimal configuration saved to {args.out} (copy it to defconfigs/<name> to keep it)")


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
    parser = argparse.ArgumentParser(prog=PROG, description=__doc__.splitlines()[0])
    parser.add_argument("--root", type=Path, default=Path("."), help="tree holding Kconfig (default: .)")
    parser.add_argument("--config", help="configuration file (default: $KCONFIG_CONFIG or .config)")
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("defconfig", help="apply defconfigs/NAME plus TRACKER/SET overrides")
    p.add_argument("name")
    p.add_argument("--tracker", help="none, trackio, wandb, tensorboard, both, or a comma list")
    p.add_argument("--set", help='overrides, e.g. "TRAIN_MAX_ITERS=200 TRAIN_LEARNING_RATE=3e-4"')
    p.set_defaults(func=_cmd_defconfig)
    sub.add_parser("olddefconfig", help="refresh .config with defaults for new symbols").set_defaults(
        func=_cmd_olddefconfig)
    sub.add_parser("genconfig", help="regenerate config.py, config.json, autoconf.h").set_defaults(
        func=_cmd_genconfig)
    sub.add_parser("check", help="validate .config").set_defaults(func=_cmd_check)
    p = sub.add_parser("savedefconfig", help="write a minimal defconfig")
    p.add_argument("--out", default="defconfig")
    p.set_defaults(func=_cmd_savedefconfig)
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
    """Run ktrack-config; return the exit status."""
    args = build_parser().parse_args(argv)
    try:
        args.func(args)
    except ConfigError as exc:
        print(f"{PROG}: {exc}", file=sys.stderr)
        return 1
    return 0
