"""GPU utilization from DRM fdinfo engine counters (``/proc/<pid>/fdinfo/<fd>``).

i915 reports ``drm-engine-<class>: <ns> ns`` busy time; xe reports
``drm-cycles-<class>`` and ``drm-total-cycles-<class>``.  Utilization is the
busiest engine class's share between two readings, summed over the clients
(deduplicated by ``drm-client-id``) that were seen both times.  Only processes
whose fds we may read count; if nothing could be read the value is ``None``.
The full ``/proc`` scan for DRM fds is repeated at most every few seconds;
in between only the known fdinfo files are re-read.
"""
from __future__ import annotations

import time

from . import sysfs

RESCAN_S = 10.0


def parse(text: str) -> dict[str, str]:
    """Parse an fdinfo file into ``{key: value}`` (value stripped)."""
    out: dict[str, str] = {}
    for line in text.splitlines():
        key, sep, value = line.partition(":")
        if sep:
            out[key.strip()] = value.strip()
    return out


def _num(value: str) -> int | None:
    try:
        return int(value.split()[0])
    except (ValueError, IndexError):
        return None


class DrmUsage:
    """Track engine counters of one PCI device (``pdev`` like ``0000:03:00.0``)."""

    def __init__(self, pdev: str | None) -> None:
        self.pdev = pdev
        self._files: list[str] = []
        self._scanned = -1e18
        self._complete = False
        self._prev: tuple[float, dict[str, dict[str, tuple[int, int]]]] | None = None

    def _scan(self) -> None:
        """Find fdinfo files of fds open on ``/dev/dri/*`` in every readable process."""
        files: list[str] = []
        pids = sysfs.entries("/proc")
        complete = pids is not None
        for pid in pids or ():
            if not pid.isdigit():
                continue
            fds = sysfs.entries(f"/proc/{pid}/fd")
            if fds is None:
                complete = False
                continue
            for fd in fds:
                target = sysfs.readlink(f"/proc/{pid}/fd/{fd}")
                if target and target.startswith("/dev/dri/"):
                    files.append(f"/proc/{pid}/fdinfo/{fd}")
        self._files, self._complete = files, complete
        self._scanned = time.monotonic()

    def _counters(self) -> dict[str, dict[str, tuple[int, int]]]:
        """``{client_id: {engine: (busy, total)}}``; total 0 means 'use wall ns'."""
        clients: dict[str, dict[str, tuple[int, int]]] = {}
        for path in self._files:
            text = sysfs.read(path)
            if not text:
                continue
            info = parse(text)
            if self.pdev and info.get("drm-pdev") not in (None, self.pdev):
                continue
            cid = info.get("drm-client-id")
            if cid is None or cid in clients:
                continue
            engines: dict[str, tuple[int, int]] = {}
            for key, value in info.items():
                if key.startswith("drm-engine-") and not key.startswith("drm-engine-capacity"):
                    busy = _num(value)
                    if busy is not None:
                        engines[key[len("drm-engine-"):]] = (busy, 0)
                elif key.startswith("drm-cycles-"):
                    cls = key[len("drm-cycles-"):]
                    busy, total = _num(value), _num(info.get("drm-total-cycles-" + cls, ""))
                    if busy is not None and total is not None:
                        engines[cls] = (busy, total)
            clients[cid] = engines
        return clients

    def utilization(self) -> float | None:
        """Busiest engine's utilization in % since the previous call, or ``None``."""
        now = time.monotonic()
        if now - self._scanned > RESCAN_S:
            self._scan()
        cur = self._counters()
        prev, self._prev = self._prev, (now, cur)
        if prev is None or (not cur and not self._complete):
            return None
        wall_ns = (now - prev[0]) * 1e9
        if wall_ns <= 0:
            return None
        busy: dict[str, float] = {}
        for cid, engines in cur.items():
            old = prev[1].get(cid)
            if old is None:
                continue
            for cls, (b, t) in engines.items():
                if cls not in old:
                    continue
                db, dt = b - old[cls][0], (t - old[cls][1]) if t else wall_ns
                if db < 0 or dt <= 0:
                    continue
                busy[cls] = busy.get(cls, 0.0) + db / dt
        if not busy:
            return 0.0
        return max(0.0, min(100.0, max(busy.values()) * 100.0))
