"""Parsing of the ``TRACKER=`` value into tracker names.

``TRACKER`` only chooses which ``CONFIG_ENABLE_*`` symbols are set; those
symbols are the one source of truth for which trackers run.
"""

from __future__ import annotations

TRACKIO = "trackio"
WANDB = "wandb"
TENSORBOARD = "tensorboard"

#: The one table of trackers: name -> the Kconfig symbol that enables it, in
#: the order runs start them and every list shows them.
TRACKER_SYMBOLS: dict[str, str] = {
    TRACKIO: "ENABLE_TRACKIO",
    WANDB: "ENABLE_WANDB",
    TENSORBOARD: "ENABLE_TENSORBOARD",
}

_ALIASES: dict[str, tuple[str, ...]] = {
    "none": (),
    "both": (TRACKIO, WANDB),
}


def valid_values() -> str:
    """Return the accepted TRACKER values, for error messages."""
    names = ["none", *TRACKER_SYMBOLS, "both"]
    return ", ".join(names) + " or a comma list such as wandb,trackio"


def parse_trackers(value: str) -> set[str]:
    """Return the set of tracker names a ``TRACKER`` value enables.

    Accepts ``none``, ``trackio``, ``wandb``, ``tensorboard``, ``both`` and any
    comma list of those (items trimmed, duplicates allowed, case-insensitive).
    Only whole names match: ``wandb2`` is an error.

    Raises ValueError with a one-line message on anything else.
    """
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"empty TRACKER value; use {valid_values()}")
    enabled: set[str] = set()
    for item in value.split(","):
        name = item.strip().lower()
        if name in _ALIASES:
            enabled.update(_ALIASES[name])
        elif name in TRACKER_SYMBOLS:
            enabled.add(name)
        else:
            raise ValueError(f"unknown tracker {item.strip()!r} in TRACKER={value!r}; use {valid_values()}")
    return enabled
