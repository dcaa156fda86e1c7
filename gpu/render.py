"""Every text form of GPU values: the one GPU text renderer.

Layout: the ``--gpu --once`` block of live samples (:func:`render_once`,
:func:`gpu_lines`); the nodes x GPUs grid (:class:`Reading`,
:func:`readings_from_keys`, :func:`grid_lines`), which the workspace's system pane, ``--gpu-db`` and its
live screen show; the ``--gpu-db`` report of a run's database
(:func:`db_report`, its data is ``viewer.gpu_db.data``'s dict).  Labels,
units and digits of the grid come from the field table (:mod:`gpu.fields`);
the block and the report keep the wording the seed documents.  Missing values
show ``N/A`` through :func:`gpu.sample.fmt`.
"""
from __future__ import annotations

from typing import Any, Iterable, NamedTuple

from .fields import BY_NAME, ENERGY_WH, by_gpu, value
from .sample import GpuSample, fmt

RULE = "=" * 60
DB_RULE = "=" * 80
DEG = "\u00b0C"


# -- the --gpu block ------------------------------------------------------------

def _pair(a: float | None, b: float | None, sep: str, digits: int) -> str | None:
    """``a<sep>b`` when both exist, ``a`` alone when only it does, else ``None``."""
    if a is None:
        return None
    if b is None:
        return fmt(a, "", digits)
    return fmt(a, "", digits) + sep + fmt(b, "", digits)


def gpu_lines(s: GpuSample) -> list[str]:
    """The name line and the indented value lines of one GPU."""
    mem = _pair(s.memory_used_gb, s.memory_total_gb, "/", 1)
    if mem is not None:
        mem += " GB" + (f" ({fmt(s.memory_percent, '%')})" if s.memory_percent is not None else "")
    power = _pair(s.power_w, s.power_limit_w, "/", 0)
    if s.fan_percent is not None:
        fan = fmt(s.fan_percent, "%") + (f" ({fmt(s.fan_rpm, ' RPM', 0)})"
                                        if s.fan_rpm is not None else "")
    else:
        fan = fmt(s.fan_rpm, " RPM", 0)
    return [
        s.name,
        f"  Utilization: {fmt(s.utilization, '%')}",
        f"  Memory: {fmt(mem)}",
        f"  Temperature: {fmt(s.temperature_c, DEG, 0)}",
        f"  Power: {fmt(power, 'W' if power is not None else '')}",
        f"  Fan: {fan}",
        f"  GPU Clock: {fmt(s.clock_graphics_mhz, ' MHz', 0)}",
        f"  Mem Clock: {fmt(s.clock_memory_mhz, ' MHz', 0)}",
        f"  Perf State: {fmt(s.perf_state)}",
    ]


def render_once(samples: Iterable[GpuSample]) -> str:
    """The ``GPU Status`` block for ``samples`` (no trailing newline).

    A 60-character ``=`` rule, ``GPU Status``, another rule, then for each
    GPU a blank line, its name and its values; missing values show ``N/A``.
    """
    lines = [RULE, "GPU Status", RULE]
    samples = list(samples)
    for s in samples:
        lines.append("")
        lines.extend(gpu_lines(s))
    if not samples:
        lines.extend(["", "No GPUs found"])
    return "\n".join(lines)


# -- the nodes x GPUs grid --------------------------------------------------------

#: The grid's columns: fields of the table, then the energy used.
GRID = ("utilization", "memory_used_gb", "temperature_c", "power_w")
#: The columns a node's and the job's total row add up (with the energy).
SUMMED = ("power_w",)


class Reading(NamedTuple):
    """One GPU's newest values, wherever they came from: ``values`` by field name, in the
    table's units; ``node`` ``None`` outside a multi-node job; ``energy_wh`` ``None`` when unknown."""

    node: str | None
    gpu: int
    values: dict[str, float]
    energy_wh: float | None = None


def readings_from_keys(values: dict[str, Any]) -> list[Reading]:
    """The GPUs in a dict of logged keys in any spelling (system metrics, ``gpu/*`` step keys, a
    summary's ``gpu/<node>/<i>/energy_wh``), in node and GPU order."""
    out = []
    for (node, index), fields in sorted(by_gpu(values).items()):
        nums = {f: float(v) for f, k in fields.items()
                if isinstance(v := value(k, values[k]), (int, float)) and not isinstance(v, bool)}
        wh = nums.pop(ENERGY_WH, None)
        if nums or wh is not None:
            out.append(Reading(node or None, index, nums, wh))
    return out


