"""``python -m viewer`` runs trackio-view."""
import sys

from viewer.cli import main

sys.exit(main())
