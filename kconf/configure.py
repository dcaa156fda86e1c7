"""defconfig, olddefconfig and savedefconfig with validated overrides.

Order matters with kconfiglib: a value written in the defconfig beats a
``default … if`` evaluated from the command line, so the defconfig is applied
first, then ``SET=`` assignments, then ``TRACKER=``; every override is checked
to have taken (``sym.str_value``) before anything is written.
:func:`set_symbol` is the one way any value is set (``SET=``, the trainers'
flags and ``--set``, sweep files), :func:`load_minimal` the trainers' start
from an existing ``.config``, :func:`write_config` the one writer of it.
"""

from __future__ import annotations

import os
import shlex
import tempfile
from pathlib import Path

import kconfiglib

from kconf.errors import ConfigError
from kconf.files import check_is_file, check_writable, read_text, write_all_if_changed, write_error, write_if_changed
from kconf.floats import float_problem
from kconf.tree import config_text, min_config_text, open_tree, read_config
from kconf.trackerspec import TRACKER_SYMBOLS, parse_trackers
from ktrack.names import BadName, check_project

DEFCONFIG_DIR = "defconfigs"


def list_defconfigs(root: str | os.PathLike[str]) -> dict[str, str]:
    """Return ``{name: description}`` for every defconfig (first comment line)."""
    folder = Path(root) / DEFCONFIG_DIR
    found: dict[str, str] = {}
    for path in sorted(folder.iterdir()) if folder.is_dir() else []:
        if path.is_file() and not path.name.startswith("."):
            first = path.read_text(encoding="utf-8").splitlines()[:1]
            description = first[0].lstrip("#").strip() if first and first[0].startswith("#") else ""
            if path.is_symlink():
                description = f"same as {os.readlink(path)}" + (f": {description}" if description else "")
            found[path.name] = description
    return found


def defconfig_path(root: str | os.PathLike[str], name: str) -> Path:
    """Return the path of defconfig ``name``; ConfigError listing the choices if unknown."""
    available = list_defconfigs(root)
    if name not in available:
        raise ConfigError(f"unknown defconfig {name!r}; available: {', '.join(available)} "
                          f"(see 'make list-defconfigs')")
    return Path(root) / DEFCONFIG_DIR / name


def parse_assignments(text: str) -> list[tuple[str, str]]:
    """Split ``SET="A=1 B='x y'"`` into ``[("A", "1"), ("B", "x y")]`` (shell quoting)."""
    try:
        words = shlex.split(text)
    except ValueError as exc:
        raise ConfigError(f"cannot parse SET={text!r}: {exc}; quote values like SET='NAME=\"a b\"'") from None
    pairs = []
    for word in words:
        name, sep, value = word.partition("=")
        name = name.removeprefix("CONFIG_")
        if not sep or not name:
            raise ConfigError(f"bad SET item {word!r}: write SYMBOL=value, e.g. SET=\"TRAIN_MAX_ITERS=200\"")
        pairs.append((name, value))
    return pairs


def choice_values(sym: kconfiglib.Symbol) -> dict[str, kconfiglib.Symbol]:
    """For a promptless string derived from a choice (``default "sgd" if OPTIMIZER_SGD``),
    ``{value: the choice member that gives it}``; empty for any other symbol."""
    return {default.name: cond for default, cond in sym.defaults
            if default.is_constant and isinstance(cond, kconfiglib.Symbol) and cond.choice}


def _took(sym: kconfiglib.Symbol, value: str) -> bool:
    if sym.orig_type in (kconfiglib.BOOL, kconfiglib.TRISTATE):
        return bool(sym.tri_value == {"n": 0, "m": 1, "y": 2}[value])
    if sym.str_value == value:
        return True
    return sym.orig_type in (kconfiglib.INT, kconfiglib.HEX) and bool(sym.str_value) \
        and int(sym.str_value, 0) == int(value, 0)


def set_symbol(tree: kconfiglib.Kconfig, name: str, value: str) -> None:
    """Assign ``value`` to symbol ``name`` and check that it took, else ConfigError.

    The one way every override is applied (``SET=``, trainer flags and
    ``--set``, sweep files): an unknown symbol, a control character in the
    value, a value of the wrong type, out of range (the Kconfig ``range``, or
    the float table's interval), not one of a choice's values, or one that
    does not take because a dependency is off is an error naming the symbol.
    """
    sym = tree.syms.get(name)
    if sym is None or not sym.nodes:
        raise ConfigError(f"unknown Kconfig symbol {name!r}; see docs/configuration.md or 'make menuconfig'")
    if not value.isprintable():
        raise ConfigError(f"{name}={value!r} holds a control character (newline, tab, escape); "
                          f"give the value on one line")
    shown = f"{name}={value}"
    if not any(node.prompt for node in sym.nodes):
        members = choice_values(sym)
        if value not in members:
            if members:
                raise ConfigError(f"{name}={value!r} is not one of its values: use {', '.join(members)}")
            raise ConfigError(f"{name} is derived and cannot be set to {value!r}; set the option that selects it")
        sym, value = members[value], "y"
    problem = float_problem(sym, value)
    if problem:
        raise ConfigError(problem)
    if sym.orig_type in (kconfiglib.BOOL, kconfiglib.TRISTATE):
        value = {"true": "y", "1": "y", "yes": "y", "false": "n", "0": "n", "no": "n"}.get(value.lower(), value)
    if not sym.set_value(value):
        kind = kconfiglib.TYPE_TO_STR[sym.orig_type]
        hint = {"bool": "y or n", "int": "a whole number", "hex": "a hex number"}.get(kind, "a valid value")
        raise ConfigError(f"invalid value {value!r} for {sym.name} ({kind}): use {hint}")
    if not _took(sym, value):
        ranges = [f"{lo.str_value}..{hi.str_value}" for lo, hi, cond in sym.ranges if kconfiglib.expr_value(cond)]
        if sym.direct_dep is not tree.y and not kconfiglib.expr_value(sym.direct_dep):
            why = f"it depends on {kconfiglib.expr_str(sym.direct_dep)}"
        elif ranges:
            why = f"it must be in the range {ranges[0]}"
        else:
            why = f"the configuration does not allow it (value stays {sym.str_value!r})"
        raise ConfigError(f"{shown} did not take: {why}")


