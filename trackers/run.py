"""The :class:`Run`: a bounded hand-off queue, one writer thread, one worker per backend.

``log()`` validates keys, copies the dict and appends it to an in-memory
queue (bounded by ``queue_size``); it does no I/O. The writer thread sleeps
while nothing is logged; a row on an empty queue wakes it, and it gathers
rows for ``poll`` seconds into one batch: it converts values, adds GPU metrics,
appends the rows to the journal, hands them to the OS (the journal is the
write-ahead record), and only then gives them to every backend's worker.

When the queue is full, ``log()`` waits up to ``put_timeout`` seconds for
room; if there is still none, it writes the row straight to the journal
(nothing is lost) and counts it as not sent to the trackers, with one warning.
Storage trouble in the run folder (a full disk) never stops the trackers:
one warning says what is missing from the folder, and :meth:`Run.finish`
never raises.

Besides metric rows a run carries system metrics (GPU samples, its own or
every node's in a multi-node job) and alerts (rules checked on each row and
sample; journaled, printed once, sent to each tracker with an alert channel).

File layout: :class:`Run` -- its public API (``log``, ``summary``,
``log_system``, ``alert``, ``follow_nodes``, ``stop_requested``, ``finish``),
internals (finishing, the hand-off queue, the writer thread's loop), then the
writer thread's steps, each of which journals and returns what the backends
get (rows, system rows, alerts, the nodes' samples, summary); then the
process-exit hook that finishes every live run.
"""

from __future__ import annotations

import atexit
import collections
import signal
import threading
import time
import weakref
from pathlib import Path
from typing import TYPE_CHECKING, Any

from kconf.trackerspec import TRACKIO
from ktrack import messages
from ktrack.numbers import number
from trackers import backends as _backends
from trackers import provenance
from trackers._warn import warn
from trackers.alerts import AlertMonitor, make_alert
from trackers.backends import Alert, Context, Row, SystemRow
from trackers.backends.worker import Worker
from trackers.console import Capture
from ktrack.runfolder import JOURNAL, RunFolder
from rundata.journal import ALERT, ROW_TYPES, SYSTEM, logged_keys
from trackers.journal import Journal, write_json
from trackers.noop import NoOpRun
from trackers.record import RunRecord, json_safe, wandb_run_id
from trackers.run_lock import RunLock
from trackers.series import Series
from trackers.settings import RunSettings
from trackers.signals import FinishOnSignal
from trackers.values import check_key, check_metrics, check_step, next_step, plain

if TYPE_CHECKING:
    from trackers.gpu_metrics import GpuMetrics
    from trackers.nodes import NodeTail, NodeWriter

__all__ = ["NoOpRun", "Run", "Series"]

#: Longest sleep of an idle writer: a row that slipped past the wake-up waits at most this long.
_IDLE_WAIT = 1.0
#: What the writer hands to the backends once the journal has it: (operation, payload).
Outgoing = tuple[str, Any]


