"""Hardware metric names in each tracker's own system-metrics vocabulary.

ktrack's keys are ``gpu/<field>`` (first GPU) and ``gpu<N>/<field>``; a
multi-node job's are ``gpu/<node>/<N>/<field>`` (:mod:`trackers.nodes`).
Trackio's own GPU logging writes ``gpu/<N>/<name>`` into ``system_metrics``
and W&B's system monitor ``gpu.<N>.<name>``; a node's GPUs become
``gpu/<node>/<N>/<name>`` and ``gpu.<node>.<N>.<name>``. Where a tracker has
a name for a field (and charts or reports it), that name is used, scaled to
its unit; other fields keep ktrack's name under the tracker's GPU prefix. The
names, scales and the key parser are the GPU field table's
(:mod:`gpu.fields`). Keys that are not GPU keys of one GPU pass through
(``/`` becomes ``.`` for W&B), and so do averages over the GPUs.
"""

from __future__ import annotations

import functools

from gpu.fields import format_key, parse_key, tracker_scale


@functools.lru_cache(maxsize=4096)  # the same keys come every sampling interval
def _name(key: str, tracker: str) -> tuple[str, float]:
    """``key`` as ``tracker`` names it, and the factor its value is multiplied by."""
    k = parse_key(key)
    if k is None or k.gpu is None:
        return (key if tracker == "trackio" else key.replace("/", ".")), 1.0
    return format_key(k.field, k.gpu, k.node, tracker), tracker_scale(k.field, tracker) / k.scale


def _rename(metrics: dict[str, float], tracker: str) -> dict[str, float]:
    out: dict[str, float] = {}
    for key, value in metrics.items():
        name, factor = _name(key, tracker)
        out[name] = value if factor == 1.0 else value * factor
    return out


def trackio_system_metrics(metrics: dict[str, float]) -> dict[str, float]:
    """ktrack's hardware keys as Trackio's ``system_metrics`` names them (``gpu/0/temp`` ...)."""
    return _rename(metrics, "trackio")


def wandb_system_metrics(metrics: dict[str, float]) -> dict[str, float]:
    """ktrack's hardware keys as W&B's system monitor names them (``gpu.0.temp`` ...)."""
    return _rename(metrics, "wandb")
