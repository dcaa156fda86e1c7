"""Bad input and awkward files: the viewer writes nothing beside a database, reads
read-only folders and thousands of projects, refuses bad intervals, never prints
escape sequences, and one bad project never hides the others."""
from __future__ import annotations

import os
import resource
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from tests.viewer.conftest import env_for, view, write


@pytest.fixture(scope="module")
def one_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A finished Trackio project (no -wal/-shm left) with 40 steps."""
    root = tmp_path_factory.mktemp("one")
    write(root, """bulk("base", "r", [{"train/loss": 3.0 - i / 20, "lr": 1e-3} for i in range(40)], list(range(40)))""")
    db = root / "trackio" / "base.db"
    assert not Path(f"{db}-wal").exists()
    return db


def _copy_to(db: Path, folder: Path, name: str = "copy") -> Path:
    (folder / "trackio").mkdir(parents=True, exist_ok=True)
    return Path(shutil.copy(db, folder / "trackio" / f"{name}.db"))


def test_copied_db_gets_no_side_files(one_db: Path, tmp_path: Path) -> None:
    _copy_to(one_db, tmp_path)
    before = sorted(os.listdir(tmp_path / "trackio"))
    for args in (["--once"], ["--once", "--no-cache"], ["--list"], ["--once", "-z", "3"]):
        p = view(tmp_path, *args)
        assert p.returncode == 0, p.stderr
    assert "Latest Loss: 1.0500" in view(tmp_path, "--once").stdout
    assert sorted(os.listdir(tmp_path / "trackio")) == before == ["copy.db"]


def test_read_only_folder(one_db: Path, tmp_path: Path) -> None:
    mnt = tmp_path / "mnt"
    mnt.mkdir()
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=8m", "tmpfs", str(mnt)], capture_output=True).returncode:
        pytest.skip("cannot mount a tmpfs here (needs root)")
    try:
        _copy_to(one_db, mnt)
        subprocess.run(["mount", "-o", "remount,ro", str(mnt)], check=True)
        p = subprocess.run([sys.executable, "-m", "viewer", "--once", "--dir", str(mnt / "trackio")],
                           env=env_for(tmp_path), capture_output=True, text=True, timeout=60)
        assert p.returncode == 0, p.stderr
        assert "Latest Loss: 1.0500" in p.stdout
    finally:
        subprocess.run(["umount", str(mnt)], check=False)


#: The open-file limit of test_more_projects_than_open_files: below the usual 1024, so the test needs fewer
#: projects (each is a database to copy and read) to have more of them than files it may open.
OPEN_FILES = 256


def test_more_projects_than_open_files(one_db: Path, tmp_path: Path) -> None:
    projects = OPEN_FILES + 30
    for i in range(projects):
        _copy_to(one_db, tmp_path, f"p{i:04d}")

    def low_limit() -> None:
        resource.setrlimit(resource.RLIMIT_NOFILE, (OPEN_FILES, OPEN_FILES))

    for args in (["--once"], ["--list"]):
        p = subprocess.run([sys.executable, "-m", "viewer", *args], env=env_for(tmp_path), capture_output=True,
                           text=True, timeout=900, preexec_fn=low_limit)
        assert p.returncode == 0, p.stderr[-500:]
        assert "unreadable" not in p.stdout + p.stderr and "skipping" not in p.stderr
    assert p.stdout.count("steps  last step") == projects


@pytest.mark.parametrize("value", ["-1", "0", "nan", "inf", "abc"])
def test_bad_interval_is_a_usage_error(value: str, tmp_path: Path) -> None:
    p = view(tmp_path, "-i", value)
    assert p.returncode == 2 and "Traceback" not in p.stderr
    assert p.stderr.strip().splitlines()[-1].startswith("trackio-view: error: argument -i/--interval:")


def test_escape_sequences_never_printed(tmp_path: Path) -> None:
    write(tmp_path, r"""bulk("esc", "evil\x1b[2J\x1b]0;pwned\x07", [{"loss": 1.0}], [0], run_id="id\x1b[31m")""")
    for args in (["--list"], ["--once", "-p", "esc", "--run", "nope"], ["--once", "-p", "esc", "--metric", "x"],
                 ["--once"]):
        p = view(tmp_path, *args)
        assert "\x1b" not in p.stdout + p.stderr and "\x07" not in p.stdout + p.stderr, args
    assert "evil\\x1b[2J" in view(tmp_path, "--list").stdout


@pytest.fixture(scope="module")
def mixed_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Good projects beside one with a corrupt JSON row, a 1e308 value, a boolean loss."""
    root = tmp_path_factory.mktemp("mixed")
    write(root, """
        bulk("good", "r", [{"loss": 2.0 - i / 10} for i in range(10)], list(range(10)))
        bulk("huge", "r", [{"loss": v} for v in (1.0, 1e308, -1e308, 2.0)], list(range(4)))
        bulk("boolean", "r", [{"loss": i % 2 == 0} for i in range(9)], list(range(9)))
        bulk("true", "r", [{"loss": True} for i in range(9)], list(range(9)))
        bulk("corrupt", "r", [{"loss": 5.0 - i} for i in range(4)], list(range(4)))
    """)
    with sqlite3.connect(root / "trackio" / "corrupt.db") as c:
        c.execute("INSERT INTO metrics (run_id, timestamp, run_name, step, metrics) "
                  "SELECT run_id, timestamp, run_name, 4, '{\"loss\": 0.5, broken' FROM metrics LIMIT 1")
        c.execute("INSERT INTO metrics (run_id, timestamp, run_name, step, metrics) "
                  "SELECT run_id, timestamp, run_name, 5, '{\"loss\": 1.5}' FROM metrics LIMIT 1")
        for row in ('{"loss": 1e999}', b'{"loss":-1e999}', b'{"loss":', b'{"lo', '{"loss": "Infinity"}'):
            c.execute("INSERT INTO metrics (run_id, timestamp, run_name, step, metrics) "
                      "SELECT run_id, timestamp, run_name, 6, ? FROM metrics LIMIT 1", (row,))
    return root


