"""``--gpu-db``: the GPU report from a project's database.

Two sources are shown: the ``gpu/<metric>`` (first GPU) and ``gpu<N>/<metric>``
keys our trackers log with each step in ``metrics``, and Trackio's own
``system_metrics`` table (``gpu/<i>/<metric>`` keys, timestamps, no step).
All counting and min/max/avg happen in one SQL pass per source.
"""
from __future__ import annotations

import json
import re

from viewer.keys import json_path
from viewer.model import NoMetric
from viewer.store import Project, RunInfo

RULE = "=" * 80
SEED_ORDER = ("utilization", "memory_used_gb", "memory_percent", "temperature_c", "power_w",
              "clock_graphics_mhz", "clock_memory_mhz", "clock_fclk_mhz", "clock_socclk_mhz",
              "fan_speed", "fan_rpm", "perf_state")
STEP_KEY = re.compile(r"^gpu\d*/[^/]+$")
SYS_KEY = re.compile(r"^gpu/(\d+)/(.+)$")
DEG = "\u00b0C"


def _x(key: str, col: str = "metrics") -> str:
    return f"json_extract(CAST({col} AS TEXT), '{json_path(key)}')"


def _order(key: str) -> tuple:
    prefix, _, name = key.partition("/")
    return (prefix != "gpu", prefix, SEED_ORDER.index(name) if name in SEED_ORDER else 99, name)


def _status(title: str, latest: dict, prefix: str, util_label: str) -> list[str]:
    """The latest-status lines of one GPU (keys ``<prefix><metric>``).

    The first GPU keeps the seed's labels; further GPUs say ``Utilization:``
    so that the seed's ``grep "GPU Utilization:"`` still finds one line.
    """
    def g(name: str):
        v = latest.get(prefix + name)
        return v if isinstance(v, (int, float)) else None

    out = [title]
    if g("utilization") is not None:
        out.append(f"  {util_label}: {g('utilization'):.1f}%")
    if g("memory_used_gb") is not None:
        pct = f" ({g('memory_percent'):.1f}%)" if g("memory_percent") is not None else ""
        out.append(f"  Memory Usage: {g('memory_used_gb'):.1f} GB{pct}")
    if g("temperature_c") is not None:
        out.append(f"  Temperature: {g('temperature_c'):.0f}{DEG}")
    if g("power_w") is not None:
        out.append(f"  Power: {g('power_w'):.0f}W")
    clocks = [(lbl, g(f"clock_{k}_mhz")) for lbl, k in
              (("Graphics", "graphics"), ("Memory", "memory"), ("Fclk", "fclk"), ("Socclk", "socclk"))]
    if any(v is not None for _, v in clocks):
        out.append("  Clock Frequencies:")
        out += [f"    {lbl}: {v:.0f} MHz" for lbl, v in clocks if v is not None]
    return out


def _step_section(project: Project, run: RunInfo, gkeys: list[str]) -> list[str]:
    """Latest status, history, data range and key counts from ``metrics``."""
    rc, rid = project.run_col, run.run_id
    counts = ", ".join(f"count({_x(k)})" for k in gkeys)
    hist = ("gpu/utilization", "gpu/temperature_c", "gpu/power_w")
    inner = ", ".join(f"{_x(k)} AS h{i}" for i, k in enumerate(hist))
    agg = ", ".join(f"min(h{i}), max(h{i}), avg(h{i})" for i in range(len(hist)))
    any_gpu = " OR ".join(f"{_x(k)} IS NOT NULL" for k in gkeys)
    row = project._q(
        f"SELECT {counts}, {agg}, min(step), max(step), max(id) FROM "
        f"(SELECT *, {inner} FROM metrics WHERE {rc}=? AND ({any_gpu}))", (rid,))[0]
    n = len(gkeys)
    count = dict(zip(gkeys, row[:n]))
    h = row[n:n + 9]
    lo_step, hi_step, last_id = row[n + 9:n + 12]
    latest_row = project._q("SELECT step, CAST(metrics AS TEXT) FROM metrics WHERE id=?", (last_id,))[0]
    out = _status(f"Latest GPU Status (Step {latest_row[0]}):", json.loads(latest_row[1]), "gpu/",
                  "GPU Utilization")
    for prefix in dict.fromkeys(k.split("/")[0] + "/" for k in gkeys if not k.startswith("gpu/")):
        mine = [k for k in gkeys if k.startswith(prefix)]
        has = " OR ".join(f"{_x(k)} IS NOT NULL" for k in mine)
        row = project._q(f"SELECT step, CAST(metrics AS TEXT) FROM metrics WHERE +{rc}=? AND ({has}) "
                         f"ORDER BY id DESC LIMIT 1", (rid,))
        if row:
            out += [""] + _status(f"Latest GPU {prefix[3:-1]} Status (Step {row[0][0]}):",
                                  json.loads(row[0][1]), prefix, "Utilization")
    out += ["", f"Historical Data ({max(count.values())} logged entries):"]
    fmt = (("Utilization", "{:.1f}%"), ("Temperature", "{:.0f}" + DEG), ("Power", "{:.0f}W"))
    for i, (label, f) in enumerate(fmt):
        lo, hi, avg = h[3 * i:3 * i + 3]
        if lo is not None:
            out.append(f"  {label}: {f.format(lo)} - {f.format(hi)} (avg: {f.format(avg)})")
    out += ["", f"Data Range: Steps {lo_step} - {hi_step}", "", "Available GPU Metrics:"]
    for k in gkeys:
        shown = k[4:] if k.startswith("gpu/") else k
        out.append(f"  - {shown} ({count[k]} data points)")
    return out


