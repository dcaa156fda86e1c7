"""Typed values of a configured tree: what ``config.py`` and ``kconf.load`` hold."""

from __future__ import annotations

import re

import kconfiglib

_FLOAT_MARK = re.compile(r"^\s*Type:\s*float\s*$", re.MULTILINE)


def is_float_symbol(sym: kconfiglib.Symbol) -> bool:
    """True when the symbol's help documents it as a number (``Type: float``)."""
    return any(node.help and _FLOAT_MARK.search(node.help) for node in sym.nodes)


def typed_value(sym: kconfiglib.Symbol) -> object:
    """Return the symbol's value as a Python value.

    bool -> bool, int -> int, hex -> int, string -> str, or float for a string
    documented ``Type: float`` (an unparsable float stays a string).
    """
    if sym.orig_type in (kconfiglib.BOOL, kconfiglib.TRISTATE):
        return sym.tri_value == 2
    text = sym.str_value
    if sym.orig_type == kconfiglib.INT:
        return int(text, 10) if text else 0
    if sym.orig_type == kconfiglib.HEX:
        return int(text, 16) if text else 0
    if is_float_symbol(sym):
        try:
            return float(text)
        except ValueError:
            return text
    return text


def typed_values(tree: kconfiglib.Kconfig) -> dict[str, object]:
    """Every symbol that ``.config`` records, by name without ``CONFIG_``.

    Symbols whose dependencies are unmet are not written to ``.config`` and
    are absent here, so ``getattr(config, "X", default)`` works.
    """
    values: dict[str, object] = {}
    for sym in tree.unique_defined_syms:
        if sym.config_string:
            values[sym.name] = typed_value(sym)
    return values


def float_symbols(tree: kconfiglib.Kconfig) -> set[str]:
    """Names of the string symbols documented as floats."""
    return {sym.name for sym in tree.unique_defined_syms if sym.orig_type == kconfiglib.STRING and is_float_symbol(sym)}
