"""The viewer's one bucketing (``viewer.buckets``) and one chart renderer (``viewer.chart``), in process.

Chart columns placed from points (``bucket_points``, ``--once``) and from a
live trace's arrays (``columns``, the workspace) agree with the reference
mapping; a trace's step buckets hold what a brute-force grouping of its
points gives, whatever order and span growth; braille charts equal a dot-by-dot
reference.
"""
from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.viewer import reference
from viewer.buckets import bucket_points, columns
from viewer.chart import braille_chart
from viewer.workspace.trace import K, RunTrace

finite = st.floats(-1e6, 1e6, allow_nan=False)


@settings(max_examples=200, deadline=None)
@given(steps=st.lists(st.integers(0, 10**6), min_size=1, max_size=300, unique=True), width=st.integers(1, 120),
       data=st.data())
def test_points_and_arrays_fall_in_the_same_columns(steps: list[int], width: int, data: st.DataObject) -> None:
    steps.sort()
    vals = data.draw(st.lists(finite, min_size=len(steps), max_size=len(steps)))
    pts = list(zip(steps, vals, strict=True))
    cols, vmin, vmax = bucket_points(pts, width)
    s, v = np.array(steps), np.array(vals)
    assert columns((s, v, v, v), steps[0], steps[-1], width) == cols
    n = steps[-1] - steps[0] + 1
    want: dict[int, list[float]] = {}
    for step, value in pts:
        want.setdefault(reference.column(step - steps[0], n, width), []).append(value)
    assert {c: (min(x), max(x), x[0]) for c, x in want.items()} == {i: c for i, c in enumerate(cols) if c}
    assert (vmin, vmax) == (min(vals), max(vals))


@settings(max_examples=60, deadline=None)
@given(chunks=st.lists(st.lists(st.tuples(st.integers(0, 6 * K), finite), min_size=1, max_size=400),
                       min_size=1, max_size=6))
def test_trace_buckets_hold_what_grouping_the_points_gives(chunks: list[list[tuple[int, float]]]) -> None:
    tr = RunTrace()
    seen: list[tuple[int, float]] = []
    for i, chunk in enumerate(chunks):
        steps = np.array([s for s, _ in chunk], dtype=np.int64)
        vals = np.array([[v] for _, v in chunk])
        if not tr.fold(i + 1, steps, vals, ["x"]):
            assert min(steps) < min(s for s, _ in seen)  # before the first bucket: read again
            return
        seen += chunk
    assert tr.lo == min(s for s, _ in chunks[0])
    top = max(s for s, _ in seen)
    assert (top - tr.lo) // tr.span < K and (tr.span == 1 or (top - tr.lo) // (tr.span // 2) >= K)
    groups: dict[int, list[tuple[int, float]]] = {}
    for s, v in seen:
        groups.setdefault(tr.bucket(s), []).append((s, v))
    steps, mins, maxs, firsts = tr.bstep, tr.bmin[:, 0], tr.bmax[:, 0], tr.bval[:, 0]
    assert set(np.flatnonzero(~np.isnan(mins)).tolist()) == set(groups)
    for b, pts in groups.items():
        assert (mins[b], maxs[b], steps[b]) == (min(v for _, v in pts), max(v for _, v in pts), min(s for s, _ in pts))
        assert firsts[b] == pts[0][1]  # the first value folded in (folding order, not step order)


@settings(max_examples=300, deadline=None)
@given(width=st.integers(1, 40), height=st.integers(1, 12), data=st.data())
def test_braille_chart_matches_the_dot_by_dot_reference(width: int, height: int, data: st.DataObject) -> None:
    scale = data.draw(st.sampled_from([1e-6, 1.0, 1e3, 1e300]))
    col = st.tuples(st.floats(-1, 1), st.floats(-1, 1), st.floats(0, 1)).map(
        lambda t: (min(t[:2]) * scale, max(t[:2]) * scale, (min(t[:2]) + t[2] * (max(t[:2]) - min(t[:2]))) * scale))
    cols = data.draw(st.lists(st.one_of(st.none(), col), max_size=2 * width + 3))
    vals = [v for c in cols if c for v in c[:2]] or [0.0]
    vmin, vmax = min(vals), max(vals)
    if data.draw(st.booleans()):
        vmin, vmax = vmin - abs(vmin) * 0.1 - 1, vmax + abs(vmax) * 0.1 + 1
    assert braille_chart(cols, vmin, vmax, width, height) == reference.braille(cols, vmin, vmax, width, height)
