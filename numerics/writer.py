"""Incremental writer of the numerics table (a directory of parquet parts).

Every :meth:`TableWriter.flush` writes the buffered rows as one new part file
``part-<first step>-<n>.parquet`` (written to a temporary name, then renamed,
so a part is either complete or absent).  A crash therefore loses at most the
rows buffered since the last flush.  :meth:`close` compacts the parts into a
single ``data-*.parquet`` file; rows that end up in both (a crash between the
rename and the removal of the parts) are de-duplicated by the reader.

:class:`Background` runs the writes on one daemon thread, at most one job
in flight (a new job waits for the previous one), so a crash still loses at
most one flush while training goes on during the write.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import Any, Callable

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from numerics.schema import HIST_COLUMNS, META_COLUMNS, arrow_schema, part_files
from numerics.stats import COUNT_FIELDS, SCALAR_STATS


class TableWriter:
    """Buffer statistic rows and write them as parquet parts under ``path``."""

    def __init__(self, path: str | Path, histogram: bool = True) -> None:
        self.path = Path(path)
        self.histogram = histogram
        self.schema = arrow_schema(histogram)
        self._meta: list[tuple] = []
        self._values: list[np.ndarray] = []
        self._parts = 0
        self.rows_written = 0

    def add(self, meta: list[tuple], values: np.ndarray) -> None:
        """Buffer rows: ``meta`` tuples in META_COLUMNS order, ``values`` an
        array with one statistics row (numerics.stats layout) per tuple."""
        if len(meta):
            self._meta.extend(meta)
            self._values.append(np.asarray(values, dtype=np.float64).reshape(len(meta), -1))

    @property
    def pending(self) -> int:
        """Rows buffered and not yet on disk."""
        return len(self._meta)

    def _table(self) -> pa.Table:
        vals = np.concatenate(self._values, axis=0)
        cols: dict[str, pa.Array] = {}
        for i, name in enumerate(META_COLUMNS):
            cols[name] = pa.array([m[i] for m in self._meta], type=self.schema.field(name).type)
        j = 0
        for name in COUNT_FIELDS:
            cols[name] = pa.array(vals[:, j].astype(np.int64))
            j += 1
        for name in SCALAR_STATS:
            cols[name] = pa.array(vals[:, j])
            j += 1
        if self.histogram:
            counts = np.nan_to_num(vals[:, j:], nan=0.0).astype(np.int64)
            for k, name in enumerate(HIST_COLUMNS):
                cols[name] = pa.array(counts[:, k])
        return pa.table(cols, schema=self.schema)

    def flush(self) -> Path | None:
        """Write the buffered rows as one part file; returns its path."""
        if not self._meta:
            return None
        self.path.mkdir(parents=True, exist_ok=True)
        table = self._table()
        first = self._meta[0][0]
        name = f"part-{first:010d}-{os.getpid()}-{self._parts:05d}.parquet"
        self._parts += 1
        _atomic_write(table, self.path / name)
        self.rows_written += table.num_rows
        self._meta.clear()
        self._values.clear()
        return self.path / name

    def close(self, compact: bool = True) -> None:
        """Flush, then (``compact``) merge the part files into one file."""
        self.flush()
        if not compact:
            return
        parts = [p for p in part_files(self.path) if p.name.startswith("part-")]
        if len(parts) < 2:
            return
        olds = [p for p in part_files(self.path) if p.name.startswith("data-")]
        tables = [pq.read_table(p) for p in olds + parts]
        merged = pa.concat_tables(tables, promote_options="default")
        target = self.path / f"data-{os.getpid()}-{len(olds):03d}.parquet"
        _atomic_write(merged, target)
        for p in olds + parts:
            p.unlink(missing_ok=True)


def _atomic_write(table: pa.Table, path: Path) -> None:
    tmp = path.with_name(path.name + ".tmp")
    pq.write_table(table, tmp, compression="zstd")
    os.replace(tmp, path)


class Background:
    """One writer thread, at most one job queued or running.

    ``submit`` waits while the previous job is still running (so at most one
    flush is ever in flight), hands the job over and returns; ``close`` waits
    for it and ends the thread.  A failing job calls ``warn(key, message)``
    and never reaches the caller.  After ``close`` jobs run inline.
    """

    def __init__(self, warn: Callable[[str, str], None]) -> None:
        self._warn = warn
        self._free = threading.Semaphore(1)  # released when the job is done
        self._ready = threading.Event()
        self._job: tuple | None = None
        self._thread: threading.Thread | None = None
        self._closed = False

    def submit(self, fn: Callable[..., Any], *args: Any) -> None:
        """Run ``fn(*args)`` on the writer thread."""
        if self._closed:
            self._run(fn, args)
            return
        self._free.acquire()
        self._job = (fn, args)
        if self._thread is None:
            self._thread = threading.Thread(target=self._main, name="numerics-writer", daemon=True)
            self._thread.start()
        self._ready.set()

    def _run(self, fn: Callable[..., Any], args: tuple) -> None:
        try:
            fn(*args)
        except Exception as e:  # noqa: BLE001 - a failed write must never break training
            self._warn("write", f"writing the numerics table failed: {e}")

    def _main(self) -> None:
        while True:
            self._ready.wait()
            self._ready.clear()
            job, self._job = self._job, None
            if job is None:  # close()
                self._free.release()
                return
            self._run(*job)
            self._free.release()

    def wait(self) -> None:
        """Return when no job is in flight (at once after :meth:`close`)."""
        if not self._closed and self._thread is not None:
            self._free.acquire()
            self._free.release()

    def close(self) -> None:
        """Wait for the job in flight and stop the thread (idempotent)."""
        if self._closed:
            return
        self._closed = True
        if self._thread is not None:
            self._free.acquire()
            self._job = None
            self._ready.set()
            self._thread.join()
            self._thread = None
