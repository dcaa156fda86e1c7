"""Parse ``tegrastats`` lines (NVIDIA Jetson) and follow the tool's output.

The format changed between L4T releases; all of these are understood::

    GR3D_FREQ 0%@[306]            (Orin, JetPack 5/6; one value per GPC)
    GR3D_FREQ 12%@1300            (TX2/Xavier/Nano, JetPack 4)
    GR3D_FREQ 0%                  (frequency not shown)
    VDD_GPU_SOC 3172mW/3172mW     (rail current/average, Orin)
    POM_5V_GPU 0/0  POM_5V_IN a/b (rails in mW without unit, older boards)
    GPU@43.843C  gpu@30.5C        (temperatures)
    RAM 2448/30536MB              EMC_FREQ 0%@2133
"""
from __future__ import annotations

import re
import shutil
import subprocess
import threading
from typing import Any

_GR3D = re.compile(r"GR3D_FREQ\s+(\d+(?:\.\d+)?)%(?:@\[?([\d,\s]+)\]?)?")
_EMC = re.compile(r"EMC_FREQ\s+\d+(?:\.\d+)?%(?:@\[?(\d+))?")
_TEMP = re.compile(r"\bGPU@(-?\d+(?:\.\d+)?)C", re.IGNORECASE)
_RAM = re.compile(r"\bRAM\s+(\d+)/(\d+)MB")
_RAIL = re.compile(r"\b([A-Z][A-Z0-9_]*)\s+(\d+)(?:mW)?/(\d+)(?:mW)?\b")


def parse_line(line: str) -> dict[str, Any]:
    """Parse one tegrastats line into sample fields plus ``rails``.

    Returns a dict that may contain ``utilization`` (%),
    ``clock_graphics_mhz`` (highest GPC frequency), ``clock_memory_mhz``
    (EMC), ``temperature_c``, ``memory_used_gb``/``memory_total_gb`` (shared
    RAM), ``power_w`` (the GPU rail's current value) and ``rails``
    (``{name: (current_mW, average_mW)}``).  Unknown text is ignored.
    """
    out: dict[str, Any] = {}
    m = _GR3D.search(line)
    if m:
        out["utilization"] = float(m.group(1))
        freqs = [int(f) for f in re.findall(r"\d+", m.group(2) or "")]
        if freqs:
            out["clock_graphics_mhz"] = float(max(freqs))
    m = _EMC.search(line)
    if m and m.group(1):
        out["clock_memory_mhz"] = float(m.group(1))
    m = _TEMP.search(line)
    if m:
        out["temperature_c"] = float(m.group(1))
    m = _RAM.search(line)
    if m:
        out["memory_used_gb"] = int(m.group(1)) / 1024.0
        out["memory_total_gb"] = int(m.group(2)) / 1024.0
    rails = {name: (int(cur), int(avg)) for name, cur, avg in _RAIL.findall(line)
             if name not in ("RAM", "SWAP", "IRAM", "LFB")}
    if rails:
        out["rails"] = rails
        gpu = [n for n in rails if "GPU" in n]
        if gpu:
            out["power_w"] = rails[gpu[0]][0] / 1000.0
    return out


class TegrastatsReader:
    """Run ``tegrastats --interval <ms>`` in the background; keep the latest line parsed.

    Started lazily by the Jetson backend only when sysfs lacks the GPU load.
    ``latest()`` returns ``{}`` until a line arrives or if the tool is absent.
    """

    def __init__(self, interval_ms: int = 1000) -> None:
        self.interval_ms = interval_ms
        self._latest: dict[str, Any] = {}
        self._proc: subprocess.Popen[str] | None = None
        self._lock = threading.Lock()

    @staticmethod
    def available() -> bool:
        """Whether a ``tegrastats`` executable is on ``PATH``."""
        return shutil.which("tegrastats") is not None

    def _follow(self) -> None:
        proc = self._proc
        assert proc is not None and proc.stdout is not None
        for line in proc.stdout:
            self._latest = parse_line(line)

    def latest(self) -> dict[str, Any]:
        """Latest parsed line (starts the tool on first call)."""
        with self._lock:
            if self._proc is None and self.available():
                try:
                    self._proc = subprocess.Popen(
                        ["tegrastats", "--interval", str(self.interval_ms)],
                        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
                    threading.Thread(target=self._follow, daemon=True,
                                     name="ktrack-tegrastats").start()
                except OSError:
                    self._proc = None
        return dict(self._latest)

    def close(self) -> None:
        """Stop the tool if this reader started it."""
        with self._lock:
            if self._proc is not None and self._proc.poll() is None:
                self._proc.terminate()
            self._proc = None
