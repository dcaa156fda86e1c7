"""Numbers and text a tracker cannot hold: refused steps, values left out for one tracker alone.

A step beyond 2**63-1 (SQLite's INTEGER, W&B's and TensorBoard's step fields)
once lost every row of the run in two trackers; a value one tracker cannot
store (an integer beyond 64 bits, text that is not UTF-8, a float32 overflow
in TensorBoard) disabled that tracker. Rows are counted with each tool's own
reader; the value classes are checked against the tools' own encoders.
"""

from __future__ import annotations

import json
import math
import subprocess
import sys
from fractions import Fraction

import numpy as np
import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from trackio.sqlite_storage import SQLiteStorage

import trackers
from rundata.journal import MAX_STEP, JournalError, parse_record, read_records
from trackers.backends.tensorboard_backend import TensorBoardBackend, hparam_values
from trackers.backends.trackio_backend import TrackioBackend
from trackers.backends.wandb_backend import WandbBackend
from trackers.journal import Journal
from trackers.readback import tensorboard_data, tensorboard_scalars, trackio_db, trackio_rows, wandb_run
from trackers.replay import replay
from trackers.values import cannot_store, check_key, plain

from .conftest import subprocess_env

#: Real trackers (or Slurm's commands) through ktrack's own code: the end-to-end tier.
pytestmark = pytest.mark.e2e

SETTINGS = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
HUGE = 2**70
BAD_TEXT = "x\ud800y"  # a lone surrogate: no tracker writes it


def _log(run):
    """Steps 0..9 with a value each tracker cannot store at step 3, and a step no tracker stores."""
    for i in range(10):
        extra = {"huge": HUGE, "text": BAD_TEXT, "f": 1e39} if i == 3 else {}
        run.log({"train/loss": 1.0 / (i + 1), **extra}, step=i)
        if i == 5:
            run.log({"train/loss": 9.0}, step=2**63)  # refused with a warning; training goes on
            run.log({"train/loss": 9.0}, step=10**5000)


def _wandb_rows(run):
    meta = json.loads((run.dir / "config.json").read_text())
    return wandb_run(meta["backends"]["wandb"]["dir"])["history"]


def test_unstorable_values_are_left_out_per_tracker_and_bad_steps_refused(cfg, project, tmp_path, capfd):
    run = trackers.init(cfg=cfg, project=project, run_name="r", run_dir=tmp_path / "run",
                        trackers="trackio,wandb,tensorboard")
    _log(run)
    run.summary({"best": HUGE, "ok": 0.5})
    run.finish()
    err = capfd.readouterr().err
    assert not [w.error for w in run.workers if w.error], err
    assert {w.name: w.missed for w in run.workers} == {"trackio": 0, "wandb": 0, "tensorboard": 0}
    # trackio holds ints up to 2**64-1 (orjson), W&B up to 2**63-1, TensorBoard float32 numbers
    assert {w.name: sorted(w.unstorable_keys) for w in run.workers} == {
        "trackio": ["best", "huge", "text"], "wandb": ["best", "huge", "text"], "tensorboard": ["f", "text"]}
    steps = list(range(10))
    rows = trackio_rows(trackio_db(project), "r")
    assert [s for s, m in rows if "train/loss" in m] == steps
    assert {k for s, m in rows if s == 3 for k in m} == {"train/loss", "f"}
    own = SQLiteStorage.get_logs(project, "r")  # trackio's own reader agrees
    assert [r["step"] for r in own] == steps and own[3]["f"] == 1e39 and "huge" not in own[3]
    history = _wandb_rows(run)
    assert sorted(r["_step"] for r in history) == steps
    assert {k for r in history if r["_step"] == 3 for k in r if not k.startswith("_")} == {"train/loss", "f"}
    tb = tensorboard_scalars(run.dir / "tensorboard")
    assert [s for s, _ in tb["train/loss"]] == steps
    assert tb["huge"] == [(3, pytest.approx(float(HUGE)))] and "f" not in tb
    assert "text" not in tensorboard_data(run.dir / "tensorboard")["texts"]
    # the journal keeps every value, JSON any reader takes (ASCII, no NaN literals)
    recs = [r for r in read_records(run.dir) if r["type"] == "log"]
    assert [r["step"] for r in recs] == steps
    assert recs[3]["metrics"] == {"train/loss": 0.25, "huge": HUGE, "text": BAD_TEXT, "f": 1e39}
    assert (run.dir / "metrics.jsonl").read_bytes().isascii()
    assert run.refused == 2
    lines = err.splitlines()
    assert sum("step must be an int from 0 to 2**63-1" in line for line in lines) == 1, err
    assert "an integer of 16610 bits" in err or "9223372036854775808" in err
    assert any(line.startswith("trackers: warning: 2 row(s) were not logged because their step was bad")
               for line in lines), err
    assert any(line.startswith("trackers: warning: wandb cannot store 'huge' = 1180591620717411303424 ")
               for line in lines), err
    # replay knows the same limits: nothing is sent again, the left-out values are counted
    for to, left in (("trackio", 3), ("tensorboard", 2)):  # summary "best" too for trackio
        assert replay(run.dir, to) == {"sent": 0, "skipped": 10, "unstorable": left}
    assert len(trackio_rows(trackio_db(project), "r")) == 10


