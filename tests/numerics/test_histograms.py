"""Exponent histograms of chosen modules sent through run.log as trackers.Histogram."""

from __future__ import annotations

import types
from pathlib import Path

import numpy as np
import pytest
import torch

import numerics
from numerics.histograms import EDGES, exponent_histogram, histograms
from numerics.stats import EXP_MAX, EXP_MIN, N_BINS, tensor_stats
from tests.numerics.conftest import train
from rundata.histogram import Histogram

REPO = Path(__file__).resolve().parents[2]


def _hist_of(x: torch.Tensor) -> tuple[list[float], list[float]] | None:
    row = tensor_stats(x)
    return exponent_histogram(row[-N_BINS:])


def test_bins_are_log2_exponents():
    counts, edges = _hist_of(torch.tensor([0.5, 1.0, 1.5, 3.0, 0.0, float("nan")], dtype=torch.float64))
    assert edges == [-1.0, 0.0, 1.0, 2.0]                  # [e, e+1) holds 2**e <= |x| < 2**(e+1)
    assert counts == [1.0, 2.0, 1.0]                       # zero and NaN have no exponent
    assert len(edges) == len(counts) + 1


def test_end_bins_sit_just_outside_the_named_range():
    counts, edges = _hist_of(torch.tensor([2.0**-160, float("inf")], dtype=torch.float64))
    assert edges[0] == EXP_MIN - 1 and edges[-1] == EXP_MAX + 2
    assert counts[0] == 1 and counts[-1] == 1 and sum(counts) == 2
    assert len(EDGES) == N_BINS + 1


def test_no_exponent_no_histogram():
    assert _hist_of(torch.zeros(5)) is None
    assert _hist_of(torch.full((3,), float("nan"))) is None


def test_sampled_steps_log_histograms_of_the_chosen_modules(tiny, recorder, tmp_path):
    opt = torch.optim.SGD(tiny.parameters(), lr=0.1)
    with numerics.track(tiny, opt, run=recorder, out_dir=tmp_path, interval=2, hist_modules="fc1",
                        log_stats="rms") as t:
        train(tiny, opt, t, 5)
    assert [step for step, _ in recorder.logs] == [0, 2, 4]   # one row per sampled step
    step, row = recorder.logs[-1]
    hists = {k: v for k, v in row.items() if k.startswith("numerics/hist/")}
    assert sorted(hists) == sorted(f"numerics/hist/{m}/{k}" for m, k in [
        ("fc1", "activation"), ("fc1", "gradient"), ("fc1.weight", "weight"), ("fc1.bias", "weight"),
        ("fc1.weight", "weight_grad"), ("fc1.bias", "weight_grad")])
    assert all(isinstance(h, Histogram) for h in hists.values())
    assert "numerics/fc2/activation/rms" in row                 # the scalars still go in the same row
    df = numerics.read_table(tmp_path).set_index(["step", "kind", "module"])
    for key, h in hists.items():
        module, kind = key.split("/")[2:4]
        table = df.loc[(step, kind, module)]
        exp_cols = [c for c in df.columns if c.startswith("exp_")]
        assert sum(h.counts) == table[exp_cols].sum()           # the table's counts, trimmed
        assert all(float(e).is_integer() for e in h.edges)
        assert h.counts[0] > 0 and h.counts[-1] > 0


def test_no_histograms_by_default_or_without_histogram_columns(tiny, recorder):
    opt = torch.optim.SGD(tiny.parameters(), lr=0.1)
    with numerics.track(tiny, opt, run=recorder, interval=1) as t:
        train(tiny, opt, t, 1)
    with numerics.track(tiny, opt, run=recorder, interval=1, histogram=False, hist_modules="*") as t:
        train(tiny, opt, t, 1)
    assert recorder.logs and not any(k.startswith("numerics/hist/") for _, row in recorder.logs for k in row)


def test_histograms_alone_are_logged_and_optimizer_state_uses_its_key(tiny, recorder):
    opt = torch.optim.Adam(tiny.parameters(), lr=0.01)
    with numerics.track(tiny, opt, run=recorder, interval=1, hist_modules=["fc2"], log_stats="",
                        kinds="optimizer_state") as t:
        train(tiny, opt, t, 1)
    ((_, row),) = recorder.logs
    assert sorted(row) == ["numerics/hist/fc2.bias/exp_avg", "numerics/hist/fc2.bias/exp_avg_sq",
                           "numerics/hist/fc2.weight/exp_avg", "numerics/hist/fc2.weight/exp_avg_sq"]


