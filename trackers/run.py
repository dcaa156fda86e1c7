"""The :class:`Run`: a bounded hand-off queue, one writer thread, one worker per backend.

``log()`` validates keys, copies the dict and appends it to an in-memory
queue (bounded by ``queue_size``); it does no I/O. The writer thread drains
the queue every ``poll`` seconds: it converts values, adds GPU metrics, writes
the journal and hands each row to every backend's worker.

When the queue is full, ``log()`` waits up to ``put_timeout`` seconds for
room; if there is still none, it writes the row straight to the journal
(nothing is lost) and counts it as not sent to the trackers, with one warning.
"""

from __future__ import annotations

import atexit
import collections
import os
import signal
import threading
import time
import weakref
from pathlib import Path
from typing import Any

from trackers import backends as _backends
from trackers import provenance
from trackers._warn import warn, warn_once
from trackers.alerts import AlertMonitor
from trackers.backends import Context, Row
from trackers.channels import RunChannels
from trackers.backends.worker import Worker
from trackers.console import Capture
from trackers.journal import CONFIG, SUMMARY, Journal, write_json
from trackers.record import RunRecord, json_safe
from trackers.settings import Settings
from trackers.values import check_key, check_metrics, check_step, plain

_SIGNALS = (signal.SIGINT, signal.SIGTERM)


class Series:
    """``run["loss/train"]``: ``.log(v)`` appends to the series, own step counter."""

    def __init__(self, run: "Run", key: str) -> None:
        self._run = run
        self.key = key

    def log(self, value: Any, step: int | None = None) -> None:
        """Append ``value`` (timestamped); ``step`` defaults to this series' next index."""
        self._run._log_series(self.key, value, step)

    def assign(self, value: Any) -> None:
        """Same as ``run[key] = value``."""
        self._run[self.key] = value


