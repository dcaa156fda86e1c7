"""Every node's GPUs in the one run of a multi-node job, through the run folder.

Each node's local rank 0 owns a :class:`NodeWriter`: it samples that node's
own GPUs with the ``gpu`` package (its own ``KTRACK_SYSFS_ROOT``/NVML) on a
daemon thread and appends one JSON line per sample to
``<run>/nodes/<node>/gpu.jsonl`` (append, flush; one writer per file, so a
shared filesystem -- NFS, Lustre, GPFS -- needs no locking and no SQLite is
written from several nodes). Nothing of this is on the training step's path.

Global rank 0's run owns a :class:`NodeTail`: its writer thread reads the new
lines of every node's file and returns them as system rows keyed
``gpu/<node>/<i>/<field>`` (ktrack's ``gpu/<field>`` keys with the node and
GPU index spelled out), which the run sends to every tracker's system-metrics
place and the journal. A node with no new line for ``quiet_intervals``
sampling intervals is reported (an alert naming the node and the time of its
last line) and never waited for; at the end, the energy each node's meter
counted gives Wh per GPU, per node and for the job (:meth:`NodeTail.summary`).

A line: ``{"node": "a", "t": 1.7e9, "gpus": [{"index": 0, "name": ...,
"vendor": ..., "metrics": {"power_w": 250.0, ...}}], "energy_wh": {"0": 0.5},
"end": false}``; the writer's last line has ``"end": true``.
"""

from __future__ import annotations

import json
import os
import threading
import time
from pathlib import Path
from typing import IO, Any

import gpu
from gpu.fields import BY_NAME, ENERGY_WH, format_key, prefix
from gpu.sample import series
from ktrack import messages
from ktrack.fs import network_fs
from trackers.gpu_metrics import TOTAL_ENERGY_KEY

NODES_DIR = "nodes"
FILE = "gpu.jsonl"
#: Sampling intervals without a line after which a node counts as quiet ...
QUIET_INTERVALS = 5
#: ... and never less than this many seconds: a shared filesystem may show a node's lines late.
MIN_QUIET_S = 10.0


def node_file(run_dir: Path, node: str) -> Path:
    """``<run_dir>/nodes/<node>/gpu.jsonl``."""
    return Path(run_dir) / NODES_DIR / node / FILE


def sample_line(node: str, samples: list[Any], energy_wh: dict[int, float], end: bool = False,
                t: float | None = None) -> str:
    """One line of a node's file (see the module docstring), newline included."""
    gpus = [{"index": s.index, "name": s.name, "vendor": s.vendor,
             "metrics": {BY_NAME[f].key: v for f, v in series(s).items()}} for s in samples]
    stamp = max((s.timestamp for s in samples), default=time.time()) if t is None else t
    return json.dumps({"node": node, "t": stamp, "gpus": gpus,
                       "energy_wh": {str(i): wh for i, wh in sorted(energy_wh.items())}, "end": end}) + "\n"


class NodeWriter:
    """Samples this node's GPUs every ``interval`` seconds into its file in the run folder.

    ``start()`` writes the first line before it returns; ``close()`` stops the
    thread and writes a last sample marked ``end`` (idempotent). A failed
    write is one warning, and the node's record stops there (training goes on).
    """

    def __init__(self, run_dir: Path, node: str, interval: float = 1.0, backends: list[str] | None = None,
                 sampler: Any = None) -> None:
        self.node, self.path, self.interval = node, node_file(run_dir, node), max(0.01, float(interval))
        self.sampler = sampler if sampler is not None else gpu.Sampler(
            interval=self.interval, history=2, devices=gpu.discover(backends=backends))
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._file: IO[str] | None = None
        self._closed = False
        # an NFS client keeps appended data to itself until fsync or close: rank 0, elsewhere, would not see it
        self._sync = network_fs(self.path.parent) is not None

    def start(self) -> NodeWriter:
        """Open the file, write the first sample, start the thread."""
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._file = open(self.path, "a", encoding="utf-8")  # open until close()
        except OSError as exc:
            self._failed(exc)
            return self
        if not self.sampler.devices:
            messages.warn("trackers", f"node {self.node}: GPU logging is on but no GPU was found; "
                          "its file records only that the node is alive", key=f"node-no-gpu-{self.node}")
        self._write()
        self._thread = threading.Thread(target=self._run, name="ktrack-node-gpu", daemon=True)
        self._thread.start()
        return self

    def close(self) -> None:
        """Stop sampling and write the last line (``"end": true``); later calls do nothing."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
        self._stop.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout=max(1.0, 2 * self.interval))
        self._write(end=True)
        if self._file is not None:
            try:
                self._file.close()
            except OSError:
                pass
            self._file = None

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self._write()

    def _write(self, end: bool = False) -> None:
        f = self._file
        if f is None:
            return
        try:
            samples = self.sampler.sample_now() if self.sampler.devices else []
            line = sample_line(self.node, samples, self.sampler.energy_wh(), end=end)
        except Exception as exc:  # noqa: BLE001 - a bad reading costs one line, never training
            messages.warn("trackers", f"node {self.node}: could not sample its GPUs ({exc})",
                          key=f"node-sample-{self.node}")
            line = sample_line(self.node, [], self.sampler.energy_wh(), end=end, t=time.time())
        try:
            f.write(line)
            f.flush()
            if self._sync:
                os.fsync(f.fileno())
        except (OSError, ValueError) as exc:
            self._failed(exc)

    def _failed(self, exc: Exception) -> None:
        self._file = None
        messages.warn("trackers", f"node {self.node}: cannot write {self.path} ({exc}); this node's GPUs are "
                      "missing from the run from here on, training goes on", key=f"node-write-{self.node}")


class _Node:
    """What rank 0 knows of one node's file."""

    def __init__(self, name: str, now: float) -> None:
        self.name = name
        self.offset = 0  # bytes read so far
        self.partial = b""
        self.heard = now  # this machine's clock when a line last arrived (or when the node was first expected)
        self.last_t: float | None = None  # the node's own time of its last line
        self.energy: dict[int, float] = {}
        self.gpu_names: dict[int, str] = {}
        self.ended = False
        self.quiet_since: float | None = None


