"""Old name of :mod:`viewer.compare_render` (rendering runs side by side), kept for callers."""
from viewer.compare_render import *  # noqa: F403
from viewer.compare_render import MARKERS, RunData, compare_text, diff_lines, differing  # noqa: F401
from viewer.compare_render import overlay_chart, run_table, symbol_table  # noqa: F401
