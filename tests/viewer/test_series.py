"""LiveSeries: incremental reads (only rows with a newer id) agree with a fresh
SQL aggregate, also after the bucket array grows; reads a DB a writer holds open."""
from __future__ import annotations

import sqlite3
from pathlib import Path

from tests.viewer.conftest import write
from viewer import series
from viewer.model import build_view, resolve
from viewer.store import open_project


def test_incremental_matches_full(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setattr(series, "K", 16)
    write(tmp_path, """
        bulk("p", "r", [{"loss": float((i * 37) % 101), "lr": 0.1} for i in range(100)], list(range(100)))
    """)
    pr = open_project("p", tmp_path / "trackio" / "p.db")
    run = pr.pick_run(None)
    s = series.LiveSeries(pr, run, resolve(pr, run, None))
    assert s.update() == 0
    write(tmp_path, """
        bulk("p", "r", [{"loss": float((i * 37) % 101) - 50, "lr": 0.2} for i in range(100, 1000)],
             list(range(100, 1000)))
    """)
    assert s.update() == 900 and s.lr == 0.2 and s.span > 7
    cols, vmin, vmax, first, last = s.view(0, 40)
    full = build_view(pr, run, "loss", 0, 40)
    assert (vmin, vmax, first, last) == (full.vmin, full.vmax, full.first, full.last)
    cols4, *_rest, first4, last4 = s.view(4, 50)
    assert first4 == (950, float((950 * 37) % 101) - 50) and last4 == (999, float((999 * 37) % 101) - 50)


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
    assert build_view(pr, run, "loss", 0, 50).last == (0, 1.0)  # uncommitted row not seen
    writer.commit()
    assert build_view(pr, run, "loss", 0, 50).last == (1, 0.5)
    writer.close()
