"""The exception every configuration problem is reported with."""

from __future__ import annotations


class ConfigError(Exception):
    """A user-facing configuration error: one line saying what and what to do."""
