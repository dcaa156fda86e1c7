"""The workspace's data: a project's runs and the traces of the selected ones.

:meth:`Source.tick` costs one query when nothing was written; otherwise one
scan of the new rows (runs pane counts, and the metrics of the runs shown,
decoded once and folded into every metric).  A run behind by more (the rows
written while the first screen was read, a burst) reads at most
``CATCHUP_ROWS`` rows a tick, oldest first, the rest on the next ticks.
"""
from __future__ import annotations

import json
import os
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from ktrack.runfolder import RunFolder, read_json
from viewer import keys as keynames
from rundata.store import Project, Raw, RunInfo, StoreError, decode, iso_seconds
from viewer.workspace.trace import RunTrace, extract

# A metric's history is read whole for runs up to FULL_ROWS rows; longer runs are read as
# every k-th row (about SAMPLE_ROWS) plus their newest TAIL_ROWS rows.  Rows written
# while the workspace is open are all read.
FULL_ROWS, SAMPLE_ROWS, TAIL_ROWS, CHUNK = 2000, 1000, 600, 5000
# A tick folds in at most CATCHUP_ROWS new rows per run (oldest first); a run written
# faster, or the rows written while the first screen was read, follow on the next ticks.
CATCHUP_ROWS = 1500
RUNNING_S = 60.0


#: System-metrics rows the system pane reads: a row per node per sample, enough for this many nodes.
SYSTEM_ROWS = 64


def slurm_label(run_dir: Path) -> str:
    """``Slurm 4240_2 on gpu[01-02]`` from the run's ``config.json`` provenance ("" outside Slurm or unreadable).

    Read once per run, when the runs pane first sees it (the file is written before the first row).
    """
    origin = read_json(RunFolder(run_dir).config_json).get("provenance")
    if not isinstance(origin, dict) or not origin.get("slurm_job_id"):
        return ""
    array, task = origin.get("slurm_array_job_id"), origin.get("slurm_array_task_id")
    job = f"{array}_{task}" if array and task is not None else str(origin["slurm_job_id"])
    nodes = origin.get("slurm_nodelist")
    return f"Slurm {job}" + (f" on {nodes}" if nodes else "")


def _age_s(stamp: str) -> float | None:
    try:
        t = datetime.fromisoformat(stamp)
    except (TypeError, ValueError):
        return None
    if t.tzinfo is not None:
        return (datetime.now(timezone.utc) - t).total_seconds()
    local, utc = datetime.now(), datetime.now(timezone.utc).replace(tzinfo=None)
    return min(abs((local - t).total_seconds()), abs((utc - t).total_seconds()))


def loss_of(d: dict[str, Any]) -> float | None:
    """The loss in one decoded row (the key spellings of ``viewer.keys``)."""
    for k in keynames.ALIASES["loss"]:
        v = d.get(k)
        if isinstance(v, (int, float)):
            return float(v)
    return None


