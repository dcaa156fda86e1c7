"""trackio-view: a terminal dashboard for Trackio projects and GPUs.

The viewer only reads: Trackio's SQLite files are opened read-only
(``file:...?mode=ro``), so a training run that is still writing is never
blocked or changed.  Tested against the databases written by Trackio 0.43.0
and 0.45.1 (``PRAGMA user_version`` 0, 1 and 2).
"""
from __future__ import annotations

__all__ = ["main"]


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``trackio-view`` console script."""
    from viewer.cli import main as _main

    return _main(argv)
