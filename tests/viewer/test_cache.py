"""The persistent summary cache: incremental reads, corrupt files, replaced
databases, identical text with and without it, never inside TRACKIO_DIR."""
from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

from tests.viewer.conftest import view, write
from tests.viewer import reference
from viewer import series
from viewer.cache import load_series
from viewer.model import resolve_roles
from rundata.store import open_project

ROWS = """
import math
bulk("c", "r", [dict(loss=2.0 + math.sin(i / 7.0), lr=1e-3 * (1 + i), sparsity=i / 1000)
                for i in range(A, B)], list(range(A, B)))
"""


def rows(a: int, b: int) -> str:
    return ROWS.replace("A", str(a)).replace("B", str(b))


def cache_files(root: Path) -> list[Path]:
    return sorted((root / "cache" / "ktrack" / "viewer").glob("*.json"))


def same_with_and_without(root: Path, *args: str) -> str:
    cached = view(root, "--once", *args, check=True).stdout
    assert cached == view(root, "--once", "--no-cache", *args, check=True).stdout
    return cached


def test_second_run_reads_only_new_rows(tmp_path: Path) -> None:
    write(tmp_path, rows(0, 300))
    for z in range(5):
        same_with_and_without(tmp_path, "-z", str(z))
    (f,) = cache_files(tmp_path)
    data = json.loads(f.read_text())
    assert data["stats"]["builds"] == 1 and data["series"]["last_id"] == 300
    write(tmp_path, rows(300, 350))
    out = same_with_and_without(tmp_path)
    assert "Latest Iteration: 349" in out
    data = json.loads(f.read_text())
    assert data["stats"] == {**data["stats"], "builds": 1, "last_rows_read": 50}
    assert data["series"]["last_id"] == 350
    for z in range(5):
        same_with_and_without(tmp_path, "-z", str(z))


def test_corrupt_cache_is_rebuilt(tmp_path: Path) -> None:
    write(tmp_path, rows(0, 120))
    good = same_with_and_without(tmp_path)
    (f,) = cache_files(tmp_path)
    for junk in ("{not json", '{"version": 1, "series": {"k": 3}}', ""):
        f.write_text(junk)
        assert view(tmp_path, "--once", check=True).stdout == good
        assert json.loads(f.read_text())["series"]["last_id"] == 120
    assert not [p for p in f.parent.iterdir() if p.name.startswith(".tmp-")]


def test_replaced_db_invalidates(tmp_path: Path) -> None:
    write(tmp_path, rows(0, 200))
    same_with_and_without(tmp_path)
    other = tmp_path / "other"
    write(other, """bulk("c", "r", [{"loss": 9.0 - i * 0.01} for i in range(150)], list(range(150)))""")
    db = tmp_path / "trackio" / "c.db"
    shutil.copy(other / "trackio" / "c.db", db.with_suffix(".new"))
    os.replace(db.with_suffix(".new"), db)  # new inode, same path, same run id
    out = same_with_and_without(tmp_path)
    assert "Latest Loss: 7.5100" in out and "Learning Rate" not in out
    (f,) = cache_files(tmp_path)
    assert json.loads(f.read_text())["stats"]["builds"] == 2


def test_never_inside_trackio_dir(tmp_path: Path) -> None:
    write(tmp_path, rows(0, 50))
    env_cache = tmp_path / "trackio"  # XDG_CACHE_HOME pointing into the data directory
    import subprocess
    import sys
    from tests.viewer.conftest import env_for
    env = dict(env_for(tmp_path), XDG_CACHE_HOME=str(env_cache))
    p = subprocess.run([sys.executable, "-m", "viewer", "--once"], env=env, capture_output=True, text=True)
    assert p.returncode == 0, p.stderr
    assert not (env_cache / "ktrack").exists()


def test_out_of_order_steps_and_growth_exact(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Rows folded in incrementally (bucket growth, steps logged again and
    rows without the metric) give the same columns as a fresh SQL pass."""
    monkeypatch.setattr(series, "K", 16)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    write(tmp_path, rows(0, 100))
    db = tmp_path / "trackio" / "c.db"

    def check() -> None:
        pr = open_project("c", db)
        run = pr.pick_run(None)
        with pr.snapshot():
            roles = resolve_roles(pr, run, None)
            s = load_series(pr, run, roles)
            fresh = load_series(pr, run, roles, use_cache=False)
            pts = reference.points([(r.id, r.step, r.metrics) for r in pr.rows()], "loss")
            for z in range(5):
                for width in (50, 7):
                    ref = reference.view(pts, z, width)
                    assert reference.same(s.metric.view(z, width), ref)
                    assert reference.same(fresh.metric.view(z, width), ref)
            assert s.lr_pt[1] == pr.latest(run.run_id, "lr")[1]
        pr.close()

    check()
    write(tmp_path, rows(100, 1000))
    check()
    write(tmp_path, """bulk("c", "r", [{"loss": -5.0 + i, "lr": 7.0} for i in range(10)], list(range(500, 510)))
bulk("c", "r", [{"other": 1.0}] * 3, [1003, 1004, 1017])""")
    check()
    assert json.loads(cache_files(tmp_path)[0].read_text())["stats"]["builds"] == 1


def test_row_before_first_bucket_rebuilds(tmp_path: Path) -> None:
    write(tmp_path, """bulk("c", "r", [{"loss": float(i % 5)} for i in range(100, 200)], list(range(100, 200)))""")
    same_with_and_without(tmp_path)
    write(tmp_path, """bulk("c", "r", [{"loss": -1.0}], [5])""")
    out = same_with_and_without(tmp_path)
    assert "Min Loss: -1.0000" in out and "Loss Trend (Iterations 5 to 199):" in out
    assert json.loads(cache_files(tmp_path)[0].read_text())["stats"]["builds"] == 2
