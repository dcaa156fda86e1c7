"""``--log FILE``: the dashboard of a training log file, without any tracker.

Two line formats are read, anywhere in a file that holds other output too:

* AdamWPrune's ``Iter N | loss L | ppl P | lr R | sparsity S% | T ms/iter``
  (the time field optional, ``Tms/iter`` or ``T ms/iter``);
* ktrack's own ``console.log`` (what ``training/loop.py`` prints):
  ``iter N: loss L, lr R, T ms/iter[, extras]`` and ``iter N: val loss V...``.

A line that starts like one of them but whose numbers do not parse is
counted as malformed (and said once); NaN and inf losses are kept, so a run
that diverged is shown as one (``viewer.once``).  ``--once`` reads the file
once; the live view (:func:`follow`) reads what was appended since, and
starts over when the file was replaced or truncated.
"""
from __future__ import annotations

import argparse
import math
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from viewer.chart import HEIGHT, chart_labels, star_row
from viewer.buckets import bucket_points
from viewer.model import ZOOM_LABELS, ZOOM_POINTS, NoMetric

WIDTH = 50
_NUM = r"([-+]?(?:\d+\.?\d*(?:[eE][-+]?\d+)?|\.\d+(?:[eE][-+]?\d+)?|nan|inf|infinity))"
ADAMW = re.compile(r"^\s*Iter\s+(\d+)\s*\|\s*loss\s+(\S+)\s*\|\s*ppl\s+(\S+)\s*\|\s*lr\s+(\S+)\s*\|"
                   r"\s*sparsity\s+(\S+?)%?\s*(?:\|\s*(\S+?)\s*ms/iter)?\s*(?:\|.*)?$")
KTRACK = re.compile(r"^\s*iter (\d+): loss (\S+), lr (\S+), (\S+) ms/iter")
KTRACK_VAL = re.compile(r"^\s*iter (\d+): val loss (\S+)")
LOOKS = re.compile(r"^\s*(?:Iter\s+\S+\s*\||iter \S+: (?:val )?loss )")
NUMBER = re.compile(_NUM + r"\Z", re.I)


def _float(text: str) -> float:
    """A number of the log (``nan``/``inf`` included), else ValueError."""
    if not NUMBER.match(text):
        raise ValueError(text)
    return float(text)


@dataclass
class LogData:
    """What a log holds so far: training points in file order, the latest lr, sparsity
    (in %), time per iteration and validation loss, and the malformed lines."""

    loss: list[tuple[int, float]] = field(default_factory=list)
    lr: float | None = None
    sparsity: float | None = None
    ms_per_iter: float | None = None
    val: list[tuple[int, float]] = field(default_factory=list)
    lines: int = 0
    malformed: int = 0
    first_malformed: str | None = None

    def add(self, line: str) -> None:
        """Fold one line of the log in (anything that is not a metrics line is ignored)."""
        self.lines += 1
        try:
            if m := ADAMW.match(line):
                it, loss, _ppl, lr, sp = int(m[1]), _float(m[2]), _float(m[3]), _float(m[4]), _float(m[5])
                self.loss.append((it, loss))
                self.lr, self.sparsity = lr, sp
                if m[6] is not None:
                    self.ms_per_iter = _float(m[6])
            elif m := KTRACK.match(line):
                it, loss, lr, ms = int(m[1]), _float(m[2]), _float(m[3]), _float(m[4])
                self.loss.append((it, loss))
                self.lr, self.ms_per_iter = lr, ms
            elif m := KTRACK_VAL.match(line):
                self.val.append((int(m[1]), _float(m[2].rstrip(","))))
            elif LOOKS.match(line):
                raise ValueError(line)
        except ValueError:
            self.malformed += 1
            if self.first_malformed is None:
                self.first_malformed = line.strip()[:120]


def parse(text: str) -> LogData:
    """Every metrics line of ``text``."""
    data = LogData()
    for line in text.splitlines():
        data.add(line)
    return data


def read(path: Path) -> LogData:
    """The whole file (a UserError-worthy OSError propagates)."""
    with open(path, encoding="utf-8", errors="replace") as fh:
        return parse(fh.read())


def _nonfinite(v: float) -> str:
    return "nan" if math.isnan(v) else ("inf" if v > 0 else "-inf")


