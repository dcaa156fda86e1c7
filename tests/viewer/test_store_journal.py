"""Runs outside Trackio: projects read from ktrack's journals (runs/<project>/<run>/
metrics.jsonl, written by trackers.journal.Journal), in the --once format, read
incrementally, and only for projects no Trackio database holds."""
from __future__ import annotations

import json
import os
import time
from pathlib import Path

from tests.viewer.conftest import view, write
from rundata.journal_project import JournalProject
from trackers.journal import Journal, write_json
from viewer.series import SeriesSet


def journal(runs: Path, project: str, run: str, rows: list[tuple[int, dict]], summary: dict | None = None) -> Path:
    (runs / project / run).mkdir(parents=True, exist_ok=True)
    j = Journal(runs / project / run)
    for step, metrics in rows:
        j.write("log", step, time.time(), metrics)
    if summary:
        j.write_summary(summary, time.time())
    j.close()
    return runs / project / run


def test_once_from_journal_same_format(tmp_path: Path) -> None:
    runs = tmp_path / "runs"
    rows = [(0, {"val/loss": 11.0})] + [(s, {"train/loss": 10.0 - s / 100, "lr": 6e-4}) for s in range(10, 610, 10)]
    journal(runs, "wandb-only", "r1", rows)
    write(tmp_path, """bulk("wandb-only-twin", "r1", ROWS, STEPS)""".replace(
        "ROWS", repr([m for _, m in rows])).replace("STEPS", repr([s for s, _ in rows])))
    from_journal = view(tmp_path, "--once", "-p", "wandb-only", "--runs", str(runs), check=True).stdout
    from_trackio = view(tmp_path, "--once", "-p", "wandb-only-twin", check=True).stdout
    assert from_journal == from_trackio.replace("wandb-only-twin", "wandb-only")
    assert "Latest Iteration: 600" in from_journal and "Loss Trend (Iterations 10 to 600):" in from_journal
    listed = view(tmp_path, "--list", "--runs", str(runs), check=True).stdout
    assert "wandb-only  (" in listed and "r1" in listed
    everything = view(tmp_path, "--once", "--runs", str(runs), check=True).stdout
    assert everything.count("TrackIO Dashboard - Project:") == 2


def test_trackio_database_wins_over_journal(tmp_path: Path) -> None:
    runs = tmp_path / "runs"
    journal(runs, "both", "r", [(0, {"loss": 99.0})])
    write(tmp_path, """bulk("both", "r", [{"loss": 1.0}], [0])""")
    out = view(tmp_path, "--once", "--runs", str(runs), check=True).stdout
    assert out.count("Project: both") == 1 and "Latest Loss: 1.0000" in out


def test_default_runs_folder_and_no_data_message(tmp_path: Path) -> None:
    import subprocess
    import sys

    from tests.viewer.conftest import env_for

    journal(tmp_path / "runs", "local", "r", [(1, {"loss": 2.0}), (2, {"loss": 1.0})])
    p = subprocess.run([sys.executable, "-m", "viewer", "--once"], cwd=tmp_path, env=env_for(tmp_path),
                       capture_output=True, text=True, timeout=60)
    assert p.returncode == 0 and "Project: local" in p.stdout, p.stderr
    empty = view(tmp_path, "--once", "--runs", str(tmp_path / "nothing"))
    assert empty.returncode == 1 and "error: No TrackIO data found: " in empty.stderr and "--runs" in empty.stderr


def test_incremental_reads_and_partial_lines(tmp_path: Path) -> None:
    run_dir = journal(tmp_path, "p", "r", [(s, {"loss": float(s), "acc": 0.5}) for s in range(100)])
    pr = JournalProject("p", tmp_path / "p")
    run = pr.pick_run(None)
    ss = SeriesSet(pr, run, ["loss", "acc"])
    assert ss["loss"].count == 100
    with open(run_dir / "metrics.jsonl", "a", encoding="utf-8") as fh:
        fh.write('{"type":"log","step":100,"time":1.0,"metrics":{"loss":-1.0}}\n{"type":"log","step":101,"ti')
    assert ss.update() == 1 and ss["loss"].latest == (100, -1.0)
    with open(run_dir / "metrics.jsonl", "a", encoding="utf-8") as fh:
        fh.write('me":1.0,"metrics":{"loss":-2.0,"acc":"NaN"}}\n')
    assert ss.update() == 1 and ss["loss"].latest == (101, -2.0) and ss["acc"].count == 100
    assert ss.update() == 0
    assert ss["loss"].view(0, 50).vmin == -2.0


