"""Opening the Kconfig tree and reading ``.config`` strictly, with kconfiglib."""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import kconfiglib

from kconf.errors import ConfigError

#: The repository root of this checkout (where ``Kconfig`` lives).
REPO_ROOT = Path(__file__).resolve().parent.parent

_ASSIGN = re.compile(r"^CONFIG_([A-Za-z0-9_]+)=(.*)$")
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


def _check_assignment(tree: kconfiglib.Kconfig, name: str, value: str) -> str | None:
    """Return why ``CONFIG_<name>=<value>`` is invalid, or None when it is fine."""
    sym = tree.syms.get(name)
    if sym is None or not sym.nodes:
        return f"unknown symbol CONFIG_{name}"
    kind = sym.orig_type
    if kind in (kconfiglib.BOOL, kconfiglib.TRISTATE):
        return None if value in ("y", "n") or (kind == kconfiglib.TRISTATE and value == "m") \
            else f"CONFIG_{name} is a bool: use y or n, not {value!r}"
    if kind == kconfiglib.STRING:
        return None if _STRING.match(value) else f"CONFIG_{name} needs a double-quoted string, not {value!r}"
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


def read_config(tree: kconfiglib.Kconfig, path: str | os.PathLike[str]) -> None:
    """Load ``path`` into ``tree``, refusing anything kconfiglib would ignore.

    A line that is not ``CONFIG_X=value`` or a comment, an unknown symbol, or a
    value of the wrong type or out of range raises ConfigError naming
    ``file:line`` and what to do.
    """
    path = Path(path)
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        raise ConfigError(f"{path} does not exist: run 'make defconfig' first") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read {path}: {exc}; run 'make defconfig' to recreate it") from None
    for number, line in enumerate(lines, 1):
        line = line.rstrip()
        if not line or line.startswith("#"):
            continue
        match = _ASSIGN.match(line)
        problem = _check_assignment(tree, *match.groups()) if match else \
            f"not a Kconfig assignment: {line.strip()[:60]!r}"
        if problem:
            raise ConfigError(f"{path}:{number}: {problem}; fix the line or run 'make defconfig'")
    tree.load_config(str(path))
