"""Opening the Kconfig tree and reading ``.config`` strictly, with kconfiglib."""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import kconfiglib

from kconf.errors import ConfigError
from kconf.files import check_is_file
from kconf.floats import float_problem

#: The repository root of this checkout (where ``Kconfig`` lives).
REPO_ROOT = Path(__file__).resolve().parent.parent

_ASSIGN = re.compile(r"^CONFIG_([A-Za-z0-9_]+)=(.*)$")
_NOT_SET = re.compile(r"^# CONFIG_([A-Za-z0-9_]+) is not set$")
_STRING = re.compile(r'^"(?:[^"\\]|\\.)*"$')


@contextmanager
def _env(**values: str) -> Iterator[None]:
    saved = {key: os.environ.get(key) for key in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for key, old in saved.items():
            if old is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = old


def open_tree(root: str | os.PathLike[str] | None = None) -> kconfiglib.Kconfig:
    """Parse ``<root>/Kconfig`` and return the kconfiglib tree.

    ``source`` paths resolve against ``root`` whatever the current directory,
    and ``$(project-name,…)`` comes from :mod:`kconf.kconfigfunctions`.
    Warnings are collected, not printed.
    """
    root = Path(root or REPO_ROOT).resolve()
    kconfig = root / "Kconfig"
    if not kconfig.is_file():
        raise ConfigError(f"no Kconfig file in {root}: run this from the ktrack checkout")
    with _env(srctree=str(root), KCONFIG_FUNCTIONS="kconf.kconfigfunctions"):
        try:
            tree = kconfiglib.Kconfig(str(kconfig), warn_to_stderr=False, suppress_traceback=False)
        except kconfiglib.KconfigError as exc:
            raise ConfigError(f"Kconfig tree is broken: {str(exc).strip().splitlines()[0]}") from exc
    tree.warn_assign_undef = True
    tree.warn_assign_override = False
    tree.warn_assign_redun = False
    return tree


def check_assignment(tree: kconfiglib.Kconfig, name: str, value: str) -> str | None:
    """Return why ``CONFIG_<name>=<value>`` is invalid, or None when it is fine."""
    sym = tree.syms.get(name)
    if sym is None or not sym.nodes:
        return f"unknown symbol CONFIG_{name}"
    kind = sym.orig_type
    if kind in (kconfiglib.BOOL, kconfiglib.TRISTATE):
        return None if value in ("y", "n") or (kind == kconfiglib.TRISTATE and value == "m") \
            else f"CONFIG_{name} is a bool: use y or n, not {value!r}"
    if kind == kconfiglib.STRING:
        if not _STRING.match(value):
            return f"CONFIG_{name} needs a double-quoted string, not {value!r}"
        return float_problem(sym, unescape(value[1:-1]))
    base = 16 if kind == kconfiglib.HEX else 10
    text = value[1:-1] if len(value) >= 2 and value[0] == value[-1] == '"' else value
    try:
        number = int(text, base)
    except ValueError:
        kind_name = "hex" if base == 16 else "int"
        return f"CONFIG_{name} is an {kind_name}: {value!r} is not a number"
    for low, high, cond in sym.ranges:
        if cond is tree.y:
            lo, hi = int(low.str_value, base), int(high.str_value, base)
            if not lo <= number <= hi:
                return f"CONFIG_{name}={number} is outside its range {lo}..{hi}"
    return None


def unescape(text: str) -> str:
    """The string a ``.config`` value between its quotes stands for (``\\"`` is ``"``)."""
    return re.sub(r"\\(.)", r"\1", text)


def assignments(text: str) -> list[tuple[int, str, str]]:
    """``(line number, NAME, raw value)`` for each assignment of a ``.config`` text.

    ``# CONFIG_X is not set`` gives the value ``n``; other comments and blank
    lines are skipped; any other line gives the name ``""`` and the line itself.
    """
    found: list[tuple[int, str, str]] = []
    for number, line in enumerate(text.splitlines(), 1):
        line = line.rstrip()
        unset = _NOT_SET.match(line)
        if unset:
            found.append((number, unset.group(1), "n"))
        elif line and not line.startswith("#"):
            match = _ASSIGN.match(line)
            found.append((number, match.group(1), match.group(2)) if match else (number, "", line))
    return found


def _derived_problem(tree: kconfiglib.Kconfig, name: str, value: str) -> str | None:
    """Why an assignment to a promptless symbol does not match what the tree derives, or None."""
    sym = tree.syms[name]
    written = sym.config_string
    if any(node.prompt for node in sym.nodes) or not written:
        return None
    unset = sym.orig_type in (kconfiglib.BOOL, kconfiglib.TRISTATE) and value == "n"
    if written == (f"# CONFIG_{name} is not set\n" if unset else f"CONFIG_{name}={value}\n"):
        return None
    members = [cond.name for _, cond in sym.defaults if isinstance(cond, kconfiglib.Symbol) and cond.choice]
    hint = f"select one of {', '.join('CONFIG_' + m for m in members)}" if members else "remove the line"
    return (f"CONFIG_{name} is derived from other options (they give {written.strip().split('=', 1)[-1]}), "
            f"so {value} cannot take; {hint}")


def read_config(tree: kconfiglib.Kconfig, path: str | os.PathLike[str]) -> None:
    """Load ``path`` into ``tree``, refusing anything kconfiglib would ignore.

    A line that is not ``CONFIG_X=value`` or a comment, an unknown symbol, a
    value of the wrong type or out of range (for float symbols: not a number
    in its interval), or a value for a derived symbol that its options do not
    give raises ConfigError naming ``file:line`` and what to do.
    """
    path = Path(path)
    check_is_file(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"{path} does not exist: run 'make defconfig' first") from None
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise ConfigError(f"cannot read {path}: {reason}; make it readable or run 'make defconfig'") from None
    found = assignments(text)
    for number, name, value in found:
        problem = check_assignment(tree, name, value) if name else \
            f"not a Kconfig assignment: {value.strip()[:60]!r}"
        if problem:
            raise ConfigError(f"{path}:{number}: {problem}; fix the line or run 'make defconfig'")
    tree.load_config(str(path))
    for number, name, value in found:
        problem = _derived_problem(tree, name, value)
        if problem:
            raise ConfigError(f"{path}:{number}: {problem}")


def config_text(tree: kconfiglib.Kconfig, header: str | None = None) -> str:
    """The full ``.config`` text kconfiglib's ``write_config`` would write (``header`` first)."""
    # kconfiglib builds the text with these helpers before writing it; using them
    # keeps every write in kconf.files (atomic, mode-preserving, one-line errors).
    return tree._config_contents(header)


def min_config_text(tree: kconfiglib.Kconfig, header: str = "") -> str:
    """The minimal (``savedefconfig``) text kconfiglib's ``write_min_config`` would write."""
    return tree._min_config_contents(header)


def autoconf_text(tree: kconfiglib.Kconfig, header: str | None = None) -> str:
    """The C header kconfiglib's ``write_autoconf`` would write."""
    return tree._autoconf_contents(header)
