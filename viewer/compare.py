"""Old name of :mod:`viewer.compare_runs` (reading runs to compare), kept for callers."""
from viewer.compare_runs import Comparison, compare_text, curve, duration_s, pick_runs, run_config  # noqa: F401
