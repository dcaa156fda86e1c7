"""The ``.config`` reader (``kconf.load``) over truncated files and random bytes.

Invariant: the typed values, where every line kept whole reads as it was
written; or one :class:`kconf.ConfigError` whose one-line message names the
file; never another exception, never a warning printed by kconfiglib.
"""

from __future__ import annotations

import atexit
import contextlib
import io
import shutil
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kconf import ConfigError, load
from kconf.configure import defconfig
from tests.harness.conftest import REPO_ROOT

FOLDER = Path(tempfile.mkdtemp(prefix="ktrack-config-reader-"))
# The strategies below need the text at import time, before any fixture runs.
atexit.register(shutil.rmtree, FOLDER, True)
CONFIG = FOLDER / ".config"
defconfig(REPO_ROOT, "default", CONFIG)
TEXT = CONFIG.read_bytes()
VALUES = load(CONFIG).recorded()


def _read(data: bytes) -> dict[str, object] | str:
    """The values of a ``.config`` holding ``data``, or the error line."""
    path = FOLDER / "case.config"
    path.write_bytes(data)
    said = io.StringIO()
    with contextlib.redirect_stderr(said):
        try:
            result: dict[str, object] | str = load(path).recorded()
        except ConfigError as exc:
            result = str(exc)
    assert said.getvalue() == "", said.getvalue()
    if isinstance(result, str):
        assert "\n" not in result and str(path) in result, result
    return result


def _whole_lines(data: bytes) -> dict[str, str]:
    """``{symbol: value text}`` of the assignments on the lines of ``data`` that end in a newline."""
    out = {}
    for line in data.split(b"\n")[:-1]:
        name, sep, value = line.decode().partition("=")
        if sep and name.startswith("CONFIG_"):
            out[name.removeprefix("CONFIG_")] = value
    return out


SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@SETTINGS
@given(cut=st.integers(0, len(TEXT)))
def test_a_config_cut_anywhere_keeps_its_whole_lines(cut: int) -> None:
    data = TEXT[:cut]
    result = _read(data)
    if isinstance(result, str):  # the cut left half an assignment that is not a value of its symbol
        last_line = data.count(b"\n") + 1
        assert f":{last_line}: " in result, result
        return
    for name in _whole_lines(data):
        assert result.get(name) == VALUES[name], name


@SETTINGS
@given(junk=st.binary(max_size=200), at=st.integers(0, len(TEXT)))
def test_random_bytes_give_values_or_one_error_line(junk: bytes, at: int) -> None:
    at = TEXT.rfind(b"\n", 0, at) + 1  # at the start of a line
    _read(TEXT[:at] + junk + b"\n" + TEXT[at:])


@pytest.mark.parametrize("junk", [b"\xff\xfe", b"\x00", b"CONFIG_", b"CONFIG_=y", b"=", b"CONFIG_TRAIN_MAX_ITERS"])
def test_known_bad_lines_are_one_error_line(junk: bytes) -> None:
    assert isinstance(_read(TEXT + junk + b"\n"), str)
