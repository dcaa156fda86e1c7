"""Which modules and tensor kinds are tracked: pattern lists and kind names.

Patterns are fnmatch patterns matched against the whole name
(``blocks.*.mlp*``) or regular expressions searched anywhere in it
(``^blocks\\.[01]\\.``); a pattern matches if either does.  A parameter name
``a.b.weight`` also matches through its module's name ``a.b``.
"""

from __future__ import annotations

import fnmatch
import re
from typing import Any, Iterable

import kconf

KINDS_BY_ALIAS = {
    "activation": "activation", "activations": "activation",
    "gradient": "gradient", "gradients": "gradient",
    "weight": "weight", "weights": "weight",
    "weight_grad": "weight_grad", "weight_grads": "weight_grad",
    "optimizer_state": "optimizer_state", "optimizer": "optimizer_state", "optim": "optimizer_state",
}


def split_list(value: Any) -> list[str]:
    """A comma-separated string (or an iterable) as a list of stripped, non-empty items."""
    if value is None:
        return []
    if isinstance(value, str):
        return [v.strip() for v in value.split(",") if v.strip()]
    return [str(v).strip() for v in value if str(v).strip()]


def matches(name: str, pattern: str) -> bool:
    """fnmatch on the whole name, or a regular-expression search."""
    if fnmatch.fnmatchcase(name, pattern):
        return True
    try:
        return re.search(pattern, name) is not None
    except re.error:
        return False


class Selector:
    """Names passing ``include`` (all when empty) and not ``exclude``; answers are cached."""

    def __init__(self, include: Iterable[str] = (), exclude: Iterable[str] = ()) -> None:
        self.include = list(include)
        self.exclude = list(exclude)
        self._cache: dict[str, bool] = {}

    def __call__(self, name: str) -> bool:
        """Whether ``name`` (or, for ``a.b.weight``, its module ``a.b``) is selected."""
        hit = self._cache.get(name)
        if hit is None:
            hit = self._cache[name] = self._match(name)
        return hit

    def _match(self, name: str) -> bool:
        names = [name]
        if "." in name:
            names.append(name.rsplit(".", 1)[0])
        if self.include and not any(matches(n, p) for n in names for p in self.include):
            return False
        return not any(matches(n, p) for n in names for p in self.exclude)


def kinds_from(kinds: Iterable[str] | str | None, cfg: kconf.Config) -> set[str]:
    """Tensor kinds to record: explicit ``kinds`` or the cfg NUMERICS_* flags.

    Raises ``ValueError`` naming an unknown kind and the known ones.
    """
    if kinds is not None:
        out = set()
        for k in split_list(kinds):
            if k.lower() not in KINDS_BY_ALIAS:
                raise ValueError(f"unknown tensor kind '{k}'; use one of {sorted(set(KINDS_BY_ALIAS.values()))}")
            out.add(KINDS_BY_ALIAS[k.lower()])
        return out
    out = set()
    if cfg.NUMERICS_ACTIVATIONS:
        out.add("activation")
    if cfg.NUMERICS_GRADIENTS:
        out.add("gradient")
    if cfg.NUMERICS_WEIGHTS:
        out |= {"weight", "weight_grad"}
    if cfg.NUMERICS_OPTIMIZER_STATE:
        out.add("optimizer_state")
    return out
