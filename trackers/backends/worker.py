"""One thread per backend, so a slow or hanging tracker never holds up the others.

Each worker owns a bounded queue. An operation that raises is retried
(``retries`` times, short back-off); if it still fails the backend is disabled
with ONE warning (``wandb disabled: …``) and that row and later ones are
counted as missed. Anything a backend raises counts, ``SystemExit`` included
(a tracker package that calls ``sys.exit`` on import). After ``finish`` a
backend may say how many of the rows it was given it could not store
(``lost_rows()``, e.g. Trackio when its folder is not writable): those count
as missed too, not as delivered.
A value the backend cannot store as it is (its ``limits``, a
:class:`trackers.values.Limits`: an integer beyond 64 bits, text that is not
UTF-8) is left out of what that backend gets, with one warning per key, and
counted in ``unstorable``; the journal keeps it, the other trackers get it.
When the queue is full the writer waits up to ``put_timeout`` seconds once; if
the backend still has not made room it is marked stalled and rows it cannot
take are counted (the journal still has them) until it catches up.
"""

from __future__ import annotations

import queue
import threading
import time
from typing import Any

from ktrack.messages import shown
from trackers._warn import warn
from trackers.backends import Backend, Context, Row
from trackers.console import tracker_thread
from trackers.values import storable

_STOP = object()


class Worker:
    """Feeds one backend from its own daemon thread."""

    def __init__(self, backend: Backend, ctx: Context, *, maxsize: int = 10000, retries: int = 2,
                 put_timeout: float = 5.0, backoff: float = 0.05) -> None:
        self.backend = backend
        self.name = getattr(backend, "name", type(backend).__name__)
        self.ctx = ctx
        self.retries = retries
        self.put_timeout = put_timeout
        self.backoff = backoff
        self.queue: queue.Queue = queue.Queue(maxsize=maxsize)
        self.enabled = True
        self.started = False
        self.delivered = 0
        self.missed = 0
        self.unstorable = 0  # values left out: the backend cannot store them
        self.unstorable_keys: set[str] = set()
        self.stalled = False
        self.error: str | None = None
        self._thread = threading.Thread(target=self._main, name=f"trackers-{self.name}", daemon=True)
        self._thread.start()
        self.queue.put(("start", ctx))

    # -- writer side -------------------------------------------------------
    def put(self, op: str, payload: Any) -> None:
        """Queue an operation; never blocks for long, never raises."""
        if not self.enabled:
            self.missed += op == "log"
            return
        if self.stalled and self.queue.qsize() < self.queue.maxsize // 2:
            self.stalled = False
        try:
            if self.stalled:
                self.queue.put_nowait((op, payload))
            else:
                self.queue.put((op, payload), timeout=self.put_timeout)
            return
        except queue.Full:
            pass
        self.missed += op == "log"
        if not self.stalled:
            self.stalled = True
            warn(f"{self.name} is not keeping up (queue of {self.queue.maxsize} full for {self.put_timeout:g}s); "
                 "rows it misses stay in the journal (python -m trackers replay)")

    def close(self, timeout: float) -> bool:
        """Ask the backend to finish; wait up to ``timeout`` s. True if it finished."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                self.queue.put(("finish", None), timeout=0.05)
                break
            except queue.Full:
                if time.monotonic() >= deadline:
                    break
        try:
            self.queue.put_nowait((_STOP, None))
        except queue.Full:
            pass
        self._thread.join(max(0.0, deadline - time.monotonic()))
        return not self._thread.is_alive()

    # -- worker thread -----------------------------------------------------
    def _main(self) -> None:
        tracker_thread()  # the tracker's own chatter stays off console.log
        try:
            self._serve()
        except BaseException as exc:  # noqa: BLE001 - report, never die silently
            self._disable(f"{type(exc).__name__}: {exc}")

    def _serve(self) -> None:
        while True:
            op, payload = self.queue.get()
            if op is _STOP:
                return
            if not self.enabled:
                continue
            if op == "log" and not self.started:
                self.missed += 1
                continue
            self._call(op, payload)
            if op == "finish":
                if self.enabled:
                    self._count_lost()
                self.enabled = False
                return

    def _storable(self, op: str, payload: Any) -> Any:
        """A row or summary without the values the backend cannot store (None when nothing is left)."""
        metrics = payload.metrics if op == "log" else payload
        kept, left = storable(metrics, getattr(self.backend, "limits", None))
        for key, why in left.items():
            self.unstorable += 1
            if key not in self.unstorable_keys:
                self.unstorable_keys.add(key)
                warn(f"{self.name} cannot store {key!r} = {shown(metrics[key])} ({why}); it is left out for "
                     f"{self.name} (the journal and the other trackers keep it)")
        if not left:
            return payload
        if not kept:
            return None
        return Row(payload.kind, payload.step, payload.time, kept) if op == "log" else kept

    def _call(self, op: str, payload: Any) -> None:
        from trackers.backends import MissingPackage

        if op in ("log", "summary"):
            payload = self._storable(op, payload)
            if payload is None:
                return
        fn = getattr(self.backend, op)
        for attempt in range(self.retries + 1):
            try:
                fn(payload) if op != "finish" else fn()
                if op == "start":
                    self.started = True
                elif op == "log":
                    self.delivered += 1
                return
            except MissingPackage as exc:
                self._disable(f"{exc}", missing=True)
                return
            except BaseException as exc:  # noqa: BLE001 - a tracker must never crash training, even by sys.exit
                if attempt >= self.retries or op == "finish" or not isinstance(exc, Exception):
                    self.missed += op == "log"
                    self._disable(f"{type(exc).__name__}: {exc}")
                    return
                time.sleep(self.backoff * (4 ** attempt))

    def _count_lost(self) -> None:
        lost_rows = getattr(self.backend, "lost_rows", None)
        if lost_rows is None:
            return
        try:
            lost = min(int(lost_rows()), self.delivered)
        except Exception as exc:  # noqa: BLE001 - a failed check must not hide the run's other results
            self.error = f"could not check what {self.name} stored ({type(exc).__name__}: {exc})"
            return
        if lost > 0:
            self.delivered -= lost
            self.missed += lost
            self.error = f"{self.name} did not store {lost} of the rows it was given"

    def _disable(self, reason: str, missing: bool = False) -> None:
        self.enabled = False
        self.error = reason
        if missing:
            warn(f"{self.name} is not installed ({reason}); not logging to it")
        else:
            warn(f"{self.name} disabled: {reason} (the journal keeps every metric; "
                 f"python -m trackers replay {self.ctx.run_dir} --to {self.name})")
        # drain what is queued so the writer never blocks on a dead backend
        try:
            while True:
                op, payload = self.queue.get_nowait()
                if op is _STOP or op == "finish":  # close() is waiting: keep its stop signal
                    self.queue.put_nowait((_STOP, None))
                    break
                self.missed += op == "log"
        except (queue.Empty, queue.Full):
            pass