class Run:
    """One experiment run; create it with :func:`trackers.init`.

    Raises :class:`trackers.run_lock.RunInUse` (a ValueError) when another
    live process is logging to the same run folder.
    """

    def __init__(self, settings: RunSettings, *, queue_size: int = 10000, put_timeout: float = 10.0,
                 flush_interval: float = 1.0, poll: float = 0.02, finish_timeout: float = 60.0,
                 backend_queue_size: int = 10000, backend_put_timeout: float = 5.0, retries: int = 2,
                 capture_console: bool = True, handle_signals: bool = True, gpu_sampler: Any = None,
                 rewind_to: int | None = None) -> None:
        self.settings = settings
        self.project = settings.project
        self.name = settings.name
        self.dir = Path(settings.run_dir)
        self.config = settings.config
        self.step = -1  # last step logged; the next auto step is step + 1
        self.finished = False
        self.not_sent = 0  # rows journaled directly because the queue stayed full
        self.stopped_by: str | None = None  # the signal that stopped the process, when one did
        self.resent_skipped = 0  # rows (or their keys) of a resumed run that the journal already had
        self.refused = 0  # rows not logged because their step was bad (one warning, training goes on)
        self.skipped: set[str] = set()
        self._summary: dict[str, Any] = {}
        self._series_steps: dict[str, int] = {}
        self._queue: collections.deque = collections.deque()
        self._queue_size = queue_size
        self._put_timeout = put_timeout
        self._poll = poll
        self._finish_timeout = finish_timeout
        self._lock = threading.RLock()
        self._room = threading.Condition(threading.Lock())  # log() waits here while the queue is full
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._storage_failed = False

        try:
            self.dir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            self._storage_warning(self.dir, exc, "nothing of this run is kept in its folder")
        self._run_lock = RunLock.acquire(self.dir, f"run {self.name!r} of project {self.project!r}")
        self._journaled: dict[tuple[str, int], set[str]] = {}
        if settings.resume in ("allow", "must"):
            try:
                self._journaled = logged_keys(self.dir)
            except OSError as exc:
                warn(f"could not read the journal of the resumed run ({exc}); steps it has may be sent again")
            self.step = max((step for kind, step in self._journaled if kind == "log"), default=-1)
        # a resume from the checkpoint at step rewind_to after later steps were logged: those rows belong to a
        # trajectory thrown away; the steps re-run replace them in the journal, Trackio and TensorBoard
        self.rewound_to = rewind_to if rewind_to is not None and self.step > rewind_to else None
        if self.rewound_to is not None:
            to = self.rewound_to
            self._journaled = {k: v for k, v in self._journaled.items() if k[0] != "log" or k[1] <= to}
            self.step = to
        self._journaled_max = max((step for _, step in self._journaled), default=-1)
        self.journal = Journal(self.dir, flush_interval=flush_interval, on_error=self._journal_failed)
        if self.rewound_to is not None:
            self.journal.write_rewind(self.rewound_to, time.time())
        self._console = Capture(RunFolder(self.dir).console_log) if capture_console else None
        if self._console:
            self._console.start()
        origin = provenance.collect(self.dir)
        if origin.get("run_dir_filesystem"):
            warn(f"the run folder {self.dir} is on {origin['run_dir_filesystem']}: each file there has one writer "
                 "(the journal: rank 0; nodes/<node>/gpu.jsonl: that node), rank 0 reads the nodes' files by polling, "
                 "and no SQLite database is kept there", key="run-dir-network-fs")
        self.record = RunRecord(self.dir, project=self.project, run=self.name, trackers=list(settings.trackers),
                                config=self.config, provenance=origin, resume=bool(settings.resume),
                                rewound_to=self.rewound_to)
        self.previous_summary = self.record.previous_summary  # end-of-run values of the parts before a resume
        self.ctx = Context(project=self.project, name=self.name, config=self.config, run_dir=self.dir,
                           resume=settings.resume, wandb_entity=settings.wandb_entity,
                           wandb_offline=settings.wandb_offline, group=settings.group,
                           trackio_space_id=settings.trackio_space_id,
                           trackio_dataset_id=settings.trackio_dataset_id,
                           trackio_webhook_url=settings.trackio_webhook_url, provenance=origin,
                           info=dict(self.record.previous_backends), rewind=self.rewound_to)
        self._plan_backend_ids()
        self._write_config()
        self.alerts = AlertMonitor(settings.alerts)
        self.gpu: GpuMetrics | None = None
        self.nodes: NodeTail | None = None  # every node's GPU samples (a multi-node job's rank 0)
        self.node_writer: NodeWriter | None = None
        if settings.log_gpu or gpu_sampler is not None:
            from trackers.gpu_metrics import GpuMetrics

            self.gpu = GpuMetrics(settings.gpu_interval, settings.gpu_history, settings.gpu_backends, gpu_sampler)
        self.workers: list[Worker] = []
        for name in settings.trackers:
            backend = _backends.create(name)
            if backend is not None:
                self.workers.append(Worker(backend, self.ctx, maxsize=backend_queue_size, retries=retries,
                                           put_timeout=backend_put_timeout))
        self._ids_pending = bool(self.workers)  # config.json is written again once every tracker has started
        if self.previous_summary:  # a resumed run's summary covers the parts before it too
            self._put(("summary", None, time.time(), dict(self.previous_summary)))
        self._writer = threading.Thread(target=self._writer_main, name="trackers-writer", daemon=True)
        self._writer.start()
        self._signals = FinishOnSignal(self.finish, self._note_stop)
        if handle_signals:
            self._signals.install()
        _live.add(self)

    # -- public API ----------------------------------------------------------
    @property
    def trackers(self) -> list[str]:
        """Names of the backends still receiving rows."""
        return [w.name for w in self.workers if w.enabled]

    def log(self, metrics: dict[str, Any], step: int | None = None) -> None:
        """Record ``metrics`` at ``step`` (default: last step + 1); returns at once.

        Raises ValueError for a bad metric name. A bad step (not an int, < 0,
        beyond 2**63-1, which no tracker stores) is one warning and the row is
        not logged; training goes on, and :meth:`finish` says how many rows that was.
        """
        metrics = check_metrics(metrics)
        if self.finished:
            warn("log() after finish() is ignored; call trackers.init() for a new run", key=f"closed-{id(self)}")
            return
        try:
            step = check_step(step)
            if step is None:
                step = next_step(self.step)
        except ValueError as exc:
            self._refuse(exc)
            return
        if step > self.step:
            self.step = step
        self._put(("log", step, time.time(), metrics))

    def summary(self, values: dict[str, Any]) -> None:
        """Record final single values (best_val_loss, total_time_s, ...); written to summary.json."""
        values = check_metrics(values)
        self._put(("summary", None, time.time(), values))

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

    def __setitem__(self, key: str, value: Any) -> None:
        self.summary({check_key(key): value})

    def __getitem__(self, key: str) -> Series:
        return Series(self, check_key(key))

    def __enter__(self) -> "Run":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.finish()

    def finish(self, timeout: float | None = None) -> None:
        """Deliver everything queued, close every backend, write summary.json; idempotent; never raises.

        Waits at most ``timeout`` seconds (default ``finish_timeout``) for the
        backends; one that has not finished by then is reported and left behind.
        """
        with self._lock:
            if self.finished:
                return
            self.finished = True
        try:
            self._finish(self._finish_timeout if timeout is None else timeout)
        except Exception as exc:  # noqa: BLE001 - finish() runs at exit and from signal handlers: never raise
            warn(f"the run did not finish cleanly ({type(exc).__name__}: {exc}); the journal in {self.dir} "
                 "has what was recorded", key=f"finish-{id(self)}")
        finally:
            _live.discard(self)

    # -- internals -----------------------------------------------------------
    def _note_stop(self, signum: int) -> None:
        self.stopped_by = signal.Signals(signum).name

    def _plan_backend_ids(self) -> None:
        """Put the W&B run id and the Trackio run in config.json before any tracker starts.

        A run killed at any moment, even before W&B has started, is then
        replayed into the same W&B run (``python -m trackers replay``).
        """
        info = self.ctx.info
        if "wandb" in self.settings.trackers and not (info.get("wandb") or {}).get("id"):
            info["wandb"] = {**(info.get("wandb") or {}), "id": wandb_run_id(self.record.data)}
        if "trackio" in self.settings.trackers:
            info.setdefault("trackio", {"project": self.project, "run": self.name})

    def _finish(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        gpu_summary = self.gpu.final_summary() if self.gpu is not None else {}
        if gpu_summary:
            self._put(("summary", None, time.time(), gpu_summary))
        if self.nodes is not None:
            self._finish_nodes()
        self._stop.set()
        self._wake.set()
        self._writer.join(timeout)
        if self._writer.is_alive():
            warn(f"the tracking writer did not finish within {timeout:g}s; the journal in {self.dir} has what "
                 "it wrote", key=f"writer-stuck-{id(self)}")
        # before waiting on the trackers: a process ended meanwhile (a job's launcher stopping it) keeps its totals
        try:
            write_json(RunFolder(self.dir).summary, {k: json_safe(v) for k, v in self._summary.items()})
        except OSError as exc:
            self._storage_warning(RunFolder(self.dir).summary, exc, "the summary is only in the trackers")
        missed_by: dict[str, int] = {}
        for w in self.workers:
            if not w.close(max(0.1, deadline - time.monotonic())):
                missed_by[w.name] = w.missed + sum(op == "log" for op, _ in list(w.queue.queue))
                warn(f"{w.name} did not finish within {timeout:g}s; rows it had not written are in the journal "
                     f"(python -m trackers replay {self.dir} --to {w.name})")
                continue
            missed = w.missed + self.not_sent
            if missed:
                missed_by[w.name] = missed
                warn(f"{w.name} missed {missed} of {w.delivered + missed} rows; "
                     f"python -m trackers replay {self.dir} --to {w.name}")
            if w.unstorable:
                keys = sorted(w.unstorable_keys)
                shown_keys = ", ".join(keys[:5]) + (f" and {len(keys) - 5} more" if len(keys) > 5 else "")
                warn(f"{w.name} could not store {w.unstorable} value(s) ({shown_keys}); "
                     f"they are in the journal {self.journal.path}")
        if self.refused:
            warn(f"{self.refused} row(s) were not logged because their step was bad")
        self.record.end(self.stopped_by, missed_by)
        if self.gpu is not None:
            self.gpu.stop()
        self._write_config()
        self.journal.close()
        if self._console:
            self._console.stop()
        self._signals.restore()
        if self._run_lock is not None:
            self._run_lock.release()

    def _finish_nodes(self) -> None:
        """Close this node's file, then have the writer read every node's last lines and add the job's totals."""
        if self.node_writer is not None:
            self.node_writer.close()
        self._put(("nodes", None, time.time(), {}))

    def _refuse(self, exc: ValueError) -> None:
        """A row with a bad step: counted, one warning per run; training goes on."""
        self.refused += 1
        warn(f"{exc}; that row is not logged (training goes on)", key=f"step-{id(self)}")

    def _log_series(self, key: str, value: Any, step: int | None) -> None:
        check_metrics({key: value})
        if self.finished:
            return
        with self._lock:
            try:
                step = check_step(step)
                if step is None:
                    step = next_step(self._series_steps.get(key, -1))
            except ValueError as exc:
                self._refuse(exc)
                return
            self._series_steps[key] = max(step, self._series_steps.get(key, -1))
        self._put(("series", step, time.time(), {key: value}))

    def _put(self, item: tuple) -> None:
        q = self._queue
        if len(q) < self._queue_size:
            q.append(item)
            if len(q) == 1:
                self._wake.set()
            return
        self._wake.set()
        with self._room:
            self._room.wait_for(lambda: len(q) < self._queue_size or not self._writer.is_alive(),
                                timeout=self._put_timeout)
        if len(q) < self._queue_size:
            q.append(item)
            return
        self.not_sent += 1
        warn(f"log queue full for {self._put_timeout:g}s; rows are written to the journal only "
             f"(replay them with python -m trackers replay {self.dir})", key=f"full-{id(self)}")
        try:
            self._record(item)
            self.journal.flush()
        except Exception as exc:  # noqa: BLE001 - log() must never raise for a value it already accepted
            warn(f"could not record a row ({type(exc).__name__}: {exc})", key=f"writer-{id(self)}")

    def _writer_main(self) -> None:
        while True:
            try:
                self._writer_loop()
                return
            except Exception as exc:  # noqa: BLE001 - the writer must never die: it feeds every backend
                warn(f"the tracking writer hit an error ({type(exc).__name__}: {exc}); it goes on",
                     key=f"writer-loop-{id(self)}")

    def _writer_loop(self) -> None:
        q = self._queue
        while True:
            stopping = self._stop.is_set()
            self._wake.clear()  # before draining: a row put from now on sets it again
            ready: list[Outgoing] = []
            while q:
                try:
                    ready += self._record(q.popleft())
                except Exception as exc:  # noqa: BLE001 - one bad row must not stop the others
                    warn(f"could not record a row ({type(exc).__name__}: {exc})", key=f"writer-{id(self)}")
            ready += self._poll_gpu()
            if self._room.acquire(timeout=0.05):  # bounded: finish() may run in a signal handler of log()'s thread
                try:
                    self._room.notify_all()
                finally:
                    self._room.release()
            self.journal.flush()  # write-ahead: the rows reach the OS before any backend gets them
            for op, payload in ready:
                self._fan_out(op, payload)
            if self._ids_pending and all(w.started or not w.enabled for w in self.workers):
                self._ids_pending = False
                self._write_config()  # where each tracker wrote (W&B's folder), as soon as it is known
            if stopping:
                return
            if not q:
                self._wake.wait(_IDLE_WAIT)  # asleep while training logs nothing; a row on an empty queue wakes it
            self._stop.wait(self._poll)  # gather rows for a batch: one journal write, one hand-off per batch

    def _record(self, item: tuple) -> list[Outgoing]:
        """Journal one queued item; return what goes to the backends, as (op, payload) pairs."""
        kind, step, t, raw = item
        if kind == "alert":
            return [self._emit_alert(raw)]
        if kind == "nodes":
            return self._last_of_nodes(t)
        values, skipped = plain(raw)
        for key, why in skipped.items():
            if key not in self.skipped:
                self.skipped.add(key)
                warn(f"{key!r} {why}; not logged")
        if kind == "summary":
            return self._summary_item(values, t)
        if kind == "system":
            return self._system_row(step, t, values)
        if kind in ROW_TYPES and step <= self._journaled_max:
            values = self._not_journaled(kind, step, values)
        if kind == "log" and values and self.gpu is not None and self.settings.gpu_step_keys:
            for k, v in self.gpu.step_metrics().items():
                values.setdefault(k, v)
        if not values:
            return []
        self.journal.write(kind, step, t, values)
        if kind not in ROW_TYPES:
            return [(kind, Row(kind, step, t, values))]  # another channel: the backend method of that name
        out: list[Outgoing] = [("log", Row(kind, step, t, values))]
        if kind == "log":
            out += self._check_row(step, values)
        return out

    def _summary_item(self, values: dict[str, Any], t: float) -> list[Outgoing]:
        self._summary.update(values)
        self.journal.write_summary(values, t)
        return [("summary", values)]

    # -- writer thread: each method journals, then returns what the backends get ----------
    def _fan_out(self, op: str, payload: Any) -> None:
        for w in self.workers:
            if op in ("log", "summary") or hasattr(w.backend, op):
                w.put(op, payload)

    def _system_row(self, step: int, t: float, values: dict[str, Any]) -> list[Outgoing]:
        numbers = {k: n for k, v in values.items() if (n := number(v)) is not None}
        if not numbers:
            return []
        self.journal.write(SYSTEM, step, t, numbers)
        return [("log_system", SystemRow(t, step, numbers))]

    def _emit_alert(self, alert: Alert) -> Outgoing:
        """Journal and print once (Trackio prints the alerts it gets itself)."""
        self.journal.write(ALERT, alert.step, alert.time,
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

    def _not_journaled(self, kind: str, step: int, values: dict[str, Any]) -> dict[str, Any]:
        """A resumed run: drop the keys the journal already has at this step (sent before the restart)."""
        have = self._journaled.get((kind, step))
        if not have:
            return values
        fresh = {k: v for k, v in values.items() if k not in have}
        if len(fresh) < len(values):
            self.resent_skipped += 1
        return fresh

    def _journal_failed(self, exc: OSError, lost_from: int | None) -> None:
        lost = (f"{JOURNAL} has no rows from step {lost_from} on" if lost_from is not None
                else f"{JOURNAL} may miss its last rows")
        self._storage_warning(self.journal.path, exc, lost)

    def _storage_warning(self, path: Path, exc: OSError, lost: str) -> None:
        """ONE warning per run for storage trouble in the run folder (a full disk fails every file there)."""
        if self._storage_failed:
            return
        self._storage_failed = True
        trackers = [w.name for w in getattr(self, "workers", [])] or list(self.settings.trackers)
        still = f"; trackers that store elsewhere ({', '.join(trackers)}) still get every row" if trackers else ""
        warn(f"could not write {path} ({exc.strerror or exc}): {lost}, and later files of the run folder "
             f"(summary.json, config.json) may be missing{still}")

    def _write_config(self) -> None:
        try:
            self.record.write(dict(self.ctx.info))
        except OSError as exc:
            self._storage_warning(RunFolder(self.dir).config_json, exc,
                                  "the run's configuration is only in the trackers")


_live: "weakref.WeakSet[Run]" = weakref.WeakSet()


def _finish_all() -> None:
    for run in list(_live):
        try:
            run.finish()
        except Exception:  # noqa: BLE001 - exit hook: nothing may escape
            pass


# Runs finish before the trackers' own exit hooks (wandb registers atexit
# handlers that would otherwise tear its service down first): threading's
# exit callbacks run before atexit's.
try:
    threading._register_atexit(_finish_all)  # type: ignore[attr-defined]
except Exception:  # noqa: BLE001 # pragma: no cover - other interpreters lack the private hook
    atexit.register(_finish_all)