class Run(RunChannels):
    """One experiment run; create it with :func:`trackers.init`."""

    def __init__(self, settings: Settings, *, queue_size: int = 10000, put_timeout: float = 10.0,
                 flush_interval: float = 1.0, poll: float = 0.02, finish_timeout: float = 60.0,
                 backend_queue_size: int = 10000, backend_put_timeout: float = 5.0, retries: int = 2,
                 capture_console: bool = True, handle_signals: bool = True, gpu_sampler: Any = None) -> None:
        self.settings = settings
        self.project = settings.project
        self.name = settings.name
        self.dir = Path(settings.run_dir)
        self.config = settings.config
        self.step = -1  # last step logged; the next auto step is step + 1
        self.finished = False
        self.not_sent = 0  # rows journaled directly because the queue stayed full
        self.skipped: set[str] = set()
        self._summary: dict[str, Any] = {}
        self._series_steps: dict[str, int] = {}
        self._queue: collections.deque = collections.deque()
        self._queue_size = queue_size
        self._put_timeout = put_timeout
        self._poll = poll
        self._finish_timeout = finish_timeout
        self._lock = threading.RLock()
        self._stop = threading.Event()
        self._wake = threading.Event()

        self.dir.mkdir(parents=True, exist_ok=True)
        self.journal = Journal(self.dir, flush_interval=flush_interval)
        self._console = Capture(self.dir / "console.log") if capture_console else None
        if self._console:
            self._console.start()
        origin = provenance.collect(self.dir)
        self.record = RunRecord(self.dir, project=self.project, run=self.name, trackers=list(settings.trackers),
                                config=self.config, provenance=origin, resume=bool(settings.resume))
        self.previous_summary = self.record.previous_summary  # end-of-run values of the parts before a resume
        self.ctx = Context(project=self.project, name=self.name, config=self.config, run_dir=self.dir,
                           resume=settings.resume, wandb_entity=settings.wandb_entity,
                           wandb_offline=settings.wandb_offline, group=settings.group,
                           trackio_space_id=settings.trackio_space_id,
                           trackio_dataset_id=settings.trackio_dataset_id,
                           trackio_webhook_url=settings.trackio_webhook_url, provenance=origin,
                           info=dict(self.record.previous_backends))
        self._write_config()
        self.alerts = AlertMonitor(settings.alerts)
        self.gpu = None
        if settings.log_gpu or gpu_sampler is not None:
            from trackers.gpu_metrics import GpuMetrics

            self.gpu = GpuMetrics(settings.gpu_interval, settings.gpu_history, settings.gpu_backends, gpu_sampler)
        self.workers: list[Worker] = []
        for name in settings.trackers:
            backend = _backends.create(name)
            if backend is not None:
                self.workers.append(Worker(backend, self.ctx, maxsize=backend_queue_size, retries=retries,
                                           put_timeout=backend_put_timeout))
        if self.previous_summary:  # a resumed run's summary covers the parts before it too
            self._put(("summary", None, time.time(), dict(self.previous_summary)))
        self._writer = threading.Thread(target=self._writer_main, name="trackers-writer", daemon=True)
        self._writer.start()
        self._prev_handlers: dict[int, Any] = {}
        if handle_signals:
            self._install_signals()
        _live.add(self)

    # -- public API ----------------------------------------------------------
    @property
    def trackers(self) -> list[str]:
        """Names of the backends still receiving rows."""
        return [w.name for w in self.workers if w.enabled]

    def log(self, metrics: dict[str, Any], step: int | None = None) -> None:
        """Record ``metrics`` at ``step`` (default: last step + 1); returns at once."""
        metrics = check_metrics(metrics)
        step = check_step(step)
        if self.finished:
            warn_once(f"closed-{id(self)}", "log() after finish() is ignored; call trackers.init() for a new run")
            return
        if step is None:
            step = self.step + 1
        if step > self.step:
            self.step = step
        self._put(("log", step, time.time(), metrics))

    def summary(self, values: dict[str, Any]) -> None:
        """Record final single values (best_val_loss, total_time_s, ...); written to summary.json."""
        values = check_metrics(values)
        self._put(("summary", None, time.time(), values))

    def __setitem__(self, key: str, value: Any) -> None:
        self.summary({check_key(key): value})

    def __getitem__(self, key: str) -> Series:
        return Series(self, check_key(key))

    def __enter__(self) -> "Run":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.finish()

    def finish(self, timeout: float | None = None) -> None:
        """Deliver everything queued, close every backend, write summary.json; idempotent.

        Waits at most ``timeout`` seconds (default ``finish_timeout``) for the
        backends; one that has not finished by then is reported and left behind.
        """
        with self._lock:
            if self.finished:
                return
            self.finished = True
        timeout = self._finish_timeout if timeout is None else timeout
        gpu_summary = self.gpu.final_summary() if self.gpu is not None else {}
        if gpu_summary:
            self._put(("summary", None, time.time(), gpu_summary))
        self._stop.set()
        self._wake.set()
        self._writer.join()
        deadline = time.monotonic() + timeout
        for w in self.workers:
            if not w.close(max(0.1, deadline - time.monotonic())):
                warn(f"{w.name} did not finish within {timeout:g}s; rows it had not written are in the journal "
                     f"(python -m trackers replay {self.dir} --to {w.name})")
            elif w.missed:
                warn(f"{w.name} missed {w.missed} rows; python -m trackers replay {self.dir} --to {w.name}")
        if self.gpu is not None:
            self.gpu.stop()
        write_json(self.dir / SUMMARY, {k: json_safe(v) for k, v in self._summary.items()})
        self._write_config()
        self.journal.close()
        if self._console:
            self._console.stop()
        self._restore_signals()
        _live.discard(self)

    # -- internals -----------------------------------------------------------
    def _log_series(self, key: str, value: Any, step: int | None) -> None:
        check_metrics({key: value})
        step = check_step(step)
        if self.finished:
            return
        with self._lock:
            if step is None:
                step = self._series_steps.get(key, -1) + 1
            self._series_steps[key] = max(step, self._series_steps.get(key, -1))
        self._put(("series", step, time.time(), {key: value}))

    def _put(self, item: tuple) -> None:
        q = self._queue
        if len(q) < self._queue_size:
            q.append(item)
            return
        self._wake.set()
        deadline = time.monotonic() + self._put_timeout
        while len(q) >= self._queue_size and time.monotonic() < deadline and self._writer.is_alive():
            time.sleep(0.001)
        if len(q) < self._queue_size:
            q.append(item)
            return
        self.not_sent += 1
        warn_once(f"full-{id(self)}", f"log queue full for {self._put_timeout:g}s; rows are written to the journal "
                  "only (replay them with python -m trackers replay)")
        self._process(item, fan_out=False)

    def _writer_main(self) -> None:
        q = self._queue
        while True:
            stopping = self._stop.is_set()
            while q:
                try:
                    self._process(q.popleft())
                except Exception as exc:  # noqa: BLE001 - never die: the journal must keep going
                    warn_once(f"writer-{id(self)}", f"could not record a row ({type(exc).__name__}: {exc})")
            self._poll_gpu()
            if stopping:
                self.journal.flush()
                return
            if self._due_flush():
                self.journal.flush()
            self._wake.wait(self._poll)
            self._wake.clear()

    def _due_flush(self) -> bool:
        return time.monotonic() - self.journal._last_flush >= self.journal.flush_interval

    def _process(self, item: tuple, fan_out: bool = True) -> None:
        kind, step, t, raw = item
        if kind == "alert":
            return self._emit_alert(raw, fan_out)
        values, skipped = plain(raw)
        for key in skipped:
            if key not in self.skipped:
                self.skipped.add(key)
                warn(f"{key!r} is not a scalar (tensor/array with more than one element); not logged")
        payload: Any
        if kind == "summary":
            self._summary.update(values)
            self.journal.write_summary(values, t)
            op, payload = "summary", values
        elif kind == "system":
            return self._system_row(step, t, values, fan_out)
        else:
            if kind == "log" and self.gpu is not None and self.settings.gpu_step_keys:
                for k, v in self.gpu.step_metrics().items():
                    values.setdefault(k, v)
            if not values:
                return
            self.journal.write(kind, step, t, values)
            op, payload = "log", Row(kind, step, t, values)
        if fan_out:
            self._fan_out(op, payload)
        if kind == "log":
            self._check_row(step, values, fan_out)

    def _write_config(self) -> None:
        try:
            self.record.write(dict(self.ctx.info))
        except OSError as exc:
            warn(f"could not write {self.dir / CONFIG}: {exc}")

    def _install_signals(self) -> None:
        if threading.current_thread() is not threading.main_thread():
            return
        for sig in _SIGNALS:
            try:
                self._prev_handlers[sig] = signal.getsignal(sig)
                signal.signal(sig, self._on_signal)
            except (ValueError, OSError):
                pass

    def _restore_signals(self) -> None:
        if threading.current_thread() is not threading.main_thread():
            return
        for sig, prev in self._prev_handlers.items():
            try:
                if signal.getsignal(sig) == self._on_signal:
                    signal.signal(sig, prev if prev is not None else signal.SIG_DFL)
            except (ValueError, OSError, TypeError):
                pass
        self._prev_handlers.clear()

    def _on_signal(self, signum: int, frame: Any) -> None:
        prev = self._prev_handlers.get(signum, signal.SIG_DFL)
        self.finish()
        if callable(prev):
            prev(signum, frame)
        elif prev != signal.SIG_IGN:
            signal.signal(signum, signal.SIG_DFL)
            os.kill(os.getpid(), signum)


