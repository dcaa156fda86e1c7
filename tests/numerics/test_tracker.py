"""numerics.track: hooks, sampling, optimizer-state pairing, logging."""

from __future__ import annotations

import copy
import types

import numpy as np
import pytest
import torch

import numerics
from numerics.stats import SCALAR_STATS, tensor_stats

from tests.numerics.conftest import Recorder, TinyNet, train


def _hook_count(model: torch.nn.Module) -> int:
    return sum(len(m._forward_hooks) + len(m._backward_hooks) + len(m._forward_pre_hooks)
               for m in model.modules())


def test_hooks_removed_and_model_unchanged(tiny, tmp_path):
    ref = copy.deepcopy(tiny)
    opt = torch.optim.SGD(tiny.parameters(), lr=0.1)
    opt_ref = torch.optim.SGD(ref.parameters(), lr=0.1)
    with numerics.track(tiny, opt, out_dir=tmp_path, interval=1) as t:
        assert t.hooks_armed > 0
        losses = train(tiny, opt, t, 3)
    assert _hook_count(tiny) == 0 and t.hooks_armed == 0
    assert losses == train(ref, opt_ref, None, 3)  # tracking changes nothing
    x = torch.randn(4, 8)
    assert torch.equal(tiny(x), ref(x))
    for (n, p), (_, q) in zip(tiny.named_parameters(), ref.named_parameters(), strict=True):
        assert torch.equal(p, q), n


def test_hooks_removed_when_training_raises(tiny, tmp_path):
    opt = torch.optim.SGD(tiny.parameters(), lr=0.1)
    with pytest.raises(RuntimeError):
        with numerics.track(tiny, opt, out_dir=tmp_path, interval=1):
            raise RuntimeError("boom")
    assert _hook_count(tiny) == 0


def test_hooks_armed_only_on_sampled_steps(tiny, tmp_path):
    opt = torch.optim.SGD(tiny.parameters(), lr=0.1)
    armed = []
    with numerics.track(tiny, opt, out_dir=tmp_path, interval=3) as t:
        for _ in range(7):
            armed.append(t.hooks_armed > 0)
            train(tiny, opt, t, 1)
    assert armed == [True, False, False, True, False, False, True]
    df = numerics.read_table(tmp_path)
    assert sorted(df["step"].unique()) == [0, 3, 6]
    kinds = set(df["kind"])
    assert kinds == {"activation", "gradient", "weight", "weight_grad"}
    assert set(df[df.kind == "activation"]["module"]) == {"fc1", "act", "fc2"}


def test_gradient_and_activation_values(tiny, tmp_path):
    """Rows equal the stats of tensors captured independently."""
    opt = torch.optim.SGD(tiny.parameters(), lr=0.0)
    seen = {}
    tiny.fc2.register_forward_hook(lambda m, i, o: seen.__setitem__("act", o.detach().clone()))
    tiny.fc2.register_full_backward_hook(lambda m, gi, go: seen.__setitem__("grad", go[0].clone()))
    with numerics.track(tiny, opt, out_dir=tmp_path, interval=1, kinds="activations,gradients,weights") as t:
        train(tiny, opt, t, 1)
    df = numerics.read_table(tmp_path).set_index(["kind", "module"])
    for kind, key in (("activation", "act"), ("gradient", "grad")):
        want = tensor_stats(seen[key])
        got = df.loc[(kind, "fc2"), list(SCALAR_STATS)].to_numpy(dtype=float)
        np.testing.assert_allclose(got, want[2:2 + len(SCALAR_STATS)], rtol=1e-6)
    w = df.loc[("weight", "fc1.weight")]
    assert w["rms"] == pytest.approx(tiny.fc1.weight.pow(2).mean().sqrt().item(), rel=1e-5)
    assert w["type"] == "Parameter" and w["dtype"] == "float32"
    assert df.loc[("activation", "fc1"), "type"] == "Linear"


def test_optimizer_state_paired_by_identity(tmp_path):
    torch.manual_seed(0)
    model = TinyNet()
    # groups in an order unlike named_parameters(), so position guessing fails
    opt = torch.optim.Adam([
        {"params": [model.fc2.bias, model.fc1.weight]},
        {"params": [model.fc2.weight, model.fc1.bias], "lr": 1e-2},
    ], lr=1e-3)
    with numerics.track(model, opt, out_dir=tmp_path, interval=1, kinds=["optimizer_state"]) as t:
        train(model, opt, t, 2)
    df = numerics.read_table(tmp_path)
    df = df[df.step == 1].set_index(["module", "state"])
    assert set(df["kind"]) == {"optimizer_state"} and set(df["type"]) == {"Adam"}
    assert set(df.index.get_level_values("state")) == {"exp_avg", "exp_avg_sq"}  # 'step' is scalar
    for name, p in model.named_parameters():
        for key in ("exp_avg", "exp_avg_sq"):
            want = opt.state[p][key]
            assert df.loc[(name, key), "numel"] == want.numel()
            assert df.loc[(name, key), "rms"] == pytest.approx(want.pow(2).mean().sqrt().item(), rel=1e-5)


