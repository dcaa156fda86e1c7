"""Find every GPU on the machine, all vendors, once."""
from __future__ import annotations

import logging
import re
from typing import Callable, Iterable

from . import amd, intel, jetson, nvml, sysfs
from .device import Device

log = logging.getLogger(__name__)

BACKENDS = ("nvml", "amd", "intel", "jetson")
_CARD_RE = re.compile(r"^card(\d+)$")   # not renderD128, not card0-DP-1
_TEGRA_NAMES = ("orin", "xavier", "tegra", "thor")


def drm_cards() -> list[tuple[str, int | None]]:
    """``(/sys/class/drm/cardN, PCI vendor id)`` for every DRM card, in card order.

    Render nodes (``renderD*``) and connectors (``card0-DP-1``) are skipped.
    """
    cards = []
    for entry in sysfs.listdir("/sys/class/drm"):
        m = _CARD_RE.match(entry)
        if m:
            path = f"/sys/class/drm/{entry}"
            cards.append((int(m.group(1)), path, sysfs.read_int(path + "/device/vendor")))
    return [(path, vendor) for _, path, vendor in sorted(cards)]


def discover(backends: Iterable[str] | None = None) -> list[Device]:
    """Return every GPU found, indexed 0.. across vendors; never raises.

    Order: NVML devices (NVML order), then AMD and Intel cards (DRM card
    order), then a Jetson GPU.  ``backends`` limits the probes to a subset of
    ``("nvml", "amd", "intel", "jetson")`` (Kconfig ``GPU_NVML``...).
    Sysfs is read under ``KTRACK_SYSFS_ROOT``.
    """
    wanted = set(BACKENDS if backends is None else backends)
    found: list[Device] = []
    probes: list[tuple[str, Callable[[], list[Device]]]] = [
        ("nvml", lambda: list(nvml.discover())),
        ("drm", lambda: _drm_devices(wanted)),
        ("jetson", lambda: _jetson_devices(found))]
    for name, probe in probes:
        if name != "drm" and name not in wanted:
            continue
        try:
            found.extend(probe())
        except Exception as exc:  # noqa: BLE001 - discovery must never raise
            log.debug("GPU probe %s failed: %s", name, exc)
    for i, dev in enumerate(found):
        dev.index = i
    return found


def _drm_devices(wanted: set[str]) -> list[Device]:
    out: list[Device] = []
    for card, vendor in drm_cards():
        if vendor == amd.VENDOR_ID and "amd" in wanted:
            out.append(amd.AmdDevice(0, card))
        elif vendor == intel.VENDOR_ID and "intel" in wanted:
            out.append(intel.IntelDevice(0, card))
    return out


def _jetson_devices(found: list[Device]) -> list[Device]:
    devfreq = jetson.find_devfreq()
    if devfreq is None:
        return []
    # Newer JetPack also exposes the iGPU through NVML: keep one entry.
    found[:] = [d for d in found if not (
        d.vendor == "nvidia" and any(t in d.name.lower() for t in _TEGRA_NAMES))]
    return [jetson.JetsonDevice(0, devfreq)]


def checked(backends: Iterable[str] | None = None) -> list[str]:
    """Human-readable list of what :func:`discover` probes (for 'No GPUs found')."""
    wanted = set(BACKENDS if backends is None else backends)
    out = []
    if "nvml" in wanted:
        out.append("NVML" + ("" if nvml.library() else " (not available)"))
    if "amd" in wanted or "intel" in wanted:
        out.append(sysfs.resolve("/sys/class/drm") + "/card*")
    if "jetson" in wanted:
        out.append(sysfs.resolve("/sys/class/devfreq") + " (Jetson)")
    return out
