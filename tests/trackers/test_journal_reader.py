"""Property tests of the one journal reader over journals cut short and over random bytes.

Invariant: the records that were completely written, decoded right; or, with
``strict``, one :class:`JournalError` naming the file and line. Never another exception.
"""

from __future__ import annotations

import math
import tempfile
import time
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ktrack.runfolder import JOURNAL
from rundata.journal import JournalError, read_records
from trackers.journal import Journal

KEYS = st.text(min_size=1, max_size=12)
VALUES = st.one_of(st.floats(allow_nan=True, allow_infinity=True), st.integers(-(10**20), 10**20), st.booleans(),
                   st.text(max_size=20))
ROWS = st.lists(st.tuples(st.sampled_from(["log", "series", "summary"]), st.integers(0, 10**9),
                          st.dictionaries(KEYS, VALUES, min_size=1, max_size=5)), min_size=1, max_size=30)
SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _same(a, b) -> bool:
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
        return True
    return a == b and type(a) is type(b)


def _write(folder: Path, rows) -> bytes:
    journal = Journal(folder)
    for kind, step, values in rows:
        if kind == "summary":
            journal.write_summary(values, time.time())
        else:
            journal.write(kind, step, time.time(), values)
    journal.close()
    return (folder / JOURNAL).read_bytes()


def _check(rec, row) -> None:
    kind, step, values = row
    assert rec["type"] == kind
    got = rec["summary"] if kind == "summary" else rec["metrics"]
    if kind != "summary":
        assert rec["step"] == step
    assert got.keys() == values.keys()
    for key, value in values.items():
        expected = float(value) if isinstance(value, str) and value in ("NaN", "Infinity", "-Infinity") else value
        assert _same(got[key], expected), (key, value, got[key])


@SETTINGS
@given(rows=ROWS, cut=st.floats(0, 1))
def test_a_journal_cut_anywhere_reads_as_its_complete_lines(rows, cut):
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        data = _write(folder, rows)
        keep = data[:int(len(data) * cut)]
        (folder / JOURNAL).write_bytes(keep)
        got = list(read_records(folder, strict=True))
        assert len(got) == keep.count(b"\n")
        for rec, row in zip(got, rows, strict=False):
            _check(rec, row)


@SETTINGS
@given(data=st.binary(max_size=2000), lines=st.lists(st.sampled_from([
    b'{"type":"log","step":-1,"time":1,"metrics":{}}', b'{"type":"log","step":"x","time":1,"metrics":{}}',
    b'{"type":"log","step":1,"time":1,"metrics":[]}', b'{"type":"summary","time":1,"summary":3}',
    b'{"type":"log","step":1,"time":"t","metrics":{}}', b"[1,2]", b"{}", b"3", b"\xff\xfe", b"[" * 5000,
    b'{"type":"log","step":2,"time":1,"metrics":{"a":1}}', b'{"type":"alert","time":1,"title":"x"}',
]), max_size=8))
def test_random_bytes_give_valid_records_or_one_clear_error(data, lines):
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        (folder / JOURNAL).write_bytes(data + b"\n" + b"\n".join(lines) + b"\n")
        for rec in read_records(folder):  # lenient: never raises, yields only valid records
            assert isinstance(rec["type"], str)
            if rec["type"] in ("log", "series"):
                assert isinstance(rec["step"], int) and rec["step"] >= 0 and isinstance(rec["metrics"], dict)
            if rec["type"] == "summary":
                assert isinstance(rec["summary"], dict)
        try:
            strict = list(read_records(folder, strict=True))
        except JournalError as exc:
            message = str(exc)
            assert "\n" not in message and f"{folder / JOURNAL} line " in message and "fix or delete" in message
        else:
            assert strict == list(read_records(folder))


def test_a_resumed_journal_starts_a_new_line_after_a_partial_one(tmp_path):
    (tmp_path / JOURNAL).write_bytes(b'{"type":"log","step":0,"time":1,"metrics":{"a":1}}\n{"type":"lo')
    journal = Journal(tmp_path)
    journal.write("log", 1, 2.0, {"a": 2})
    journal.close()
    assert [r["step"] for r in read_records(tmp_path, strict=True)] == [0, 1]