class Source:
    """Runs of one project and a :class:`RunTrace` for each run asked for."""

    def __init__(self, project: Project, runs_dir: Path) -> None:
        self.project, self.runs_dir = project, runs_dir
        self.runs: dict[str, RunInfo] = {}
        self.traces: dict[str, RunTrace] = {}
        self.seen = 0
        self.generation = project.generation
        self.queries = 0
        self.error = ""

    # -- runs --------------------------------------------------------------------------------
    def ordered(self) -> list[RunInfo]:
        """Runs, newest first (by their newest row)."""
        return sorted(self.runs.values(), key=lambda r: r.last_id, reverse=True)

    def run_dir(self, run: RunInfo) -> Path:
        """The run's folder under ``--runs`` (journal, console.log, summary.json)."""
        folder = getattr(self.project, "folder", None)
        if folder is not None:
            return Path(folder) / run.run_id
        return self.runs_dir / self.project.name / run.name

    def _status(self, run: RunInfo) -> str:
        if RunFolder(self.run_dir(run)).summary.is_file():
            return "finished"
        age = _age_s(run.last_update)
        return "running" if age is not None and age < RUNNING_S else "stopped"

    def _merge(self, counts: dict[str, RunInfo], fresh: bool) -> list[str]:
        changed = []
        for rid, rc in counts.items():
            old = self.runs.get(rid)
            if old is None or fresh:
                row = self.runs[rid] = rc
                row.extra["slurm"] = slurm_label(self.run_dir(row))
            else:
                old.rows += rc.rows
                old.last_step = rc.last_step if old.last_step is None else max(old.last_step, rc.last_step or 0)
                old.last_id, old.last_update, old.name = rc.last_id, rc.last_update, rc.name or old.name
            changed.append(rid)
        return changed

    def _latest_loss(self, run: RunInfo) -> None:
        trace = self.traces.get(run.run_id)
        if trace is not None:
            for k in keynames.ALIASES["loss"]:
                pt = trace.latest(k)
                if pt is not None:
                    run.loss = pt[1]
                    return
        pr = self.project
        self.queries += 1
        for raw in pr.newest(run.run_id, 10):
            v = loss_of(decode(raw))
            if v is not None:
                run.loss = v
                return

    # -- ticks -------------------------------------------------------------------------------
    def tick(self, wanted: list[str], keys: list[str] | tuple[str, ...] = ()) -> bool:
        """Read what was written since the last tick for the runs pane and, for the runs in
        ``wanted``, the metrics in ``keys`` (reading the history of those not read yet);
        True when anything changed."""
        pr = self.project
        try:
            with pr.snapshot():
                return self._tick(wanted, list(keys))
        except StoreError as exc:
            self.error = str(exc)
            return False

    def _tick(self, wanted: list[str], keys: list[str]) -> bool:
        pr = self.project
        top = pr.max_id()
        self.queries += 1
        if pr.generation != self.generation or top < self.seen:
            self.generation, self.seen = pr.generation, 0
            self.runs.clear()
            self.traces.clear()
        changed: list[str] = []
        fresh: dict[str, list[Raw]] = {}
        picked: list[str] = []
        if top != self.seen:
            if self.seen and top - self.seen <= CATCHUP_ROWS:  # one scan: counts and the shown runs' rows
                synced = [r for r in wanted if (t := self.traces.get(r)) is not None and t.last_id >= self.seen]
                fresh = {r: [] for r in synced}
                picked = sorted(set().union(*(self.traces[r].loaded for r in synced)))
                counts = pr.rows_since(self.seen, synced if picked else [], fresh, picked)
                self.queries += 1
            else:
                counts = pr.run_counts(self.seen)
                self.queries += 1 + len(counts)
            changed = self._merge(counts, fresh=self.seen == 0)
            self.seen = top
        loaded = False
        for rid in wanted:
            if rid not in self.runs:
                continue
            trace = self.traces.get(rid)
            behind = trace is not None and trace.last_id < self.seen
            if trace is None or (behind and not self._fold_new(rid, trace, fresh.get(rid), picked)):
                trace = self.traces[rid] = self._new_trace(rid)
                behind = True
            loaded = loaded or behind
            need = [k for k in keys if k in trace.index and k not in trace.loaded]
            if need:
                self._history(rid, trace, need)
                loaded = True
        for rid in changed:
            self._latest_loss(self.runs[rid])
        for run in self.runs.values():
            run.status = self._status(run)
        for rid in list(self.traces):
            if rid not in wanted:
                del self.traces[rid]
        return bool(changed) or loaded

    def _numeric(self, trace: RunTrace, raws: list[Any]) -> None:
        found: dict[str, None] = {}
        for raw in raws:
            for k, v in decode(raw).items():
                if k not in trace.index and isinstance(v, (int, float)):
                    found[k] = None
        trace.ensure_keys(sorted(found))

    def _new_trace(self, rid: str) -> RunTrace:
        pr, trace = self.project, RunTrace()
        self._numeric(trace, pr.sample(rid))
        trace.last_id = self.seen  # the trace holds the run's rows up to the newest id read
        trace.lo = pr.first_step(rid)
        self.queries += 2
        return trace

    def _fold(self, trace: RunTrace, rows: list[tuple], keys: list[str], new: bool,
              picked: list[str] | None = None) -> bool:
        """Fold in ``keys`` of rows of metrics, or of rows of the values of ``picked``."""
        if not rows:
            return True
        if picked is None:
            steps, vals = extract(rows, keys)
        else:
            steps, vals = extract(rows, picked, picked=True)
            if picked != keys:
                vals = vals[:, [picked.index(k) for k in keys]]
        return trace.fold(int(rows[-1][0]), steps, vals, keys, new)

    def _history(self, rid: str, trace: RunTrace, need: list[str]) -> None:
        pr, n = self.project, self.runs[rid].rows
        if n <= FULL_ROWS:
            rows = pr.run_rows(rid, upto_id=trace.last_id, keys=need)
        else:
            rows = pr.run_rows(rid, max(2, n // SAMPLE_ROWS), pr.tail_start_step(rid, TAIL_ROWS),
                               upto_id=trace.last_id, keys=need)
        self.queries += 1
        last = trace.last_id
        for i in range(0, len(rows), CHUNK):
            self._fold(trace, rows[i:i + CHUNK], need, new=False, picked=need)
        trace.last_id = last
        trace.loaded.update(need)

    def _fold_new(self, rid: str, trace: RunTrace, rows: list[Raw] | None = None,
                  picked: list[str] | None = None) -> bool:
        """Fold in the run's rows newer than the trace (``rows``: read already, all of them,
        holding the values of ``picked``)."""
        keys = sorted(trace.loaded)
        if rows is None:
            rows = self.project.rows_after(rid, trace.last_id, CATCHUP_ROWS, keys)
            self.queries += 1
            upto, picked = (self.seen if len(rows) < CATCHUP_ROWS else rows[-1][0]), keys
        else:
            upto = self.seen
        ok = self._fold(trace, rows, keys, new=True, picked=picked if keys else None)
        if rows:  # the newest row's keys: metrics that appear
            self._numeric(trace, self.project.newest(rid, 1))
            self.queries += 1
        trace.last_id = max(trace.last_id, upto)
        return ok

    # -- panes ---------------------------------------------------------------------------------
    def console_tail(self, run: RunInfo, lines: int, limit: int = 65536) -> list[str] | None:
        """The last ``lines`` lines of the run's console.log (None when it has none)."""
        path = RunFolder(self.run_dir(run)).console_log
        try:
            with open(path, "rb") as f:
                f.seek(0, os.SEEK_END)
                size = f.tell()
                f.seek(max(0, size - limit))
                data = f.read()
        except OSError:
            return None
        text = data.decode("utf-8", errors="replace").replace("\r\n", "\n")
        return [line.rsplit("\r", 1)[-1] for line in text.split("\n")][-lines - 1:][:lines] if text else []

    def summary(self, run: RunInfo) -> dict[str, Any]:
        """The run's end-of-run values (summary.json in its folder, the journal's records, or the
        ``summary/*`` entries of its Trackio config)."""
        getter = getattr(self.project, "summary", None)
        if callable(getter):
            try:
                return getter(run.run_id)
            except (OSError, ValueError, StoreError):
                return {}
        try:
            data = json.loads(RunFolder(self.run_dir(run)).summary.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            data = None
        if isinstance(data, dict):
            return data
        from viewer.compare_runs import run_summary

        try:  # a run folder elsewhere: the summary/* entries of its Trackio config
            return self.project.read(lambda: run_summary(self.project, run))
        except StoreError:
            return {}

    def config(self, run: RunInfo) -> dict[str, Any]:
        """The run's Kconfig symbols (or its logged config)."""
        from viewer.compare_runs import run_config

        try:
            return self.project.read(lambda: run_config(self.project, run))
        except StoreError:
            return {}

    def system(self, run: RunInfo) -> dict[str, float]:
        """The newest GPU values of the run: Trackio's system metrics and its ``gpu*/`` keys.

        A multi-node job's nodes each have rows of their own: the newest of the
        last :data:`SYSTEM_ROWS` rows, oldest first, so every node's newest wins.
        """
        out: dict[str, float] = {}
        try:
            rows = self.project.read(lambda: self.project.system_rows(run, last=SYSTEM_ROWS))
        except StoreError:
            rows = []
        for _, metrics in rows:
            out.update({k: float(v) for k, v in metrics.items() if isinstance(v, (int, float))})
        try:
            raws = self.project.read(lambda: self.project.newest(run.run_id, 20))
        except StoreError:
            raws = []
        for raw in raws:  # newest first: the first value found wins
            for k, v in decode(raw).items():
                if k.startswith("gpu") and k not in out and isinstance(v, (int, float)):
                    out[k] = float(v)
        return out


class JoinedSource:
    """A project's :class:`Source` and its journal twin's (the runs only their journals hold,
    ``Project.twin``), shown as one: the runs pane lists both, newest first; a run both
    hold (by name or id) is Trackio's; each pane reads a run from its own source."""

    def __init__(self, main: Source, twin: Source) -> None:
        self.main, self.twin = main, twin

    @property
    def runs(self) -> dict[str, RunInfo]:
        """Every run: the twin's that Trackio does not hold, then Trackio's."""
        known = {v for r in self.main.runs.values() for v in (r.run_id, r.name)}
        return {**{k: r for k, r in self.twin.runs.items() if r.name not in known and k not in known},
                **self.main.runs}

    @property
    def traces(self) -> dict[str, RunTrace]:
        """The traces of the selected runs of both sources."""
        return {**self.twin.traces, **self.main.traces}

    @property
    def error(self) -> str:
        """The first source's error ('' when none)."""
        return self.main.error or self.twin.error

    @property
    def queries(self) -> int:
        """Queries run so far by both sources."""
        return self.main.queries + self.twin.queries

    def ordered(self) -> list[RunInfo]:
        """Runs, newest first (by their newest row's time: row ids of two stores do not compare)."""
        return sorted(self.runs.values(), key=lambda r: iso_seconds(r.last_update), reverse=True)

    def tick(self, wanted: list[str], keys: list[str] | tuple[str, ...] = ()) -> bool:
        """:meth:`Source.tick` of both sources; the twin stops mirroring runs Trackio now holds."""
        changed = self.main.tick(wanted, keys)
        skip = getattr(self.twin.project, "skip", None)
        if isinstance(skip, set):
            skip.update(v for r in self.main.runs.values() for v in (r.run_id, r.name))
        return self.twin.tick(wanted, keys) or changed

    def _owner(self, run: RunInfo) -> Source:
        return self.twin if self.twin.runs.get(run.run_id) is run else self.main

    def run_dir(self, run: RunInfo) -> Path:
        """The run's folder (see :meth:`Source.run_dir`)."""
        return self._owner(run).run_dir(run)

    def console_tail(self, run: RunInfo, lines: int) -> list[str] | None:
        """See :meth:`Source.console_tail`."""
        return self._owner(run).console_tail(run, lines)

    def summary(self, run: RunInfo) -> dict[str, Any]:
        """See :meth:`Source.summary`."""
        return self._owner(run).summary(run)

    def config(self, run: RunInfo) -> dict[str, Any]:
        """See :meth:`Source.config`."""
        return self._owner(run).config(run)

    def system(self, run: RunInfo) -> dict[str, float]:
        """See :meth:`Source.system`."""
        return self._owner(run).system(run)