def _system_section(project: Project, run: RunInfo) -> list[str]:
    """Key counts and latest values from Trackio's ``system_metrics`` table."""
    if not project.has_table("system_metrics"):
        return []
    rc = "run_id" if "run_id" in project._columns("system_metrics") else "run_name"
    rid = run.run_id if rc == project.run_col else run.name
    skeys = sorted({r[0] for r in project._q(
        f"SELECT DISTINCT j.key FROM (SELECT metrics FROM system_metrics WHERE {rc}=? "
        f"ORDER BY id DESC LIMIT 500) AS m, json_each(CAST(m.metrics AS TEXT)) AS j", (rid,))
        if SYS_KEY.match(r[0])}, key=lambda k: (int(SYS_KEY.match(k).group(1)), k))
    if not skeys:
        return []
    counts = ", ".join(f"count({_x(k)})" for k in skeys)
    row = project._q(f"SELECT count(*), min(timestamp), max(timestamp), {counts} "
                     f"FROM system_metrics WHERE {rc}=?", (rid,))[0]
    last = json.loads(project._q(f"SELECT CAST(metrics AS TEXT) FROM system_metrics WHERE {rc}=? "
                                 f"ORDER BY id DESC LIMIT 1", (rid,))[0][0])
    out = ["", f"Trackio System Metrics (system_metrics table, {row[0]} logged entries):",
           f"  Time Range: {row[1][:19].replace('T', ' ')} - {row[2][:19].replace('T', ' ')}"]
    for idx in sorted({int(SYS_KEY.match(k).group(1)) for k in skeys}):
        p = f"gpu/{idx}/"
        parts = []
        for name, f in (("utilization", "util {:.1f}%"), ("allocated_memory", "mem {:.1f} GB"),
                        ("temp", "temp {:.0f}" + DEG), ("power", "power {:.0f}W")):
            v = last.get(p + name)
            if isinstance(v, (int, float)):
                parts.append(f.format(v))
        out.append(f"  GPU {idx} latest: " + (", ".join(parts) or "no numeric values"))
    out.append("  Available System Metrics:")
    out += [f"  - {k} ({c} data points)" for k, c in zip(skeys, row[3:])]
    return out


def report(project: Project, run: RunInfo) -> str:
    """The full ``--gpu-db`` report; raises NoMetric when neither source has GPU data."""
    gkeys = sorted((k for k in project.sample_keys(run.run_id) if STEP_KEY.match(k)), key=_order)
    system = _system_section(project, run)
    if not gkeys and not system:
        raise NoMetric(f"project '{project.name}' run '{run.name}' has no GPU metrics "
                       f"(no gpu/* keys in metrics, none in system_metrics); "
                       f"log them with TRACKER_LOG_GPU=y")
    lines = [RULE, f"GPU Metrics from Database - Project: {project.name}", RULE, ""]
    if gkeys:
        lines += _step_section(project, run, gkeys)
    else:
        lines.append("No gpu/* keys logged with steps in the metrics table.")
    return "\n".join(lines + system)