def apply_trackers(tree: kconfiglib.Kconfig, tracker: str) -> set[str]:
    """Set every ``CONFIG_ENABLE_*`` tracker symbol from a TRACKER value."""
    try:
        enabled = parse_trackers(tracker)
    except ValueError as exc:
        raise ConfigError(str(exc)) from None
    for name, symbol in TRACKER_SYMBOLS.items():
        set_symbol(tree, symbol, "y" if name in enabled else "n")
    return enabled


def write_config(tree: kconfiglib.Kconfig, path: str | os.PathLike[str], header: str | None = None) -> bool:
    """Write the full configuration to ``path`` atomically; True if it changed.

    The previous file is kept as ``<path>.old``, as the kernel does; both are
    written or neither. A read-only ``path`` (no write permission bit), a
    directory, a full disk or an immutable file or folder is a ConfigError
    and leaves everything as it was. ``header`` replaces kconfiglib's first
    comment line.
    """
    path = Path(path)
    check_is_file(path)
    text = config_text(tree, header)
    old = read_text(path)
    if old == text:
        return False
    check_writable(path)
    outputs = {path: text}
    if old is not None:
        outputs = {path.with_name(path.name + ".old"): old, path: text}
    return path in write_all_if_changed(outputs)


def load_minimal(root: str | os.PathLike[str], config: str | os.PathLike[str]) -> kconfiglib.Kconfig:
    """Read ``config`` strictly, then return a tree holding only its non-default values.

    This is what ``make defconfig`` starts from: a configuration loaded this
    way reacts to later overrides exactly as the defconfig it came from (a
    default that depends on ``MODEL``, say, still follows ``MODEL``).
    """
    full = open_tree(root)
    read_config(full, config)
    tree = open_tree(root)
    with tempfile.TemporaryDirectory(prefix="ktrack-config-") as folder:
        minimal = Path(folder) / "defconfig"
        try:
            minimal.write_text(min_config_text(full), encoding="utf-8")
        except OSError as exc:
            raise write_error(minimal, exc) from None
        tree.load_config(str(minimal))
    return tree


def apply_overrides(tree: kconfiglib.Kconfig, pairs: list[tuple[str, str]], tracker: str | None = None
                    ) -> kconfiglib.Kconfig:
    """Apply ``SYMBOL=value`` pairs in order, then a ``TRACKER=`` value; returns ``tree``."""
    tracker_syms = set(TRACKER_SYMBOLS.values())
    if tracker and any(sym in tracker_syms for sym, _ in pairs):
        raise ConfigError("give trackers either with TRACKER= or with SET=ENABLE_…, not both")
    for sym_name, value in pairs:
        set_symbol(tree, sym_name, value)
    if tracker:
        apply_trackers(tree, tracker)
    return tree


def defconfig(root: str | os.PathLike[str], name: str, config: str | os.PathLike[str],
              tracker: str | None = None, assignments: str | None = None) -> kconfiglib.Kconfig:
    """Apply defconfig ``name`` plus overrides and write ``config``.

    Nothing is written unless every step succeeds (the project name included,
    :func:`check_project_name`). Returns the configured tree.
    """
    tree = configured(root, name, parse_assignments(assignments) if assignments else [], tracker)
    check_project_name(tree)
    write_config(tree, config)
    return tree


def check_project_name(tree: kconfiglib.Kconfig) -> None:
    """ConfigError when ``TRACKER_PROJECT`` is a name some enabled tracker would not store under that
    very name (:func:`ktrack.names.check_project`; run names are checked when a run starts)."""
    sym = tree.syms.get("TRACKER_PROJECT")
    if sym is None or not sym.str_value:
        return
    enabled = [name for name, flag in TRACKER_SYMBOLS.items() if flag in tree.syms and tree.syms[flag].tri_value == 2]
    try:
        check_project(sym.str_value, enabled)
    except BadName as exc:
        raise ConfigError(f"CONFIG_TRACKER_PROJECT: {exc}") from None


def configured(root: str | os.PathLike[str], name: str, pairs: list[tuple[str, str]] | None = None,
               tracker: str | None = None) -> kconfiglib.Kconfig:
    """The tree ``make defconfig DEFCONFIG=name SET=... TRACKER=...`` would write, without writing it."""
    tree = open_tree(root)
    read_config(tree, defconfig_path(root, name))
    return apply_overrides(tree, pairs or [], tracker)


def olddefconfig(root: str | os.PathLike[str], config: str | os.PathLike[str]) -> kconfiglib.Kconfig:
    """Re-read ``config``, give new symbols their defaults and write it back."""
    tree = open_tree(root)
    read_config(tree, config)
    write_config(tree, config)
    return tree


def savedefconfig(root: str | os.PathLike[str], config: str | os.PathLike[str],
                  out: str | os.PathLike[str]) -> None:
    """Write the minimal defconfig for ``config`` (only non-default values) to ``out``."""
    tree = open_tree(root)
    read_config(tree, config)
    write_if_changed(out, min_config_text(tree, "# ktrack experiment saved by 'make savedefconfig'\n"))
