"""python -m numerics plot on a short real training run."""

from __future__ import annotations

import json

import pytest
import torch

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