def test_sgd_momentum_buffer(tiny, tmp_path):
    opt = torch.optim.SGD(tiny.parameters(), lr=0.1, momentum=0.9)
    with numerics.track(tiny, opt, out_dir=tmp_path, interval=1, kinds="optimizer") as t:
        train(tiny, opt, t, 1)
    df = numerics.read_table(tmp_path)
    assert set(df["state"]) == {"momentum_buffer"}
    assert set(df["module"]) == {n for n, _ in tiny.named_parameters()}


def test_logs_chosen_stats(tiny, tmp_path, recorder):
    opt = torch.optim.Adam(tiny.parameters())
    with numerics.track(tiny, opt, run=recorder, out_dir=tmp_path, interval=2, log_stats="rms,max_abs,bogus",
                        kinds="activation,weight,optimizer_state") as t:
        train(tiny, opt, t, 3)
    assert [s for s, _ in recorder.logs] == [0, 2]
    keys = set(recorder.logs[1][1])
    assert "numerics/fc1/activation/rms" in keys
    assert "numerics/fc1.weight/weight/max_abs" in keys
    assert "numerics/fc1.weight/exp_avg_sq/rms" in keys
    assert all(k.split("/")[-1] in ("rms", "max_abs") for k in keys)


def test_settings_from_cfg(tiny, tmp_path, recorder):
    cfg = types.SimpleNamespace(NUMERICS=True, NUMERICS_INTERVAL=2, NUMERICS_INCLUDE="fc*",
                                NUMERICS_EXCLUDE="fc2", NUMERICS_ACTIVATIONS=True, NUMERICS_GRADIENTS=False,
                                NUMERICS_WEIGHTS=False, NUMERICS_OPTIMIZER_STATE=False,
                                NUMERICS_HISTOGRAM=False, NUMERICS_MAX_ELEMENTS=10, NUMERICS_LOG_STATS="mean")
    opt = torch.optim.SGD(tiny.parameters(), lr=0.1)
    with numerics.track(tiny, opt, run=recorder, cfg=cfg, out_dir=tmp_path) as t:
        train(tiny, opt, t, 3)
    df = numerics.read_table(tmp_path)
    assert set(zip(df.step, df.module, df.kind, strict=True)) == {(0, "fc1", "activation"), (2, "fc1", "activation")}
    assert not any(c.startswith("exp_") for c in df.columns)
    assert (df["sampled"] <= 10).all() and (df["numel"] == 32 * 16).all()
    assert set(recorder.logs[0][1]) == {"numerics/fc1/activation/mean"}


def test_disabled_by_cfg_does_nothing(tiny, tmp_path):
    opt = torch.optim.SGD(tiny.parameters(), lr=0.1)
    with numerics.track(tiny, opt, cfg=types.SimpleNamespace(NUMERICS=False), out_dir=tmp_path) as t:
        assert t.hooks_armed == 0
        train(tiny, opt, t, 2)
    assert not (tmp_path / "numerics.parquet").exists()


def test_regex_patterns_and_out_dir_from_run(tiny, tmp_path):
    run = Recorder()
    run.dir = tmp_path / "run"
    opt = torch.optim.SGD(tiny.parameters(), lr=0.1)
    with numerics.track(tiny, opt, run=run, interval=1, include=[r"^fc\d$"], kinds="weight") as t:
        train(tiny, opt, t, 1)
    df = numerics.read_table(run.dir)
    assert set(df["module"]) == {"fc1.weight", "fc1.bias", "fc2.weight", "fc2.bias"}


def test_explicit_step_numbers(tiny, tmp_path):
    opt = torch.optim.SGD(tiny.parameters(), lr=0.1)
    with numerics.track(tiny, opt, out_dir=tmp_path, interval=5, start_step=10, kinds="activation") as t:
        assert t.hooks_armed > 0
        for it in range(10, 16):
            train(tiny, opt, None, 1)
            t.step(it)
    assert sorted(numerics.read_table(tmp_path)["step"].unique()) == [10, 15]


def test_bad_kind_is_one_line_error(tiny):
    with pytest.raises(ValueError, match="^unknown tensor kind 'weighs'"):
        numerics.track(tiny, kinds="weighs")


def test_real_trackers_run(tiny, tmp_path, monkeypatch):
    import trackers
    if not hasattr(trackers, "init"):
        pytest.skip("trackers.init not written yet")
    monkeypatch.chdir(tmp_path)
    run = trackers.init(config={}, project="numerics-test", run_name="t", trackers="none",
                        run_dir=tmp_path / "run", log_gpu=False)
    opt = torch.optim.SGD(tiny.parameters(), lr=0.1)
    with numerics.track(tiny, opt, run=run, interval=1, kinds="weight") as t:
        train(tiny, opt, t, 2)
    run.finish()
    assert (tmp_path / "run" / "numerics.parquet").exists()
