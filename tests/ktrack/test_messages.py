"""ktrack.messages and ktrack.numbers: one style of errors and warnings, one test of what a number is."""

from __future__ import annotations

import math
import typing

import pytest

from ktrack import messages
from ktrack.numbers import number


@pytest.fixture(autouse=True)
def _fresh_warnings():
    messages.reset_warnings()
    yield
    messages.reset_warnings()


def test_fail_is_one_line_and_exit_1(capsys):
    with pytest.raises(SystemExit) as exc:
        messages.fail("prog", "the file is missing; create it")
    assert exc.value.code == 1
    assert capsys.readouterr().err == "prog: error: the file is missing; create it\n"


def test_usage_exits_2(capsys):
    with pytest.raises(SystemExit) as exc:
        messages.usage("prog", "unknown option --x; see prog --help")
    assert exc.value.code == 2
    assert capsys.readouterr().err == "prog: error: unknown option --x; see prog --help\n"


def test_fail_and_usage_are_typed_noreturn():
    assert typing.get_type_hints(messages.fail)["return"] is typing.NoReturn
    assert typing.get_type_hints(messages.usage)["return"] is typing.NoReturn


def test_warning_once_per_cause(capsys):
    assert messages.warn("prog", "disk full; rows are lost", key="disk")
    assert not messages.warn("prog", "disk full again", key="disk")
    assert messages.warn("prog", "another cause", key="other")
    assert messages.warn("prog", "no key: every time")
    assert messages.warn("prog", "no key: every time")
    assert capsys.readouterr().err.splitlines() == [
        "prog: warning: disk full; rows are lost", "prog: warning: another cause",
        "prog: warning: no key: every time", "prog: warning: no key: every time"]


def test_messages_cannot_drive_the_terminal(capsys):
    with pytest.raises(SystemExit):
        messages.fail("prog", "run '\x1b[2Jname'\nsecond line\r")
    err = capsys.readouterr().err
    assert "\x1b" not in err and err.count("\n") == 1 and "\\x1b[2J" in err


@pytest.mark.parametrize("value, expected", [
    (1, 1.0), (2.5, 2.5), (-0.0, 0.0), (True, None), (False, None), ("1.5", None), (None, None), ([1], None),
])
def test_number(value, expected):
    assert number(value) == expected
    assert number(value, finite=True) == expected


def test_number_non_finite():
    assert math.isnan(number(float("nan")))
    assert number(float("inf")) == math.inf and number(-math.inf) == -math.inf
    assert number(float("nan"), finite=True) is None and number(math.inf, finite=True) is None
