"""GPU energy of a run, wherever the trackers put it.

Keys ``gpu/energy_wh`` (the first GPU), ``gpu<N>/energy_wh`` and
``gpu/<N>/energy_wh`` -- with any group prefix (``summary/``, ``final/``...)
-- and a total (``energy_wh``, ``total_energy_wh``, ``energy_wh_total``) are
looked up, first found wins, in the run's summary records (journal
projects), its config (nested dicts flattened with ``/``), the newest
values in its metrics rows, and Trackio's own ``gpu/<i>/energy_consumed``
system metric (joules).
"""
from __future__ import annotations

import math
import re
from typing import Any

from rundata.store import Project, RunInfo

PER_GPU = re.compile(r"(?:^|/)gpu(\d*)/(?:(\d+)/)?energy_wh$")
TOTAL = re.compile(r"(?:^|/)(?:gpu/)?(?:energy_wh|total_energy_wh|energy_wh_total|energy_total_wh)$")
TRACKIO_JOULES = re.compile(r"^gpu/(\d+)/energy_consumed$")
J_PER_WH = 3600.0


def flatten(d: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """Nested dicts as one level, keys joined by ``/``."""
    out: dict[str, Any] = {}
    for k, v in d.items():
        if isinstance(v, dict):
            out.update(flatten(v, f"{prefix}{k}/"))
        else:
            out[f"{prefix}{k}"] = v
    return out


def _number(v: Any) -> float | None:
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        try:
            v = float(v)
        except (TypeError, ValueError):
            return None
    return float(v) if math.isfinite(v) and v >= 0 else None


def split(values: dict[str, Any]) -> tuple[dict[int, float], float | None]:
    """Per-GPU Wh and the total from one flat dict of values."""
    per: dict[int, float] = {}
    total = None
    for key, raw in values.items():
        v = _number(raw)
        if v is None:
            continue
        m = PER_GPU.search(key)
        if m:
            per.setdefault(int(m.group(1) or m.group(2) or 0), v)
        elif TOTAL.search(key):
            total = v if total is None else total
    return per, total


def find(project: Project, run: RunInfo) -> tuple[dict[int, float], float | None, str]:
    """(Wh per GPU index, total Wh or None, where they came from); empty when none."""
    summary = getattr(project, "summary", None)
    sources: list[tuple[str, dict[str, Any]]] = []
    if callable(summary):
        sources.append(("run summary", flatten(summary(run.run_id))))
    sources.append(("run config", flatten(project.run_config(run))))
    energy_keys = [k for k in project.metric_keys(run.run_id) if "energy" in k]
    latest = {k: pt[1] for k in energy_keys if (pt := project.latest(run.run_id, k)) is not None}
    sources.append(("metrics", latest))
    for where, values in sources:
        per, total = split(values)
        if per or total is not None:
            return per, total, where
    joules = {}
    for key in project.system_keys(run):
        m = TRACKIO_JOULES.match(key)
        if m:
            rows = project.system_rows(run, last=1)
            v = _number(rows[-1][1].get(key)) if rows else None
            if v is not None:
                joules[int(m.group(1))] = v / J_PER_WH
    return joules, None, "Trackio system metrics"


def _wh(v: float) -> str:
    return f"{v:.3f} Wh" if v < 1000 else f"{v:.0f} Wh"


def energy_lines(project: Project, run: RunInfo) -> list[str]:
    """The ``--gpu-db`` energy section ([] when the run holds no energy)."""
    per, total, where = find(project, run)
    if not per and total is None:
        return []
    out = ["", f"GPU Energy (from the {where}):"]
    out += [f"  GPU {i}: {_wh(v)}" for i, v in sorted(per.items())]
    if total is None and len(per) > 1:
        total = sum(per.values())
    if total is not None:
        out.append(f"  Total: {_wh(total)}")
    return out
