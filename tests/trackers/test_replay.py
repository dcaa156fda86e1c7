"""python -m trackers replay: idempotent for every tracker, one line for every bad input."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

import trackers
from trackers.readback import tensorboard_scalars, trackio_config, trackio_db, trackio_rows, wandb_run
from trackers.record import wandb_run_id
from trackers.replay import replay
from trackers.wandb_file import run_header

from .conftest import subprocess_env

#: Replay into the real trackers and python -m trackers replay as a process.
pytestmark = pytest.mark.e2e

PY = sys.executable


def _journal_only_run(cfg, project, run_dir, name="rp"):
    run = trackers.init(cfg=cfg, project=project, run_name=name, run_dir=run_dir, trackers="none")
    for i in range(10):
        run.log({"train/loss": i * 0.1}, step=i)
    run.log({"val/loss": 2.0}, step=9)
    run["loss/train"].log(0.3)
    run.summary({"best_val_loss": 2.0})
    run.finish()
    return run


def test_replay_twice_adds_nothing_to_any_tracker(cfg, project, tmp_path, monkeypatch):
    wandb_dir = tmp_path / "wandb-home"
    monkeypatch.setenv("WANDB_DIR", str(wandb_dir))
    run_dir = tmp_path / "run"
    _journal_only_run(cfg, project, run_dir)

    assert replay(run_dir, "trackio") == {"sent": 12, "skipped": 0, "unstorable": 0}
    assert replay(run_dir, "trackio") == {"sent": 0, "skipped": 12, "unstorable": 0}
    rows = trackio_rows(trackio_db(project), "rp")
    assert len([r for r in rows if "train/loss" in r[1]]) == 10
    assert not [s for s, m in rows if "best_val_loss" in m]  # the summary is in the run's config, not a row
    assert trackio_config(trackio_db(project), "rp")["summary/best_val_loss"] == 2.0

    assert replay(run_dir, "tensorboard") == {"sent": 12, "skipped": 0, "unstorable": 0}
    assert replay(run_dir, "tensorboard") == {"sent": 0, "skipped": 12, "unstorable": 0}
    scalars = tensorboard_scalars(run_dir / "tensorboard")
    assert len(scalars["train/loss"]) == 10 and len(scalars["summary/best_val_loss"]) == 1

    assert replay(run_dir, "wandb") == {"sent": 12, "skipped": 0, "unstorable": 0}
    assert replay(run_dir, "wandb") == {"sent": 0, "skipped": 12, "unstorable": 0}
    meta = json.loads((run_dir / "config.json").read_text())
    folders = list((wandb_dir / "wandb").glob("offline-run-*"))
    assert [run_header(f)["id"] for f in folders] == [wandb_run_id(meta)]  # one W&B run
    data = wandb_run(folders[0])
    assert sorted(r["_step"] for r in data["history"] if "train/loss" in r) == list(range(10))
    assert data["summary"]["best_val_loss"] == 2.0


def test_replay_to_trackio_counts_the_fragments_a_killed_run_left(cfg, project, tmp_path, monkeypatch):
    """With fragment storage (a network filesystem), rows a SIGKILL left in Trackio's inbox are imported first
    and not sent again."""
    from trackio.fragments import FragmentWriter, metric_record

    monkeypatch.setenv("TRACKIO_STORAGE_MODE", "jsonl")
    run_dir = tmp_path / "run"
    _journal_only_run(cfg, project, run_dir)
    db = trackio_db(project)
    FragmentWriter().write_local([metric_record({"project": project, "run": "rp", "run_id": "killed-id",
                                                 "metrics": {"train/loss": i * 0.1}, "step": i,
                                                 "timestamp": "2026-01-01T00:00:00+00:00"}) for i in range(4)],
                                 db.parent / "inbox")
    assert replay(run_dir, "trackio") == {"sent": 8, "skipped": 4, "unstorable": 0}
    assert sorted(s for s, m in trackio_rows(db, "rp") if "train/loss" in m) == list(range(10))
    assert not list((db.parent / "inbox").rglob("*.jsonl"))


def test_replay_to_the_runs_own_wandb_run_sends_only_what_is_missing(cfg, project, tmp_path, monkeypatch):
    wandb_dir = tmp_path / "wandb-home"
    monkeypatch.setenv("WANDB_DIR", str(wandb_dir))
    run = trackers.init(cfg=cfg, project=project, run_name="own", run_dir=tmp_path / "run", trackers="wandb")
    for i in range(10):
        run.log({"train/loss": i * 0.1}, step=i)
    run.finish()
    with open(run.dir / "metrics.jsonl", "a") as f:  # rows that never reached W&B (journaled only)
        for i in range(10, 15):
            f.write(json.dumps({"type": "log", "step": i, "time": 1.0, "metrics": {"train/loss": 0.5}}) + "\n")
    assert replay(run.dir, "wandb") == {"sent": 5, "skipped": 10, "unstorable": 0}
    second = replay(run.dir, "wandb")
    assert second == {"sent": 0, "skipped": 15, "unstorable": 0}, _wandb_state(wandb_dir)
    own_id = run.ctx.info["wandb"]["id"]
    folders = sorted((wandb_dir / "wandb").glob("offline-run-*"))
    assert len(folders) == 2 and all(run_header(f)["id"] == own_id for f in folders)


def _wandb_state(wandb_dir):
    from trackers.wandb_file import finished, records, log_file

    out = []
    for folder in sorted((wandb_dir / "wandb").glob("*run-*")):
        try:
            kinds = [r.WhichOneof("record_type") for r in records(log_file(folder))]
        except (OSError, ValueError) as exc:
            kinds = [repr(exc)]
        out.append(f"{folder.name}: finished={finished(folder)} {kinds[-5:]} ({len(kinds)} records)")
    return "; ".join(out)


def _cli(*args, **env):
    return subprocess.run([PY, "-m", "trackers", "replay", *map(str, args)], env=subprocess_env(**env),
                          capture_output=True, text=True, timeout=300)


def _one_line(out, *needles):
    assert out.returncode == 1, out.stdout + out.stderr
    lines = [line for line in out.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("python -m trackers: error: "), out.stderr
    for needle in needles:
        assert needle in lines[0], lines[0]


def test_replay_without_a_run_folder_is_one_line(tmp_path):
    _one_line(_cli(tmp_path, "--to", "trackio"), "has no config.json/metrics.jsonl")


def test_config_without_run_is_one_line(cfg, project, tmp_path):
    _journal_only_run(cfg, project, tmp_path)
    meta = json.loads((tmp_path / "config.json").read_text())
    del meta["run"]
    (tmp_path / "config.json").write_text(json.dumps(meta))
    _one_line(_cli(tmp_path, "--to", "trackio"), "has no 'run' name")
    (tmp_path / "config.json").write_text("{not json")
    _one_line(_cli(tmp_path, "--to", "trackio"), "config.json is not valid JSON")


@pytest.mark.parametrize("step", ['"abc"', "-3", "1.5", "true", "null"])
def test_bad_step_value_is_one_line_and_nothing_is_sent(cfg, project, tmp_path, step):
    _journal_only_run(cfg, project, tmp_path)
    with open(tmp_path / "metrics.jsonl", "a") as f:
        f.write('{"type":"log","step":%s,"time":1.0,"metrics":{"train/loss":1}}\n' % step)
    _one_line(_cli(tmp_path, "--to", "trackio"), "metrics.jsonl line 14: step", "fix or delete that line")
    assert trackio_rows(trackio_db(project), "rp") == []


def test_replay_to_a_broken_wandb_is_one_line(cfg, project, tmp_path):
    run_dir = tmp_path / "run"
    _journal_only_run(cfg, project, run_dir)
    broken = tmp_path / "broken" / "wandb"
    broken.mkdir(parents=True)
    (broken / "__init__.py").write_text("import sys\nsys.exit(3)\n")
    pythonpath = f"{broken.parent}:{subprocess_env()['PYTHONPATH']}"
    _one_line(_cli(run_dir, "--to", "wandb", PYTHONPATH=pythonpath), "wandb cannot be used: SystemExit: 3")
    (broken / "__init__.py").write_text("raise ImportError('libfoo.so: cannot open shared object file')\n")
    _one_line(_cli(run_dir, "--to", "wandb", PYTHONPATH=pythonpath), "libfoo.so")


def test_replay_cli_prints_counts(cfg, project, tmp_path):
    _journal_only_run(cfg, project, tmp_path)
    out = _cli(tmp_path, "--to", "trackio")
    assert out.returncode == 0, out.stderr
    assert f"replayed {tmp_path} to trackio: 12 rows sent, 0 already there" in out.stdout.splitlines()
