"""Typed values of a configured tree: what ``config.py`` and ``kconf.load`` hold."""

from __future__ import annotations

import kconfiglib

from kconf.floats import is_float_symbol

__all__ = ["every_value", "is_float_symbol", "tree_default", "typed_value", "typed_values"]


def typed_value(sym: kconfiglib.Symbol) -> object:
    """Return the symbol's value as a Python value.

    bool -> bool, int -> int, hex -> int, string -> str, or float for a string
    symbol listed in the tree's float table (``kconfig/float-symbols``). A float
    symbol whose text is not a number (only a tree loaded without checks can
    hold one) stays a string.
    """
    if sym.orig_type in (kconfiglib.BOOL, kconfiglib.TRISTATE):
        return sym.tri_value == 2
    return _typed_text(sym, sym.str_value)


def _typed_text(sym: kconfiglib.Symbol, text: str) -> object:
    """``text`` as the Python value of the int, hex or string symbol ``sym`` (see :func:`typed_value`)."""
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


def tree_default(sym: kconfiglib.Symbol) -> object:
    """The typed value the tree's ``default`` lines give ``sym`` as if its dependencies were met.

    The first default whose own ``if`` holds wins (kconfiglib's rule); none:
    n, 0 or "". This is the value ``sym`` takes once its dependencies are
    switched on, so code that uses it anyway (a GPU interval when a caller
    turns GPU logging on) gets what the tree says.
    """
    for default, cond in sym.orig_defaults:
        cond_value = kconfiglib.expr_value(cond)
        if not cond_value:
            continue
        if sym.orig_type in (kconfiglib.BOOL, kconfiglib.TRISTATE):
            return min(kconfiglib.expr_value(default), cond_value) == 2
        return _typed_text(sym, default.str_value)
    if sym.orig_type in (kconfiglib.BOOL, kconfiglib.TRISTATE):
        return False
    return _typed_text(sym, "")


def every_value(tree: kconfiglib.Kconfig) -> dict[str, object]:
    """Every symbol of the tree, by name without ``CONFIG_``: what ``.config`` records, else :func:`tree_default`."""
    return {sym.name: typed_value(sym) if sym.config_string else tree_default(sym)
            for sym in tree.unique_defined_syms}
