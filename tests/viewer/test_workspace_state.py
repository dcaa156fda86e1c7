"""The workspace without a terminal: state machine, layout and drawing over random sizes and keys."""
from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.viewer.conftest import write
from rundata.store import open_project
from viewer.workspace import Workspace
from viewer.workspace.layout import layout
from viewer.workspace.state import State
from viewer.buckets import columns
from viewer.workspace.trace import RunTrace

KEYS = ["up", "down", "left", "right", "pgup", "pgdn", "enter", "esc", "tab", "backspace", " ", "+", "-", "/",
        "?", "l", "o", "g", "c", "p", "1", "a", "(", "[", "*"]


@pytest.fixture(scope="module")
def project_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("wsstate")
    write(root, """
        rows = [{"train/loss": 5 - i / 100, "lr": 1e-3, "m%d" % (i % 13): float(i), "flag": i % 2 == 0}
                for i in range(400)]
        bulk("p", "r1", rows, list(range(400)))
        bulk("p", "r2", rows[:50], list(range(50)))
    """)
    return root


def make_ws(root: Path) -> Workspace:
    pr = open_project("p", root / "trackio" / "p.db")
    args = argparse.Namespace(runs=str(root / "runs"), zoom=0, run=None, compare=None, interval=1.0)
    ws = Workspace([pr], args)
    ws.tick()
    return ws


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(w=st.integers(0, 260), h=st.integers(0, 90), keys=st.lists(st.sampled_from(KEYS), max_size=25))
def test_random_keys_and_sizes_never_draw_outside(project_root: Path, w: int, h: int, keys: list[str]) -> None:
    ws = make_ws(project_root)
    for k in keys:
        if not ws.key(k):
            break
        cv = ws.frame(w, h)
        assert cv.width == max(0, w) and cv.height == max(0, h)
        assert all(len(row) == cv.width for row in cv.chars)
        assert len(cv.text().split("\n")) == cv.height or cv.height == 0


@given(w=st.integers(0, 400), h=st.integers(0, 150), panes=st.sets(st.sampled_from(["console", "overview",
                                                                                     "system"])),
       full=st.booleans(), charts=st.integers(0, 200))
def test_layout_rects_inside_and_disjoint(w: int, h: int, panes: set[str], full: bool, charts: int) -> None:
    lay = layout(w, h, tuple(sorted(panes)), full, charts)
    rects = [r for r in [lay.runs, lay.legend, *lay.cells, *lay.panes.values()] if r is not None]
    cells: set[tuple[int, int]] = set()
    for r in rects:
        assert r.x >= 0 and r.y >= 1 and r.x + r.w <= w and r.y + r.h <= h - 1
        area = {(x, y) for x in range(r.x, r.x + r.w) for y in range(r.y, r.y + r.h)}
        assert not area & cells
        cells |= area


def test_six_charts_at_160x48() -> None:
    lay = layout(160, 48, charts=100)
    assert len(lay.cells) >= 6
    assert len({(c.w, c.h) for c in lay.cells}) <= 4  # equal cells, the last row/column takes the rest


def test_state_keys() -> None:
    s = State()
    s.set_metrics(["train/loss", "val/loss", "lr", "gpu/util"])
    s.set_runs(["b", "a"])
    s.set_grid(2, 1)
    assert s.selected == ["b"] and s.visible() == ["train/loss", "val/loss"]
    s.key("pgdn")
    assert s.visible() == ["lr", "gpu/util"] and s.focused_metric == "lr"
    for k in "/los":
        s.key(k)
    s.key("enter")
    assert s.shown == ["train/loss", "val/loss"] and s.pattern == "los"
    for k in ["/", "backspace", "backspace", "backspace", "("]:
        s.key(k)
    s.key("enter")
    assert "bad regular expression" in s.message and s.pattern == "los"
    s.key("esc")
    assert s.pattern == "" and len(s.shown) == 4
    s.key("tab"), s.key("down"), s.key(" ")
    assert s.selected == ["b", "a"]
    s.key(" ")
    assert s.selected == ["b"]
    s.key("tab"), s.key("enter")
    assert s.full
    s.key("+"), s.key("+")
    assert s.zoom == 2
    s.key("esc")
    assert not s.full
    assert s.key("p") == "project" and s.key("q") == "quit"


