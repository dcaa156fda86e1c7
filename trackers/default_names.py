"""The names the trackers give a project and a run when the configuration gives none.

Everything in ``trackers`` that needs ``.config`` values calls
:func:`kconf.load`; tracker lists are parsed by kconf's parser, project names
by kconf's algorithm, so there is one implementation of each.
"""

from __future__ import annotations

import secrets
import time

import kconf


def default_project(model: str) -> str:
    """``<model>-xxxxx`` for this machine and directory (kconf's algorithm)."""
    return kconf.project_name(model or "model")


def default_run_name(model: str, optimizer: str) -> str:
    """``{model}_{optimizer}_{timestamp}``: ``gpt2_adamw_20261207_232512.483-a3f9``.

    The local start time to the millisecond, then 4 random hex digits: names
    sort by start time and two runs started together (a sweep, two terminals)
    get different names, so neither is refused as "in use" or mixed into the other.
    """
    now = time.time()
    stamp = time.strftime("%Y%m%d_%H%M%S", time.localtime(now))
    return f"{model}_{optimizer}_{stamp}.{int(now * 1000) % 1000:03d}-{secrets.token_hex(2)}"
