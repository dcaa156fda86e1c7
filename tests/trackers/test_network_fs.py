"""Network filesystems: named from statfs's real f_type numbers; under one, Trackio writes JSONL fragments
that rank 0 imports at finish into a database with a rollback journal instead of WAL (said once), and the
run records where it is."""

from __future__ import annotations

import contextlib
import io
import json
import sqlite3
import time
import types
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

import trackers
from ktrack import fs
from trackers import readback
from viewer import cli as viewer_cli

# (f_type as statfs gives it, name): linux/magic.h and the filesystems' own headers
NETWORK = [(0x6969, "nfs"), (0x0BD00BD0, "lustre"), (0x47504653, "gpfs"), (0xFF534D42, "cifs"),
           (0xFE534D42, "smb2"), (0x517B, "smb"), (0x19830326, "beegfs"), (0x00C36400, "cephfs"),
           (0x6B414653, "afs"), (0x01021997, "9p"), (-0x00ACB2BE, "cifs")]  # the last: a 32-bit signed long
LOCAL = [0xEF53, 0x58465342, 0x9123683E, 0x01021994, 0x2FC12FC1, 0x794C7630, 0x65735546, 0x9FA0]


@pytest.mark.parametrize(("f_type", "name"), NETWORK)
def test_network_filesystems_by_their_magic(f_type: int, name: str) -> None:
    assert fs.network_fs_name(f_type) == name


@pytest.mark.parametrize("f_type", LOCAL)  # ext4, xfs, btrfs, tmpfs, zfs, overlayfs, fuse, proc
def test_local_filesystems_are_not_network(f_type: int) -> None:
    assert fs.network_fs_name(f_type) is None


@given(st.integers(min_value=-(2**63), max_value=2**63 - 1))
def test_any_f_type_names_a_known_filesystem_or_none(f_type: int) -> None:
    assert fs.network_fs_name(f_type) in (None, *fs.NETWORK_FS.values())


def test_this_machines_folders(tmp_path: Path) -> None:
    assert fs.statfs_type(tmp_path) not in (None, 0)
    assert fs.statfs_type(tmp_path / "not" / "yet") == fs.statfs_type(tmp_path)  # the nearest existing folder
    assert fs.statfs_type("/proc") == 0x9FA0 and fs.network_fs("/proc") is None


def _journal_mode(db: Path) -> str:
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as conn:
        return str(conn.execute("PRAGMA journal_mode").fetchone()[0])


def _fragment_steps(trackio_dir: Path) -> int:
    """The largest step Trackio's fragments in ``trackio_dir`` hold (-1: none)."""
    steps = [-1]
    for path in _fragments(trackio_dir):
        try:
            steps += [json.loads(line).get("step") or 0 for line in path.read_text().splitlines()]
        except (OSError, ValueError):  # imported (removed) meanwhile
            pass
    return max(steps)


def _unset_modes(monkeypatch: pytest.MonkeyPatch) -> None:
    """Trackio's storage and journal modes unset for the test, and after it as they were (the backend sets them
    in os.environ; a delenv of an unset name alone would not restore that)."""
    for env in ("TRACKIO_SQLITE_JOURNAL_MODE", "TRACKIO_STORAGE_MODE"):
        monkeypatch.setenv(env, "")
        monkeypatch.delenv(env)


def _fragments(trackio_dir: Path) -> list[Path]:
    return sorted((trackio_dir / "inbox").rglob("*.jsonl"))


@pytest.mark.e2e  # real trackio
def test_on_nfs_trackio_writes_fragments_imports_them_and_says_so_once(
        tmp_path: Path, project: str, capfd, monkeypatch: pytest.MonkeyPatch) -> None:
    _unset_modes(monkeypatch)
    monkeypatch.setattr(fs, "statfs_type", lambda path: 0x6969)  # everything is on NFS
    cfg = types.SimpleNamespace(MODEL="gpt2", OPTIMIZER="adamw")
    db = readback.trackio_db(project)
    inbox = db.parent / "inbox"
    runs = tmp_path / "runs"
    for name in ("n1", "n2"):
        run = trackers.init({"lr": 0.1}, cfg=cfg, project=project, run_name=name, run_dir=runs / project / name,
                            trackers="trackio", log_gpu=False)
        run.log({"train/loss": 1.0}, step=1)
        run.summary({"best": 0.5})
        if name == "n2":  # while the run goes on its rows are fragments, not database rows
            deadline = time.time() + 30
            while not _fragments(db.parent) and time.time() < deadline:
                time.sleep(0.05)
            assert _fragments(db.parent)
            assert not readback.trackio_rows(db, "n2")
            # trackio-view --runs follows it from its journal meanwhile (docs/viewer.md)
            out = io.StringIO()
            with contextlib.chdir(tmp_path), contextlib.redirect_stdout(out):
                code = viewer_cli.main(["--dir", str(db.parent), "--runs", str(runs), "--project", project,
                                        "--run", "n2", "--once", "--no-cache"])
            assert code == 0 and "Latest Iteration: 1\n" in out.getvalue()
        run.finish()
    err = capfd.readouterr().err
    assert err.count("is on nfs: Trackio writes the run as JSONL fragments (TRACKIO_STORAGE_MODE=jsonl)") == 1
    assert err.count(f"the run folder {runs / project / 'n1'} is on nfs") == 1
    assert "missed" not in err
    assert _journal_mode(db) == "delete" and not Path(f"{db}-wal").exists()
    assert [s for s, _ in readback.trackio_rows(db, "n2")] == [1]  # imported at finish, once
    assert not _fragments(db.parent) and not any(inbox.iterdir())
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as conn:
        config = json.loads(conn.execute("SELECT config FROM configs WHERE run_name='n2'").fetchone()[0])
    assert config["lr"] == 0.1 and config["summary/best"] == 0.5
    meta = json.loads((runs / project / "n1" / "config.json").read_text())
    assert meta["provenance"]["run_dir_filesystem"] == "nfs"
    assert meta["backends"]["trackio"]["filesystem"] == "nfs"


