"""The parts of a :class:`~trackers.run.Run` besides its metrics: system metrics and alerts.

:class:`RunChannels` is mixed into ``Run``: the public ``log_system``,
``alert`` and ``stop_requested``, and what the writer thread does with them
(GPU samples become system rows, alert rules are checked, alerts are
journaled, printed once and sent to each tracker that has an alert channel).
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from kconf.trackerspec import TRACKIO
from ktrack import messages
from ktrack.numbers import number
from trackers.alerts import AlertMonitor, make_alert
from trackers.backends import Alert, SystemRow
from trackers.values import check_metrics

#: What the writer hands to the backends once the journal has it: (operation, payload).
Outgoing = tuple[str, Any]

if TYPE_CHECKING:
    from trackers.backends.worker import Worker
    from trackers.gpu_metrics import GpuMetrics
    from trackers.journal import Journal
    from trackers.nodes import NodeTail, NodeWriter


class RunChannels:
    """System metrics and alerts of a run (the attributes below are set by ``Run``)."""

    step: int
    alerts: AlertMonitor
    gpu: GpuMetrics | None
    nodes: NodeTail | None
    node_writer: NodeWriter | None
    journal: Journal
    workers: list[Worker]

    def _put(self, item: tuple) -> None:
        raise NotImplementedError

    def log_system(self, metrics: dict[str, Any], timestamp: float | None = None) -> None:
        """Record hardware metrics (numbers; ``gpu/<field>``, ``gpu<N>/<field>``) in each tracker's
        system-metrics place, sampled at ``timestamp`` (default now)."""
        self._put(("system", max(self.step, 0), time.time() if timestamp is None else float(timestamp),
                   check_metrics(metrics)))

    def alert(self, title: str, text: str, level: str = "WARN") -> None:
        """Send an alert (printed once, journaled, to each tracker's alerts); ``level`` INFO/WARN/ERROR."""
        self._put(("alert", None, time.time(), make_alert(title, text, level, max(self.step, 0))))

    def follow_nodes(self, tail: NodeTail, local: NodeWriter | None = None) -> None:
        """Take every node's GPU samples from ``tail`` (a multi-node job's rank 0; see :mod:`trackers.nodes`).

        ``local`` is this node's own writer: :meth:`finish` closes it before the
        tail's last read, so this node's record ends cleanly even when the run
        finishes on a signal.
        """
        self.node_writer = local
        self.nodes = tail

    @property
    def stop_requested(self) -> bool:
        """True once an alert rule configured to stop training has fired; check it each iteration."""
        return self.alerts.stop_reason is not None

    # -- writer thread: each method journals, then returns what the backends get ----------
    def _fan_out(self, op: str, payload: Any) -> None:
        for w in self.workers:
            if op in ("log", "summary") or hasattr(w.backend, op):
                w.put(op, payload)

    def _system_row(self, step: int, t: float, values: dict[str, Any]) -> list[Outgoing]:
        numbers = {k: n for k, v in values.items() if (n := number(v)) is not None}
        if not numbers:
            return []
        self.journal.write("system", step, t, numbers)
        return [("log_system", SystemRow(t, step, numbers))]

    def _emit_alert(self, alert: Alert) -> Outgoing:
        """Journal and print once (Trackio prints the alerts it gets itself)."""
        self.journal.write("alert", alert.step, alert.time,
                           {"title": alert.title, "text": alert.text, "level": alert.level})
        if not any(w.name == TRACKIO and w.enabled for w in self.workers):
            messages.warn("trackers", f"{alert.title}: {alert.text}", key=f"alert-{id(self)}-{alert.title}")
        return ("alert", alert)

    def _check_row(self, step: int, values: dict[str, Any]) -> list[Outgoing]:
        return [self._emit_alert(alert) for alert in self.alerts.check_row(step, values)]

    def _poll_nodes(self, final: bool = False) -> list[Outgoing]:
        """System rows of every node's new GPU samples, and an alert for each node gone quiet (or back)."""
        if self.nodes is None:
            return []
        try:
            rows, events = self.nodes.poll(final=final)
        except Exception as exc:  # noqa: BLE001 - a bad node file must not stop the writer
            messages.warn("trackers", f"could not read the nodes' GPU files ({type(exc).__name__}: {exc})",
                          key=f"nodes-{id(self)}")
            return []
        out: list[Outgoing] = []
        for t, metrics in rows:
            out += self._system_row(max(self.step, 0), t, metrics)
        step = max(self.step, 0)
        return out + [self._emit_alert(make_alert(title, text, "WARN" if title == "node quiet" else "INFO", step))
                      for title, text in events]

    def _last_of_nodes(self, t: float) -> list[Outgoing]:
        """The nodes' last rows, the quiet ones, and the job's totals in the summary; the tail is then closed."""
        out = self._poll_nodes(final=True)
        if self.nodes is None:
            return out
        totals = self.nodes.summary()
        self.nodes.close()
        self.nodes = None
        return out + self._summary_item(totals, t)

    def _summary_item(self, values: dict[str, Any], t: float) -> list[Outgoing]:
        raise NotImplementedError

    def _poll_gpu(self) -> list[Outgoing]:
        """A system row (and throttle alerts) when the GPU sampler has new samples; every node's rows."""
        if self.nodes is not None:
            return self._poll_nodes()
        if self.gpu is None:
            return []
        from trackers.gpu_metrics import numeric_metrics

        try:
            samples = self.gpu.new_samples()
            if not samples:
                return []
            t = max(s.timestamp for s in samples)
            out = self._system_row(max(self.step, 0), t, numeric_metrics(samples))
            return out + [self._emit_alert(alert) for alert in self.alerts.check_gpus(samples, self.step)]
        except Exception as exc:  # noqa: BLE001 - a bad GPU reading must not stop the writer
            messages.warn("trackers", f"could not record GPU metrics ({type(exc).__name__}: {exc})",
                          key=f"gpu-{id(self)}")
            return []
