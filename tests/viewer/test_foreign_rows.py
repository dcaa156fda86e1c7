"""Databases written by someone else: rows of the wrong types are skipped and counted.

Each example builds a ``<project>.db`` with sqlite3 from Trackio's own table
statements (``step`` without its NOT NULL, as a looser writer has it) and
rows whose step is an integer, text, NULL or REAL, whose run id is text or a
blob, and whose metrics are a JSON object, other JSON (array, number, string,
null) or not JSON.  ``--once``, ``--list``, ``--compare --once`` and
``--gpu-db --once`` must then show what the good rows hold (the reference of
``tests/viewer/reference.py``) or say in one line that there is nothing to
show, and warn with the exact number of skipped rows; never a traceback.
"""
from __future__ import annotations

import contextlib
import io
import json
import math
import re
import sqlite3
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.viewer import reference
from viewer import cli

SCHEMA_VERSION = 2


def create_db(path: Path) -> sqlite3.Connection:
    """An empty project file with Trackio's metrics table (step may be NULL)."""
    from trackio.sqlite_storage import _RUN_ID_TABLES

    create, indexes = _RUN_ID_TABLES["metrics"]
    db = sqlite3.connect(path)
    db.execute(create.replace("step INTEGER NOT NULL", "step INTEGER"))
    for stmt in indexes:
        db.execute(stmt)
    db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
    return db


loss = st.one_of(st.floats(allow_nan=False, allow_infinity=False, width=32, min_value=-1e6, max_value=1e6),
                 st.just("NaN"), st.none(), st.booleans())
good_metrics = st.fixed_dictionaries({"loss": loss}, optional={"lr": st.just(1e-3)}).map(json.dumps)
bad_metrics = st.one_of(st.lists(st.integers(0, 9), max_size=3).map(json.dumps),
                        st.sampled_from(["7", '"x"', "null", "[{\"loss\": 1}]", "not json", "{broken"]))
good_step = st.integers(-5, 10**6)
bad_step = st.one_of(st.none(), st.sampled_from(["abc", "1.5x", ""]), st.floats(0.5, 100.5).filter(
    lambda f: f != int(f)))
row = st.tuples(st.one_of(good_step, bad_step), st.one_of(good_metrics, bad_metrics),
                st.sampled_from(["r1", "r2", b"blob-run"]))


