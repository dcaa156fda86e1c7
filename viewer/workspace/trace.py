"""Every numeric metric of one run, in bounded memory, updated from whole rows.

A :class:`RunTrace` keeps, for all of a run's metrics at once, ``K`` step
buckets (min, max and first value of each metric in each bucket; a bucket
span doubles when the steps outgrow them: :class:`viewer.buckets.StepBuckets`,
as for the exact series of ``viewer.series``) and the newest ``TAIL`` points of
each metric.  :func:`extract` reads the numbers of the metrics shown from
each row (decoded once, by orjson), and :meth:`RunTrace.fold` folds them in
with numpy; :meth:`RunTrace.add_rows` folds in every metric of whole rows.

Chart columns come from :meth:`RunTrace.items`: the raw points while a
metric's whole history fits the tail (so "All data" and "Last 500" place the
same points in the same columns), else one item per bucket.
"""
from __future__ import annotations

import math
from typing import Any

import numpy as np

from rundata.store import decode, parse_json
from viewer.buckets import StepBuckets
from viewer.model import TAIL, ZOOM_POINTS

K = 1024
NAN = float("nan")
Items = tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]  # steps, mins, maxs, samples


def _number(v: Any) -> bool:
    return isinstance(v, (int, float)) and (not isinstance(v, float) or math.isfinite(v))


_FLOAT = {float}


def _num(v: Any) -> float:
    return float(v) if isinstance(v, (int, float)) and abs(v) < 1e308 else NAN


