"""``kconf.load()``: the typed configuration for Python code (trackers, training, sweeps).

This is the one loader of ``.config`` for Python code, with one contract:
a missing ``.config`` (none found, no path given) is an empty namespace; a
configuration that is given but missing, unreadable or corrupt raises
:class:`kconf.ConfigError` (a ValueError) whose one-line message names the
file, the line and what to do. ``trackers`` uses it as its ``load_cfg``.
"""

from __future__ import annotations

import os
from pathlib import Path
from types import SimpleNamespace

from kconf.tree import REPO_ROOT, open_tree, read_config
from kconf.values import typed_values


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


def load(path: str | os.PathLike[str] | None = None) -> SimpleNamespace:
    """Parse ``.config`` with kconfiglib and return its typed values.

    Attribute names drop the ``CONFIG_`` prefix (``cfg.ENABLE_TRACKIO``); the
    values equal those of the generated ``config.py``. With no ``.config`` (and
    no ``path``) the namespace is empty; an explicit ``path`` that is missing,
    a ``$KCONFIG_CONFIG`` that is a directory, or a corrupt file raises
    :class:`kconf.ConfigError` naming the line.
    """
    config = Path(path) if path is not None else find_config()
    if config is None or (path is None and not config.exists()):
        return SimpleNamespace()
    tree = open_tree(tree_root(config))
    read_config(tree, config)
    return SimpleNamespace(**typed_values(tree))


def as_dict(ns: SimpleNamespace) -> dict[str, object]:
    """Return every value of a loaded configuration as a plain dict."""
    return dict(vars(ns))