def test_all_data_and_last_500_place_300_points_alike() -> None:
    tr = RunTrace()
    tr.add_rows([(i + 1, 10 * (i + 1), f'{{"loss": {3 + np.sin(i / 9)}}}') for i in range(300)])
    a, b = tr.items("loss", 0), tr.items("loss", 1)
    assert a is not None and b is not None
    for width in (40, 77, 200, 400):
        assert columns(a, 10, 3000, width) == columns(b, 10, 3000, width)
        cols = columns(a, 10, 3000, width)
        assert cols[0] is not None and cols[-1] is not None


def test_trace_bounded_and_exact_min_max() -> None:
    tr = RunTrace()
    for start in range(0, 50000, 5000):
        tr.add_rows([(s + 1, s, f'{{"x": {s}, "y": {-s}}}') for s in range(start, start + 5000)])
    steps, mins, maxs, _ = tr.items("x", 0)
    assert len(steps) <= 1024 and mins.min() == 0 and maxs.max() == 49999
    assert tr.latest("y") == (49999, -49999.0) and tr.rows == 50000


def test_extract_reads_only_the_keys_asked_for() -> None:
    from viewer.workspace.trace import extract

    rows = [(1, 5, b'{"a":1.5,"b/c":true,"s":"x,y","d":{"e":1,"f":2},"g":-3e-5}'), (2, 6, '{"a": 2, "g": 1}'),
            (3, 7, b'{"g":4,"a":NaN}'), (4, 8, b'{"a":"NaN","b/c":false}'), (5, 9, b"not json")]
    steps, vals = extract(rows, ["a", "b/c", "g", "d", "zz"])
    assert steps.tolist() == [5, 6, 7, 8, 9]
    got = [[None if v != v else v for v in row] for row in vals.tolist()]
    assert got == [[1.5, 1.0, -3e-5, None, None], [2.0, None, 1.0, None, None], [None, None, 4.0, None, None],
                   [None, 0.0, None, None, None], [None, None, None, None, None]]


def test_catch_up_is_bounded_and_counts_stay_exact(tmp_path: Path) -> None:
    """A burst larger than a tick reads is folded in over several ticks, oldest rows first, and
    the runs pane counts every row whether it comes from the index seeks, the one-scan tick or
    the grouped query."""
    from viewer.workspace import source

    write(tmp_path, """
        bulk("b", "r1", [{"train/loss": 1.0, "x": float(i)} for i in range(100)], list(range(100)))
        bulk("b", "r2", [{"train/loss": 2.0} for i in range(30)], list(range(30)))
    """)
    pr = open_project("b", tmp_path / "trackio" / "b.db")
    src = source.Source(pr, tmp_path / "runs")
    assert src.tick([], ["x"])
    r1 = next(r.run_id for r in src.runs.values() if r.name == "r1")
    assert {r.name: r.rows for r in src.runs.values()} == {"r1": 100, "r2": 30}
    src.tick([r1], ["x"])
    assert src.traces[r1].latest("x") == (99, 99.0)
    burst = source.CATCHUP_ROWS + 500
    write(tmp_path, f"""
        bulk("b", "r1", [{{"train/loss": 0.5, "x": float(i)}} for i in range(100, {100 + burst})],
             list(range(100, {100 + burst})))
    """)
    src.tick([r1], ["x"])
    assert src.traces[r1].rows == source.CATCHUP_ROWS
    assert src.traces[r1].latest("x") == (99 + source.CATCHUP_ROWS, 99.0 + source.CATCHUP_ROWS)
    assert src.runs[r1].rows == 100 + burst
    write(tmp_path, 'bulk("b", "r2", [{"train/loss": 1.5}] * 5, list(range(30, 35)))')
    src.tick([r1], ["x"])  # the rest of the burst, and r2's rows counted by the one-scan tick
    assert src.traces[r1].rows == burst and src.traces[r1].latest("x") == (99 + burst, 99.0 + burst)
    assert {r.name: r.rows for r in src.runs.values()} == {"r1": 100 + burst, "r2": 35}
    assert src.runs[r1].last_step == 99 + burst and src.runs[r1].loss == 0.5