def data(log: LogData, name: str, path: Path, zoom: int) -> dict[str, Any]:
    """The ``--once`` dict (``viewer.once.render`` prints it) of a log's training loss;
    raises NoMetric when the log holds no finite loss."""
    pts = sorted(((it, v) for it, v in log.loss if math.isfinite(v)), key=lambda p: p[0])
    n = ZOOM_POINTS[zoom]
    pts = pts[-n:] if n else pts
    if not pts:
        raise NoMetric(f"{path} holds no training loss lines (AdamWPrune's 'Iter N | loss L | ppl P | lr R | "
                       f"sparsity S% | T ms/iter' or ktrack's 'iter N: loss L, lr R, T ms/iter')"
                       + (f"; {log.malformed} malformed, e.g. {log.first_malformed!r}" if log.malformed else ""))
    cols, vmin, vmax = bucket_points(pts, WIDTH)
    (first_it, first_v), (last_it, last_v) = pts[0], pts[-1]
    out: dict[str, Any] = {
        "project": name, "run": path.name, "run_id": None, "view": ZOOM_LABELS[zoom], "metric": "loss",
        "loss": True, "latest_iteration": last_it, "latest_value": last_v, "diverged": None, "alert": None,
        "first_iteration": first_it, "first_value": first_v, "change": last_v - first_v, "min": vmin, "max": vmax,
        "learning_rate": log.lr, "sparsity_percent": log.sparsity,
        "chart": {"labels": chart_labels(vmin, vmax, HEIGHT),
                  "rows": [None if c is None else star_row(c[2], vmin, vmax, HEIGHT) for c in cols]},
        "path": str(path), "ms_per_iter": log.ms_per_iter, "val_loss": log.val[-1][1] if log.val else None,
        "malformed_lines": log.malformed,
    }
    last_line_it, last_line_v = log.loss[-1]
    if not math.isfinite(last_line_v):
        after = [it for it, v in log.loss if it > last_it and not math.isfinite(v)]
        out["diverged"] = {"since_iteration": min(after, default=last_line_it), "value": _nonfinite(last_line_v),
                           "last_finite_iteration": last_it, "last_finite_value": last_v}
        out["latest_iteration"], out["latest_value"] = last_line_it, math.nan
    return out


class Tail:
    """Incremental reader of a growing log: complete lines only, from where it stopped."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.log = LogData()
        self._offset, self._partial = 0, b""
        self._ino: int | None = None

    def poll(self) -> LogData:
        """Fold in the lines appended since the last call; start over if the file was
        replaced or truncated (OSError propagates)."""
        st = os.stat(self.path)
        if st.st_ino != self._ino or st.st_size < self._offset:
            self.log, self._offset, self._partial, self._ino = LogData(), 0, b"", st.st_ino
        with open(self.path, "rb") as fh:
            fh.seek(self._offset)
            chunk = fh.read()
        self._offset += len(chunk)
        *lines, self._partial = (self._partial + chunk).split(b"\n")
        for line in lines:
            self.log.add(line.decode("utf-8", errors="replace"))
        return self.log


def follow(path: Path, args: argparse.Namespace, name: str) -> int:
    """The live ``--log`` view: the ``--once`` block redrawn every ``--interval`` seconds
    from the lines appended since; ``+``/``-`` zoom, ``q`` or Ctrl+C quit."""
    from viewer import once
    from viewer.workspace.canvas import Canvas
    from viewer.workspace.term import drive, text_frame

    tail, zoom, error = Tail(path), [args.zoom], [""]

    def frame(width: int, height: int) -> Canvas:
        try:
            body = error[0] or once.render(data(tail.log, name, path, zoom[0]))
        except NoMetric as exc:
            body = f"{exc}\nwaiting for training lines..."
        return text_frame([(line, "") for line in (body + "\n\n[+/-] zoom  [q] quit").splitlines()], width, height)

    def key(k: str) -> bool:
        if k in ("+", "="):
            zoom[0] = min(len(ZOOM_LABELS) - 1, zoom[0] + 1)
        elif k == "-":
            zoom[0] = max(0, zoom[0] - 1)
        return k != "q"

    def tick() -> bool:
        try:
            tail.poll()
            error[0] = ""
        except OSError as exc:
            error[0] = f"cannot read {path}: {exc.strerror or exc}; retrying..."
        return True

    return drive(frame, key, tick, args.interval)
