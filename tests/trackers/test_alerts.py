"""Alert rules (NaN/inf, divergence, GPU throttle), printed once, journaled, sent, stopping only when configured."""

from __future__ import annotations

import dataclasses
import math
import time
import types

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import trackers
from trackers import readback
from trackers.alerts import TITLE_MAX, AlertMonitor, AlertRules
from rundata.journal import read_records

#: The rules of the Kconfig tree's defaults (menu "Alerts").
RULES = AlertRules.from_config({})


def _rules(**symbols: object) -> AlertRules:
    """The rules of a configuration giving ``symbols`` (every other one at its default)."""
    return AlertRules.from_config(symbols)


def _wait(predicate, timeout: float = 30.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.02)
    return predicate()


def test_nan_inf_fire_once_per_key():
    mon = AlertMonitor(RULES)
    fired = []
    for step, value in enumerate([1.0, float("nan"), float("inf"), float("nan")]):
        fired += mon.check_row(step, {"train/loss": value, "val/loss": -math.inf if step == 3 else 1.0})
    assert [(a.title, a.level, a.step) for a in fired] == [("train/loss is NaN", "ERROR", 1),
                                                          ("val/loss is -inf", "ERROR", 3)]
    assert mon.stop_reason is None


def test_divergence_after_warmup_above_k_times_minimum():
    mon = AlertMonitor(_rules(ALERT_DIVERGENCE_FACTOR=3.0, ALERT_DIVERGENCE_WARMUP=3))
    losses = [9.0, 4.0, 2.0, 5.9, 6.1, 7.0, 50.0]
    fired = [a for i, v in enumerate(losses) for a in mon.check_row(i, {"train/loss": v})]
    assert [(a.title, a.step) for a in fired] == [("train/loss diverged", 4)]
    assert "above 3 x its minimum 2" in fired[0].text
    assert AlertMonitor(_rules(ALERT_DIVERGENCE_FACTOR=0.0)).check_row(0, {"train/loss": 1.0}) == []


def test_rules_from_config_and_stop():
    cfg = types.SimpleNamespace(TRACKER_ALERTS=True, ALERT_KEYS="loss, val/loss", ALERT_NAN=True, ALERT_NAN_STOP=True,
                                ALERT_DIVERGENCE_FACTOR="2.5", ALERT_DIVERGENCE_WARMUP=0, ALERT_GPU_THROTTLE=False)
    rules = AlertRules.from_config(cfg)
    assert rules.keys == ("loss", "val/loss") and rules.divergence_factor == 2.5 and rules.nan_stop
    mon = AlertMonitor(rules)
    assert mon.check_row(0, {"train/loss": math.nan}) == []  # not a watched key
    (alert,) = mon.check_row(1, {"loss": math.nan})
    assert mon.stop_reason == alert.title and "ALERT_NAN_STOP=y" in alert.text
    off = AlertMonitor(AlertRules.from_config(types.SimpleNamespace(TRACKER_ALERTS=False)))
    assert off.check_row(0, {"train/loss": math.nan}) == []


def test_throttle_once_per_gpu_and_reason():
    mon = AlertMonitor(RULES)
    s0 = types.SimpleNamespace(index=0, name="GPU A", throttle="thermal,power")
    s1 = types.SimpleNamespace(index=1, name="GPU B", throttle="")
    s2 = types.SimpleNamespace(index=2, name="GPU C", throttle=None)
    first = mon.check_gpus([s0, s1, s2], step=5)
    assert [a.title for a in first] == ["GPU 0 throttled (thermal)", "GPU 0 throttled (power)"]
    assert mon.check_gpus([s0], step=6) == [] and mon.stop_reason is None


@settings(max_examples=200, deadline=None)
@given(st.lists(st.one_of(st.floats(allow_nan=True, allow_infinity=True), st.booleans(), st.text(max_size=3),
                          st.integers(-10**6, 10**6), st.none()), max_size=60),
       st.floats(0, 100, allow_nan=False), st.integers(0, 10))
