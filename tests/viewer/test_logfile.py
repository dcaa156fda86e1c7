"""``--log FILE``: AdamWPrune's and ktrack's training log lines, once and followed live.

The parser is checked with hypothesis against lines written from known
numbers (in each format's own layout, among unrelated output and broken
lines); the command gives the right block or one line and exit 1.
"""
from __future__ import annotations

import json
import math
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.viewer.conftest import env_for
from viewer import logfile

loss = st.one_of(st.floats(min_value=0.0, max_value=1e4, allow_nan=False), st.just(math.nan), st.just(math.inf))
lr = st.floats(min_value=1e-8, max_value=1.0)
noise = st.sampled_from(["", "Starting training", "Iter", "iter", "loss 1.0", "| | |", "iteration 5: done",
                         "Iter 3 | loss", "iter 4: loss , lr", "\x1b[31mwarning\x1b[0m", "Iter x | loss 1 | ppl 1 |"])


def adamw(it: int, v: float, r: float, sp: float, ms: float) -> str:
    return f"Iter {it:5d} | loss {v:.4f} | ppl {min(math.exp(min(v, 50)), 1e9):.2f} | lr {r:.2e} | " \
           f"sparsity {sp:.1f}% | {ms:.1f}ms/iter"


def ktrack(it: int, v: float, r: float, ms: float) -> str:
    return f"iter {it}: loss {v:.4f}, lr {r:.2e}, {ms:.2f} ms/iter, acc 0.500"


entry = st.tuples(st.integers(0, 10**6), loss, lr, st.floats(0, 100), st.floats(0.01, 1e4))


@settings(max_examples=150, deadline=None)
@given(fmt=st.sampled_from(["adamw", "ktrack"]), entries=st.lists(entry, max_size=30),
       junk=st.lists(noise, max_size=5))
def test_parser_reads_every_line_back(fmt: str, entries: list, junk: list[str]) -> None:
    lines = [adamw(it, v, r, sp, ms) if fmt == "adamw" else ktrack(it, v, r, ms) for it, v, r, sp, ms in entries]
    text = "\n".join(junk + lines + junk)
    log = logfile.parse(text)
    want = [(it, float(f"{v:.4f}")) for it, v, *_ in entries]
    assert [(it, v) if math.isfinite(v) else (it, str(v)) for it, v in log.loss] == \
        [(it, v) if math.isfinite(v) else (it, str(v)) for it, v in want]
    broken = sum(1 for j in junk if j in ("Iter 3 | loss", "iter 4: loss , lr", "Iter x | loss 1 | ppl 1 |"))
    assert log.malformed == 2 * broken
    if entries:
        assert log.lr == float(f"{entries[-1][2]:.2e}")
        if fmt == "adamw":
            assert log.sparsity == float(f"{entries[-1][3]:.1f}")


def view_log(tmp_path: Path, text: str, *args: str) -> subprocess.CompletedProcess:
    path = tmp_path / "output.log"
    path.write_text(text)
    return subprocess.run([sys.executable, "-m", "viewer", "--log", str(path), "--once", *args],
                          env=env_for(tmp_path), capture_output=True, text=True, timeout=60, cwd=tmp_path)


@pytest.mark.e2e  # runs trackio-view in a process per example
@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(entries=st.lists(entry, max_size=8), junk=st.lists(noise, max_size=3))
def test_once_right_block_or_one_line(tmp_path: Path, entries: list, junk: list[str]) -> None:
    text = "\n".join(junk + [adamw(it, v, r, sp, ms) for it, v, r, sp, ms in entries]) + "\n"
    p = view_log(tmp_path, text)
    finite = sorted(((it, float(f"{v:.4f}")) for it, v, *_ in entries if math.isfinite(v)), key=lambda t: t[0])
    assert "Traceback" not in p.stderr
    if not finite:
        assert p.returncode == 1 and p.stdout == ""
        assert [ln for ln in p.stderr.splitlines() if "error" in ln][0].startswith("trackio-view: error: ")
        assert "holds no training loss lines" in p.stderr
        return
    assert p.returncode == 0, p.stderr
    assert "TrackIO Dashboard - Project: training\n" in p.stdout
    assert f"Min Loss: {min(v for _, v in finite):.4f}\nMax Loss: {max(v for _, v in finite):.4f}\n" in p.stdout
    last_it, last_v = entries[-1][0], entries[-1][1]
    if math.isfinite(last_v):
        assert f"Latest Loss: {finite[-1][1]:.4f}\n" in p.stdout
    else:
        assert f"Latest Iteration: {last_it} (diverged" in p.stdout
        assert f"Latest Loss: {'nan' if math.isnan(last_v) else 'inf'} " in p.stdout


