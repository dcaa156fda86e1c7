"""Bad input to the configuration tools: one line, a non-zero exit, and every file as it was."""

from __future__ import annotations

import os
import re
import shutil
import stat
import subprocess
from pathlib import Path

import pytest

from kconf import ConfigError
from kconf.configure import defconfig
from tests.harness.conftest import read_py_config

GENERATED = ("config.py", "config.json", "include/generated/autoconf.h")


def _errors(result: subprocess.CompletedProcess[str]) -> list[str]:
    """stderr without make's own "make: *** ..." lines."""
    return [line for line in result.stderr.splitlines() if not re.match(r"make(\[\d+\])?: ", line)]


def _snapshot(root: Path, names: tuple[str, ...] = (".config", *GENERATED)) -> dict[str, tuple[bytes, int]]:
    return {name: ((root / name).read_bytes(), (root / name).stat().st_mtime_ns) for name in names}


def _one_line(result: subprocess.CompletedProcess[str], needle: str) -> None:
    errors = _errors(result)
    assert result.returncode != 0, result.stdout
    assert len(errors) == 1 and errors[0].startswith("ktrack-config: error: "), result.stderr
    assert needle in errors[0], errors[0]
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize("value, needle", [
    ("abc", "is not a number"), ("nan", "not a finite number"), ("inf", "not a finite number"),
    ("-1e-3", "outside (0, inf)"), ("0", "outside (0, inf)"),
])
def test_float_symbols_are_checked_when_set(tree: Path, make, value: str, needle: str) -> None:
    assert make("defconfig").returncode == 0
    before = _snapshot(tree)
    _one_line(make("defconfig", f"SET=TRAIN_LEARNING_RATE={value}"), needle)
    assert _snapshot(tree) == before


def test_float_interval_from_the_table(tree: Path) -> None:
    with pytest.raises(ConfigError, match=r"ADAM_BETA2=1.0 is outside \[0, 1\)"):
        defconfig(tree, "default", tree / ".config", assignments="ADAM_BETA2=1.0")
    defconfig(tree, "default", tree / ".config", assignments="ADAM_BETA2=0.999 GPT2_DROPOUT=0.1")
    assert 'CONFIG_ADAM_BETA2="0.999"' in (tree / ".config").read_text()


def test_menuconfig_output_is_checked(tree: Path, make) -> None:
    """menuconfig writes whatever string was typed; the generated files refuse a float that is none."""
    assert make("defconfig").returncode == 0
    before = _snapshot(tree, GENERATED)
    config = tree / ".config"
    text = config.read_text()
    config.write_text(text.replace('CONFIG_TRAIN_LEARNING_RATE="1e-3"', 'CONFIG_TRAIN_LEARNING_RATE="fast"'))
    result = make("genconfig")
    _one_line(result, "TRAIN_LEARNING_RATE='fast' is not a number")
    assert _snapshot(tree, GENERATED) == before


def test_string_with_a_newline_is_refused(tree: Path, make) -> None:
    assert make("defconfig").returncode == 0
    before = _snapshot(tree)
    _one_line(make("defconfig", "SET=TRACKER_RUN_NAME='two\nlines'"), "control character")
    assert _snapshot(tree) == before
    assert make("checkconfig").returncode == 0


def test_dollar_needs_doubling_and_then_arrives(tree: Path, make) -> None:
    assert make("defconfig").returncode == 0
    before = _snapshot(tree)
    _one_line(make("defconfig", "SET=TRACKER_RUN_NAME=cost$5x"), "write '$$' for each literal '$'")
    assert _snapshot(tree) == before
    assert make("defconfig", "SET=TRACKER_RUN_NAME=cost$$5x").returncode == 0
    assert read_py_config(tree)["TRACKER_RUN_NAME"] == "cost$5x"


@pytest.mark.parametrize("variable", ["DEFCONFIG", "TRACKER", "SET", "RUN", "A", "SWEEP"])
def test_quotes_in_variables_run_nothing(tree: Path, make, variable: str) -> None:
    target = {"A": "diffconfig", "SWEEP": "sweep"}.get(variable, "defconfig")
    # a quote ends make's old '$(VAR)' quoting; the backticks would then run before the tool starts
    result = make(target, f"{variable}=x'`touch pwned`'", "B=default")
    assert result.returncode != 0
    assert not (tree / "pwned").exists(), result.stderr
    assert "Traceback" not in result.stderr


def test_garbage_line_keeps_every_generated_file(tree: Path, make) -> None:
    assert make("defconfig").returncode == 0
    before = _snapshot(tree, GENERATED)
    config = tree / ".config"
    config.write_text(config.read_text() + "garbage here\n")
    os.utime(config, None)
    for target in ("train", "genconfig"):
        _one_line(make(target), ".config:")
        assert _snapshot(tree, GENERATED) == before


