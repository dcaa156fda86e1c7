"""defconfig, olddefconfig and savedefconfig with validated command-line overrides.

Order matters with kconfiglib: a value written in the defconfig beats a
``default … if`` evaluated from the command line, so the defconfig is applied
first, then ``SET=`` assignments, then ``TRACKER=``; every override is checked
to have taken (``sym.str_value``) before anything is written.
"""

from __future__ import annotations

import os
import shlex
import tempfile
from pathlib import Path

import kconfiglib

from kconf.errors import ConfigError
from kconf.generate import write_if_changed
from kconf.tree import open_tree, read_config
from kconf.trackerspec import TRACKER_SYMBOLS, parse_trackers

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


def _choice_member_for(sym: kconfiglib.Symbol, value: str) -> kconfiglib.Symbol | None:
    """For a promptless string derived from a choice (``default "sgd" if OPTIMIZER_SGD``),
    return the choice member that yields ``value``."""
    for default, cond in sym.defaults:
        if default.is_constant and default.name == value and isinstance(cond, kconfiglib.Symbol) and cond.choice:
            return cond
    return None


def set_symbol(tree: kconfiglib.Kconfig, name: str, value: str) -> None:
    """Assign ``value`` to symbol ``name`` and check that it took, else ConfigError."""
    sym = tree.syms.get(name)
    if sym is None or not sym.nodes:
        raise ConfigError(f"unknown Kconfig symbol {name!r} in SET; see docs/configuration.md or 'make menuconfig'")
    if not any(node.prompt for node in sym.nodes):
        member = _choice_member_for(sym, value)
        if member is None:
            raise ConfigError(f"{name} is derived and cannot be set to {value!r}; set the option that selects it")
        sym, value = member, "y"
    if sym.orig_type in (kconfiglib.BOOL, kconfiglib.TRISTATE):
        value = {"true": "y", "1": "y", "yes": "y", "false": "n", "0": "n", "no": "n"}.get(value.lower(), value)
    if not sym.set_value(value):
        kind = kconfiglib.TYPE_TO_STR[sym.orig_type]
        hint = {"bool": "y or n", "int": "a whole number", "hex": "a hex number"}.get(kind, "a valid value")
        raise ConfigError(f"invalid value {value!r} for {sym.name} ({kind}): use {hint}")
    took = sym.tri_value == {"n": 0, "m": 1, "y": 2}[value] if sym.orig_type in (kconfiglib.BOOL, kconfiglib.TRISTATE) \
        else sym.str_value == value or (sym.orig_type in (kconfiglib.INT, kconfiglib.HEX)
                                        and sym.str_value and int(sym.str_value, 0) == int(value, 0))
    if not took:
        ranges = [f"{lo.str_value}..{hi.str_value}" for lo, hi, cond in sym.ranges if kconfiglib.expr_value(cond)]
        if sym.direct_dep is not tree.y and not kconfiglib.expr_value(sym.direct_dep):
            why = f"it depends on {kconfiglib.expr_str(sym.direct_dep)}"
        elif ranges:
            why = f"it must be in the range {ranges[0]}"
        else:
            why = f"the configuration does not allow it (value stays {sym.str_value!r})"
        raise ConfigError(f"{sym.name}={value} did not take: {why}")


def apply_trackers(tree: kconfiglib.Kconfig, tracker: str) -> set[str]:
    """Set every ``CONFIG_ENABLE_*`` tracker symbol from a TRACKER value."""
    try:
        enabled = parse_trackers(tracker)
    except ValueError as exc:
        raise ConfigError(str(exc)) from None
    for name, symbol in TRACKER_SYMBOLS.items():
        set_symbol(tree, symbol, "y" if name in enabled else "n")
    return enabled


def write_config(tree: kconfiglib.Kconfig, path: str | os.PathLike[str]) -> bool:
    """Write the full configuration to ``path`` atomically; True if it changed.

    The previous file is kept as ``<path>.old``, as the kernel does.
    """
    path = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=".config.", suffix=".tmp", dir=path.parent or ".")
    os.close(fd)
    try:
        tree.write_config(tmp, save_old=False)
        text = Path(tmp).read_text(encoding="utf-8")
    finally:
        os.unlink(tmp)
    if path.exists():
        try:
            old = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            old = None
        if old == text:
            return False
        if old is not None:
            write_if_changed(path.with_name(path.name + ".old"), old)
    return write_if_changed(path, text)


def defconfig(root: str | os.PathLike[str], name: str, config: str | os.PathLike[str],
              tracker: str | None = None, assignments: str | None = None) -> kconfiglib.Kconfig:
    """Apply defconfig ``name`` plus overrides and write ``config``.

    Nothing is written unless every step succeeds. Returns the configured tree.
    """
    tree = open_tree(root)
    read_config(tree, defconfig_path(root, name))
    pairs = parse_assignments(assignments) if assignments else []
    tracker_syms = set(TRACKER_SYMBOLS.values())
    if tracker and any(sym in tracker_syms for sym, _ in pairs):
        raise ConfigError("give trackers either with TRACKER= or with SET=ENABLE_…, not both")
    for sym_name, value in pairs:
        set_symbol(tree, sym_name, value)
    if tracker:
        apply_trackers(tree, tracker)
    write_config(tree, config)
    return tree


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
    fd, tmp = tempfile.mkstemp(suffix=".defconfig")
    os.close(fd)
    try:
        tree.write_min_config(tmp, header="# ktrack experiment saved by 'make savedefconfig'\n")
        write_if_changed(out, Path(tmp).read_text(encoding="utf-8"))
    finally:
        os.unlink(tmp)
