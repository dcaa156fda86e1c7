"""Every GPU field, once: its unit, plausible range, label, key and the names other tools give it.

Layout: the range constants, the :class:`Field` record, the table
:data:`FIELDS` (in the order ktrack logs and reports them), the lists
derived from it, :func:`plausible`; then the one parser of GPU keys
(:func:`parse_key`, :func:`find_key` after a group prefix), its inverse
(:func:`format_key`), and the readers' helpers (:func:`by_gpu`, :func:`value`).

Every other place that needs a GPU field's name, range or spelling derives
it from this table: the sample record (:mod:`gpu.sample`), the trackers'
system-metric names (``trackers.backends.system_names``), the viewer's
reports, energy and panes.  To add a field: add a row here and an attribute
of the same name to :class:`gpu.sample.GpuSample`.

GPU keys in use, all read by :func:`parse_key`:

* ``gpu/<key>`` (the first GPU) and ``gpu<N>/<key>``: what ktrack logs with
  steps (``gpu/utilization``, ``gpu1/power_w``);
* ``gpu/<N>/<name>``: Trackio's system metrics (``gpu/0/temp``), also where
  ktrack sends its own hardware rows;
* ``gpu/<node>/<N>/<key>``: one GPU of one node of a multi-node job
  (``trackers.nodes``; a node name is never all digits);
* ``gpu.<N>.<name>`` and ``gpu.<node>.<N>.<name>``: W&B's system monitor;
* AdamWPrune's averages over the GPUs (``gpu/compute_util_avg``,
  ``gpu/memory_used_avg_gb``): parsed with ``gpu`` ``None`` and
  ``aggregate`` ``"avg"``.

``fan_percent`` or ``fan_speed``: the sample field is ``fan_percent`` (every
sample field names its unit, as ``memory_percent`` does) and the key ktrack
logs stays ``fan_speed``: it is the key the seed's ``--gpu-db`` report lists,
Trackio's own name for it, and what every run so far holds; a
``gpu/fan_percent`` key (the field's name) is read too.  Decided here, in the
table, once.
"""
from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from typing import Any, Iterable, NamedTuple

# Plausible ranges (inclusive, generous): they reject what no hardware can report
# (negative power, -1000 °C, NVML's 0xFFFFFFFF sentinel), not what is merely unusual.
PERCENT = (0.0, 100.0)
TEMPERATURE_C = (-55.0, 150.0)   # the operating range of on-die and board sensors
MEMORY_GB = (0.0, 4096.0)        # far above any device memory or shared RAM today
POWER_W = (0.0, 5000.0)          # a whole accelerator board, several times over
FAN_RPM = (0.0, 50000.0)
CLOCK_MHZ = (0.0, 100000.0)      # NVML reports effective GDDR rates (> 10 GHz)
ENERGY_J = (0.0, 1e13)           # 5 kW for 60 years; counters restart at driver load

GIB = 1024.0 ** 3
#: The field name of a GPU's energy in Wh in a run's summary (``gpu/energy_wh``,
#: ``gpu/<node>/<N>/energy_wh``): counted from ``energy_j`` or power, not sampled.
ENERGY_WH = "energy_wh"
#: The one aggregate other tools log: AdamWPrune's averages over every GPU.
AVG = "avg"


@dataclass(frozen=True)
class Field:
    """One GPU field.

    ``name``: the :class:`gpu.sample.GpuSample` attribute; ``key``: its name in
    ktrack's keys (``gpu/<key>``); ``label``, ``unit``, ``digits``: how a screen
    shows it (``unit`` is appended verbatim); ``range``: its plausible values
    (``None``: a string field); ``series``: logged with steps and as system
    metrics; ``trackio``, ``wandb``: that tracker's system-metric name and the
    factor from ktrack's unit to the tracker's; ``legacy``: other tools'
    spellings as ``(spelling, aggregate)``, read in this order after ``key``;
    ``chart``: the fixed (low, high) of the live ``--gpu`` chart, ``(None, None)``
    for a scale that follows the values, ``None`` for no chart.
    """

    name: str
    label: str
    unit: str
    digits: int
    range: tuple[float, float] | None
    series: bool = False
    key: str = ""
    trackio: tuple[str, float] | None = None
    wandb: tuple[str, float] | None = None
    legacy: tuple[tuple[str, str | None], ...] = ()
    chart: tuple[float | None, float | None] | None = None

    def __post_init__(self) -> None:
        if not self.key:
            object.__setattr__(self, "key", self.name)


