"""MLSteam-style hyperparameter lookup: ``trackers.params.get_value(name, default)``.

Looks in the YAML file named by env ``KTRACK_PARAMS`` (written by a sweep),
then the configuration (:func:`kconf.load`: ``name``, ``NAME``, with or
without ``CONFIG_``; a Kconfig symbol always has a value there, the tree's
default where ``.config`` lacks it), then returns ``default``.
"""

from __future__ import annotations

import os
from typing import Any

import kconf

_cache: dict[str, Any] = {}


def _yaml_params() -> dict[str, Any]:
    path = os.environ.get("KTRACK_PARAMS", "")
    if not path:
        return {}
    try:
        mtime = os.path.getmtime(path)
    except OSError:
        raise ValueError(f"KTRACK_PARAMS names {path!r}, which does not exist; fix or unset it") from None
    key = f"yaml:{path}:{mtime}"
    if key not in _cache:
        import yaml

        try:
            with open(path, encoding="utf-8") as f:
                data = yaml.safe_load(f) or {}
        except yaml.YAMLError as exc:
            raise ValueError(f"{path} (KTRACK_PARAMS) is not valid YAML: {str(exc).splitlines()[0]}") from None
        if not isinstance(data, dict):
            raise ValueError(f"{path} (KTRACK_PARAMS) must hold a mapping of name: value")
        _cache[key] = data
    return _cache[key]


def _cfg() -> kconf.Config:
    if "cfg" not in _cache:
        _cache["cfg"] = kconf.load()
    return _cache["cfg"]


def get_value(name: str, default: Any = None) -> Any:
    """Return hyperparameter ``name`` from the sweep file or the configuration, else ``default`` (not a symbol)."""
    params = _yaml_params()
    if name in params:
        return params[name]
    cfg = _cfg()
    bare = name[7:] if name.startswith("CONFIG_") else name
    for attr in (bare, bare.upper()):
        if hasattr(cfg, attr):
            return getattr(cfg, attr)
    return default


def reload() -> None:
    """Forget cached files and config (after changing ``.config`` or KTRACK_PARAMS)."""
    _cache.clear()
