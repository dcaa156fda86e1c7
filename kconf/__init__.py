"""The one reader and writer of ktrack's Kconfig configuration.

Everything that needs the experiment configuration goes through this package:
the Makefile (``python -m kconf …``), the trackers, the training scripts and
the tests. It parses ``Kconfig`` and ``.config`` with kconfiglib, applies
defconfigs with command-line overrides, and generates ``config.py``,
``config.json`` and ``include/generated/autoconf.h``.
"""

from __future__ import annotations

from kconf.errors import ConfigError
from kconf.load import as_dict, load
from kconf.projectname import project_name
from kconf.trackerspec import TRACKER_SYMBOLS, parse_trackers

#: The one loader of the configuration for Python code (see :func:`kconf.load.load` for its contract).
load_cfg = load

__all__ = [
    "ConfigError",
    "TRACKER_SYMBOLS",
    "as_dict",
    "load",
    "load_cfg",
    "parse_trackers",
    "project_name",
]
