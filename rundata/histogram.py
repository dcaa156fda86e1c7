"""``trackers.Histogram``: a distribution logged as one value of a metrics row.

    run.log({"numerics/hist/blocks.0.mlp/activation": trackers.Histogram(counts, edges)}, step=it)

``counts`` and ``edges`` follow ``numpy.histogram``: ``len(edges) == len(counts) + 1``
and ``edges`` increase. Each backend stores it as its own histogram type
(``trackio.Histogram``, ``wandb.Histogram``, a TensorBoard histogram); the
journal stores ``{"_type": "histogram", "counts": [...], "edges": [...]}``.

Its home is the reading layer because the journal's reader
(``rundata.journal``) gives back the histograms it reads as this type, the
one every tracker's backend and replay take; ``trackers`` offers it as
``trackers.Histogram``.
"""

from __future__ import annotations

import math
from itertools import pairwise
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

JSON_TYPE = "histogram"


@dataclass(frozen=True)
class Histogram:
    """Bin counts and the ``len(counts) + 1`` bin edges around them."""

    counts: tuple[float, ...]
    edges: tuple[float, ...]

    def __init__(self, counts: Sequence[float], edges: Sequence[float]) -> None:
        counts_t = tuple(float(c) for c in counts)
        edges_t = tuple(float(e) for e in edges)
        if not counts_t:
            raise ValueError("a histogram needs at least one bin")
        if len(edges_t) != len(counts_t) + 1:
            raise ValueError(f"a histogram of {len(counts_t)} bins needs {len(counts_t) + 1} edges, "
                             f"got {len(edges_t)}")
        if any(not math.isfinite(e) for e in edges_t) or any(b <= a for a, b in pairwise(edges_t)):
            raise ValueError("histogram edges must be finite and increasing")
        if any(not math.isfinite(c) or c < 0 for c in counts_t):
            raise ValueError("histogram counts must be finite and >= 0")
        object.__setattr__(self, "counts", counts_t)
        object.__setattr__(self, "edges", edges_t)

    def as_json(self) -> dict[str, Any]:
        """``{"_type": "histogram", "counts": [...], "edges": [...]}`` (what the journal stores)."""
        return {"_type": JSON_TYPE, "counts": list(self.counts), "edges": list(self.edges)}

    @classmethod
    def from_json(cls, data: Any) -> Histogram | None:
        """The histogram :meth:`as_json` wrote, or None when ``data`` is not one."""
        if not isinstance(data, dict) or data.get("_type") != JSON_TYPE:
            return None
        try:
            return cls(data["counts"], data["edges"])
        except (KeyError, TypeError, ValueError):
            return None

    @property
    def total(self) -> float:
        """Number of values counted."""
        return sum(self.counts)

    def moments(self) -> tuple[float, float]:
        """(sum, sum of squares) of the values, each taken at its bin's centre."""
        centres = [(a + b) / 2 for a, b in pairwise(self.edges)]
        return (sum(c * n for c, n in zip(centres, self.counts, strict=True)),
                sum(c * c * n for c, n in zip(centres, self.counts, strict=True)))