FIELDS: tuple[Field, ...] = (
    Field("utilization", "utilization", "%", 1, PERCENT, True, trackio=("utilization", 1.0), wandb=("gpu", 1.0),
          legacy=(("compute_util_avg", AVG), ("utilization_avg", AVG), ("gpu_util", None)), chart=(0, 100)),
    Field("memory_used_gb", "memory", " GB", 1, MEMORY_GB, True, trackio=("allocated_memory", 1.0),
          wandb=("memoryAllocatedBytes", GIB), legacy=(("memory_used_avg_gb", AVG), ("memory_used_avg", AVG))),
    Field("memory_percent", "memory", "%", 1, PERCENT, True, trackio=("memory_usage", 0.01),  # Trackio: a fraction
          wandb=("memoryAllocated", 1.0), chart=(0, 100)),
    Field("temperature_c", "temperature", "\u00b0C", 0, TEMPERATURE_C, True, trackio=("temp", 1.0), wandb=("temp", 1.0),
          legacy=(("temperature_avg", AVG), ("temperature", None)), chart=(20, 100)),
    Field("power_w", "power", "W", 0, POWER_W, True, trackio=("power", 1.0), wandb=("powerWatts", 1.0),
          legacy=(("power_avg_w", AVG), ("power_avg", AVG)), chart=(None, None)),
    Field("clock_graphics_mhz", "graphics clock", " MHz", 0, CLOCK_MHZ, True, trackio=("sm_clock", 1.0),
          wandb=("graphicsClock", 1.0), chart=(None, None)),
    Field("clock_memory_mhz", "memory clock", " MHz", 0, CLOCK_MHZ, True, trackio=("memory_clock", 1.0),
          wandb=("memoryClock", 1.0)),
    Field("clock_fclk_mhz", "fclk", " MHz", 0, CLOCK_MHZ, True),
    Field("clock_socclk_mhz", "socclk", " MHz", 0, CLOCK_MHZ, True),
    Field("fan_percent", "fan", "%", 1, PERCENT, True, key="fan_speed", trackio=("fan_speed", 1.0),
          wandb=("fanSpeed", 1.0), chart=(0, 100)),
    Field("fan_rpm", "fan speed", " RPM", 0, FAN_RPM, True),
    Field("perf_state", "perf state", "", 0, None),
    Field("memory_total_gb", "memory total", " GB", 1, MEMORY_GB, trackio=("total_memory", 1.0)),
    Field("temperature_hotspot_c", "hotspot", "\u00b0C", 0, TEMPERATURE_C),
    Field("temperature_memory_c", "memory temperature", "\u00b0C", 0, TEMPERATURE_C),
    Field("power_limit_w", "power limit", "W", 0, POWER_W, trackio=("power_limit", 1.0),
          wandb=("enforcedPowerLimitWatts", 1.0)),
    Field("energy_j", "energy counter", " J", 0, ENERGY_J, trackio=("energy_consumed", 1.0),
          wandb=("energyJoules", 1.0)),
    Field("throttle", "throttle", "", 0, None),
)

BY_NAME: dict[str, Field] = {f.name: f for f in FIELDS}
#: Every sample value field, in the table's order.
VALUE_FIELDS: tuple[str, ...] = tuple(f.name for f in FIELDS)
#: The text fields (no range): performance state, throttle reasons.
STRING_FIELDS: tuple[str, ...] = tuple(f.name for f in FIELDS if f.range is None)
#: The numeric fields logged as series, in logging order.
SERIES: tuple[Field, ...] = tuple(f for f in FIELDS if f.series)
#: The plausible range of every numeric field.
RANGES: dict[str, tuple[float, float]] = {f.name: f.range for f in FIELDS if f.range is not None}


