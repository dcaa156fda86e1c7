"""``run[key]``: one named series with its own step counter (the MLSteam-style API)."""

from __future__ import annotations

from typing import Any


class Series:
    """``run["loss/train"]``: ``.log(v)`` appends to the series, own step counter."""

    def __init__(self, run: Any, key: str) -> None:
        self._run = run
        self.key = key

    def log(self, value: Any, step: int | None = None) -> None:
        """Append ``value`` (timestamped); ``step`` defaults to this series' next index."""
        self._run._log_series(self.key, value, step)

    def assign(self, value: Any) -> None:
        """Same as ``run[key] = value``."""
        self._run[self.key] = value
