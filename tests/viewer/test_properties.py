"""Property tests: generated runs (1 to 100,000 steps, keys on some steps only, step 0
with only val/loss, NaN/inf/huge/tiny/bool/str values, several runs per project),
written by trackio's own SQLiteStorage.bulk_log, read and drawn by the viewer.

Invariant: the ``--once`` text is the documented layout with the numbers of a simple
reference computed here from the decoded rows (the same with and without the
summary cache, at every zoom), or exactly one ``trackio-view: error:`` line and
exit 1; never a traceback.  The exact view at any width equals the reference, and
the chart spans the plot from the first column to the last.
"""
from __future__ import annotations

import contextlib
import io
import itertools
import math
import shutil
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.viewer import reference
from viewer import keys
from viewer.chart import label_format
from viewer.cli import main
from viewer.series import SeriesSet
from rundata.store import open_project

_ids = itertools.count()
KEYS = ("train/loss", "val/loss", "loss", "lr", "sparsity")

values = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True, width=64),
    st.sampled_from([0.0, -0.0, 1e308, -1e308, 5e-324, 1e-300, 2.5, 1e9, -1e9]),
    st.booleans(),
    st.integers(min_value=-(2 ** 53), max_value=2 ** 53),
    st.sampled_from(["NaN", "text", ""]),
)


@st.composite
def runs(draw: Any) -> list[tuple[list[int], list[dict[str, Any]]]]:
    """1-3 runs; each row holds some of KEYS; steps up to 100,000."""
    out = []
    for _ in range(draw(st.integers(1, 3))):
        last = draw(st.sampled_from([0, 1, 49, 50, 51, 499, 500, 501, 1000, 100_000]))
        n = draw(st.integers(1, min(300, last + 1)))
        steps = sorted(draw(st.lists(st.integers(0, last), min_size=n, max_size=n)))
        rows = [{k: draw(values) for k in KEYS if draw(st.booleans())} for _ in steps]
        if draw(st.booleans()):  # step 0 with only val/loss, as a GPT-2 run starts
            steps, rows = [0] + steps, [{"val/loss": draw(values)}] + rows
        rows = [r or {"lr": 1e-3} for r in rows]
        out.append((steps, rows))
    return out


def run_viewer(*args: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = main(list(args))
        except SystemExit as exc:
            code = int(exc.code or 0)
    return code, out.getvalue(), err.getvalue()


def _write(project: str, data: list[tuple[list[int], list[dict[str, Any]]]], into: Path) -> Path:
    from trackio.sqlite_storage import SQLiteStorage

    for i, (steps, rows) in enumerate(data):
        SQLiteStorage.bulk_log(project, f"run{i}", rows, steps=steps, run_id=f"{project}-run{i}")
    into.mkdir(parents=True, exist_ok=True)
    return Path(shutil.move(str(SQLiteStorage.get_project_db_path(project)), into / f"{project}.db"))


def _expected(rows: list[tuple[int, int, dict]]) -> tuple[list[tuple[int, float]], float | None, float | None]:
    metric = next((k for k in keys.ALIASES["loss"] if reference.points(rows, k)), None)
    pts = reference.points(rows, metric) if metric else []
    lr = reference.points(rows, "lr")
    sp = reference.points(rows, "sparsity")
    return pts, lr[-1][1] if lr else None, sp[-1][1] if sp else None


@pytest.mark.e2e  # real trackio
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(data=runs(), zoom=st.integers(0, 4), width=st.integers(1, 300))
def test_once_matches_reference(tmp_path_factory: pytest.TempPathFactory, data: Any, zoom: int, width: int) -> None:
    project = f"prop{next(_ids)}"
    folder = tmp_path_factory.mktemp("prop")
    db = _write(project, data, folder)
    pr = open_project(project, db)
    run = pr.pick_run(None)
    assert run is not None
    rows = [(r.id, r.step, r.metrics) for r in pr.rows(run_id=run.run_id)]
    pts, lr, sparsity = _expected(rows)
    outputs = {run_viewer("--once", "--dir", str(folder), "-z", str(zoom), *extra) for extra in ([], ["--no-cache"],
                                                                                                 [])}
    assert len(outputs) == 1, outputs
    code, out, err = outputs.pop()
    assert "Traceback" not in err
    if not pts:
        assert code == 1 and out == "" and len(err.splitlines()) == 1 and err.startswith("trackio-view: error: ")
        return
    ref = reference.view(pts, zoom, 50)
    assert ref is not None
    metric = next(k for k in keys.ALIASES["loss"] if reference.points(rows, k))
    gone = reference.diverged(rows, metric, pts[-1][0])
    expected = reference.once_text(project, zoom, pts, lr, sparsity, label_format(ref.vmin, ref.vmax), gone)
    assert (code, out, err) == (0, expected + "\n", "")
    rows_drawn = [line.split("|", 1)[1].ljust(50) for line in out.splitlines()[-11:-1]]
    assert any(r[0] == "*" for r in rows_drawn)
    if ref.first[0] != ref.last[0]:
        assert any(r[49] == "*" for r in rows_drawn)  # the chart uses its whole width

    with pr.snapshot():
        s = SeriesSet(pr, run, [metric])[metric]
        got, want = s.view(zoom, width), reference.view(pts, zoom, width)
        assert want is not None and got is not None
        assert reference.same(got, want), (got, want)
    pr.close()
    assert all(math.isfinite(v) for v in (got.vmin, got.vmax))


@pytest.mark.e2e  # real trackio
@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(data=st.lists(runs(), min_size=2, max_size=4))
def test_all_projects_each_block_or_one_line(tmp_path_factory: pytest.TempPathFactory, data: Any) -> None:
    folder = tmp_path_factory.mktemp("props")
    names = []
    for project_runs in data:
        names.append(f"all{next(_ids)}")
        _write(names[-1], project_runs, folder)
    code, out, err = run_viewer("--once", "--dir", str(folder))
    assert code == 0 and "Traceback" not in err, err
    blocks = out.rstrip("\n").split("\n\n" + "=" * 60 + "\n")
    assert len(blocks) == len(names)
    for name in names:
        alone = run_viewer("--once", "--dir", str(folder), "-p", name)
        if alone[0] == 0:
            assert alone[1].rstrip("\n") in out
        else:
            assert f"TrackIO Dashboard - Project: {name}" in out and alone[2].split("error: ", 1)[1].strip() in out


def test_dense_100k_steps_every_zoom(tmp_path_factory: pytest.TempPathFactory) -> None:
    """100,000 dense steps (4096 buckets of 25 steps, cut by the 50 columns), a sparse val/loss."""
    folder = tmp_path_factory.mktemp("dense")
    steps = list(range(100_000))
    rows = [{"train/loss": 5.0 + math.sin(s / 997.0) - s / 50_000, "lr": 1e-3, **({"val/loss": 4.0} if s % 1000 == 0
                                                                                  else {})} for s in steps]
    db = _write("dense", [(steps, rows)], folder)
    pr = open_project("dense", db)
    pts = reference.points([(r.id, r.step, r.metrics) for r in pr.rows()], "train/loss")
    pr.close()
    for zoom in range(5):
        ref = reference.view(pts, zoom, 50)
        assert ref is not None
        expected = reference.once_text("dense", zoom, pts, 1e-3, None, "")
        for extra in ([], [], ["--no-cache"]):
            assert run_viewer("--once", "--dir", str(folder), "-z", str(zoom), *extra) == (0, expected + "\n", "")
