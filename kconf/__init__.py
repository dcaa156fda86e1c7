"""The one reader and writer of ktrack's Kconfig configuration.

Everything that needs the experiment configuration goes through this package:
the Makefile (``python -m kconf …``), the trackers, the training scripts and
the tests. It parses ``Kconfig`` and ``.config`` with kconfiglib, applies
defconfigs with command-line overrides, and generates ``config.py``,
``config.json`` and ``include/generated/autoconf.h``. Python code reads a
configuration in one shape: :func:`load` gives a :class:`Config`, every
symbol an attribute, the tree's default where the configuration lacks it.
"""

from __future__ import annotations

from kconf.errors import ConfigError
from kconf.load import Config, Source, load
from kconf.projectname import project_name
from kconf.trackerspec import TRACKER_SYMBOLS, parse_trackers

__all__ = [
    "Config",
    "ConfigError",
    "Source",
    "TRACKER_SYMBOLS",
    "load",
    "parse_trackers",
    "project_name",
]