def test_replaced_journal_is_read_afresh(tmp_path: Path) -> None:
    run_dir = journal(tmp_path, "p", "r", [(s, {"loss": 5.0}) for s in range(20)])
    pr = JournalProject("p", tmp_path / "p")
    ss = SeriesSet(pr, pr.pick_run(None), ["loss"])
    new = tmp_path / "new.jsonl"
    new.write_text('{"type":"log","step":0,"time":1.0,"metrics":{"loss":1.0}}\n')
    os.replace(new, run_dir / "metrics.jsonl")
    ss.update()
    assert ss["loss"].count == 1 and ss["loss"].latest == (0, 1.0)


def test_config_summary_and_gpu_from_journal(tmp_path: Path) -> None:
    runs = tmp_path / "runs"
    run_dir = journal(runs, "gpu-proj", "r", [(s, {"loss": 1.0, "gpu/utilization": 50.0 + s, "gpu/power_w": 100.0})
                                              for s in range(5)],
                      summary={"gpu/energy_wh": 1.25, "gpu1/energy_wh": 0.75, "best_val_loss": 0.9})
    write_json(run_dir / "config.json", {"project": "gpu-proj", "run": "r", "config": {"CONFIG_TRAIN_MAX_ITERS": 5}})
    pr = JournalProject("gpu-proj", runs / "gpu-proj")
    run = pr.pick_run(None)
    assert pr.run_config(run) == {"CONFIG_TRAIN_MAX_ITERS": 5}
    assert pr.summary("r")["best_val_loss"] == 0.9
    out = view(tmp_path, "--gpu-db", "-p", "gpu-proj", "--once", "--runs", str(runs), check=True).stdout
    assert "Latest GPU Status (Step 4):\n  GPU Utilization: 54.0%\n  Power: 100W" in out
    assert "GPU Energy (from the run summary):\n  GPU 0: 1.250 Wh\n  GPU 1: 0.750 Wh\n  Total: 2.000 Wh" in out


SWEEP = """
import sys, time, types
import trackers
cfg = types.SimpleNamespace(MODEL="lenet5", OPTIMIZER="sgd", ENABLE_TRACKIO=False, ENABLE_WANDB=False,
                            ENABLE_TENSORBOARD=False, TRACKER_PROJECT="", TRACKER_RUN_NAME="", WANDB_ENTITY="",
                            WANDB_OFFLINE=False, TRACKER_LOG_GPU=False)
# pt-a is tracked to Trackio (and its journal), pt-b, the newest, only to its journal
for name, tracked, lr in (("pt-a", ["trackio"], 0.1), ("pt-b", [], 0.01)):
    run = trackers.init(cfg=cfg, config={"TRAIN_LR": lr, "TRAIN_MAX_ITERS": 30}, project="sweep", run_name=name,
                        run_dir=f"{sys.argv[1]}/sweep/{name}", trackers=tracked, capture_console=False)
    for i in range(30):
        run.log({"train/loss": 3.0 - i * lr, "lr": lr}, step=i)
    run.summary({"best_val_loss": 2.5 - lr, "total_time_s": 1 / 3})
    run.finish()
    time.sleep(1.1)
"""


def sweep_points(root: Path) -> Path:
    """Two sweep points of one project, written by trackers: one tracked to Trackio, one only to its journal."""
    import subprocess
    import sys

    from tests.viewer.conftest import env_for

    subprocess.run([sys.executable, "-c", SWEEP, str(root / "runs")], env=env_for(root), check=True,
                   capture_output=True, timeout=120)
    return root / "runs"


