"""SeriesSet: incremental reads (only rows with a newer id) agree with a fresh
build and with a Python reference, also after the buckets grow; any metric key;
reads a DB a writer holds open."""
from __future__ import annotations

import sqlite3
from pathlib import Path

from tests.viewer import reference
from tests.viewer.conftest import write
from viewer import series
from viewer.model import resolve_roles
from rundata.store import open_project


def test_incremental_matches_full(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setattr(series, "K", 16)
    write(tmp_path, """
        bulk("p", "r", [{"loss": float((i * 37) % 101), "lr": 0.1} for i in range(100)], list(range(100)))
    """)
    pr = open_project("p", tmp_path / "trackio" / "p.db")
    run = pr.pick_run(None)
    s = series.LiveSeries(pr, run, resolve_roles(pr, run, None))
    assert s.update() == 0
    write(tmp_path, """
        bulk("p", "r", [{"loss": float((i * 37) % 101) - 50, "lr": 0.2} for i in range(100, 1000)],
             list(range(100, 1000)))
    """)
    assert s.update() == 900 and s.lr == 0.2 and s.metric.span > 7
    fresh = series.LiveSeries(pr, run, resolve_roles(pr, run, None))
    pts = reference.points([(r.id, r.step, r.metrics) for r in pr.rows()], "loss")
    for zoom in range(5):
        ref = reference.view(pts, zoom, 40)
        got = s.metric.view(zoom, 40)
        assert reference.same(got, ref) and reference.same(fresh.metric.view(zoom, 40), ref)
    v = s.metric.view(0, 40)
    assert (v.vmin, v.vmax, v.first, v.last) == (min(x for _, x in pts), max(x for _, x in pts), pts[0], pts[-1])
    v4 = s.metric.view(4, 50)
    assert v4.first == (950, float((950 * 37) % 101) - 50) and v4.last == (999, float((999 * 37) % 101) - 50)


def test_any_key_one_query_per_tick(tmp_path: Path) -> None:
    """A set of several keys (sparse ones too) reads each new row once for all of them."""
    write(tmp_path, """
        bulk("p", "r", [{"lr": 0.1, **({"val/loss": 3.0 - i / 100} if i % 10 == 0 else {})} for i in range(50)],
             list(range(50)))
    """)
    pr = open_project("p", tmp_path / "trackio" / "p.db")
    run = pr.pick_run(None)
    ss = series.SeriesSet(pr, run, ["val/loss", "lr"], light=["numerics/x"])
    assert ss["val/loss"].count == 5 and ss["lr"].count == 50 and ss["numerics/x"].latest is None
    write(tmp_path, """bulk("p", "r", [{"numerics/x": 7.0, "val/loss": 1.0}], [60])""")
    assert ss.update() == 1
    assert ss["numerics/x"].latest == (60, 7.0) and ss["val/loss"].latest == (60, 1.0)
    assert ss["val/loss"].view(0, 50).first == (0, 3.0)
    restored = series.SeriesSet(pr, run, state=ss.state())
    assert restored["val/loss"].view(0, 50) == ss["val/loss"].view(0, 50)


def test_reads_while_writer_holds_wal(tmp_path: Path) -> None:
    write(tmp_path, """bulk("w", "r", [{"loss": 1.0}], [0])""")
    db = tmp_path / "trackio" / "w.db"
    writer = sqlite3.connect(db)
    writer.execute("PRAGMA journal_mode=WAL")
    writer.execute("BEGIN IMMEDIATE")  # a live writer mid-transaction
    writer.execute("INSERT INTO metrics (run_id, timestamp, run_name, step, metrics) "
                   "SELECT run_id, timestamp, run_name, 1, '{\"loss\": 0.5}' FROM metrics")
    pr = open_project("w", db)
    run = pr.pick_run(None)
    s = series.SeriesSet(pr, run, ["loss"])
    assert s["loss"].view(0, 50).last == (0, 1.0)  # uncommitted row not seen
    writer.commit()
    s.update()
    assert s["loss"].view(0, 50).last == (1, 0.5)
    writer.close()