def test_monitor_never_raises_and_fires_each_rule_once(values, factor, warmup):
    mon = AlertMonitor(dataclasses.replace(RULES, divergence_factor=factor, divergence_warmup=warmup))
    fired = [a for i, v in enumerate(values) for a in mon.check_row(i, {"train/loss": v})]
    titles = [a.title for a in fired]
    assert len(titles) == len(set(titles)) <= 2
    assert all(len(a.title) <= TITLE_MAX and a.level in ("WARN", "ERROR") for a in fired)


def test_long_titles_are_shortened():
    key = "numerics/" + "x" * 80
    (alert,) = AlertMonitor(_rules(ALERT_KEYS=key)).check_row(0, {key: math.inf})
    assert len(alert.title) == TITLE_MAX


def test_run_prints_once_journals_and_stops_when_configured(cfg, tmp_path, capfd):
    cfg.ALERT_NAN_STOP = True
    run = trackers.init(cfg=cfg, project="p", run_name="r", run_dir=tmp_path, trackers="none")
    for i in range(5):
        run.log({"train/loss": math.nan}, step=i)
    assert _wait(lambda: run.stop_requested)
    run.alert("checkpoint saved", "step 4", level="info")
    with pytest.raises(ValueError, match="INFO, WARN or ERROR"):
        run.alert("x", "y", level="loud")
    run.finish()
    err = capfd.readouterr().err
    assert err.count("train/loss is NaN") == 1 and err.count("checkpoint saved") == 1
    alerts = [r for r in read_records(tmp_path) if r["type"] == "alert"]
    assert [(a["metrics"]["title"], a["metrics"]["level"], a["step"]) for a in alerts] == [
        ("train/loss is NaN", "ERROR", 0), ("checkpoint saved", "INFO", 4)]


def test_training_goes_on_unless_configured(cfg, tmp_path):
    run = trackers.init(cfg=cfg, project="p", run_name="r", run_dir=tmp_path, trackers="none")
    run.log({"train/loss": math.nan}, step=0)
    run.finish()
    assert any(r["type"] == "alert" for r in read_records(tmp_path)) and not run.stop_requested
    assert trackers.NoOpRun().stop_requested is False


@pytest.mark.e2e  # real trackers
def test_alerts_reach_trackio_and_wandb_printed_once(cfg, project, tmp_path, capfd):
    run = trackers.init(cfg=cfg, project=project, run_name="r", run_dir=tmp_path, trackers="trackio,wandb")
    for i in range(3):
        run.log({"val/loss": math.inf}, step=i)
    run.finish()
    out = capfd.readouterr()
    assert (out.out + out.err).count("val/loss is inf") == 1  # Trackio's own line, not a second one of ours
    (alert,) = readback.trackio_alerts(readback.trackio_db(project), "r")
    assert (alert["title"], alert["level"], alert["step"]) == ("val/loss is inf", "error", 0)
    w = readback.wandb_run(run.ctx.info["wandb"]["dir"])
    assert w["alerts"] == [{"title": "val/loss is inf", "text": "val/loss = inf at step 0.", "level": "ERROR"}]


@pytest.mark.e2e  # real trackio
def test_trackio_webhook_gets_the_alert(cfg, project, tmp_path):
    """CONFIG_TRACKIO_WEBHOOK_URL: Trackio posts each alert to it (a local server here)."""
    import http.server
    import json
    import threading

    posts: list[dict] = []

    class Hook(http.server.BaseHTTPRequestHandler):
        def do_POST(self):
            posts.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Hook)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        cfg.TRACKIO_WEBHOOK_URL = f"http://127.0.0.1:{server.server_address[1]}/hook"
        run = trackers.init(cfg=cfg, project=project, run_name="hook", run_dir=tmp_path, trackers="trackio")
        run.log({"train/loss": math.nan}, step=3)
        assert _wait(lambda: bool(posts))
        run.finish()
    finally:
        server.shutdown()
    assert posts[0]["title"] == "train/loss is NaN" and posts[0]["level"] == "error" and posts[0]["step"] == 3
