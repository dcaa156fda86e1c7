"""The run journal's record format, and its one reader (``metrics.jsonl``, and ``config.json`` beside it).

``metrics.jsonl`` holds one JSON object per line:

* ``{"type": "log", "step": 12, "time": 1732560000.1, "metrics": {...}}``
* ``{"type": "series", "step": 3, "time": ..., "metrics": {"loss/train": 0.5}}``
  (``run["loss/train"].log(v)``: ``step`` is that series' own counter)
* ``{"type": "system", ...}`` and ``{"type": "alert", ...}``: the same fields,
  from the run's other channels (GPU samples, alerts)
* ``{"type": "summary", "time": ..., "summary": {...}}``
* ``{"type": "rewind", "step": 40, "time": ...}``: the run resumed from its
  checkpoint at step 40; the ``log`` rows after step 40 written before this
  record belong to a trajectory thrown away (:func:`history` drops them)

Non-finite floats are written as ``"NaN"``, ``"Infinity"``, ``"-Infinity"``,
a :class:`~rundata.histogram.Histogram` as its JSON form (:func:`to_json`,
:func:`from_json`). The writer (``trackers.journal.Journal``) builds its lines
with :func:`row_record`, :func:`rewind_record` and :func:`summary_record`, so
the field names and kinds are spelled here only. A reader must tolerate a
partial last line (the run was killed while writing it).

Layout: the names (kinds, :data:`MAX_STEP`), value encoding, the records the
writer builds; then the reader: :func:`parse_record`, :func:`read_records`,
:func:`history`, :func:`logged_keys`, :func:`read_config`.
"""

from __future__ import annotations

import json
import math
import os
from typing import Any, Iterable, Iterator

from ktrack.messages import shown
from ktrack.numbers import number
from ktrack.runfolder import RunFolder
from rundata.histogram import Histogram

#: The kinds of record (their ``type``).
LOG, SERIES, SYSTEM, ALERT, SUMMARY, REWIND = "log", "series", "system", "alert", "summary", "rewind"
#: Record types whose fields the reader checks; others are passed through as they are.
ROW_TYPES = (LOG, SERIES)
#: The largest step: SQLite's INTEGER (Trackio), W&B's and TensorBoard's step fields are signed 64-bit.
MAX_STEP = 2**63 - 1


class JournalError(ValueError):
    """A journal line that is JSON but not a valid record (strict reading)."""


def to_json(value: Any) -> Any:
    """Non-finite floats as the strings ``NaN``/``Infinity``/``-Infinity`` (what float() reads back);
    a :class:`Histogram` as its ``as_json()`` dict."""
    if isinstance(value, Histogram):
        return value.as_json()
    if isinstance(value, float) and not math.isfinite(value):
        return "NaN" if math.isnan(value) else ("Infinity" if value > 0 else "-Infinity")
    return value


def from_json(value: Any) -> Any:
    """Inverse of :func:`to_json`."""
    if isinstance(value, dict):
        return Histogram.from_json(value) or value
    if value in ("NaN", "Infinity", "-Infinity"):
        return float(value)
    return value


def _encoded(values: dict[str, Any]) -> dict[str, Any]:
    return {k: to_json(v) for k, v in values.items()}


def row_record(kind: str, step: int | None, t: float, metrics: dict[str, Any]) -> dict[str, Any]:
    """The record of one ``log`` or ``series`` row (or another channel's ``kind``), values encoded."""
    return {"type": kind, "step": step, "time": round(t, 6), "metrics": _encoded(metrics)}


def rewind_record(step: int, t: float) -> dict[str, Any]:
    """The record of a resume from the checkpoint at ``step``."""
    return {"type": REWIND, "step": step, "time": round(t, 6)}


def summary_record(summary: dict[str, Any], t: float) -> dict[str, Any]:
    """The record of end-of-run values, values encoded."""
    return {"type": SUMMARY, "time": round(t, 6), "summary": _encoded(summary)}


def parse_record(line: bytes) -> dict[str, Any] | None:
    """One journal line as a record with values decoded.

    Returns None for a line that is not JSON (cut short by a crash, or
    binary garbage); raises :class:`JournalError` for JSON that is not a
    valid record (a missing type, a bad step, metrics that are not a mapping).
    """
    try:
        rec = json.loads(line.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        return None
    if not isinstance(rec, dict) or not isinstance(rec.get("type"), str):
        raise JournalError("a record needs a \"type\"")
    kind = rec["type"]
    if "time" in rec and number(rec["time"], finite=True) is None:
        raise JournalError(f"time {rec['time']!r} is not a number")
    if kind in ROW_TYPES or kind == REWIND:
        step = rec.get("step")
        if isinstance(step, bool) or not isinstance(step, int) or not 0 <= step <= MAX_STEP:
            raise JournalError(f"step {shown(step)} is not an integer from 0 to 2**63-1")
        if kind != REWIND and not isinstance(rec.get("metrics"), dict):
            raise JournalError("\"metrics\" is not a mapping")
        rec.setdefault("time", 0.0)
    elif kind == SUMMARY:
        if not isinstance(rec.get("summary"), dict):
            raise JournalError("\"summary\" is not a mapping")
        rec.setdefault("time", 0.0)
    for field in ("metrics", "summary"):
        if isinstance(rec.get(field), dict):
            rec[field] = {k: from_json(v) for k, v in rec[field].items()}
    return rec


def read_records(run_dir: str | os.PathLike[str], *, strict: bool = False) -> Iterator[dict[str, Any]]:
    """Yield every complete, valid record of ``run_dir/metrics.jsonl`` (values decoded).

    A partial last line (a hard kill) ends the reading; lines that are not
    JSON are skipped. A JSON line that is not a valid record is skipped too,
    or, with ``strict``, raises :class:`JournalError` naming the file and line.
    Raises OSError when the file exists but cannot be read.
    """
    path = RunFolder(run_dir).journal
    if not path.is_file():
        return
    with open(path, "rb") as f:
        for lineno, line in enumerate(f, 1):
            if not line.endswith(b"\n"):
                break
            try:
                rec = parse_record(line)
            except JournalError as exc:
                if strict:
                    raise JournalError(f"{path} line {lineno}: {exc}; fix or delete that line") from None
                continue
            if rec is not None:
                yield rec


def history(records: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """The records of the run's final history: a ``rewind`` record (a resume from the checkpoint at its
    step) removes the ``log`` rows after that step written before it; the rewind itself stays.
    (``series`` rows count their own steps, not training's, and are kept.)"""
    out: list[dict[str, Any]] = []
    for rec in records:
        if rec["type"] == REWIND:
            out = [r for r in out if r["type"] != LOG or r["step"] <= rec["step"]]
        out.append(rec)
    return out


def logged_keys(run_dir: str | os.PathLike[str]) -> dict[tuple[str, int], set[str]]:
    """``{(type, step): metric names}`` of every log and series row of the journal's final history."""
    out: dict[tuple[str, int], set[str]] = {}
    for rec in history(read_records(run_dir)):
        if rec["type"] in ROW_TYPES:
            out.setdefault((rec["type"], rec["step"]), set()).update(rec["metrics"])
    return out


def read_config(run_dir: str | os.PathLike[str]) -> dict[str, Any]:
    """Return ``run_dir/config.json`` as a dict ({} if missing); ValueError if it is not a JSON object."""
    path = RunFolder(run_dir).config_json
    if not path.exists():
        return {}
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise ValueError(f"{path} is not valid JSON ({exc}); restore it or delete the run folder") from None
    if not isinstance(data, dict):
        raise ValueError(f"{path} does not hold a JSON object; restore it or delete the run folder")
    return data
