"""Step buckets read as ranges of row ids give exactly what the step index gives.

Generated projects, written by trackio's own SQLiteStorage.bulk_log: runs logged
in chunks that interleave, chunks out of step order (a resumed run logging steps
again), repeated steps, keys on some rows only and values that are not numbers.
"""
from __future__ import annotations

import itertools
import shutil
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.viewer import reference
from tests.viewer.test_properties import values
from viewer.series import SeriesSet
from rundata.store import Project, open_project

_ids = itertools.count()
Chunk = tuple[str, list[int], list[dict[str, Any]]]


@st.composite
def projects(draw: Any) -> list[Chunk]:
    """Chunks (run, steps, rows) in the order they are logged."""
    chunks = []
    for run in ("a", "b")[:draw(st.integers(1, 2))]:
        last = draw(st.sampled_from([300, 2000, 20_000]))
        n = draw(st.integers(1, 400))
        steps = sorted(draw(st.lists(st.integers(0, last), min_size=n, max_size=n)))
        rows = [{"loss": draw(values)} if draw(st.integers(0, 9)) else {"lr": 1.0} for _ in steps]
        cuts = sorted(set(draw(st.lists(st.integers(1, max(1, n - 1)), max_size=4))))
        chunks += [(run, steps[a:z], rows[a:z]) for a, z in zip([0, *cuts], [*cuts, n], strict=True) if a < z]
        if draw(st.booleans()):  # resumed from a checkpoint: a stretch of steps logged again
            a = draw(st.integers(0, n - 1))
            z = draw(st.integers(a + 1, n))
            chunks.append((run, steps[a:z], [{"loss": draw(values)} for _ in steps[a:z]]))
    if draw(st.integers(0, 3)) == 0:
        chunks = draw(st.permutations(chunks))
    return chunks


def _write(chunks: list[Chunk], into: Path) -> Project:
    from trackio.sqlite_storage import SQLiteStorage

    project = f"scan{next(_ids)}"
    for run, steps, rows in chunks:
        SQLiteStorage.bulk_log(project, run, rows, steps=steps, run_id=f"{project}-{run}")
    return open_project(project, Path(shutil.move(str(SQLiteStorage.get_project_db_path(project)),
                                                  into / f"{project}.db")))


def _by_index(pr: Project, *args: Any, **kw: Any) -> Any:
    saved = Project._id_ranges
    Project._id_ranges = lambda *a, **k: None  # type: ignore[method-assign]
    try:
        return pr.cells(*args, **kw)
    finally:
        Project._id_ranges = saved  # type: ignore[method-assign]


@pytest.mark.e2e  # real trackio
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(chunks=projects(), k=st.sampled_from([8, 16, 64]), width=st.integers(1, 120))
def test_id_ranges_equal_index(tmp_path_factory: pytest.TempPathFactory, chunks: list[Chunk], k: int,
                               width: int) -> None:
    pr = _write(chunks, tmp_path_factory.mktemp("scan"))
    with pr.snapshot():
        for run in pr.runs():
            lo, hi, top = pr.step_range(run.run_id)
            assert lo is not None and hi is not None
            span = max(1, -(-(hi - lo + 1) // k))
            count = -(-(hi - lo + 1) // span)
            got = pr.cells(run.run_id, "loss", lo, span, count, max_id=top)
            assert got == _by_index(pr, run.run_id, "loss", lo, span, count, max_id=top)
            pts = reference.points([(r.id, r.step, r.metrics) for r in pr.rows(run_id=run.run_id)], "loss")
            s = SeriesSet(pr, run, ["loss"], k=k)["loss"]
            want = reference.view(pts, 0, width)
            assert (want is None) == (s.view(0, width) is None)
            if want is not None:
                assert reference.same(s.view(0, width), want)
    pr.close()


def test_in_order_run_is_read_by_row_id(tmp_path_factory: pytest.TempPathFactory) -> None:
    """A run logged in step order, after another run, takes the scan by row id."""
    other = ("z", list(range(50)), [{"loss": 1.0}] * 50)
    steps = list(range(0, 30_000, 3))
    pr = _write([other, ("a", steps, [{"loss": float(s % 97), "lr": 0.1} for s in steps])],
                tmp_path_factory.mktemp("scan"))
    with pr.snapshot():
        run = next(r for r in pr.runs() if r.name == "a")
        lo, hi, top = pr.step_range(run.run_id)
        assert lo == 0 and hi == 29_997
        ranges = pr._id_ranges(run.run_id, lo, 64, -(-(hi + 1) // 64), top)
        assert ranges is not None and ranges[0][1] == 51 and ranges[-1][2] == top + 1
        got = pr.cells(run.run_id, "loss", lo, 64, -(-(hi + 1) // 64), max_id=top)
        assert got == _by_index(pr, run.run_id, "loss", lo, 64, -(-(hi + 1) // 64), max_id=top)
        assert sum(c.n for _, c in got) == len(steps)
    pr.close()
