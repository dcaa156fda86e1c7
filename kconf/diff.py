"""Kernel-style ``diffconfig`` of two configurations.

Lines are ``-SYM old`` (only in A), ``+SYM new`` (only in B) and
`` SYM old -> new`` (changed), in that order, each group sorted by name, as
the kernel's scripts/diffconfig prints them. ``TRACKER_RUN_NAME`` is left
out: it names a run rather than configures it, so two runs (two sweep points)
always differ in it and it explains nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping


def format_value(value: object) -> str:
    """Render a typed config value as ``.config`` would: y/n, numbers, quoted strings."""
    if isinstance(value, bool):
        return "y" if value else "n"
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    return str(value)


#: Symbols never listed: they name the run, they do not configure it.
LEFT_OUT = frozenset({"TRACKER_RUN_NAME"})


def _strip(config: Mapping[str, object]) -> dict[str, object]:
    stripped = ((key.removeprefix("CONFIG_"), value) for key, value in config.items())
    return {key: value for key, value in stripped if key not in LEFT_OUT}


def changed_symbols(a: Mapping[str, object], b: Mapping[str, object]) -> list[str]:
    """Names (without ``CONFIG_``) whose value differs or that exist on one side only."""
    a, b = _strip(a), _strip(b)
    return sorted(key for key in a.keys() | b.keys() if a.get(key, _MISSING) != b.get(key, _MISSING))


_MISSING = object()


def diffconfig(a: Mapping[str, object], b: Mapping[str, object],
               render: Callable[[object], str] = format_value) -> list[str]:
    """Return the diffconfig lines from configuration ``a`` to ``b``.

    Values are typed (``config.json``'s) and shown as ``.config`` writes them;
    with ``render=str`` they are ``.config``'s own text (:func:`kconf.tree.assignments`).
    """
    a, b = _strip(a), _strip(b)
    removed = [f"-{key} {render(a[key])}" for key in sorted(a.keys() - b.keys())]
    added = [f"+{key} {render(b[key])}" for key in sorted(b.keys() - a.keys())]
    changed = [f" {key} {render(a[key])} -> {render(b[key])}"
               for key in sorted(a.keys() & b.keys()) if a[key] != b[key]]
    return removed + added + changed
