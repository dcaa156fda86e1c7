from __future__ import annotations

import os

from gpu import sysfs


def test_root_is_read_at_call_time(monkeypatch, tmp_path):
    (tmp_path / "sys").mkdir()
    (tmp_path / "sys" / "x").write_text("42\n")
    monkeypatch.setenv("KTRACK_SYSFS_ROOT", str(tmp_path))
    assert sysfs.read_int("/sys/x") == 42
    monkeypatch.setenv("KTRACK_SYSFS_ROOT", str(tmp_path / "sys"))
    assert sysfs.read("/sys/x") is None and sysfs.read("/x") == "42"
    monkeypatch.delenv("KTRACK_SYSFS_ROOT")
    assert sysfs.root() == "/" and sysfs.resolve("/sys/x") == "/sys/x"


def test_bad_values_are_none(monkeypatch, tmp_path):
    monkeypatch.setenv("KTRACK_SYSFS_ROOT", str(tmp_path))
    files = {"empty": "", "blank": "  \n", "garbage": "abc\n", "binary": b"\xff\xfe"}
    for name, text in files.items():
        p = tmp_path / name
        p.write_bytes(text if isinstance(text, bytes) else text.encode())
    (tmp_path / "adir").mkdir()
    for name in [*files, "adir", "missing"]:
        assert sysfs.read_int("/" + name) is None, name
        assert sysfs.read_float("/" + name) is None, name
    assert sysfs.read("/garbage") == "abc"
    assert sysfs.read("/binary") is None


def test_permission_denied(monkeypatch, tmp_path):
    monkeypatch.setenv("KTRACK_SYSFS_ROOT", str(tmp_path))
    p = tmp_path / "secret"
    p.write_text("7\n")
    p.chmod(0)
    try:
        value = sysfs.read_int("/secret")
        # root ignores the mode; everyone else gets None, never an exception
        assert value == (7 if os.geteuid() == 0 else None)
    finally:
        p.chmod(0o644)
    locked = tmp_path / "locked"
    locked.mkdir()
    (locked / "f").write_text("1")
    locked.chmod(0)
    try:
        assert sysfs.entries("/locked") in (None, ["f"])
    finally:
        locked.chmod(0o755)


def test_hex_and_listing(monkeypatch, tmp_path):
    monkeypatch.setenv("KTRACK_SYSFS_ROOT", str(tmp_path))
    (tmp_path / "vendor").write_text("0x1002\n")
    assert sysfs.read_int("/vendor") == 0x1002
    assert sysfs.listdir("/nope") == [] and sysfs.entries("/nope") is None
    assert "vendor" in sysfs.listdir("/")
