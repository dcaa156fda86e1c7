"""GPU energy of a run, wherever the trackers put it.

Keys ``gpu/energy_wh`` (the first GPU), ``gpu<N>/energy_wh``,
``gpu/<N>/energy_wh`` and a multi-node job's ``gpu/<node>/<N>/energy_wh``
(shown per node, with each node's sum) -- with any group prefix (``summary/``, ``final/``...)
-- and a total (``energy_wh``, ``total_energy_wh``, ``energy_wh_total``) are
looked up, first found wins, in the run's summary records (journal
projects), its config (nested dicts flattened with ``/``), the newest
values in its metrics rows, and Trackio's own ``gpu/<i>/energy_consumed``
system metric (joules).
"""
from __future__ import annotations

import math
from typing import Any

from gpu.energy import J_PER_WH
from gpu.fields import ENERGY_WH, GpuKey, find_key, parse_key
from rundata.store import Project, RunInfo

TOTALS = (ENERGY_WH, "total_energy_wh", "energy_wh_total", "energy_total_wh")


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


def _label(k: GpuKey) -> str:
    """``"0"``, or ``"<node>/0"`` in a multi-node job."""
    return f"{k.node}/{k.gpu or 0}" if k.node else str(k.gpu or 0)


def split(values: dict[str, Any]) -> tuple[dict[str, float], float | None]:
    """Wh per GPU (labelled ``"0"``, or ``"<node>/0"`` in a multi-node job) and the total, from one flat dict."""
    per: dict[str, float] = {}
    total = None
    for key, raw in values.items():
        v = _number(raw)
        parts = key.split("/")
        if v is None or (parts[-3:-2] == ["node"] and parts[-1] == ENERGY_WH):  # a node's sum: recomputed
            continue
        k = find_key(key)
        if k is not None and k.field == ENERGY_WH:
            per.setdefault(_label(k), v)
        elif parts[-1] in TOTALS:
            total = v if total is None else total
    return per, total


def find(project: Project, run: RunInfo) -> tuple[dict[str, float], float | None, str]:
    """(Wh per GPU label, total Wh or None, where they came from); empty when none."""
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
        k = parse_key(key)
        if k is not None and k.field == "energy_j" and k.gpu is not None:
            rows = project.system_rows(run, last=1)
            v = _number(rows[-1][1].get(key)) if rows else None
            if v is not None:
                joules[_label(k)] = v / J_PER_WH
    return joules, None, "Trackio system metrics"


def _label_order(label: str) -> tuple[str, int]:
    node, _, index = label.rpartition("/")
    return node, int(index)


def energy_data(project: Project, run: RunInfo) -> dict[str, Any] | None:
    """The run's GPU energy (None when it holds none): where it came from, Wh per GPU
    (``node`` null outside a multi-node job), per node, and the total (the per-GPU sum
    when only those exist, for more than one GPU)."""
    per, total, where = find(project, run)
    if not per and total is None:
        return None
    gpus: list[dict[str, Any]] = []
    nodes: dict[str, float] = {}
    for label, v in sorted(per.items(), key=lambda kv: _label_order(kv[0])):
        node, index = _label_order(label)
        gpus.append({"gpu": index, "node": node or None, "wh": v})
        if node:
            nodes[node] = nodes.get(node, 0.0) + v
    if total is None and len(per) > 1:
        total = sum(per.values())
    return {"source": where, "gpus": gpus, "nodes": dict(sorted(nodes.items())), "total_wh": total}
