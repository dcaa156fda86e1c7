"""Where the trackers read the experiment configuration: through kconf only.

Everything in ``trackers`` that needs ``.config`` values calls :func:`load_cfg`;
tracker lists are parsed by kconf's parser, project names by kconf's
algorithm, so there is one implementation of each.
"""

from __future__ import annotations

import time
import types

import kconf

parse_trackers = kconf.parse_trackers
TRACKER_SYMBOLS = kconf.TRACKER_SYMBOLS


def load_cfg() -> types.SimpleNamespace:
    """Return the typed config (``kconf.load()``), or an empty namespace.

    Never raises: a broken or missing ``.config`` gives an empty namespace (and
    one warning) so that training goes on with keyword-argument settings only.
    """
    try:
        return kconf.load()
    except Exception as exc:  # noqa: BLE001 - tracking must never stop training
        from ktrack import messages

        messages.warn("trackers", f"could not load the configuration ({exc}); using defaults", key="config")
        return types.SimpleNamespace()


def default_project(model: str) -> str:
    """``<model>-xxxxx`` for this machine and directory (kconf's algorithm)."""
    return kconf.project_name(model or "model")


def default_run_name(model: str, optimizer: str) -> str:
    """``{model}_{optimizer}_{timestamp}``."""
    return f"{model}_{optimizer}_{time.strftime('%Y%m%d_%H%M%S')}"
