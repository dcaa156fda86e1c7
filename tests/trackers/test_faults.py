"""Faults, counted in rows: a full disk, a backend that dies with SystemExit, a tracker that stores
nothing, two processes on one run, and a resumed run re-logging steps the journal already has."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
import types

import pytest

import trackers
from trackers import backends
from rundata.journal import read_records
from trackers.readback import trackio_config, trackio_db, trackio_rows
from trackers.run_lock import RunInUse

from .conftest import subprocess_env

PY = sys.executable


def _log_steps(run, steps):
    for i in steps:
        run.log({"train/loss": 1.0 / (i + 1), "lr": 1e-3}, step=i)


def test_full_disk_under_runs_keeps_trackers_going(cfg, project, tmpfs, capfd, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # outside git: no git.diff takes the small disk's room before the journal
    disk = tmpfs("64k")
    run = trackers.init(cfg=cfg, project=project, run_name="full", run_dir=disk / project / "full",
                        trackers="trackio", flush_interval=0.05)
    _log_steps(run, range(5000))
    run.summary({"best_val_loss": 0.5})
    run.finish()  # never raises, though summary.json cannot be written either
    err = capfd.readouterr().err
    rows = trackio_rows(trackio_db(project), "full")
    assert [s for s, m in rows if "train/loss" in m] == list(range(5000))
    assert trackio_config(trackio_db(project), "full")["summary/best_val_loss"] == 0.5
    disk_lines = [line for line in err.splitlines() if "could not write" in line]
    assert len(disk_lines) == 1, err
    (line,) = disk_lines
    assert line.startswith("trackers: warning: could not write ") and str(disk / project / "full") in line
    assert "No space left on device" in line and "trackers that store elsewhere (trackio) still get every row" in line
    journaled = [r["step"] for r in read_records(run.dir) if r["type"] == "log"]
    assert 0 < len(journaled) < 5000 and journaled == list(range(len(journaled)))
    assert f"has no rows from step {len(journaled)} on" in line
    assert run.journal.lost == 5001 - len(journaled)


class Exiting:
    """A backend whose log() calls sys.exit after ten rows."""

    name = "exiting"

    def __init__(self):
        self.rows = 0

    def start(self, ctx):
        pass

    def log(self, row):
        if self.rows == 10:
            sys.exit(4)
        self.rows += 1

    def summary(self, values):
        pass

    def finish(self):
        pass


@pytest.mark.e2e  # real trackio
def test_backend_dying_with_system_exit_is_reported_and_counted(cfg, project, tmp_path, capfd):
    backends.register("exiting", Exiting)
    try:
        run = trackers.init(cfg=cfg, project=project, run_name="r", run_dir=tmp_path, trackers=["trackio", "exiting"])
        _log_steps(run, range(50))
        run.finish()
    finally:
        backends.REGISTRY.pop("exiting", None)
    err = capfd.readouterr().err
    (worker,) = [w for w in run.workers if w.name == "exiting"]
    assert (worker.delivered, worker.missed) == (10, 40)
    assert err.count("trackers: warning: exiting disabled: SystemExit: 4") == 1
    assert "exiting missed 40 of 50 rows; python -m trackers replay" in err
    assert len([s for s, m in trackio_rows(trackio_db(project), "r") if "train/loss" in m]) == 50


CHILD_LOGS = """
import sys, types, trackers
run = trackers.init(cfg=types.SimpleNamespace(), project=sys.argv[1], run_name="r", run_dir=sys.argv[2],
                    trackers=sys.argv[3])
for i in range(30):
    run.log({"train/loss": 1.0 / (i + 1)}, step=i)
