"""The one table of metric-key aliases the viewer understands.

A key earlier in a tuple wins when a run logged several spellings.

=============  ==========================================  ================
role           logged keys (first found wins)              shown as
=============  ==========================================  ================
loss           ``train/loss``, ``train_loss``, ``loss``    Latest Loss ...
learning rate  ``lr``, ``learning_rate``, ``train/lr``     Learning Rate
sparsity       ``sparsity``, ``train/sparsity``            Sparsity (x100 %)
iteration      ``iteration``, ``iter``                     x axis, when the
                                                           run logged no steps
=============  ==========================================  ================
"""
from __future__ import annotations

LOSS_KEYS: tuple[str, ...] = ("train/loss", "train_loss", "loss")
LR_KEYS: tuple[str, ...] = ("lr", "learning_rate", "train/lr")
SPARSITY_KEYS: tuple[str, ...] = ("sparsity", "train/sparsity")
ITERATION_KEYS: tuple[str, ...] = ("iteration", "iter")

ALIASES: dict[str, tuple[str, ...]] = {
    "loss": LOSS_KEYS,
    "lr": LR_KEYS,
    "sparsity": SPARSITY_KEYS,
    "iteration": ITERATION_KEYS,
}


def pick(role: str, present: set[str] | list[str]) -> str | None:
    """Return the first alias of ``role`` found in ``present``, or None."""
    have = set(present)
    for key in ALIASES[role]:
        if key in have:
            return key
    return None


def json_path(key: str) -> str:
    """SQLite JSON path for a top-level key (keys contain '/', so quote it)."""
    return '$."' + key.replace('"', '\\"') + '"'
