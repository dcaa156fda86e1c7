"""Network filesystems: named from statfs's real f_type numbers; under one, Trackio's database uses a
rollback journal instead of WAL (said once) and the run records where it is."""

from __future__ import annotations

import json
import sqlite3
import types
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

import trackers
from ktrack import fs
from trackers import readback

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


def test_on_nfs_trackio_keeps_no_wal_and_says_so_once(tmp_path: Path, project: str, capfd,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TRACKIO_SQLITE_JOURNAL_MODE", "")  # unset for the run; restored after the test
    monkeypatch.setattr(fs, "statfs_type", lambda path: 0x6969)  # everything is on NFS
    cfg = types.SimpleNamespace(MODEL="gpt2", OPTIMIZER="adamw")
    for name in ("n1", "n2"):
        run = trackers.init({"lr": 0.1}, cfg=cfg, project=project, run_name=name, run_dir=tmp_path / name,
                            trackers="trackio", log_gpu=False)
        run.log({"train/loss": 1.0}, step=1)
        run.finish()
    err = capfd.readouterr().err
    assert err.count("is on nfs: Trackio's database there uses a rollback journal") == 1
    assert err.count(f"the run folder {tmp_path / 'n1'} is on nfs") == 1
    db = readback.trackio_db(project)
    assert _journal_mode(db) == "delete" and not Path(f"{db}-wal").exists()
    assert [s for s, _ in readback.trackio_rows(db, "n2")] == [1]
    meta = json.loads((tmp_path / "n1" / "config.json").read_text())
    assert meta["provenance"]["run_dir_filesystem"] == "nfs"
    assert meta["backends"]["trackio"]["filesystem"] == "nfs"


def test_locally_nothing_changes(tmp_path: Path, project: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TRACKIO_SQLITE_JOURNAL_MODE", "")
    run = trackers.init({}, cfg=types.SimpleNamespace(MODEL="gpt2", OPTIMIZER="adamw"), project=project,
                        run_name="l", run_dir=tmp_path / "l", trackers="trackio", log_gpu=False)
    run.log({"train/loss": 1.0}, step=1)
    run.finish()
    assert _journal_mode(readback.trackio_db(project)) == "wal"
    assert "run_dir_filesystem" not in json.loads((tmp_path / "l" / "config.json").read_text())["provenance"]