def test_seed_format_and_ktrack_console_log(tmp_path: Path) -> None:
    p = view_log(tmp_path, "\n".join(adamw(10 * i, 10.0 / (i + 1), 6e-5, 0.5, 120.0) for i in range(60)) + "\n",
                 "--zoom", "4")
    assert p.returncode == 0 and "View: Last 50\n" in p.stdout and "Sparsity: 0.5%\n" in p.stdout
    assert "Loss Trend (Iterations 100 to 590):" in p.stdout and "Learning Rate: 6.00e-05" in p.stdout
    console = "iter 0: loss 2.3026, lr 1.00e-03, 5.21 ms/iter\niter 10: val loss 1.1000 (best)\n" \
              "iter 10: loss 1.2000, lr 5.00e-04, 4.90 ms/iter, acc 0.512\n"
    p = view_log(tmp_path, console, "--json")
    d = json.loads(p.stdout)["projects"][0]
    assert (d["latest_iteration"], d["latest_value"], d["learning_rate"], d["val_loss"]) == (10, 1.2, 5e-4, 1.1)


@pytest.mark.parametrize("what", ["missing", "folder", "binary"])
def test_bad_files_are_one_line(tmp_path: Path, what: str) -> None:
    path = {"missing": tmp_path / "nope.log", "folder": tmp_path, "binary": tmp_path / "b.log"}[what]
    if what == "binary":
        path.write_bytes(bytes(range(256)) * 8)
    p = subprocess.run([sys.executable, "-m", "viewer", "--log", str(path), "--once"], env=env_for(tmp_path),
                       capture_output=True, text=True, timeout=60, cwd=tmp_path)
    assert p.returncode == 1 and p.stdout == "" and len(p.stderr.strip().splitlines()) == 1
    assert p.stderr.startswith("trackio-view: error: ") and str(path) in p.stderr


def test_log_with_gpu_is_a_usage_error(tmp_path: Path) -> None:
    p = subprocess.run([sys.executable, "-m", "viewer", "--log", "x.log", "--gpu"], env=env_for(tmp_path),
                       capture_output=True, text=True, timeout=60, cwd=tmp_path)
    assert p.returncode == 2 and "--log cannot be combined" in p.stderr


@pytest.mark.tmux
@pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux not installed")
def test_live_log_follows_appended_lines(tmp_path: Path) -> None:
    from tests.tmux_driver import Tmux

    path = tmp_path / "console.log"
    path.write_text("iter 0: loss 2.3026, lr 1.00e-03, 5.21 ms/iter\n")
    env = {k: v for k, v in env_for(tmp_path).items() if k in ("PYTHONPATH", "HOME", "TERM")}
    with Tmux(f"{shlex.quote(sys.executable)} -m viewer --log {shlex.quote(str(path))} -i 0.2",
              cwd=str(tmp_path), env=env, width=100, height=40) as t:
        t.wait_for("Latest Iteration: 0", timeout=60)
        with open(path, "a") as fh:
            fh.write("iter 10: loss 1.5000, lr 1.00e-03, 5.00 ms/iter\niter 20: loss 1.2")
        t.wait_for("Latest Loss: 1.5000")
        with open(path, "a") as fh:
            fh.write("500, lr 1.00e-03, 5.00 ms/iter\n")
        t.wait_for("Latest Iteration: 20")
        t.send("q")
        assert t.exit_status() == 0
