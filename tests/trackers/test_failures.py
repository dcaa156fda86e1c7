"""Failure injection: a backend that raises, one that hangs, a missing package, a full queue."""

from __future__ import annotations

import sys
import threading
import time

import pytest

import trackers
from trackers import backends
from rundata.journal import read_records
from trackers.readback import trackio_db, trackio_rows


class Raising:
    name = "flaky"

    def start(self, ctx):
        pass

    def log(self, row):
        raise RuntimeError("boom")

    def summary(self, values):
        pass

    def finish(self):
        pass


release = threading.Event()


class Hanging(Raising):
    name = "hang"

    def log(self, row):
        release.wait(30)

    def finish(self):
        release.wait(30)


@pytest.fixture(autouse=True)
def _registered():
    backends.register("flaky", Raising)
    backends.register("hang", Hanging)
    release.clear()
    yield
    release.set()
    backends.REGISTRY.pop("flaky", None)
    backends.REGISTRY.pop("hang", None)


def _log_rows(run, n):
    for i in range(n):
        run.log({"train/loss": 1.0 / (i + 1)}, step=i)


@pytest.mark.e2e  # real trackio
def test_raising_backend_disabled_once_others_continue(cfg, project, tmp_path, capfd):
    run = trackers.init(cfg=cfg, project=project, run_name="r", run_dir=tmp_path, trackers=["trackio", "flaky"],
                        retries=1)
    _log_rows(run, 30)
    run.finish()
    err = capfd.readouterr().err
    assert err.count("flaky disabled: RuntimeError: boom") == 1
    assert len([r for r in read_records(tmp_path) if r["type"] == "log"]) == 30
    assert len(trackio_rows(trackio_db(project), "r")) == 30


@pytest.mark.e2e  # real trackio
def test_hanging_backend_does_not_stall_others(cfg, project, tmp_path, capfd):
    run = trackers.init(cfg=cfg, project=project, run_name="r", run_dir=tmp_path, trackers=["trackio", "hang"],
                        backend_queue_size=5, backend_put_timeout=0.2, finish_timeout=1.0)
    t0 = time.perf_counter()
    _log_rows(run, 200)
    assert time.perf_counter() - t0 < 0.5  # log() never waits for the backends
    run.finish()
    err = capfd.readouterr().err
    assert "hang is not keeping up" in err and "hang did not finish within 1s" in err
    assert len(trackio_rows(trackio_db(project), "r")) == 200
    assert len([r for r in read_records(tmp_path) if r["type"] == "log"]) == 200


@pytest.mark.e2e  # real trackio
def test_wandb_not_importable(cfg, project, tmp_path, capfd, monkeypatch):
    monkeypatch.setitem(sys.modules, "wandb", None)
    run = trackers.init(cfg=cfg, project=project, run_name="r", run_dir=tmp_path, trackers="trackio,wandb")
    assert run.trackers == ["trackio"]
    _log_rows(run, 5)
    run.finish()
    err = capfd.readouterr().err
    assert err.count("wandb is not installed (pip install wandb)") == 1
    assert len(trackio_rows(trackio_db(project), "r")) == 5


def test_full_queue_writes_journal_directly(cfg, tmp_path, capfd):
    run = trackers.init(cfg=cfg, project="p", run_name="r", run_dir=tmp_path, trackers=["hang"], queue_size=2,
                        put_timeout=0.01, backend_queue_size=1, backend_put_timeout=0.5, finish_timeout=0.5, poll=0.001)
    _log_rows(run, 50)
    run.finish()
    assert run.not_sent > 0
    assert "log queue full" in capfd.readouterr().err
    steps = sorted(r["step"] for r in read_records(tmp_path) if r["type"] == "log")
    assert steps == list(range(50))


def test_rank_nonzero_is_noop(cfg, tmp_path, monkeypatch):
    monkeypatch.setenv("RANK", "1")
    run = trackers.init(cfg=cfg, project="p", run_name="r", run_dir=tmp_path / "x", trackers="trackio")
    assert isinstance(run, trackers.NoOpRun)
    run.log({"a": 1})
    run["b"] = 2
    run["c"].log(3)
    run.finish()
    assert not (tmp_path / "x").exists()
    with pytest.raises(ValueError):
        run.log({"": 1})
