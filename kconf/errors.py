"""The exception every configuration problem is reported with."""

from __future__ import annotations


class ConfigError(ValueError):
    """A user-facing configuration error: one line saying what was wrong and what to do.

    The message carries no program name; command-line tools print it with
    :func:`ktrack.messages.fail`.
    """