def test_rows_that_are_not_json_read_as_no_value(tmp_path: Path) -> None:
    """SQLite picks the shown values out of each row; a row that is not JSON (another writer,
    a torn write) makes the workspace decode that tick's rows itself, and reads as no value."""
    import sqlite3

    from viewer.workspace import source

    write(tmp_path, 'bulk("j", "r1", [{"train/loss": 2.0, "x": float(i)} for i in range(50)], list(range(50)))')
    db = tmp_path / "trackio" / "j.db"
    pr = open_project("j", db)
    src = source.Source(pr, tmp_path / "runs")
    src.tick([], [])
    r1 = next(iter(src.runs))
    src.tick([r1], ["x", "train/loss"])
    assert src.traces[r1].latest("x") == (49, 49.0)
    with sqlite3.connect(db) as conn:
        run = conn.execute("SELECT run_id, run_name, timestamp FROM metrics LIMIT 1").fetchone()
        conn.execute("INSERT INTO metrics (run_id, run_name, timestamp, step, metrics) VALUES (?, ?, ?, 50, ?)",
                     (*run[:2], run[2], '{"x": 7, "train/loss": nope}'))
        conn.execute("INSERT INTO metrics (run_id, run_name, timestamp, step, metrics) VALUES (?, ?, ?, 51, ?)",
                     (*run[:2], run[2], '{"x": 8.5, "train/loss": 1.5}'))
    pr.close()
    assert src.tick([r1], ["x", "train/loss"]) and not src.error
    tr = src.traces[r1]
    assert tr.latest("x") == (51, 8.5) and tr.latest("train/loss") == (51, 1.5) and tr.rows == 2
    got = tr.items("x", 1)
    assert got is not None and 50 not in got[0].tolist() and 49 in got[0].tolist()
    assert src.runs[r1].rows == 52


@settings(max_examples=300, deadline=None)
@given(text=st.text(st.characters(blacklist_categories=("Cs",)), max_size=60), width=st.integers(0, 40),
       common=st.integers(0, 60))
def test_elide_fits_and_keeps_the_distinguishing_end(text: str, width: int, common: int) -> None:
    """A run name in the runs pane: never wider than its room, unchanged when it fits, and the
    part after the prefix it shares with the other runs kept whole when that part fits."""
    from rich.cells import cell_len

    from ktrack.messages import printable
    from viewer.workspace.canvas import elide, fit

    out = elide(text, width, common)
    assert cell_len(out) <= max(0, width)
    shown = printable(text)
    if cell_len(shown) <= width:
        assert out == fit(text, width)
    rest = shown[min(common, len(shown)):]
    if common and width > 2 and cell_len(shown) > width and cell_len(rest) < width:
        assert out.endswith(rest) and "\u2026" in out


def test_the_runs_pane_names_a_runs_slurm_job(tmp_path: Path) -> None:
    """The Slurm job (array task, nodes) from the run's config.json, read once, under the run's name."""
    import json

    from viewer.workspace import source

    write(tmp_path, 'bulk("s", "r1", [{"train/loss": 1.0}] * 3, [0, 1, 2])\n'
                    'bulk("s", "r2", [{"train/loss": 2.0}], [0])')
    run_dir = tmp_path / "runs" / "s" / "r1"
    run_dir.mkdir(parents=True)
    (run_dir / "config.json").write_text(json.dumps({"provenance": {
        "slurm_job_id": "4242", "slurm_array_job_id": "4240", "slurm_array_task_id": "2",
        "slurm_nodelist": "gpu[01-02]"}}))
    assert source.slurm_label(run_dir) == "Slurm 4240_2 on gpu[01-02]"
    assert source.slurm_label(tmp_path / "runs" / "s" / "r2") == ""
    pr = open_project("s", tmp_path / "trackio" / "s.db")
    args = argparse.Namespace(runs=str(tmp_path / "runs"), zoom=0, run=None, compare=None, interval=1.0)
    ws = Workspace([pr], args)
    ws.tick()
    text = ws.frame(160, 48).text()
    assert "3 steps, Slurm 424" in text  # the pane is narrow: the rest is cut with an ellipsis
    assert "1 steps, Slurm" not in text and "1 steps" in text