def test_read_only_config_is_refused_not_replaced(tree: Path, make) -> None:
    assert make("defconfig").returncode == 0
    config = tree / ".config"
    config.chmod(0o444)
    before = _snapshot(tree, (".config",))
    _one_line(make("defconfig", "TRACKER=trackio"), "read-only (mode 0444)")
    assert _snapshot(tree, (".config",)) == before and stat.S_IMODE(config.stat().st_mode) == 0o444


def _chattr(path: Path, flag: str) -> None:
    if shutil.which("chattr") is None:
        pytest.skip("chattr is not installed")
    result = subprocess.run(["chattr", flag, str(path)], capture_output=True, text=True)
    if result.returncode != 0:
        pytest.skip(f"chattr {flag} refused here ({result.stderr.strip()}); needs root on ext4/xfs")


def test_immutable_config_and_folder(tree: Path, make) -> None:
    assert make("defconfig").returncode == 0
    config = tree / ".config"
    before = _snapshot(tree)
    _chattr(config, "+i")
    try:
        _one_line(make("defconfig", "TRACKER=trackio"), "cannot write .config: Operation not permitted")
    finally:
        _chattr(config, "-i")
    assert _snapshot(tree) == before
    folder = tree / "locked"
    folder.mkdir()
    _chattr(folder, "+i")
    try:
        result = make("defconfig", env={"KCONFIG_CONFIG": str(folder / ".config")})
        _one_line(result, "Operation not permitted")
    finally:
        _chattr(folder, "-i")
    assert list(folder.iterdir()) == []


@pytest.fixture
def small_disk(tmp_path: Path):
    """A 64 KiB tmpfs mounted for the test (CI runs as root); skipped where mounting is refused."""
    mount = tmp_path / "disk"
    mount.mkdir()
    result = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(mount)],
                            capture_output=True, text=True)
    if result.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here ({result.stderr.strip() or 'not root'})")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def test_full_disk_leaves_files_as_they_were(tree: Path, make, small_disk: Path) -> None:
    config = small_disk / ".config"
    env = {"KCONFIG_CONFIG": str(config)}
    assert make("defconfig", env=env).returncode == 0
    before = _snapshot(small_disk)
    fd = os.open(small_disk / "filler", os.O_WRONLY | os.O_CREAT)
    try:
        while os.write(fd, b"\0" * 512):
            pass
    except OSError:
        pass
    finally:
        os.close(fd)
    for args in (("defconfig", "TRACKER=trackio"), ("defconfig", "DEFCONFIG=lenet5-cpu")):
        _one_line(make(*args, env=env), "No space left on device")
        assert _snapshot(small_disk) == before
    assert sorted(p.name for p in small_disk.iterdir()) == sorted([".config", "config.py", "config.json",
                                                                   "include", "filler"])


def test_config_that_is_a_directory(tree: Path, make) -> None:
    folder = tree / "somewhere"
    folder.mkdir()
    for target in ("defconfig", "genconfig", "checkconfig", "train"):
        _one_line(make(target, env={"KCONFIG_CONFIG": str(folder)}), "is a directory, not a configuration file")


def test_modes_follow_the_umask_and_the_users_file(tree: Path, make) -> None:
    old = os.umask(0o022)
    try:
        assert make("defconfig").returncode == 0
        for name in (".config", *GENERATED):
            assert stat.S_IMODE((tree / name).stat().st_mode) == 0o644, name
        (tree / ".config").chmod(0o640)
        assert make("defconfig", "TRACKER=trackio").returncode == 0
        assert stat.S_IMODE((tree / ".config").stat().st_mode) == 0o640
        assert "CONFIG_ENABLE_TRACKIO=y" in (tree / ".config").read_text()
    finally:
        os.umask(old)


@pytest.mark.parametrize("value, needle", [("abc", "is not a number"), ("nan", "not a finite number"),
                                           ("-1", "outside (0, inf)")])
def test_sweep_values_are_checked_by_kconf(tmp_path: Path, value: str, needle: str) -> None:
    """A sweep point's float goes through the same check (kconf's set_symbol) as SET=."""
    from sweeps.errors import SweepError
    from sweeps.points import Configurator
    from sweeps.spec import load as load_sweep
    from tests.harness.conftest import REPO_ROOT

    path = tmp_path / "bad.yaml"
    path.write_text(f"defconfig: lenet5-cpu\nvary:\n  TRAIN_LEARNING_RATE: ['{value}', '1e-3']\n"
                    "metric: best_val_loss\n")
    configurator = Configurator(load_sweep(path), REPO_ROOT)
    with pytest.raises(SweepError, match=re.escape(needle)):
        configurator.apply({"TRAIN_LEARNING_RATE": value}, "p")
