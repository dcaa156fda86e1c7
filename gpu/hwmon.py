"""Helpers for a device's hwmon directory (``<device>/hwmon/hwmon*``)."""
from __future__ import annotations

import re

from . import sysfs

_TEMP_RE = re.compile(r"^temp(\d+)_input$")

# hwmon temperature labels -> sample field.
_TEMP_LABELS = {
    "edge": "temperature_c", "gpu": "temperature_c", "pkg": "temperature_c",
    "junction": "temperature_hotspot_c", "hotspot": "temperature_hotspot_c",
    "mem": "temperature_memory_c", "vram": "temperature_memory_c",
}


def find(device_dir: str) -> str | None:
    """Path of the first ``hwmon*`` directory under ``<device_dir>/hwmon``."""
    for entry in sysfs.listdir(device_dir + "/hwmon"):
        if entry.startswith("hwmon"):
            return f"{device_dir}/hwmon/{entry}"
    return None


def temperature_files(hwmon_dir: str | None) -> dict[str, str]:
    """Map sample temperature fields to ``tempN_input`` paths by ``tempN_label``.

    An unlabelled ``temp1_input`` counts as the GPU (edge) temperature.  Done
    once at discovery; sampling then only reads the value files.
    """
    out: dict[str, str] = {}
    if not hwmon_dir:
        return out
    for entry in sysfs.listdir(hwmon_dir):
        m = _TEMP_RE.match(entry)
        if not m:
            continue
        label = (sysfs.read(f"{hwmon_dir}/temp{m.group(1)}_label") or "").lower()
        field = _TEMP_LABELS.get(label)
        if field is None and not label and m.group(1) == "1":
            field = "temperature_c"
        if field and field not in out:
            out[field] = f"{hwmon_dir}/{entry}"
    return out


def read_temperatures(files: dict[str, str]) -> dict[str, float]:
    """Read ``tempN_input`` files (millidegrees Celsius) -> °C per field.

    When there is no edge/GPU sensor (e.g. AMD MI300) the hotspot reading is
    used as ``temperature_c`` so a headline temperature exists.
    """
    out: dict[str, float] = {}
    for field, path in files.items():
        v = sysfs.read_int(path)
        if v is not None:
            out[field] = v / 1000.0
    if "temperature_c" not in out and "temperature_hotspot_c" in out:
        out["temperature_c"] = out["temperature_hotspot_c"]
    return out


def first_existing(hwmon_dir: str | None, *names: str) -> str | None:
    """Path of the first of ``names`` that exists in ``hwmon_dir``."""
    if not hwmon_dir:
        return None
    present = set(sysfs.listdir(hwmon_dir))
    for name in names:
        if name in present:
            return f"{hwmon_dir}/{name}"
    return None
