"""Every user error: one line starting with 'trackio-view:', no traceback."""
from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path

import pytest

from tests.viewer.conftest import view


def one_line_error(p, code: int = 1) -> str:
    assert p.returncode == code, (p.stdout, p.stderr)
    assert "Traceback" not in p.stderr
    lines = p.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("trackio-view:"), p.stderr
    return lines[0]


def test_no_data(tmp_path: Path) -> None:
    msg = one_line_error(view(tmp_path, "--once"))
    assert msg.startswith("trackio-view: error: No TrackIO data found: ")  # the seed's words
    assert str(tmp_path / "trackio") in msg and "TRACKIO_DIR" in msg


@pytest.mark.parametrize("args", [("--list",), ("--once", "-p", "nope"), ("--gpu-db", "-p", "nope", "--once"),
                                  ("--compare", "-p", "nope", "--once")])
def test_no_data_any_command(tmp_path: Path, args: tuple[str, ...]) -> None:
    msg = one_line_error(view(tmp_path, *args))
    assert msg.startswith("trackio-view: error: No TrackIO data found: ")


def test_no_data_dir_option(tmp_path: Path) -> None:
    msg = one_line_error(view(tmp_path, "--once", "--dir", str(tmp_path / "elsewhere")))
    assert str(tmp_path / "elsewhere") in msg and "--dir" in msg


def test_unknown_project_lists_available(multi_root: Path) -> None:
    msg = one_line_error(view(multi_root, "--once", "-p", "nope"))
    assert "no project 'nope'" in msg and "available: newer-proj, no-loss, older-proj" in msg


def test_gpu_db_needs_project(multi_root: Path) -> None:
    p = view(multi_root, "--gpu-db", "--once")
    assert p.returncode == 2 and "usage:" in p.stderr and "--gpu-db requires --project" in p.stderr


def test_no_loss_metric_says_what_exists(multi_root: Path) -> None:
    msg = one_line_error(view(multi_root, "--once", "-p", "no-loss"))
    assert "no loss metric" in msg and "metrics logged: acc, val/acc" in msg


def test_unknown_run(multi_root: Path) -> None:
    msg = one_line_error(view(multi_root, "--once", "-p", "older-proj", "--run", "zzz"))
    assert "no run 'zzz'" in msg and "runs: same" in msg


def _bad_root(tmp_path: Path, name: str, content: bytes | None) -> Path:
    d = tmp_path / "trackio"
    d.mkdir(parents=True, exist_ok=True)
    if content is not None:
        (d / f"{name}.db").write_bytes(content)
    return d / f"{name}.db"


def test_corrupt_file(tmp_path: Path) -> None:
    f = _bad_root(tmp_path, "broken", b"this is not sqlite at all" * 100)
    msg = one_line_error(view(tmp_path, "--once", "-p", "broken"))
    assert str(f) in msg and "not a readable SQLite database" in msg


def test_empty_file(tmp_path: Path) -> None:
    f = _bad_root(tmp_path, "empty", b"")
    msg = one_line_error(view(tmp_path, "--once", "-p", "empty"))
    assert str(f) in msg and "empty" in msg
    # all-projects mode: skipped with a one-line warning, then "no data"
    p = view(tmp_path, "--once")
    assert p.returncode == 1 and p.stderr.count("\n") == 2 and "skipping" in p.stderr


def test_not_trackio_sqlite(tmp_path: Path) -> None:
    f = _bad_root(tmp_path, "other", None)
    with sqlite3.connect(f) as c:
        c.execute("CREATE TABLE t (x)")
    msg = one_line_error(view(tmp_path, "--once", "-p", "other"))
    assert str(f) in msg and "not a Trackio database" in msg


def test_newer_schema_version(fixed_root: Path, tmp_path: Path) -> None:
    d = tmp_path / "trackio"
    d.mkdir()
    shutil.copy(fixed_root / "trackio" / "tracking-e97b5.db", d / "future.db")
    with sqlite3.connect(d / "future.db") as c:
        c.execute("PRAGMA user_version = 7")
    msg = one_line_error(view(tmp_path, "--once", "-p", "future"))
    assert "schema version 7" in msg and "versions 0-2" in msg


def test_gpu_db_no_gpu_metrics(fixed_root: Path) -> None:
    msg = one_line_error(view(fixed_root, "--gpu-db", "-p", "tracking-e97b5", "--once"))
    assert "has no GPU metrics" in msg


def test_config_names_the_project(multi_root: Path, tmp_path: Path) -> None:
    """Inside a ktrack checkout (a .config in the cwd, here a tmp folder) without --project."""
    (tmp_path / ".config").write_text('CONFIG_MODEL_LENET5=y\nCONFIG_TRACKER_PROJECT="older-proj"\n')
    p = view(multi_root, "--once", cwd=tmp_path, check=True)
    assert p.stdout.count("TrackIO Dashboard - Project:") == 1 and "Project: older-proj" in p.stdout
    assert p.stderr.strip() == ("trackio-view: project 'older-proj', named by ./.config (CONFIG_TRACKER_PROJECT); "
                                "--project NAME shows another")
    gpu = view(multi_root, "--gpu-db", "--once", cwd=tmp_path)  # no usage error: .config names the project
    assert gpu.returncode == 1 and "usage" not in gpu.stderr and "no GPU metrics" in gpu.stderr
    other = view(multi_root, "--once", "-p", "newer-proj", cwd=tmp_path, check=True)
    assert "older-proj" not in other.stdout + other.stderr
    listed = view(multi_root, "--list", cwd=tmp_path, check=True)
    assert "newer-proj" in listed.stdout and listed.stderr == ""


def test_config_project_without_data_shows_all(multi_root: Path, tmp_path: Path) -> None:
    (tmp_path / ".config").write_text('CONFIG_TRACKER_PROJECT="lenet5-abcde"\n')
    p = view(multi_root, "--once", cwd=tmp_path, check=True)
    assert p.stdout.count("TrackIO Dashboard - Project:") == 3
    assert "./.config names project 'lenet5-abcde'" in p.stderr and "showing every project" in p.stderr
    (tmp_path / ".config").write_text("# CONFIG_TRACKER_PROJECT is not set\n")
    assert view(multi_root, "--once", cwd=tmp_path, check=True).stderr == ""