def test_tensorboard_float32_overflow_is_left_out_not_inf(cfg, project, tmp_path):
    run = trackers.init(cfg=cfg, project=project, run_name="r", run_dir=tmp_path, trackers="tensorboard")
    run.log({"a": 1.0, "f": 1e39, "g": 10**400}, step=0)
    run.log({"a": 2.0, "f": 3.0e38}, step=1)
    run.finish()
    tb = tensorboard_scalars(tmp_path / "tensorboard")
    assert tb["a"] == [(0, 1.0), (1, 2.0)] and tb["f"] == [(1, pytest.approx(3.0e38))] and "g" not in tb
    (worker,) = run.workers
    assert worker.unstorable == 2 and worker.enabled is False and worker.error is None


def test_journal_with_a_step_no_tracker_stores_is_refused_by_replay_with_its_line(cfg, project, tmp_path):
    run = trackers.init(cfg=cfg, project=project, run_name="r", run_dir=tmp_path, trackers="none")
    run.log({"a": 1.0}, step=0)
    run.finish()
    with open(tmp_path / "metrics.jsonl", "a") as f:  # written by an older ktrack
        f.write(json.dumps({"type": "log", "step": 2**63, "time": 1.0, "metrics": {"a": 2.0}}) + "\n")
    with pytest.raises(JournalError, match=r"metrics.jsonl line 2: step 9223372036854775808 is not an integer "
                                           r"from 0 to 2\*\*63-1; fix or delete that line"):
        replay(tmp_path, "trackio")
    assert [r["step"] for r in read_records(tmp_path)] == [0]  # a lenient reader skips that record


def test_series_and_other_ranks_refuse_bad_steps_with_a_warning(cfg, tmp_path, capfd):
    run = trackers.init(cfg=cfg, project="p", run_name="r", run_dir=tmp_path, trackers="none")
    run["loss/train"].log(1.0, step=MAX_STEP + 1)
    run["loss/train"].log(2.0, step=MAX_STEP)
    run.log({"a": 1.0}, step=-1)
    run.log({"a": 1.0}, step=1.5)
    run.log({"a": 2.0})
    run.log({"a": 3.0}, step=MAX_STEP)
    run.log({"a": 4.0})  # there is no step after the last one
    run["loss/train"].log(3.0)
    run.finish()
    recs = [(r["type"], r["step"]) for r in read_records(tmp_path)]
    assert recs == [("series", MAX_STEP), ("log", 0), ("log", MAX_STEP)]
    assert run.refused == 5
    noop = trackers.NoOpRun()
    noop.log({"a": 1.0}, step=2**64)
    noop.log({"a": 1.0}, step=3)
    assert noop.step == 3
    assert capfd.readouterr().err.count("that row is not logged (training goes on)") == 2


def test_replay_cli_counts_values_left_out(cfg, project, tmp_path):
    run = trackers.init(cfg=cfg, project=project, run_name="r", run_dir=tmp_path, trackers="none")
    run.log({"a": 1.0, "huge": HUGE}, step=0)
    run.finish()
    out = subprocess.run([sys.executable, "-m", "trackers", "replay", str(tmp_path), "--to", "wandb"],
                         capture_output=True, text=True, env=subprocess_env(), timeout=180)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip().endswith("1 rows sent, 0 already there, 1 values wandb cannot store left out")


def test_a_config_number_beyond_a_double_is_an_hparam_text():
    assert hparam_values({"big": 10**400, "ok": 2**70}, {}) == {"big": repr(10**400)[:77] + "...", "ok": 2**70}


