"""python -m numerics plot on a short real training run."""

from __future__ import annotations

import json

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

import numerics
from numerics.__main__ import main
from numerics.plot import FORMATS

from tests.numerics.conftest import TinyNet, train


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    """One short tracked run for the whole module (the tests only read it, or write under --out)."""
    run = tmp_path_factory.mktemp("numerics") / "runs" / "proj" / "run1"
    torch.manual_seed(0)
    tiny = TinyNet()
    opt = torch.optim.AdamW(tiny.parameters(), lr=1e-2)
    with numerics.track(tiny, opt, out_dir=run, interval=2, kinds="activation,gradient,weight,optimizer_state") as t:
        losses = train(tiny, opt, t, 12)
    with open(run / "metrics.jsonl", "w") as f:
        for i, loss in enumerate(losses):
            row = {"type": "log", "step": i, "time": 0.0, "metrics": {"train/loss": loss, "lr": 0.01}}
            f.write(json.dumps(row) + "\n")
        f.write("not json\n")
    return run


def test_plot_cli_writes_nonempty_pngs(run_dir, capsys):
    assert main(["plot", str(run_dir), "--stat", "rms", "--kind", "activation", "--format", "fp8_e4m3"]) == 0
    printed = capsys.readouterr().out.split()
    names = sorted(p.rsplit("/", 1)[-1] for p in printed)
    assert names == ["activation_exp_hist_step10_fp8_e4m3.png", "activation_rms_heatmap.png",
                     "activation_rms_lines.png", "loss.png"]
    for p in printed:
        data = open(p, "rb").read()
        assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 5000


@pytest.mark.parametrize("fmt", sorted(FORMATS))
def test_every_format_and_kind(run_dir, tmp_path, fmt):
    out = tmp_path / fmt
    assert main(["plot", str(run_dir), "--kind", "gradient", "--stat", "max_abs", "--step", "4",
                 "--format", fmt, "--out", str(out)]) == 0
    assert (out / f"gradient_exp_hist_step4_{fmt}.png").stat().st_size > 5000


def test_optimizer_state_plot(run_dir, tmp_path):
    assert main(["plot", str(run_dir), "--kind", "optimizer_state", "--module", "fc1*",
                 "--out", str(tmp_path / "o")]) == 0
    assert (tmp_path / "o" / "optimizer_state_rms_heatmap.png").exists()


@pytest.mark.parametrize("argv,msg", [
    (["--step", "3"], "numerics: error: step 3 was not sampled"),
    (["--kind", "weight_grad"], "numerics: error: no 'weight_grad' rows"),
])
def test_cli_errors_are_one_line(run_dir, capsys, argv, msg):
    with pytest.raises(SystemExit) as e:
        main(["plot", str(run_dir)] + argv)
    err = capsys.readouterr().err
    assert e.value.code == 1 and err.startswith(msg) and err.count("\n") == 1


def test_cli_missing_run(tmp_path, capsys):
    with pytest.raises(SystemExit) as e:
        main(["plot", str(tmp_path / "nope")])
    assert e.value.code == 1 and capsys.readouterr().err.startswith("numerics: error: run directory")


def test_cli_usage_error_exits_2(run_dir, capsys):
    with pytest.raises(SystemExit) as e:
        main(["plot", str(run_dir), "--stat", "nope"])
    assert e.value.code == 2 and "numerics: error: argument --stat" in capsys.readouterr().err


def test_cli_unwritable_output(run_dir, tmp_path, capsys):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    with pytest.raises(SystemExit) as e:
        main(["plot", str(run_dir), "--out", str(blocker / "plots")])
    err = capsys.readouterr().err
    assert e.value.code == 1 and err.startswith("numerics: error: ") and err.count("\n") == 1


def _deep_run(tmp_path, dtype=torch.float32, layers: int = 14):
    """A real run of a stack of ``layers`` Linear layers (more modules than a legend can name)."""
    torch.manual_seed(0)
    model = torch.nn.Sequential(*[torch.nn.Linear(8, 8) for _ in range(layers)]).to(dtype)
    opt = torch.optim.SGD(model.parameters(), lr=1e-3)
    run = tmp_path / "deep"
    with numerics.track(model, opt, out_dir=run, interval=2, kinds="activation") as t:
        for _ in range(6):
            loss = model(torch.randn(16, 8, dtype=dtype)).float().square().mean()
            loss.backward()
            opt.step()
            t.step()
            opt.zero_grad(set_to_none=True)
    return run


def test_lines_name_the_extremes_and_group_the_rest(tmp_path):
    import matplotlib.pyplot as plt

    from numerics.plot import LABELED, _select, lines_figure, pick_labeled

    sub = _select(numerics.read_table(_deep_run(tmp_path)), "activation", None)
    fig = lines_figure(sub, "rms", "activation")
    ax = fig.axes[0]
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    piv = sub.pivot_table(index="step", columns="label", values="rms", aggfunc="last")
    medians = piv.median()
    assert legend[0] == f"{14 - LABELED} other modules (grey)"
    named = legend[1:]
    assert len(named) == LABELED and named == pick_labeled(piv)
    rest = [m for m in piv.columns if m not in named]
    assert min(medians[named[:LABELED // 2]]) >= max(medians[rest]) >= max(medians[named[LABELED // 2:]])
    coloured = {line.get_color() for line in ax.get_lines() if line.get_label() in named}
    assert len(coloured) == LABELED  # every named line can be told apart
    assert "5 highest and 5 lowest" in ax.get_title()
    plt.close(fig)


@given(st.lists(st.floats(1e-6, 1e6), min_size=1, max_size=30), st.integers(1, 12))
def test_pick_labeled_keeps_the_extremes(medians, top):
    import pandas as pd

    from numerics.plot import pick_labeled

    piv = pd.DataFrame([medians], columns=[f"m{i}" for i in range(len(medians))])
    named = pick_labeled(piv, top)
    assert len(named) == len(set(named)) == min(top, len(medians))
    rest = [c for c in piv.columns if c not in named]
    if rest:
        high, low = named[:top // 2], named[top // 2:]
        assert all(piv[h][0] >= piv[r][0] for h in high for r in rest)
        assert all(piv[r][0] >= piv[lo][0] for lo in low for r in rest)


@pytest.mark.parametrize("dtype,fmt", [(torch.float32, "fp32"), (torch.bfloat16, "bf16")])
def test_histogram_marks_the_run_dtype_by_default(tmp_path, dtype, fmt, capsys):
    run = _deep_run(tmp_path, dtype, layers=3)
    assert main(["plot", str(run), "--out", str(tmp_path / "p")]) == 0
    names = sorted(p.rsplit("/", 1)[-1] for p in capsys.readouterr().out.split())
    assert f"activation_exp_hist_step4_{fmt}.png" in names
    assert not any(n.endswith(("_bf16.png", "_fp32.png")) and not n.endswith(f"_{fmt}.png") for n in names)