class NodeTail:
    """Rank 0's reader of every node's file under ``folder`` (``<run>/nodes``).

    ``expected`` names the nodes of the job (a node that never writes is
    reported too). :meth:`poll` is cheap when called more often than
    ``interval`` (it reads at most twice an interval) and never blocks on a node.
    """

    def __init__(self, folder: Path, expected: list[str] | None = None, interval: float = 1.0,
                 quiet_intervals: int = QUIET_INTERVALS, clock: Any = time.time, min_quiet_s: float = MIN_QUIET_S
                 ) -> None:
        self.folder, self.interval, self.clock = Path(folder), max(0.01, float(interval)), clock
        self.quiet_after = max(quiet_intervals * self.interval, min_quiet_s)
        self._lock = threading.Lock()
        self._last_poll = 0.0
        now = clock()
        self.nodes: dict[str, _Node] = {n: _Node(n, now) for n in expected or []}

    def poll(self, final: bool = False) -> tuple[list[tuple[float, dict[str, float]]], list[tuple[str, str]]]:
        """New system rows ``(time, {gpu/<node>/<i>/<field>: value})`` and events ``(title, text)``.

        ``final``: read everything now, and report each node that did not close
        its file (its last line is not ``end``) as quiet.
        """
        with self._lock:
            now = self.clock()
            if not final and now - self._last_poll < self.interval / 2:
                return [], []
            self._last_poll = now
            self._discover(now)
            rows: list[tuple[float, dict[str, float]]] = []
            events: list[tuple[str, str]] = []
            for node in self.nodes.values():
                for line in self._read(node):
                    row = self._take(node, line, now)
                    if row is not None:
                        rows.append(row)
                    if node.quiet_since is not None:
                        events.append(("node back", f"node {node.name} is sampling again after "
                                       f"{now - node.quiet_since:.0f}s quiet"))
                        node.quiet_since = None
                quiet = now - node.heard > self.quiet_after or (final and not node.ended)
                if quiet and not node.ended and node.quiet_since is None:
                    node.quiet_since = node.last_t if node.last_t is not None else node.heard
                    when = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(node.quiet_since))
                    what = ("its last GPU sample" if node.last_t is not None else
                            "the job started; it wrote none here: is the run folder on a filesystem every node shares?")
                    events.append(("node quiet", f"node {node.name}: nothing since {when} ({what}); "
                                   "the run goes on without it"))
            return rows, events

    def summary(self) -> dict[str, Any]:
        """Energy in Wh per GPU, per node and for the job, the GPU names, counts, and the quiet nodes."""
        with self._lock:
            out: dict[str, Any] = {}
            total, gpus = 0.0, 0
            for node in sorted(self.nodes.values(), key=lambda n: n.name):
                for i, wh in sorted(node.energy.items()):
                    out[format_key(ENERGY_WH, i, node.name)] = wh
                for i, name in sorted(node.gpu_names.items()):
                    out[format_key("name", i, node.name)] = name
                out[f"node/{node.name}/energy_wh"] = sum(node.energy.values())
                out[f"node/{node.name}/gpus"] = len(node.gpu_names)
                if node.quiet_since is not None:
                    out[f"node/{node.name}/quiet_since"] = node.quiet_since
                total += sum(node.energy.values())
                gpus += len(node.gpu_names)
            out.update({TOTAL_ENERGY_KEY: total, "gpu_total/count": gpus, "nodes/count": len(self.nodes),
                        "nodes/quiet": sum(n.quiet_since is not None for n in self.nodes.values())})
            return out

    def _discover(self, now: float) -> None:
        try:
            names = sorted(os.listdir(self.folder))
        except OSError:
            return
        for name in names:
            if name not in self.nodes and (self.folder / name / FILE).is_file():
                self.nodes[name] = _Node(name, now)

    def _read(self, node: _Node) -> list[bytes]:
        # opened anew each time: on NFS an open revalidates the file (close-to-open), a kept handle may not
        try:
            with open(self.folder / node.name / FILE, "rb") as f:
                f.seek(node.offset)
                data = f.read()
        except OSError:
            return []
        if not data:
            return []
        node.offset += len(data)
        *lines, node.partial = (node.partial + data).split(b"\n")
        return [line for line in lines if line.strip()]

    def _take(self, node: _Node, line: bytes, now: float) -> tuple[float, dict[str, float]] | None:
        try:
            rec = json.loads(line)
            t = float(rec["t"])
        except (ValueError, KeyError, TypeError):
            return None  # a damaged line (a node killed mid-write) costs that line
        node.heard, node.last_t, node.ended = now, t, bool(rec.get("end"))
        node.energy = {int(i): float(wh) for i, wh in (rec.get("energy_wh") or {}).items()}
        metrics: dict[str, float] = {}
        for g in rec.get("gpus") or []:
            index = int(g.get("index", 0))
            node.gpu_names[index] = str(g.get("name", ""))
            start = prefix(index, node.name)  # the file holds the logged keys (format_key's ktrack spelling)
            for key, value in (g.get("metrics") or {}).items():
                if isinstance(value, (int, float)) and not isinstance(value, bool):
                    metrics[start + key] = float(value)
        return (t, metrics) if metrics else None

    def close(self) -> None:
        """Read nothing more (the run has its last lines)."""
        with self._lock:
            self.nodes.clear()
