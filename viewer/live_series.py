"""A run's chart metric with its latest learning rate and sparsity (``--once``, cache, compare)."""
from __future__ import annotations

from typing import Any

from viewer.model import Roles
from viewer.series import SeriesSet
from rundata.store import Project, RunInfo


class LiveSeries(SeriesSet):
    """A run's chart metric (bucketed) with its latest lr and sparsity."""

    def __init__(self, project: Project, run: RunInfo, roles: Roles, k: int | None = None,
                 state: dict[str, Any] | None = None) -> None:
        self.roles = roles
        light = [key for key in (roles.lr, roles.sparsity) if key and key != roles.metric]
        super().__init__(project, run, [roles.metric], light, k, state)
        self.metric = self.series[roles.metric]

    def _point(self, key: str | None) -> tuple[int, float] | None:
        s = self.series.get(key) if key else None
        return s.latest if s is not None else None

    @property
    def lr_pt(self) -> tuple[int, float] | None:
        """Latest (step, learning rate), or None."""
        return self._point(self.roles.lr)

    @property
    def sp_pt(self) -> tuple[int, float] | None:
        """Latest (step, sparsity), or None."""
        return self._point(self.roles.sparsity)

    @property
    def lr(self) -> float | None:
        """Latest learning rate (newest step), or None."""
        return self.lr_pt[1] if self.lr_pt else None

    @property
    def sparsity(self) -> float | None:
        """Latest sparsity (newest step), or None."""
        return self.sp_pt[1] if self.sp_pt else None