def extract(raws: list[tuple[int, int, Any]], keys: list[str], picked: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """Steps and a matrix of the numbers under ``keys`` (NaN where absent or not a number)
    of (id, step, metrics) rows.  Each row is decoded once (orjson: several times faster
    than finding the keys in the bytes from Python); booleans read as 1.0 / 0.0.
    ``picked``: the rows hold the values of ``keys`` instead, as a JSON array or a list."""
    out: list[list[Any]] = []
    n = len(keys)
    for _, _, raw in raws:
        if picked:
            got = raw if type(raw) is list or raw is None else parse_json(raw)
            vals: list[Any] = got[:n] if type(got) is list and len(got) >= n else [None] * n
        else:
            d = decode(raw)
            vals = list(map(d.get, keys))
        if set(map(type, vals)) != _FLOAT:
            vals = [_num(v) for v in vals]
        out.append(vals)
    steps = np.fromiter((r[1] for r in raws), dtype=np.int64, count=len(raws))
    return steps, np.array(out, dtype=np.float64).reshape(len(raws), len(keys))


class RunTrace(StepBuckets):
    """Buckets and tails of every numeric metric of one run."""

    def __init__(self) -> None:
        super().__init__(K)
        self.keys: list[str] = []
        self.index: dict[str, int] = {}
        self.last_id = 0
        self.rows = 0
        self._alloc(0)
        self.tails: list[tuple[np.ndarray, np.ndarray]] = []
        self.version: list[int] = []
        self.ticks = 0
        self.loaded: set[str] = set()  # keys whose whole history has been folded in

    def _alloc(self, m: int) -> None:
        self.bmin = np.full((K, m), np.nan)
        self.bmax = np.full((K, m), np.nan)
        self.bval = np.full((K, m), np.nan)
        self.bstep = np.full(K, np.iinfo(np.int64).max, dtype=np.int64)
        self.count = np.zeros(m, dtype=np.int64)

    def ensure_keys(self, keys: list[str]) -> None:
        """Know ``keys`` (numeric keys seen in a sample), in this order."""
        new = [k for k in dict.fromkeys(keys) if k not in self.index]
        if new:
            self._add_keys(new)

    def fold(self, last_id: int, steps: np.ndarray, vals: np.ndarray, keys: list[str], new: bool = True) -> bool:
        """Fold in rows given as ``steps`` and a matrix of ``vals`` (one column per key of
        ``keys``, NaN where a row has no number); False when a step falls before the first
        bucket (the caller reads the run again)."""
        if not len(steps):
            return True
        self.ensure_keys(keys)
        cols = np.array([self.index[k] for k in keys], dtype=np.int64)
        with np.errstate(invalid="ignore"):
            vals = np.where(np.isfinite(vals), vals, np.nan)
        self.ticks += 1
        self.last_id = max(self.last_id, last_id)
        self.rows += len(steps) if new else 0
        if not self.make_room(int(steps.min()), int(steps.max())):
            return False
        self._buckets(steps, vals, cols)
        self._tails(steps, vals, cols)
        return True

    def _add_keys(self, new: list[str]) -> None:
        grow = len(new)
        pad = np.full((K, grow), np.nan)
        self.bmin, self.bmax, self.bval = (np.hstack([a, pad]) for a in (self.bmin, self.bmax, self.bval))
        self.count = np.concatenate([self.count, np.zeros(grow, dtype=np.int64)])
        for key in new:
            self.index[key] = len(self.keys)
            self.keys.append(key)
            self.tails.append((np.empty(0, dtype=np.int64), np.empty(0)))
            self.version.append(0)

    # -- folding rows in -----------------------------------------------------------------
    def add_rows(self, raws: list[tuple[int, int, Any]]) -> bool:
        """Fold in every numeric metric of (id, step, metrics JSON) rows, oldest first (metrics
        not known yet are added); False when a step falls before the first bucket (the caller
        reads the run again)."""
        if not raws:
            return True
        dicts = [decode(r[2]) for r in raws]
        known = self.index.keys()
        new: dict[str, None] = {}
        for d in dicts:
            extra = d.keys() - known
            if extra:
                new.update((k, None) for k in sorted(extra) if k not in new and _number(d[k]))
        self.ensure_keys(list(new))
        keys = list(self.keys)
        steps, vals = extract([(r[0], r[1], list(map(d.get, keys))) for r, d in zip(raws, dicts, strict=True)],
                              keys, picked=True)
        return self.fold(max(r[0] for r in raws), steps, vals, keys)

    def _buckets(self, steps: np.ndarray, vals: np.ndarray, cols: np.ndarray) -> None:
        b = self.bucket(steps)
        order = np.argsort(b, kind="stable")
        bs, v, st = b[order], vals[order], steps[order]
        starts = np.flatnonzero(np.r_[True, bs[1:] != bs[:-1]])
        ub = bs[starts]
        ix = np.ix_(ub, cols)
        with np.errstate(invalid="ignore"):
            self.bmin[ix] = np.fmin(self.bmin[ix], np.fmin.reduceat(v, starts, axis=0))
            self.bmax[ix] = np.fmax(self.bmax[ix], np.fmax.reduceat(v, starts, axis=0))
        rows = np.arange(len(v))[:, None]
        firsti = np.minimum.reduceat(np.where(np.isnan(v), len(v), rows), starts, axis=0)
        has = firsti < len(v)
        first = np.where(has, v[np.minimum(firsti, len(v) - 1), np.arange(v.shape[1])], np.nan)
        old = self.bval[ix]
        self.bval[ix] = np.where(np.isnan(old), first, old)
        self.bstep[ub] = np.minimum(self.bstep[ub], np.minimum.reduceat(st, starts))
        self.count[cols] += (~np.isnan(vals)).sum(axis=0)

    def _halve(self) -> None:
        half = K // 2

        def pairs(a: np.ndarray, pick: Any) -> np.ndarray:
            out = np.full_like(a, np.nan)
            with np.errstate(invalid="ignore"):
                out[:half] = pick(a[0::2], a[1::2])
            return out

        self.bmin, self.bmax = pairs(self.bmin, np.fmin), pairs(self.bmax, np.fmax)
        self.bval = pairs(self.bval, lambda a, b: np.where(np.isnan(a), b, a))
        st = np.full_like(self.bstep, np.iinfo(np.int64).max)
        st[:half] = np.minimum(self.bstep[0::2], self.bstep[1::2])
        self.bstep = st

    def _tails(self, steps: np.ndarray, vals: np.ndarray, cols: np.ndarray) -> None:
        present = ~np.isnan(vals)
        for c in np.flatnonzero(present.any(axis=0)):
            mask, j = present[:, c], int(cols[c])
            s_new, v_new = steps[mask][-TAIL:], vals[mask, c][-TAIL:]
            s_old, v_old = self.tails[j]
            s, v = np.concatenate([s_old, s_new]), np.concatenate([v_old, v_new])
            if len(s) > 1 and s_old.size and s_new[0] < s_old[-1]:
                order = np.argsort(s, kind="stable")
                s, v = s[order], v[order]
            self.tails[j] = (s[-TAIL:], v[-TAIL:])
            self.version[j] += 1

    # -- reading ---------------------------------------------------------------------------
    def latest(self, key: str) -> tuple[int, float] | None:
        """(step, value) of the newest point of ``key``."""
        j = self.index.get(key)
        if j is None or not self.tails[j][0].size:
            return None
        s, v = self.tails[j]
        return int(s[-1]), float(v[-1])

    def numeric_keys(self) -> list[str]:
        """Keys known to hold numbers (seen in a sample, or folded in)."""
        return list(self.keys)

    def items(self, key: str, zoom: int) -> Items | None:
        """(steps, mins, maxs, samples) of ``key`` at zoom level ``zoom``, by step."""
        j = self.index.get(key)
        if j is None or not self.count[j]:
            return None
        n = ZOOM_POINTS[zoom]
        s, v = self.tails[j]
        if n is not None or self.count[j] <= len(s):
            s, v = s[-(n or TAIL):], v[-(n or TAIL):]
            return s, v, v, v
        used = ~np.isnan(self.bmin[:, j])
        return self.bstep[used], self.bmin[used, j], self.bmax[used, j], self.bval[used, j]
