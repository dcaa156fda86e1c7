"""``python -m kconf``: see :mod:`kconf.cli`."""

import sys

from kconf.cli import main

sys.exit(main())