def test_journal_only_runs_join_their_trackio_project(tmp_path: Path) -> None:
    """--list, --once, --compare show a project's runs together, whatever they were tracked to;
    a run both hold (pt-a: Trackio and its journal) is shown once, with Trackio's data."""
    runs = str(sweep_points(tmp_path))
    listed = view(tmp_path, "--list", "--runs", runs, check=True).stdout.splitlines()
    assert listed[0].startswith("sweep  (") and listed[0].endswith(f"; journals: {runs}/sweep)")
    assert [line.split()[0] for line in listed[1:]] == ["pt-b", "pt-a"]  # newest first, each once
    assert listed[1].endswith("id pt-b") and not listed[2].endswith("id pt-a")  # pt-a: Trackio's run id
    newest = view(tmp_path, "--once", "-p", "sweep", "--runs", runs, check=True).stdout
    assert "Latest Loss: 2.7100" in newest and "Learning Rate: 1.00e-02" in newest
    point = view(tmp_path, "--once", "-p", "sweep", "--run", "pt-b", "--runs", runs, check=True).stdout
    assert point == newest
    tracked = view(tmp_path, "--once", "-p", "sweep", "--run", "pt-a", "--runs", runs, check=True).stdout
    assert "Latest Loss: 0.1000" in tracked
    out = view(tmp_path, "-p", "sweep", "--compare", "pt-b", "pt-a", "--once", "--runs", runs, check=True).stdout
    assert out.splitlines()[:4] == ["Kconfig symbols that differ (1):", "  symbol    pt-b  pt-a",
                                    "  --------  ----  ----", "  TRAIN_LR  0.01  0.1"], out
    assert "* pt-b  29     2.7100" in out and "o pt-a  29     0.1000" in out
    every = view(tmp_path, "-p", "sweep", "--compare", "--once", "--runs", runs, check=True).stdout
    assert every.splitlines()[-1] == "  * pt-a   o pt-b"  # no RUN: all runs, oldest first
    gone = view(tmp_path, "-p", "sweep", "--compare", "pt-c", "--once", "--runs", runs)
    assert gone.returncode == 1 and gone.stderr.strip().endswith("runs: pt-b, pt-a")
    # --json: the same runs and numbers as the text
    doc = json.loads(view(tmp_path, "--list", "--json", "--runs", runs, check=True).stdout)
    (entry,) = doc["projects"]
    assert entry["journals"] == f"{runs}/sweep" and [r["run"] for r in entry["runs"]] == ["pt-b", "pt-a"]
    assert all(f"{r['steps']} steps  last step        {r['last_step']}" in "\n".join(listed) for r in entry["runs"])
    cmp = json.loads(view(tmp_path, "-p", "sweep", "--compare", "pt-b", "pt-a", "--json", "--runs", runs,
                          check=True).stdout)
    assert cmp["differing"] == {"TRAIN_LR": [0.01, 0.1]} and [r["run"] for r in cmp["runs"]] == ["pt-b", "pt-a"]
    assert [f"{r['latest_loss']:.4f}" for r in cmp["runs"]] == ["2.7100", "0.1000"]
    # the same comparison with no Trackio data at all (each run from its journal)
    bare = view(tmp_path, "-p", "sweep", "--compare", "pt-b", "pt-a", "--once", "--runs", runs,
                "--dir", str(tmp_path / "no-trackio"), check=True).stdout
    assert bare.splitlines()[:4] == out.splitlines()[:4] and "* pt-b  29     2.7100" in bare
    # without the run folders, only Trackio's run
    alone = view(tmp_path, "--list", "--runs", str(tmp_path / "elsewhere"), check=True).stdout.splitlines()
    assert [line.split()[0] for line in alone[1:]] == ["pt-a"] and not alone[0].endswith("sweep)")


def test_a_rewind_leaves_one_curve(tmp_path: Path) -> None:
    """A run resumed from its checkpoint at step 19 after steps to 29 were logged: the steps trained again
    replace the thrown-away ones, read at once or while the view follows the run."""
    run_dir = journal(tmp_path, "p", "r", [(s, {"loss": 5.0}) for s in range(30)])
    pr = JournalProject("p", tmp_path / "p")
    live = SeriesSet(pr, pr.pick_run(None), ["loss"])
    assert live["loss"].count == 30
    j = Journal(run_dir)
    j.write_rewind(19, 2.0)
    for s in range(20, 35):
        j.write("log", s, 2.0, {"loss": 1.0})
    j.close()
    fresh = JournalProject("p", tmp_path / "p")
    once = SeriesSet(fresh, fresh.pick_run(None), ["loss"])
    live.update()
    for ss in (once, live):
        assert ss["loss"].count == 35 and ss["loss"].latest == (34, 1.0)
        assert ss["loss"].tail_points(16) == [(19, 5.0)] + [(s, 1.0) for s in range(20, 35)]
