"""Typed values of a configured tree: what ``config.py`` and ``kconf.load`` hold."""

from __future__ import annotations

import kconfiglib

from kconf.floats import is_float_symbol

__all__ = ["is_float_symbol", "typed_value", "typed_values"]


def typed_value(sym: kconfiglib.Symbol) -> object:
    """Return the symbol's value as a Python value.

    bool -> bool, int -> int, hex -> int, string -> str, or float for a string
    symbol listed in the tree's float table (``kconfig/float-symbols``). A float
    symbol whose text is not a number (only a tree loaded without checks can
    hold one) stays a string.
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
    are absent here.
    """
    values: dict[str, object] = {}
    for sym in tree.unique_defined_syms:
        if sym.config_string:
            values[sym.name] = typed_value(sym)
    return values
