"""With numerics on, the loss comes before the numerics charts in every tracker's dashboard, and no numerics
value is lost: real numerics.track on a small model, real Trackio, W&B (offline) and TensorBoard (read with
tbparse); each tool's own ordering rule decides what comes first."""

from __future__ import annotations

import os
import types
from pathlib import Path

import pytest
import torch

import numerics
import trackers
from trackers import readback
from trackers.dashboards import trackio_show_command
from rundata.journal import read_records

#: Real trackers (or Slurm's commands) through ktrack's own code: the end-to-end tier.
pytestmark = pytest.mark.e2e

STEPS = 6


@pytest.fixture(scope="module")
def numerics_run(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("order")
    project = f"order{os.getpid()}"
    cfg = types.SimpleNamespace(MODEL="gpt2", OPTIMIZER="adamw")
    run = trackers.init({"n": 1}, cfg=cfg, project=project, run_name="r", run_dir=tmp / "run",
                        trackers="trackio,wandb,tensorboard", capture_console=False)
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.ReLU(), torch.nn.Linear(8, 1))
    opt = torch.optim.AdamW(model.parameters(), lr=1e-2)
    x, y = torch.randn(16, 4), torch.randn(16, 1)
    with numerics.track(model, opt, run=run, interval=2, hist_modules="0") as t:
        for it in range(STEPS):
            loss = torch.nn.functional.mse_loss(model(x), y)
            loss.backward()
            opt.step()
            t.step(it)
            opt.zero_grad(set_to_none=True)
            run.log({"train/loss": loss.item(), "lr": 1e-2}, step=it)
            if it % 3 == 2:
                run.log({"val/loss": loss.item()}, step=it)
    run.finish()
    journal = {}
    for rec in read_records(run.dir):
        if rec["type"] == "log":
            journal.setdefault(rec["step"], {}).update(rec["metrics"])
    numeric = {(s, k): v for s, row in journal.items() for k, v in row.items()
               if k.startswith("numerics/") and not k.startswith("numerics/hist/")}
    assert len({k for _, k in numeric}) > 20  # a real set of statistics, as in a training run
    return {"run": run, "project": project, "numeric": numeric, "meta": run.ctx.info}


def _tensorboard_groups(tags: list[str]) -> list[str]:
    """TensorBoard's time series order: cards sorted by tag, grouped by the tag's first part, first seen first."""
    groups: list[str] = []
    for tag in sorted(tags):
        group = tag.split("/", 1)[0]
        if group not in groups:
            groups.append(group)
    return groups


def test_tensorboard_puts_the_loss_before_numerics_and_keeps_every_value(numerics_run):
    from tbparse import SummaryReader

    scalars = SummaryReader(str(numerics_run["meta"]["tensorboard"]["dir"])).scalars
    tags = sorted(set(scalars["tag"]))
    groups = _tensorboard_groups(tags)
    assert groups.index("train") < groups.index("val") < groups.index("z_numerics") == len(groups) - 1
    assert not any(tag.startswith("numerics/") for tag in tags)
    got = {(int(r.step), "numerics/" + r.tag.removeprefix("z_numerics/")): r.value
           for r in scalars.itertuples() if r.tag.startswith("z_numerics/")}
    assert got.keys() == numerics_run["numeric"].keys()
    assert all(got[k] == pytest.approx(v, rel=1e-6, abs=1e-30) for k, v in numerics_run["numeric"].items())
    hists = SummaryReader(str(numerics_run["meta"]["tensorboard"]["dir"])).histograms
    assert set(hists["tag"]) and all(tag.startswith("z_numerics/hist/0") for tag in set(hists["tag"]))


def test_wandb_puts_numerics_in_a_section_after_the_loss_and_keeps_every_value(numerics_run):
    w = readback.wandb_run(numerics_run["meta"]["wandb"]["dir"])
    keys = {k for row in w["history"] for k in row if not k.startswith("_")}
    sections = sorted({k.split("/", 1)[0] for k in keys if "/" in k})
    assert sections[-1] == "z_numerics" and "train" in sections and "val" in sections
    assert not any(k.startswith("numerics/") for k in keys)
    got = {(row["_step"], "numerics/" + k.removeprefix("z_numerics/")): v for row in w["history"]
           for k, v in row.items() if k.startswith("z_numerics/") and not k.startswith("z_numerics/hist/")}
    assert got.keys() == numerics_run["numeric"].keys()
    assert all(got[k] == pytest.approx(v) for k, v in numerics_run["numeric"].items())


def test_trackio_keeps_the_names_and_make_trackio_show_orders_the_loss_first(numerics_run, monkeypatch):
    from trackio.utils import order_metrics_by_plot_preference

    rows = readback.trackio_rows(readback.trackio_db(numerics_run["project"]), "r")
    got = {(s, k): v for s, m in rows for k, v in m.items()
           if k.startswith("numerics/") and not k.startswith("numerics/hist/")}
    assert got == pytest.approx(numerics_run["numeric"])  # the journal's names: the viewer reads them
    metrics = sorted({k for _, m in rows for k, v in m.items() if isinstance(v, (int, float))})
    monkeypatch.delenv("TRACKIO_PLOT_ORDER", raising=False)
    assert order_metrics_by_plot_preference(metrics)[0].index("numerics") < \
        order_metrics_by_plot_preference(metrics)[0].index("train")  # what plain `trackio show` would do
    _, env = trackio_show_command(numerics_run["project"], 7860)
    monkeypatch.setenv("TRACKIO_PLOT_ORDER", env["TRACKIO_PLOT_ORDER"])
    groups, grouped = order_metrics_by_plot_preference(metrics)
    assert groups[:2] == ["train", "val"] and groups[-1] == "numerics"
    assert grouped["train"]["direct_metrics"][0] == "train/loss"
    monkeypatch.setenv("TRACKIO_PLOT_ORDER", "lr")
    assert trackio_show_command("p", 1)[1]["TRACKIO_PLOT_ORDER"] == "lr"  # the user's own order wins


def test_the_journal_keeps_the_architecture_names(numerics_run):
    assert all(k.startswith("numerics/") and k.count("/") == 3 for _, k in numerics_run["numeric"])
    assert Path(numerics_run["run"].dir, "metrics.jsonl").is_file()