def wh(v: float) -> str:
    """An energy in Wh as every GPU screen shows it."""
    return f"{v:.3f} Wh" if v < 1000 else f"{v:.0f} Wh"


def _total(rs: list[Reading], field: str) -> float | None:
    vals = [r.values[field] for r in rs if field in r.values]
    return sum(vals) if vals else None


def _energy(rs: list[Reading]) -> float | None:
    vals = [r.energy_wh for r in rs if r.energy_wh is not None]
    return sum(vals) if vals else None


def grid_lines(readings: Iterable[Reading], first_node: int = 0) -> list[str]:
    """The nodes x GPUs table: a header, then per node a ``node <name>`` line, a row per GPU and
    the node's totals; at the end the job's totals (power and energy summed over every GPU).

    Outside a multi-node job there are no node lines, and a total only for more than one GPU.
    ``first_node`` leaves out the node groups before it (a pane too small for every node).
    """
    rs = list(readings)
    if not rs:
        return ["no GPU values logged for this run (Trackio system metrics or gpu/* keys)"]
    nodes = list(dict.fromkeys(r.node for r in rs))
    multi = nodes != [None]
    has_energy = any(r.energy_wh is not None for r in rs)
    table: list[list[str]] = [[""] + [BY_NAME[f].label for f in GRID] + (["energy"] if has_energy else [])]

    def row(label: str, group: list[Reading], total: bool) -> list[str]:
        cells = [label]
        for f in GRID:
            field = BY_NAME[f]
            if not total:
                cells.append(fmt(group[0].values.get(f), field.unit, field.digits))
                continue
            v = _total(group, f) if f in SUMMED else None
            cells.append(fmt(v, field.unit, field.digits) if v is not None else "")
        if has_energy:
            energy = _energy(group)
            cells.append(wh(energy) if energy is not None else "" if total else "N/A")
        return cells

    heads: list[int] = []
    for node in nodes[max(0, min(first_node, len(nodes) - 1)):] if multi else nodes:
        mine = [r for r in rs if r.node == node]
        if multi:
            heads.append(len(table))
            table.append([f"node {node} ({len(mine)} GPU{'s' if len(mine) != 1 else ''})"])
        table += [row(f"{'  ' if multi else ''}GPU {r.gpu}", [r], False) for r in mine]
        if multi:
            table.append(row(f"  node {node}", mine, True))
    if multi:
        table.append(row(f"job: {len(nodes)} nodes", rs, True))
    elif len(rs) > 1:
        table.append(row("total", rs, True))
    widths = [max(len(r[i]) for r in table if len(r) > 1) for i in range(len(table[0]))]
    out = []
    for i, r in enumerate(table):
        if i in heads:
            out.append(r[0])
            continue
        out.append("  ".join([r[0].ljust(widths[0])] + [c.rjust(w) for c, w in zip(r[1:], widths[1:], strict=True)])
                   .rstrip())
    return out


# -- the --gpu-db report ------------------------------------------------------------

HISTORY = (("utilization", "Utilization", "{:.1f}%"), ("temperature_c", "Temperature", "{:.0f}" + DEG),
           ("power_w", "Power", "{:.0f}W"))
SYSTEM_FIELDS = (("utilization", "util {:.1f}%"), ("memory_used_gb", "mem {:.1f} GB"),
                 ("temperature_c", "temp {:.0f}" + DEG), ("power_w", "power {:.0f}W"))


def _status(title: str, v: dict[str, float | None], util_label: str) -> list[str]:
    """The latest-status lines of one GPU.

    The first GPU keeps the documented labels; further GPUs say ``Utilization:``
    so that a script's ``grep "GPU Utilization:"`` still finds one line.
    """
    out = [title]
    util, used, pct = v["utilization"], v["memory_used_gb"], v["memory_percent"]
    if util is not None:
        out.append(f"  {util_label}: {util:.1f}%")
    if used is not None:
        out.append(f"  Memory Usage: {used:.1f} GB" + (f" ({pct:.1f}%)" if pct is not None else ""))
    if (temp := v["temperature_c"]) is not None:
        out.append(f"  Temperature: {temp:.0f}{DEG}")
    if (power := v["power_w"]) is not None:
        out.append(f"  Power: {power:.0f}W")
    clocks = [(lbl, v[f"clock_{k}_mhz"]) for lbl, k in
              (("Graphics", "graphics"), ("Memory", "memory"), ("Fclk", "fclk"), ("Socclk", "socclk"))]
    if any(c is not None for _, c in clocks):
        out.append("  Clock Frequencies:")
        out += [f"    {lbl}: {c:.0f} MHz" for lbl, c in clocks if c is not None]
    return out


