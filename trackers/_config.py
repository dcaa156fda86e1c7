"""Where the trackers read the experiment configuration: through kconf only.

Everything in ``trackers`` that needs ``.config`` values calls :func:`load_cfg`;
tracker lists are parsed by kconf's parser, project names by kconf's
algorithm, so there is one implementation of each.
"""

from __future__ import annotations

import time

import kconf

parse_trackers = kconf.parse_trackers
TRACKER_SYMBOLS = kconf.TRACKER_SYMBOLS


#: The one configuration loader (kconf's): an empty namespace when there is no
#: ``.config``; a corrupt one raises ``kconf.ConfigError``, a ValueError with a
#: one-line message, like every other bad setting ``trackers.init`` refuses.
load_cfg = kconf.load_cfg


def default_project(model: str) -> str:
    """``<model>-xxxxx`` for this machine and directory (kconf's algorithm)."""
    return kconf.project_name(model or "model")


def default_run_name(model: str, optimizer: str) -> str:
    """``{model}_{optimizer}_{timestamp}``."""
    return f"{model}_{optimizer}_{time.strftime('%Y%m%d_%H%M%S')}"
