"""The one exception for user mistakes in a sweep: a one-line message."""

from __future__ import annotations


class SweepError(Exception):
    """A sweep file, symbol or value problem; ``str()`` is the whole message."""
