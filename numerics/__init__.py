"""Numerics tracking: statistics of activations, gradients, weights and
optimizer state during training, written to ``<run_dir>/numerics.parquet``
and (chosen scalars) logged through ``trackers`` as
``numerics/<module>/<kind>/<stat>``.  See docs/numerics.md.
"""

from __future__ import annotations

from numerics.schema import KINDS, SchemaError, arrow_schema, check_schema, read_table, to_tandv
from numerics.stats import EXP_MAX, EXP_MIN, SCALAR_STATS, tensor_stats
from numerics.tracker import Tracker, track

__all__ = [
    "EXP_MAX",
    "EXP_MIN",
    "KINDS",
    "SCALAR_STATS",
    "SchemaError",
    "Tracker",
    "arrow_schema",
    "check_schema",
    "read_table",
    "tensor_stats",
    "to_tandv",
    "track",
]
