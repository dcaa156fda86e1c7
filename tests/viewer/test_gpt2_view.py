"""A real GPT-2 run of 600+ iterations through `make train`, then `make view` and
every zoom level: step 0 holds only val/loss, the loss is logged every 10 steps.
The numbers are those of a reference computed from Trackio's rows, and the same
run read from its journal alone (no Trackio database) prints the same text."""
from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

from tests.viewer import reference
from rundata.store import db_path, read_rows

SMALL = ("SET=TRAIN_MAX_ITERS=620 GPT2_N_LAYER=1 GPT2_N_HEAD=2 GPT2_N_EMBD=32 GPT2_BLOCK_SIZE=32 "
         "TRAIN_BATCH_SIZE=4 TRAIN_EVAL_ITERS=2 TRAIN_EVAL_INTERVAL=100 DATASET_MAX_TOKENS=100000 "
         "TRACKER_RUN_NAME=long")
ENV = {"OMP_NUM_THREADS": "1"}


def _stats(text: str) -> dict[str, str]:
    return dict(re.findall(r"^(Latest Iteration|Latest Loss|Min Loss|Max Loss): (\S+)$", text, re.M))


def test_make_view_after_long_gpt2_run(tree: Path, make, isolated_env: dict[str, str]) -> None:
    assert make("defconfig", "TRACKER=trackio", SMALL, env=ENV).returncode == 0
    trained = make("train", env=ENV, timeout=1500)
    assert trained.returncode == 0, trained.stderr[-2000:]
    project = json.loads((tree / "config.json").read_text())["TRACKER_PROJECT"]
    rows = read_rows(db_path(project, Path(isolated_env["TRACKIO_DIR"])), "long")
    assert set(rows[0].metrics) & {"val/loss"} and "train/loss" not in rows[0].metrics  # step 0: val/loss only
    pts = reference.points([(r.id, r.step, r.metrics) for r in rows], "train/loss")
    assert pts[-1][0] >= 600

    shown = make("view", env=ENV)
    assert shown.returncode == 0 and "Traceback" not in shown.stderr, shown.stderr
    texts = [shown.stdout]
    tv = str(tree / ".venv" / "bin" / "trackio-view")
    for zoom in range(1, 5):
        p = subprocess.run([tv, "--once", "-p", project, "-z", str(zoom)], cwd=tree, capture_output=True,
                           text=True, timeout=120)
        assert p.returncode == 0 and "Traceback" not in p.stderr, p.stderr
        texts.append(p.stdout)
    for zoom, text in enumerate(texts):
        ref = reference.view(pts, zoom, 50)
        assert ref is not None
        assert _stats(text) == {"Latest Iteration": str(ref.last[0]), "Latest Loss": f"{ref.last[1]:.4f}",
                                "Min Loss": f"{ref.vmin:.4f}", "Max Loss": f"{ref.vmax:.4f}"}, (zoom, text)
        assert f"Loss Trend (Iterations {ref.first[0]} to {ref.last[0]}):" in text
        chart = text.splitlines()[-11:-1]
        assert len(chart) == 10 and all(len(line) <= 59 for line in chart)
        assert any(len(line) == 59 for line in chart) and any(line.endswith("|*") or "|*" in line for line in chart)

    from_journal = subprocess.run([tv, "--once", "-p", project, "--dir", str(tree / "no-trackio"), "--runs",
                                   str(tree / "runs")], cwd=tree, capture_output=True, text=True, timeout=120)
    assert from_journal.returncode == 0, from_journal.stderr
    assert from_journal.stdout == texts[0]