@pytest.mark.e2e  # real trackio
def test_fragments_a_killed_run_left_are_imported_when_it_resumes(tmp_path: Path, project: str,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """A fragment on its own (what a SIGKILL leaves in the inbox) reaches the database before the resume."""
    from trackio.fragments import FragmentWriter, metric_record

    monkeypatch.setenv("TRACKIO_STORAGE_MODE", "jsonl")
    db = readback.trackio_db(project)
    FragmentWriter().write_local([metric_record({"project": project, "run": "k", "run_id": "killed-id",
                                                 "metrics": {"train/loss": 2.0}, "step": 0,
                                                 "timestamp": "2026-01-01T00:00:00+00:00"})],
                                 db.parent / "inbox")
    run = trackers.init({}, cfg=types.SimpleNamespace(MODEL="gpt2", OPTIMIZER="adamw"), project=project,
                        run_name="k", run_dir=tmp_path / "k", trackers="trackio", log_gpu=False, resume="allow")
    run.log({"train/loss": 1.0}, step=1)
    run.finish()
    assert [s for s, _ in readback.trackio_rows(db, "k")] == [0, 1]
    assert not _fragments(db.parent)


def test_locally_nothing_changes(tmp_path: Path, project: str, monkeypatch: pytest.MonkeyPatch) -> None:
    _unset_modes(monkeypatch)
    run = trackers.init({}, cfg=types.SimpleNamespace(MODEL="gpt2", OPTIMIZER="adamw"), project=project,
                        run_name="l", run_dir=tmp_path / "l", trackers="trackio", log_gpu=False)
    run.log({"train/loss": 1.0}, step=1)
    run.finish()
    assert _journal_mode(readback.trackio_db(project)) == "wal"
    assert "run_dir_filesystem" not in json.loads((tmp_path / "l" / "config.json").read_text())["provenance"]


KILLED = """
import sys, time, types, trackers
run = trackers.init(cfg=types.SimpleNamespace(), project=sys.argv[1], run_name="r", run_dir=sys.argv[2],
                    trackers="trackio", flush_interval=0.05, log_gpu=False)
for i in range(100000):
    run.log({"train/loss": 1.0 / (i + 1)}, step=i)
    time.sleep(0.005)
"""


@pytest.mark.e2e  # a real trackio in a process killed with SIGKILL
def test_a_killed_job_resumed_from_its_checkpoint_holds_each_step_once(tmp_path: Path, project: str,
                                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    """kill -9 while Trackio writes fragments, then the resume from the checkpoint at step 10 (what the
    trainers' --resume passes): the killed part's fragments are imported, the steps after 10 replaced."""
    import signal
    import subprocess
    import sys

    from rundata.journal import read_records

    from .conftest import subprocess_env

    monkeypatch.setenv("TRACKIO_STORAGE_MODE", "jsonl")
    db, run_dir = readback.trackio_db(project), tmp_path / "runs" / project / "r"
    script = tmp_path / "killed.py"
    script.write_text(KILLED)
    proc = subprocess.Popen([sys.executable, str(script), project, str(run_dir)],
                            env=subprocess_env(TRACKIO_STORAGE_MODE="jsonl"), stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    deadline = time.time() + 60
    while time.time() < deadline and _fragment_steps(db.parent) <= 12:
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait(30)
    assert _fragment_steps(db.parent) > 12  # the killed part's steps after the checkpoint are fragments
    assert max(r["step"] for r in read_records(run_dir)) > 12
    run = trackers.init(cfg=types.SimpleNamespace(), project=project, run_name="r", run_dir=run_dir,
                        trackers="trackio", log_gpu=False, resume="allow", rewind_to=10)
    for i in range(11, 15):
        run.log({"train/loss": 0.5}, step=i)
    run.finish()
    steps = [s for s, _ in readback.trackio_rows(db, "r")]
    assert sorted(steps) == list(range(15)) and not _fragments(db.parent)