def plausible(field: str, value: Any) -> float | None:
    """``value`` as a float when it is a number inside ``field``'s range, else ``None``.

    ``None``, bools, strings, NaN, ±inf and out-of-range numbers all give
    ``None``: such a reading is a driver quirk, a half-written file or a
    sentinel, which the screen shows as ``N/A`` and JSON as ``null``.  Raises
    ``KeyError`` for a field that has no range (a string field, or a typo).
    """
    lo, hi = RANGES[field]
    if value is None or isinstance(value, bool):
        return None
    try:
        v = float(value)
    except (TypeError, ValueError, OverflowError):
        return None
    if math.isnan(v) or not lo <= v <= hi:
        return None
    return v


# -- keys ---------------------------------------------------------------------

class GpuKey(NamedTuple):
    """What a GPU key names.

    ``node``: the node of a multi-node job, else ``None``; ``gpu``: the GPU's index,
    ``None`` for an aggregate over the GPUs; ``field``: the table's field name
    when the spelling is known, else the spelling as logged (``energy_wh``,
    ``name``); ``aggregate``: ``"avg"`` or ``None``; ``spelling``: the last
    part of the key as logged; ``scale``: the logged value is the field's
    value (in the table's unit) times this; ``form``: ``"step"``
    (``gpu/x``, ``gpu<N>/x``), ``"indexed"`` (``gpu/<N>/x``), ``"node"``
    (``gpu/<node>/<N>/x``) or ``"wandb"`` (dots).
    """

    node: str | None
    gpu: int | None
    field: str
    aggregate: str | None
    spelling: str
    scale: float
    form: str


def _spellings(wandb: bool) -> dict[str, tuple[str, str | None, float]]:
    """spelling -> (field, aggregate, scale), first listed wins; a clash between fields is a table error."""
    out: dict[str, tuple[str, str | None, float]] = {}
    for f in FIELDS:
        names: list[tuple[str, str | None, float]] = [(f.key, None, 1.0), (f.name, None, 1.0)]
        if wandb:
            names += [(f.wandb[0], None, f.wandb[1])] if f.wandb else []
        else:
            names += list((s, agg, 1.0) for s, agg in f.legacy)
            names += [(f.trackio[0], None, f.trackio[1])] if f.trackio else []
        for spelling, agg, scale in names:
            have = out.setdefault(spelling, (f.name, agg, scale))
            if have[0] != f.name:
                raise ValueError(f"GPU spelling {spelling!r} names both {have[0]} and {f.name}")
    return out


_SLASH = _spellings(wandb=False)
_DOT = _spellings(wandb=True)
_ORDER = {spelling: i for i, spelling in enumerate(_SLASH)}


def rank(k: GpuKey) -> int:
    """How much a reader prefers ``k``'s spelling of its field: 0 for ktrack's key, then its name,
    the legacy spellings and Trackio's, in the table's order (W&B's last)."""
    return _ORDER.get(k.spelling, len(_ORDER)) if k.form != "wandb" else len(_ORDER)


def _index(text: str) -> int | None:
    return int(text) if text.isdigit() and text.isascii() else None


def _key(spelling: str, node: str | None, index: int | None, form: str,
           table: dict[str, tuple[str, str | None, float]]) -> GpuKey | None:
    if not spelling:
        return None
    field, agg, scale = table.get(spelling, (spelling, None, 1.0))
    if agg is not None and form == "step":
        index = None
    return GpuKey(node, index, field, agg, spelling, scale, form)


@functools.lru_cache(maxsize=4096)  # the same keys come every sampling interval
def parse_key(key: str) -> GpuKey | None:
    """What GPU, node and field ``key`` names, in any spelling in use (module docstring); ``None``
    for a key that is not a GPU key.

    ``gpu/power_w`` -> ``GpuKey(None, 0, "power_w", None, ...)``, ``gpu1/fan_speed`` -> GPU 1's
    ``fan_percent``, ``gpu/0/temp`` and ``gpu.0.temp`` -> GPU 0's ``temperature_c``,
    ``gpu/a/1/power_w`` -> node ``a``'s GPU 1, ``gpu/compute_util_avg`` -> the average
    ``utilization`` of every GPU (``gpu`` ``None``).
    """
    if key.startswith("gpu."):
        parts = key.split(".")
        if len(parts) == 3 and (i := _index(parts[1])) is not None:
            return _key(parts[2], None, i, "wandb", _DOT)
        if len(parts) >= 4 and (i := _index(parts[-2])) is not None:
            node = ".".join(parts[1:-2])
            if node and _index(node) is None:
                return _key(parts[-1], node, i, "wandb", _DOT)
        return None
    parts = key.split("/")
    head = parts[0]
    if not head.startswith("gpu"):
        return None
    if len(parts) == 2:
        if head == "gpu":
            return _key(parts[1], None, 0, "step", _SLASH)
        i = _index(head[3:])
        return _key(parts[1], None, i, "step", _SLASH) if i is not None else None
    if head != "gpu":
        return None
    if len(parts) == 3 and (i := _index(parts[1])) is not None:
        return _key(parts[2], None, i, "indexed", _SLASH)
    if len(parts) == 4 and parts[1] and _index(parts[1]) is None and (i := _index(parts[2])) is not None:
        return _key(parts[3], parts[1], i, "node", _SLASH)
    return None