def test_modules_from_kconfig(tiny, recorder):
    cfg = types.SimpleNamespace(NUMERICS=True, NUMERICS_HIST_MODULES="fc2, act", NUMERICS_LOG_STATS="",
                                NUMERICS_WEIGHTS=False)
    opt = torch.optim.SGD(tiny.parameters(), lr=0.1)
    with numerics.track(tiny, opt, run=recorder, cfg=cfg, interval=1) as t:
        train(tiny, opt, t, 1)
    ((_, row),) = recorder.logs
    assert sorted(row) == ["numerics/hist/act/activation", "numerics/hist/act/gradient",
                           "numerics/hist/fc2/activation", "numerics/hist/fc2/gradient"]


def test_kconfig_default_picks_a_few_modules_of_each_model():
    from gpt2.model import GPT, GPTConfig
    from kconf.tree import open_tree
    from lenet5.model import LeNet5
    from numerics.select import Selector, split_list

    tree = open_tree(REPO)
    sym = tree.syms["NUMERICS_HIST_MODULES"]
    assert any(node.help and "log2" in node.help for node in sym.nodes)
    patterns = split_list(sym.defaults[0][0].str_value)
    pick = Selector(patterns)
    gpt = GPT(GPTConfig(vocab_size=64, block_size=16, n_layer=2, n_head=2, n_embd=16, dropout=0.0, bias=True))
    assert [n for n, _ in gpt.named_modules() if n and pick(n)] == ["blocks.0.mlp.fc", "lm_head"]
    assert [n for n, _ in LeNet5().named_modules() if n and pick(n)] == ["conv1", "fc3"]


def test_a_failing_run_log_warns_once_and_training_goes_on(tiny, capsys):
    class Broken:
        def log(self, metrics, step=None):
            raise RuntimeError("backend gone")

    opt = torch.optim.SGD(tiny.parameters(), lr=0.1)
    with numerics.track(tiny, opt, run=Broken(), interval=1, hist_modules="fc1") as t:
        train(tiny, opt, t, 3)
    err = capsys.readouterr().err
    assert err.count("numerics: warning: logging to trackers failed: backend gone") == 1


def test_histograms_helper_skips_unselected_and_empty_rows():
    rows = np.zeros((2, 2 + 8 + N_BINS))
    rows[0, -N_BINS + 150] = 3
    metas = [(0, "a", "activation", "", "Linear", "float32"), (0, "b", "activation", "", "Linear", "float32")]
    out = histograms(metas, rows, lambda name: True)
    assert list(out) == ["numerics/hist/a/activation"]
    assert out["numerics/hist/a/activation"].edges == (EXP_MIN - 1 + 150.0, EXP_MIN + 150.0)
    assert histograms(metas, rows, lambda name: False) == {}


def test_real_trackers_run_takes_the_histograms(tiny, tmp_path, monkeypatch):
    import trackers
    from rundata.journal import read_records

    monkeypatch.chdir(tmp_path)
    run = trackers.init(config={}, project="numerics-hist", run_name="h", trackers="none",
                        run_dir=tmp_path / "run", log_gpu=False)
    opt = torch.optim.SGD(tiny.parameters(), lr=0.1)
    with numerics.track(tiny, opt, run=run, interval=1, kinds="activation", hist_modules="fc1", log_stats="") as t:
        train(tiny, opt, t, 3)
    run.finish()
    logs = [r for r in read_records(run.dir) if r["type"] == "log"]
    assert [r["step"] for r in logs] == [0, 1, 2]
    assert all(list(r["metrics"]) == ["numerics/hist/fc1/activation"] for r in logs)


@pytest.mark.parametrize("bad", [float("nan"), float("inf")])
def test_nonfinite_tensors_still_give_a_histogram(bad):
    counts, edges = _hist_of(torch.tensor([1.0, bad, 4.0]))
    assert edges[0] == 0.0 and sum(counts) == (3 if bad == float("inf") else 2)