def main(*args: str) -> tuple[int, str, str]:
    """``trackio-view ARGS`` in this process (in a folder without a ``.config``): exit status,
    stdout, stderr."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.chdir(Path(args[args.index("--runs") + 1]).parent), contextlib.redirect_stdout(out), \
            contextlib.redirect_stderr(err):
        try:
            code = cli.main(list(args))
        except SystemExit as exc:
            code = int(exc.code or 0)
    return code, out.getvalue(), err.getvalue()


def expected(rows: list[tuple[Any, str, Any]]) -> tuple[int, list[tuple[int, int, dict]]]:
    """How many rows the viewer must skip for their step or run, and the good rows of the
    run it shows (the one of the newest good row) as (id, step, metrics)."""
    good = [(i + 1, s, m, r) for i, (s, m, r) in enumerate(rows)
            if isinstance(s, int) and isinstance(r, str)]
    if not good:
        return len(rows), []
    run = good[-1][3]
    decoded = []
    for i, s, m, r in good:
        try:
            obj = json.loads(m)
        except ValueError:
            obj = {}
        if r == run:
            decoded.append((i, s, obj if isinstance(obj, dict) else {}))
    return len(rows) - len(good), decoded


@settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(rows=st.lists(row, max_size=12))
def test_foreign_rows_are_skipped_and_counted(tmp_path: Path, rows: list[tuple[Any, str, Any]]) -> None:
    root = tmp_path / "t"
    root.mkdir(exist_ok=True)
    path = root / "p.db"
    path.unlink(missing_ok=True)
    db = create_db(path)
    for k, (s, m, r) in enumerate(rows):
        db.execute("INSERT INTO metrics (run_id, timestamp, run_name, step, metrics) VALUES (?, ?, ?, ?, ?)",
                   (r, f"2026-01-01T00:00:{k:02d}", "run", s, m))
    db.commit()
    db.close()
    n_bad, good = expected(rows)
    base = ("--dir", str(root), "--runs", str(tmp_path / "none"), "--no-cache")
    note = f"{n_bad} metrics row{'s' if n_bad != 1 else ''} skipped"

    code, out, err = main(*base, "--once")
    assert "Traceback" not in err
    assert (note in err) == (n_bad > 0 and bool(good))
    pts = reference.points(good, "loss")
    if not pts:
        assert code == 1 and len(err.strip().splitlines()) <= 2, err
        assert "has no" in err
    else:
        assert code == 0, err
        ref = reference.view(pts, 0, 50)
        assert ref is not None
        gone = reference.diverged(good, "loss", ref.last[0])
        if gone is None:
            assert f"Latest Iteration: {ref.last[0]}\n" in out
            assert f"Latest Loss: {ref.last[1]:.4f}\n" in out
        else:  # the newest row holding the loss says NaN: the run reads as diverged (docs/viewer.md)
            assert f"Latest Iteration: {gone[1]} (diverged: Loss not finite since iteration {gone[0]})\n" in out
            assert f"Latest Loss: {gone[2]} (last finite {ref.last[1]:.4f} at iteration {ref.last[0]})\n" in out
        assert f"Min Loss: {ref.vmin:.4f}\nMax Loss: {ref.vmax:.4f}\n" in out

    code, out, err = main(*base, "--list")
    assert code == 0 and "Traceback" not in err
    objects = sum(1 for s, m, r in rows if isinstance(s, int) and isinstance(r, str)
                  and _json(m) is not NOT_JSON and not isinstance(_json(m), dict))
    if n_bad:
        assert f"({n_bad} metrics row{'s' if n_bad != 1 else ''} skipped" in out
    if objects:
        assert f"{objects} row{'s' if objects != 1 else ''} whose metrics are JSON but not an object" in out
    listed = sum(int(n) for n in re.findall(r"(\d+) steps", out))
    assert listed == len(rows) - n_bad

    for args in (("--compare", "--once", "-p", "p"), ("--gpu-db", "--once", "-p", "p")):
        code, out, err = main(*base, *args)
        assert "Traceback" not in err and code in (0, 1), err
        if code == 1:
            assert len(err.strip().splitlines()) <= 2 and "error:" in err


NOT_JSON = object()


def _json(text: str) -> Any:
    """The JSON value of ``text``, or NOT_JSON."""
    try:
        return json.loads(text)
    except ValueError:
        return NOT_JSON


def test_nan_strings_and_foreign_rows_together(tmp_path: Path) -> None:
    """One hand-made file of every kind: the good rows are shown, the six others counted."""
    path = tmp_path / "p.db"
    db = create_db(path)
    kinds = [(0, {"loss": 3.0}), ("abc", {"loss": 2.5}), (None, {"loss": 2.0}), (2.5, {"loss": 1.9}),
             (3, [1, 2]), (4, 7), (5, {"loss": 1.5}), (6, "x")]
    for k, (s, m) in enumerate(kinds):
        db.execute("INSERT INTO metrics (run_id, timestamp, run_name, step, metrics) VALUES (?, ?, ?, ?, ?)",
                   ("r1", f"2026-01-01T00:00:0{k}", "run", s, json.dumps(m)))
    db.commit()
    db.close()
    code, out, err = main("--dir", str(tmp_path), "--runs", str(tmp_path / "none"), "--once", "--no-cache")
    assert code == 0 and "Latest Iteration: 5\nLatest Loss: 1.5000\n" in out
    assert err.count("\n") == 1 and "3 metrics rows skipped" in err
    assert not math.isnan(float(re.search(r"Min Loss: (\S+)", out).group(1)))  # type: ignore[union-attr]


@pytest.mark.parametrize("bad", ["text", "null", "real"])
def test_only_foreign_rows_is_one_line(tmp_path: Path, bad: str) -> None:
    db = create_db(tmp_path / "p.db")
    step = {"text": "x", "null": None, "real": 1.5}[bad]
    db.execute("INSERT INTO metrics (run_id, timestamp, run_name, step, metrics) VALUES ('r', 't', 'run', ?, ?)",
               (step, '{"loss": 1.0}'))
    db.commit()
    db.close()
    code, _out, err = main("--dir", str(tmp_path), "--runs", str(tmp_path / "none"), "--once", "--no-cache")
    assert code == 1 and len(err.strip().splitlines()) == 1 and "has no metrics logged yet" in err