run.finish()
print("done")
"""


def _child(tmp_path, project, tracker_list, **env):
    script = tmp_path / "child.py"
    script.write_text(CHILD_LOGS)
    return subprocess.run([PY, str(script), project, str(tmp_path / "run"), tracker_list],
                          env=subprocess_env(**env), capture_output=True, text=True, timeout=300)


def test_wandb_import_calling_sys_exit_is_reported(tmp_path, project):
    broken = tmp_path / "broken" / "wandb"
    broken.mkdir(parents=True)
    (broken / "__init__.py").write_text("import sys\nsys.exit(3)\n")
    env = subprocess_env()
    out = _child(tmp_path, project, "trackio,wandb", PYTHONPATH=f"{broken.parent}:{env['PYTHONPATH']}")
    assert out.returncode == 0 and out.stdout.splitlines()[-1:] == ["done"], out.stderr[-2000:]
    assert out.stderr.count("trackers: warning: wandb disabled: SystemExit: 3") == 1, out.stderr
    assert "wandb missed 30 of 30 rows; python -m trackers replay" in out.stderr
    assert len(trackio_rows(trackio_db(project), "r")) == 30


def test_trackio_that_cannot_write_counts_as_missed(tmp_path, project):
    not_a_dir = tmp_path / "file"
    not_a_dir.write_text("")
    out = _child(tmp_path, project, "trackio", TRACKIO_DIR=str(not_a_dir / "trackio"))
    assert out.returncode == 0 and out.stdout.splitlines()[-1:] == ["done"], out.stderr[-2000:]
    assert f"trackio missed 30 of 30 rows; python -m trackers replay {tmp_path / 'run'} --to trackio" in out.stderr
    assert len([r for r in read_records(tmp_path / "run") if r["type"] == "log"]) == 30


def test_two_processes_cannot_log_one_run(cfg, project, tmp_path):
    run = trackers.init(cfg=cfg, project=project, run_name="same", run_dir=tmp_path / "same", trackers=[])
    run.log({"train/loss": 1.0}, step=0)
    script = textwrap.dedent(f"""
        import types, trackers
        try:
            trackers.init(cfg=types.SimpleNamespace(), project={project!r}, run_name="same",
                          run_dir={str(tmp_path / "same")!r}, trackers=[])
        except ValueError as exc:
            print(type(exc).__name__, exc)
    """)
    out = subprocess.run([PY, "-c", script], env=subprocess_env(), capture_output=True, text=True, timeout=120)
    assert out.stdout.startswith("RunInUse run 'same' of project"), out.stderr[-2000:]
    assert "(--tracker-run-name)" in out.stdout
    run.finish()
    again = trackers.init(cfg=cfg, project=project, run_name="same", run_dir=tmp_path / "same", trackers=[],
                          resume="allow")  # the lock went with finish()
    again.finish()
    assert issubclass(RunInUse, ValueError)


@pytest.mark.e2e  # real trackio
def test_resume_does_not_resend_steps_the_journal_has(cfg, project, tmp_path):
    first = trackers.init(cfg=cfg, project=project, run_name="res", run_dir=tmp_path, trackers="trackio")
    _log_steps(first, range(61))  # killed after step 60; the last checkpoint was at step 50
    first.finish()
    second = trackers.init(cfg=cfg, project=project, run_name="res", run_dir=tmp_path, trackers="trackio",
                           resume="allow")
    for i in range(51, 81):
        second.log({"train/loss": 1.0 / (i + 1), "lr": 1e-3}, step=i)
        if i % 20 == 0:
            second.log({"val/loss": 2.0}, step=i)  # step 60's val/loss never reached the journal
    second.finish()
    rows = trackio_rows(trackio_db(project), "res")
    assert [s for s, m in rows if "train/loss" in m] == list(range(81))
    assert [s for s, m in rows if "val/loss" in m] == [60, 80]
    logged = [(r["step"], sorted(r["metrics"])) for r in read_records(tmp_path) if r["type"] == "log"]
    assert [s for s, keys in logged if "train/loss" in keys] == list(range(81))
    assert (60, ["val/loss"]) in logged
    third = trackers.init(cfg=cfg, project=project, run_name="res", run_dir=tmp_path, trackers=[], resume="allow")
    third.log({"train/loss": 0.1})  # an automatic step continues after the journal's last one
    third.finish()
    assert [r["step"] for r in read_records(tmp_path) if r["type"] == "log"][-1] == 81


@pytest.mark.parametrize("field, value, why", [
    ("run_name", "r" * 300, f"run name '{'r' * 24}...' is 300 bytes long; the longest allowed is 255 bytes"),
    ("project", "p" * 255, f"project '{'p' * 24}...' is 255 bytes long; the longest allowed is 244 bytes"),
    ("project", "../..", "cannot contain '/'"),
])
def test_names_are_checked_before_anything_is_written(cfg, tmp_path, field, value, why):
    cfg.RUNS_DIR = str(tmp_path / "runs")
    names = {"project": "p", "run_name": "r", field: value}
    with pytest.raises(ValueError) as err:
        trackers.init(cfg=cfg, trackers="trackio", **names)
    assert why in str(err.value) and "\n" not in str(err.value)
    assert not (tmp_path / "runs").exists()


def test_longest_project_name_is_what_trackio_can_store(cfg, tmp_path, capfd):
    """244 bytes is stored; 245 is what Trackio itself cannot store (its SQLite journal file name is too long)."""
    import trackio

    longest = "q" * 244
    run = trackers.init(cfg=cfg, project=longest, run_name="r", run_dir=tmp_path / "a", trackers="trackio")
    _log_steps(run, range(3))
    run.finish()
    assert len(trackio_rows(trackio_db(longest), "r")) == 3
    assert "missed" not in capfd.readouterr().err
    with pytest.raises(ValueError, match="longest allowed is 244"):
        trackers.init(cfg=cfg, project=longest + "q", run_name="r", run_dir=tmp_path / "b", trackers="trackio")
    too_long = trackio.init(project="q" * 245, name="r", embed=False, auto_log_gpu=False, auto_log_cpu=False)
    too_long.log({"a": 1.0}, step=0)
    too_long.finish()
    assert trackio_rows(trackio_db("q" * 245), "r") == []


def test_summary_json_and_config_survive_a_bad_value(cfg, tmp_path):
    run = trackers.init({"obj": types.SimpleNamespace(a=1)}, cfg=cfg, project="p", run_name="r", run_dir=tmp_path,
                        trackers=[])
    run.summary({"nan": float("nan"), "text": "x"})
    run.finish()
    assert json.loads((tmp_path / "summary.json").read_text()) == {"nan": "NaN", "text": "x"}
    assert isinstance(json.loads((tmp_path / "config.json").read_text())["config"]["obj"], str)