def test_bad_values_never_abort_all_projects(mixed_root: Path) -> None:
    p = view(mixed_root, "--once")
    assert p.returncode == 0 and "Traceback" not in p.stderr, p.stderr
    for name in ("good", "huge", "boolean", "corrupt"):
        assert f"TrackIO Dashboard - Project: {name}" in p.stdout
    assert "Latest Loss: 1.1000" in p.stdout  # the good project
    huge = view(mixed_root, "--once", "-p", "huge", check=True).stdout
    assert f"Max Loss: {1e308:.4f}" in huge and f"Min Loss: {-1e308:.4f}" in huge
    labels = [line.split("|")[0].strip() for line in huge.splitlines()[-11:-1]]
    assert labels[0] == "1.000e+308" and labels[-1] == "-1.000e+308" and "inf" not in huge
    corrupt = view(mixed_root, "--once", "-p", "corrupt", check=True).stdout
    # The newest rows holding the loss (step 6) say Infinity: the run reads as diverged after step 5.
    assert "Latest Iteration: 6 (diverged: Loss not finite since iteration 6)" in corrupt
    assert "Latest Loss: inf (last finite 1.5000 at iteration 5)" in corrupt and "Min Loss: 1.5000" in corrupt


@pytest.mark.parametrize("zoom", ["0", "1"])
def test_boolean_loss_same_with_and_without_cache(mixed_root: Path, zoom: str) -> None:
    for project, lo in (("boolean", "0.0000"), ("true", "1.0000")):
        cached = view(mixed_root, "--once", "-p", project, "-z", zoom, check=True).stdout
        assert cached == view(mixed_root, "--once", "-p", project, "-z", zoom, "--no-cache", check=True).stdout
        assert f"Min Loss: {lo}" in cached and "Max Loss: 1.0000" in cached and "Latest Loss: 1.0000" in cached


def test_unreadable_project_is_one_line_among_good_ones(one_db: Path, tmp_path: Path) -> None:
    _copy_to(one_db, tmp_path, "fine")
    bad = _copy_to(one_db, tmp_path, "torn")
    with open(bad, "r+b") as fh:  # keep the header, tear the pages behind it
        fh.seek(4096)
        fh.write(b"\xff" * 8192)
    p = view(tmp_path, "--once")
    assert "Traceback" not in p.stderr
    assert "Latest Loss: 1.0500" in p.stdout
    torn = p.stdout.split("TrackIO Dashboard - Project: torn", 1)
    if len(torn) == 2:  # opened, then failed reading: its header and one line, exit 1
        assert p.returncode == 1 and len(torn[1].split("\n\n")[0].strip().splitlines()) == 3
    else:  # refused when opened: one warning, the good project shown
        assert p.returncode == 0 and "trackio-view: warning: skipping" in p.stderr


def test_writer_starting_after_an_immutable_open_is_seen(one_db: Path, tmp_path: Path) -> None:
    from viewer.series import SeriesSet
    from rundata.store import open_project

    db = _copy_to(one_db, tmp_path)
    pr = open_project("copy", db)
    assert pr.immutable
    ss = SeriesSet(pr, pr.pick_run(None), ["train/loss"])
    assert ss["train/loss"].count == 40 and not Path(f"{db}-shm").exists()
    writer = sqlite3.connect(db)  # a writer comes along: it makes -wal/-shm itself
    writer.execute("PRAGMA journal_mode=WAL")
    writer.execute("INSERT INTO metrics (run_id, timestamp, run_name, step, metrics) "
                   "SELECT run_id, timestamp, run_name, 40, X'7b22747261696e2f6c6f7373223a302e357d' "
                   "FROM metrics LIMIT 1")
    writer.commit()
    assert ss.update() == 1 and ss["train/loss"].latest == (40, 0.5) and not pr.immutable
    writer.close()
    pr.close()