class NoOpRun:
    """What ranks other than 0 get: the same API, doing nothing."""

    def __init__(self, project: str = "", name: str = "", run_dir: Path | None = None) -> None:
        self.project, self.name, self.dir, self.step, self.finished = project, name, run_dir, -1, False
        self.trackers: list[str] = []
        self.config: dict[str, Any] = {}
        self.previous_summary: dict[str, Any] = {}
        self.stop_requested = False  # rank 0 decides; see Run.stop_requested

    def log(self, metrics: dict[str, Any], step: int | None = None) -> None:
        """Check arguments like :meth:`Run.log`, then drop them."""
        check_metrics(metrics)
        step = check_step(step)
        self.step = self.step + 1 if step is None else max(step, self.step)

    def summary(self, values: dict[str, Any]) -> None:
        """Nothing."""

    def log_system(self, metrics: dict[str, Any], timestamp: float | None = None) -> None:
        """Nothing."""

    def alert(self, title: str, text: str, level: str = "WARN") -> None:
        """Nothing."""

    def __setitem__(self, key: str, value: Any) -> None:
        check_key(key)

    def __getitem__(self, key: str) -> Series:
        return Series(self, check_key(key))  # type: ignore[arg-type]

    def _log_series(self, key: str, value: Any, step: int | None) -> None:
        pass

    def finish(self, timeout: float | None = None) -> None:
        """Nothing."""
        self.finished = True

    def __enter__(self) -> "NoOpRun":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.finish()


_live: "weakref.WeakSet[Run]" = weakref.WeakSet()


def _finish_all() -> None:
    for run in list(_live):
        try:
            run.finish()
        except Exception:  # noqa: BLE001
            pass


# Runs finish before the trackers' own exit hooks (wandb registers atexit
# handlers that would otherwise tear its service down first): threading's
# exit callbacks run before atexit's.
try:
    threading._register_atexit(_finish_all)  # type: ignore[attr-defined]
except Exception:  # pragma: no cover - other interpreters
    atexit.register(_finish_all)