def find_key(key: str) -> GpuKey | None:
    """:func:`parse_key` of the GPU key at the end of ``key``, after any group prefix
    (``summary/gpu1/energy_wh``, ``final/gpu/a/0/energy_wh``); ``None`` when there is none."""
    parts = key.split("/")
    for i in range(len(parts)):
        k = parse_key("/".join(parts[i:]))
        if k is not None:
            return k
    return None


def format_key(field: str, index: int = 0, node: str | None = None, tracker: str = "ktrack") -> str:
    """The key of ``field`` of GPU ``index`` (of ``node``) as ``tracker`` names it; the inverse of
    :func:`parse_key`.

    ``tracker``: ``"ktrack"`` (``gpu/<key>``, ``gpu<N>/<key>``, ``gpu/<node>/<N>/<key>``),
    ``"trackio"`` (``gpu/<N>/<name>``, ``gpu/<node>/<N>/<name>``) or ``"wandb"``
    (``gpu.<N>.<name>``, ``gpu.<node>.<N>.<name>``).  A field the table does not
    know (``energy_wh``) keeps its name.
    """
    f = BY_NAME.get(field)
    if tracker == "ktrack":
        return prefix(index, node) + (f.key if f else field)
    if tracker not in ("trackio", "wandb"):
        raise ValueError(f"unknown tracker {tracker!r}")
    named = None if f is None else f.trackio if tracker == "trackio" else f.wandb
    name = named[0] if named else f.key if f else field
    sep = "/" if tracker == "trackio" else "."
    return sep.join(["gpu", *([node] if node is not None else []), str(index), name])


def prefix(index: int = 0, node: str | None = None) -> str:
    """The start of ktrack's keys of GPU ``index`` (of ``node``): ``gpu/``, ``gpu<N>/``, ``gpu/<node>/<N>/``."""
    if node is None:
        return "gpu/" if index == 0 else f"gpu{index}/"
    return f"gpu/{node}/{index}/"


def tracker_scale(field: str, tracker: str) -> float:
    """The factor from the table's unit of ``field`` to ``tracker``'s (1 when it has no name for it)."""
    f = BY_NAME.get(field)
    named = None if f is None else f.trackio if tracker == "trackio" else f.wandb if tracker == "wandb" else None
    return named[1] if named else 1.0


def by_gpu(keys: Iterable[str]) -> dict[tuple[str, int], dict[str, str]]:
    """The GPU keys among ``keys``, by GPU and field: ``(node or "", index)`` -> field -> the key a
    reader takes (the preferred spelling, :func:`rank`).

    An average over the GPUs (AdamWPrune's ``gpu/*_avg``) counts as GPU 0, the
    one GPU of the runs that log it.
    """
    out: dict[tuple[str, int], dict[str, str]] = {}
    best: dict[tuple[str, int, str], int] = {}
    for key in keys:
        k = parse_key(key)
        if k is None:
            continue
        gpu = (k.node or "", k.gpu or 0)
        r = rank(k)
        if best.get((*gpu, k.field), r + 1) > r:
            out.setdefault(gpu, {})[k.field] = key
            best[(*gpu, k.field)] = r
    return out


def value(key: str, raw: Any) -> Any:
    """``raw``, logged under GPU key ``key``, in the table's unit of its field (Trackio's
    ``memory_usage`` fraction as a percentage, W&B's bytes as GB); other values as they are."""
    k = parse_key(key)
    if k is None or k.scale == 1.0 or isinstance(raw, bool) or not isinstance(raw, (int, float)):
        return raw
    return raw / k.scale