def test_bad_key_text_is_refused():
    with pytest.raises(ValueError, match="not valid UTF-8"):
        check_key("loss\udc80")


# -- value classes --------------------------------------------------------------------------------------------

_numbers = st.one_of(
    st.integers(), st.integers(min_value=-2**200, max_value=2**200), st.sampled_from([2**63 - 1, 2**63, 2**64 - 1,
                                                                                     2**64, -2**63, -2**63 - 1]),
    st.floats(allow_nan=True, allow_infinity=True), st.floats(min_value=3e38, max_value=1e300),
    st.fractions(), st.complex_numbers(), st.booleans(), st.text(), st.none(),
    st.integers(min_value=-2**63, max_value=2**63 - 1).map(np.int64),
    st.integers(min_value=0, max_value=2**64 - 1).map(np.uint64),
    st.floats(width=32).map(np.float32), st.floats().map(np.longdouble),
    st.complex_numbers(allow_nan=False).map(np.complex64),
    st.just(np.longdouble(2) ** 400).map(lambda x: x ** 50), st.just(Fraction(10**400)), st.just(10**5000),
)


@pytest.mark.filterwarnings("ignore:overflow encountered:RuntimeWarning")
@SETTINGS
@given(_numbers)
def test_every_value_is_kept_plain_or_skipped_with_a_reason_and_round_trips_the_journal(value):
    with np.errstate(over="ignore"):
        values, skipped = plain({"k": value})
    if value is None:
        assert values == {} and skipped == {}
        return
    assert len(values) + len(skipped) == 1
    if skipped:
        assert skipped["k"] in ("is beyond the float range", "is an integer too long for JSON")
        return
    v = values["k"]
    assert type(v) in (bool, int, float, str)
    rec = parse_record(_journal_line(v))
    assert rec is not None
    back = rec["metrics"]["k"]
    assert back == v or (isinstance(v, float) and math.isnan(v) and math.isnan(back)), (v, back)


def _journal_line(value):
    """The line the journal writes for one value."""
    import tempfile
    from pathlib import Path

    with tempfile.TemporaryDirectory() as d:
        j = Journal(Path(d))
        j.write("log", 0, 0.0, {"k": value})
        j.close()
        data = (Path(d) / "metrics.jsonl").read_bytes()
    assert data.isascii()
    return data


def _orjson_ok(value):
    try:
        orjson.dumps({"k": value}, option=orjson.OPT_SERIALIZE_NUMPY)
    except orjson.JSONEncodeError:
        return False
    return True


@SETTINGS
@given(st.one_of(st.integers(), st.integers(min_value=-2**66, max_value=2**66), st.text(), st.floats(),
                 st.sampled_from([2**64 - 1, 2**64, -2**63, -2**63 - 1, "\ud800", "a\x00"])))
def test_trackio_limits_are_what_its_encoder_takes(value):
    """Trackio writes metrics with orjson: a value is left out exactly when orjson refuses it."""
    if isinstance(value, float) and not math.isfinite(value):
        return  # trackio writes NaN/inf as strings itself
    assert (cannot_store(value, TrackioBackend.limits) is None) == _orjson_ok(value)


@pytest.mark.filterwarnings("ignore:overflow encountered:RuntimeWarning")
@SETTINGS
@given(st.one_of(st.integers(), st.integers(min_value=-2**66, max_value=2**66), st.integers(min_value=10**38),
                 st.floats(allow_nan=False, allow_infinity=False), st.floats(min_value=3.3e38, max_value=3.5e38)))
def test_tensorboard_limits_are_what_float32_holds(value):
    """TensorBoard keeps scalars as float32: a finite value is left out exactly when it would become inf."""
    try:
        fits = bool(np.isfinite(np.float32(float(value))))
    except OverflowError:  # beyond even a double
        fits = False
    assert (cannot_store(value, TensorBoardBackend.limits) is None) == fits


@SETTINGS
@given(st.integers(min_value=-2**70, max_value=2**70))
def test_wandb_limits_are_64_bit_integers(value):
    from wandb.proto import wandb_internal_pb2

    try:
        wandb_internal_pb2.HistoryRecord(step=wandb_internal_pb2.HistoryStep(num=value))
        fits = True
    except ValueError:
        fits = False
    assert (cannot_store(value, WandbBackend.limits) is None) == fits