def _step_lines(d: dict[str, Any] | None) -> list[str]:
    if d is None:
        return ["No gpu/* values logged with steps in the metrics table."]
    first, *others = d["latest"]
    out = _status(f"Latest GPU Status (Step {first['step']}):", first, "GPU Utilization")
    for g in others:
        out += [""] + _status(f"Latest GPU {g['gpu']} Status (Step {g['step']}):", g, "Utilization")
    out += ["", f"Historical Data ({d['entries']} logged entries):"]
    for field, label, f in HISTORY:
        if field in d["history"]:
            h = d["history"][field]
            out.append(f"  {label}: {f.format(h['min'])} - {f.format(h['max'])} (avg: {f.format(h['avg'])})")
    out += ["", f"Data Range: Steps {d['first_step']} - {d['last_step']}", "", "Available GPU Metrics:"]
    out += [f"  - {k} ({n} data points)" for k, n in d["metrics"].items()]
    return out


def gpu_label(g: dict[str, Any]) -> str:
    """How the ``--gpu-db`` report names one GPU of a data dict: ``0``, or ``<node>/0``."""
    return f"{g['node']}/{g['gpu']}" if g.get("node") else str(g["gpu"])


def db_readings(d: dict[str, Any]) -> list[Reading]:
    """The GPUs of a ``--gpu-db`` data dict: each one's latest system values and its energy."""
    energy = {(g["node"], g["gpu"]): g["wh"] for g in (d.get("energy") or {}).get("gpus", [])}
    seen = [(g["node"], g["gpu"]) for g in (d.get("system") or {}).get("latest", [])]
    latest = {(g["node"], g["gpu"]): {f: g[f] for f, _ in SYSTEM_FIELDS if g.get(f) is not None}
              for g in (d.get("system") or {}).get("latest", [])}
    gpus = sorted(set(seen) | set(energy), key=lambda g: (g[0] or "", g[1]))
    return [Reading(node, index, latest.get((node, index), {}), energy.get((node, index))) for node, index in gpus]


def _system_lines(d: dict[str, Any] | None, grid: list[str]) -> list[str]:
    if d is None:
        return []
    out = ["", f"Trackio System Metrics (system_metrics table, {d['entries']} logged entries):",
           f"  Time Range: {(d['first_time'] or '')[:19].replace('T', ' ')} - "
           f"{(d['last_time'] or '')[:19].replace('T', ' ')}"]
    if nodes := d["nodes"]:
        out.append(f"  Nodes ({len(nodes)}, {sum(nodes.values())} GPUs): "
                   + ", ".join(f"{node} ({count} GPU{'s' if count > 1 else ''})" for node, count in nodes.items()))
        out += ["  " + line for line in grid]
    for g in d["latest"]:
        parts = [f.format(g[field]) for field, f in SYSTEM_FIELDS if g[field] is not None]
        out.append(f"  GPU {gpu_label(g)} latest: " + (", ".join(parts) or "no numeric values"))
    out.append("  Available System Metrics:")
    out += [f"  - {k} ({n} data points)" for k, n in d["metrics"].items()]
    return out


def energy_lines(d: dict[str, Any] | None) -> list[str]:
    """The ``--gpu-db`` energy section of ``viewer.energy.energy_data``'s dict ([] when None)."""
    if d is None:
        return []
    out = ["", f"GPU Energy (from the {d['source']}):"]
    out += [f"  GPU {gpu_label(g)}: {wh(g['wh'])}" for g in d["gpus"]]
    out += [f"  Node {node}: {wh(v)}" for node, v in d["nodes"].items()]
    if d["total_wh"] is not None:
        out.append(f"  Total: {wh(d['total_wh'])}")
    return out


def db_report(d: dict[str, Any], first_node: int = 0) -> str:
    """The ``--gpu-db`` report of ``viewer.gpu_db.data``'s dict: the seed's report, and for a
    multi-node job the nodes x GPUs grid under its ``Nodes`` line (from ``first_node`` on)."""
    lines = [DB_RULE, f"GPU Metrics from Database - Project: {d['project']}", DB_RULE, ""]
    if d["has_step_keys"]:
        lines += _step_lines(d["steps"])
    else:
        lines.append("No gpu/* keys logged with steps in the metrics table.")
    grid = grid_lines(db_readings(d), first_node) if (d.get("system") or {}).get("nodes") else []
    return "\n".join(lines + _system_lines(d["system"], grid) + energy_lines(d["energy"]))
