"""``kconf.load()``: the one configuration shape for Python code (trackers, training, sweeps, numerics).

A :class:`Config` has every symbol of the Kconfig tree as a plain attribute
(``cfg.ENABLE_TRACKIO``, ``cfg.GPU_HISTORY``): the value the configuration
gives, else the tree's own default (no ``.config``, a ``.config`` older than
the symbol, a symbol whose dependencies are off). Code never restates a
default. A configuration that is given but missing, unreadable or corrupt
raises :class:`kconf.ConfigError` (a ValueError) whose one-line message names
the file, the line and what to do.

Layout: the public class :class:`Config`, the public functions
:func:`find_config`, :func:`tree_root`, :func:`load`, then the internal
defaults cache.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Mapping
from pathlib import Path
from types import SimpleNamespace
from typing import Any, Union

import kconfiglib

from kconf.tree import REPO_ROOT, open_tree, read_config
from kconf.values import every_value, typed_values

#: What :func:`load` accepts: None (the ``.config`` in use), a ``.config`` path, a configured kconfiglib
#: tree, or values received from elsewhere (``config.py``'s ``config``/``CONFIG``, a run's
#: ``config.json``, a test's namespace or dict).
Source = Union[None, str, "os.PathLike[str]", kconfiglib.Kconfig, Mapping[str, Any], SimpleNamespace, "Config"]


class Config:
    """A configuration: ``cfg.NAME`` for every symbol of the Kconfig tree, read-only.

    A name that is no symbol raises AttributeError. :meth:`recorded` gives
    only the values the configuration itself holds (what ``config.py`` and
    ``config.json`` hold), for code that stores or compares them.
    """

    __slots__ = ("_values", "_recorded")

    def __init__(self, values: Mapping[str, Any], recorded: Mapping[str, Any]) -> None:
        object.__setattr__(self, "_values", {**values, **recorded})
        object.__setattr__(self, "_recorded", dict(recorded))

    def __getattr__(self, name: str) -> Any:
        # Only called for names that are not slots or methods; "_" names (pickle's probes) are never symbols.
        if not name.startswith("_"):
            values: dict[str, Any] = object.__getattribute__(self, "_values")
            if name in values:
                return values[name]
        raise AttributeError(f"{name} is not a Kconfig symbol")

    def __repr__(self) -> str:
        return f"Config({self._recorded!r}, defaults for {len(self._values) - len(self._recorded)} more)"

    def recorded(self) -> dict[str, Any]:
        """The values the configuration holds (empty without a ``.config``), by name without ``CONFIG_``."""
        return dict(self._recorded)

    def replace(self, **values: Any) -> Config:
        """A copy with ``values`` changed (and recorded), as an override on the command line does."""
        return Config(self._values, {**self._recorded, **values})


def find_config() -> Path | None:
    """Return the ``.config`` to use: ``$KCONFIG_CONFIG``, else ``./.config`` (kconfiglib's rule: a program
    run from another folder never picks up the checkout's experiment behind the user's back)."""
    env = os.environ.get("KCONFIG_CONFIG")
    if env:
        return Path(env)
    candidate = Path.cwd() / ".config"
    return candidate if candidate.is_file() else None


def tree_root(config: str | os.PathLike[str]) -> Path:
    """The Kconfig tree ``config`` belongs to: its own folder when that holds ``Kconfig``, else this checkout."""
    parent = Path(config).resolve().parent
    return parent if (parent / "Kconfig").is_file() else REPO_ROOT


def load(source: Source = None) -> Config:
    """Return the :class:`Config` of ``source``, every symbol filled in.

    ``source`` is one of:

    * None: the ``.config`` in use (:func:`find_config`); without one, the
      tree's defaults (and :meth:`Config.recorded` is empty);
    * a ``.config`` path: it must exist and be valid, read strictly
      (:func:`kconf.tree.read_config`) against the tree it belongs to;
    * a configured kconfiglib tree: its values;
    * values received from elsewhere (a mapping or namespace by symbol name):
      they win; every other symbol gets the tree's default as those values
      make it (a model's own learning rate);
    * a :class:`Config`: returned as it is.

    Raises :class:`kconf.ConfigError` for a ``.config`` that is given but
    missing, a ``$KCONFIG_CONFIG`` that is a directory, or a corrupt file.
    """
    if isinstance(source, Config):
        return source
    if isinstance(source, kconfiglib.Kconfig):
        return Config(every_value(source), typed_values(source))
    if isinstance(source, (Mapping, SimpleNamespace)):
        given = dict(vars(source) if isinstance(source, SimpleNamespace) else source)
        return Config(_defaults(given), given)
    config = Path(source) if source is not None else find_config()
    if config is None or (source is None and not config.exists()):
        return Config(_defaults({}), {})
    tree = open_tree(tree_root(config))
    read_config(tree, config)
    return load(tree)


# One parsed tree of this checkout per process, reset for each use: parsing runs the tree's
# $(project-name,...) (a subprocess for the host's address), too slow for every trackers.init().
_tree: kconfiglib.Kconfig | None = None
_lock = threading.Lock()


def _defaults(given: dict[str, Any]) -> dict[str, Any]:
    """Every symbol's value in this checkout's tree with ``given`` assigned (those kconfiglib accepts)."""
    global _tree
    with _lock:
        if _tree is None:
            _tree = open_tree(REPO_ROOT)
            _tree.disable_warnings()  # a value kconfiglib refuses is kept as given, below
        _tree.unset_values()
        for name, value in given.items():
            sym = _tree.syms.get(name)
            if sym is not None and sym.nodes and not isinstance(value, (dict, list)):
                sym.set_value(_assignment(sym, value))
        return every_value(_tree)


def _assignment(sym: kconfiglib.Symbol, value: Any) -> str:
    """A typed value as the text kconfiglib assigns: y/n, decimal or hex digits, the string."""
    if isinstance(value, bool):
        return "y" if value else "n"
    if sym.orig_type == kconfiglib.HEX and isinstance(value, int):
        return hex(value)
    return repr(value) if isinstance(value, float) else str(value)
