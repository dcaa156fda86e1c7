"""The live workspace in tmux at 80x24, 120x40 and 200x60: every key, read back from the screen."""
from __future__ import annotations

import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from tests.tmux_driver import Tmux, require_tmux
from tests.viewer.conftest import PRELUDE, env_for, write

pytestmark = pytest.mark.tmux
SIZES = [(80, 24), (120, 40), (200, 60)]
STTY = "stty -a | tr ' ;' '\\n\\n' | grep -x -e icanon -e echo -e -icanon -e -echo"
BRAILLE = ("\u2801", "\u28ff")

PROJECT = """
rows = []
for i in range(600):
    rows.append({"train/loss": 3.7 + 7.1 * math.exp(-i / 40), "val/loss": 4.0 - i / 600, "lr": 6e-5,
                 "gpu/utilization": 50 + i % 30, "numerics/grad_norm": 1 + (i % 9) / 10,
                 "acc": i / 600, "tokens": 1000.0 * i, "zeta": math.sin(i / 20)})
bulk("wsproj", "run-a", rows, list(range(10, 6010, 10)))
SQLiteStorage.bulk_log("wsproj", "run-a", [], config={"CONFIG_LR": "1e-3", "CONFIG_BATCH": 8}, run_id="run-a-id")
SQLiteStorage.bulk_log("wsproj", "run-b", [{k: v * 1.1 for k, v in r.items()} for r in rows[:300]],
                       steps=list(range(10, 3010, 10)), config={"CONFIG_LR": "3e-4", "CONFIG_BATCH": 8},
                       run_id="run-b-id")
"""


@pytest.fixture(scope="module")
def ws_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A Trackio project of two runs with eight metrics; run-b is the newest (300 points)."""
    root = tmp_path_factory.mktemp("ws")
    write(root, PROJECT)
    for run in ("run-a", "run-b"):
        folder = root / "runs" / "wsproj" / run
        folder.mkdir(parents=True)
        (folder / "console.log").write_text("".join(f"{run} iter {i} ok\n" for i in range(50)))
    return root


def viewer(root: Path, args: str, size: tuple[int, int]) -> Tmux:
    """``trackio-view ARGS`` in a fresh tmux of ``size``."""
    require_tmux()
    env = {k: v for k, v in env_for(root).items()
           if k in ("TRACKIO_DIR", "HOME", "HF_HOME", "XDG_CACHE_HOME", "PYTHONPATH", "TERM")}
    cmd = f"{shlex.quote(sys.executable)} -m viewer {args} --runs {shlex.quote(str(root / 'runs'))}"
    return Tmux(cmd, cwd=str(root), env=env, width=size[0], height=size[1], after=STTY)


def lines_of(screen: str, h: int) -> list[str]:
    return (screen.split("\n") + [""] * h)[:h]


def assert_intact(screen: str, w: int, h: int) -> None:
    """Every line fits; the right edge of the body is a box edge on every row below the legend."""
    lines = lines_of(screen, h)
    assert all(len(line) <= w for line in lines), screen
    for y in range(2, h - 1):
        assert len(lines[y]) == w and lines[y][-1] in "\u2502\u2510\u2518", (y, screen)
    if w >= 60:
        for y in range(1, h - 1):
            assert lines[y][0] in "\u2502\u250c\u2514", (y, screen)


def intact(screen: str, w: int, h: int) -> bool:
    """:func:`assert_intact` as a predicate (the first frame may come before tmux's resize)."""
    try:
        assert_intact(screen, w, h)
    except AssertionError:
        return False
    return True


def chart_titles(screen: str) -> list[str]:
    return [part.split()[0] for line in screen.split("\n") for part in line.split("\u250c ")[1:]
            if part.split() and part.split()[0] != "Runs"]


def is_dot(ch: str) -> bool:
    return BRAILLE[0] <= ch <= BRAILLE[1]


def plot_edges(screen: str, w: int, h: int) -> tuple[bool, bool, list[str]]:
    """Full-screen chart: whether the plot's first and last columns hold dots, and the plot rows."""
    lines = lines_of(screen, h)
    axis = 10  # box edge (1) + labels (9)
    rows = [line[axis + 1:w - 1] for line in lines[2:h - 2] if len(line) == w and line[axis] in "\u2524\u2502"]
    return any(is_dot(r[0]) for r in rows), any(is_dot(r[-1]) for r in rows), rows


@pytest.mark.parametrize("size", SIZES, ids=[f"{w}x{h}" for w, h in SIZES])
def test_workspace_every_key(ws_root: Path, size: tuple[int, int]) -> None:
    w, h = size
    with viewer(ws_root, "-p wsproj -i 0.5", size) as t:
        s = t.wait_for("TrackIO Dashboard - Project: wsproj", timeout=60)
        s = t.wait_for(lambda x: "train/loss" in x and intact(x, w, h))
        cols, rows = max(1, (w - max(22, min(34, w // 4))) // 36), max(1, (h - 3) // 10)
        assert len(chart_titles(s)) == min(8, cols * rows), s  # the grid is filled
        assert chart_titles(s)[:2] == ["train/loss", "val/loss"]
        assert "Runs: \u25a0 run-b" in s and "run-a" in s
        # filter: narrows, bad regex is one line, Esc clears
        t.send("/", "v", "a", "l", "Enter")
        s = t.wait_for("filter /val/")
        assert chart_titles(s) == ["val/loss"], s
        t.send("/", "(", "Enter")
        s = t.wait_for("bad regular expression")
        assert "filter /val/" in s
        t.send("Escape")
        s = t.wait_for(lambda x: "train/loss" in chart_titles(x) and "filter /" not in x)
        # runs pane: Tab, Down, space selects run-a: overlaid, legend names both
        t.send("Tab", "Down", "Space")
        s = t.wait_for("Runs: \u25a0 run-b  \u25a0 run-a")
        assert_intact(s, w, h)
        # console, overview (2 runs: the symbols that differ), system
        t.send("l")
        s = t.wait_for("run-a iter 49 ok" if w >= 120 else "run-a iter")
        t.send("l", "o")
        s = t.wait_for("Kconfig symbols that differ" if w >= 120 else "Kconfig")
        if w >= 120:
            assert "LR" in s
        t.send("o", "g")
        s = t.wait_for("utilization")
        assert "GPU 0" in s
        assert_intact(s, w, h)
        t.send("g", "Tab")
        # paging
        if w < 200:  # all eight charts fit at 200x60
            t.send("PageDown")
            s = t.wait_for("page 2/")
            t.send("PageUp")
            t.wait_for("page 1/")
        # help lists every key
        t.send("?")
        s = t.wait_for("Keys (any key closes)")
        for k in ("PgDn", "Enter", "+ / -", "Tab", "space", "l ", "o ", "g ", "0-9", "p ", "q / Ctrl+C", "/ "):
            assert k in s, (k, s)
        t.send("Escape")
        t.wait_for(lambda x: "Keys (any" not in x)
        # full screen with zoom levels, Esc back
        t.send("Enter")
        s = t.wait_for("+/-: zoom, Esc: back")
        assert "[All data]" in s or w < 120
        t.send("+")
        t.wait_for("View: Last 500")
        t.send("Escape")
        s = t.wait_for(lambda x: "Esc: back" not in x and len(chart_titles(x)) > 1)
        t.send("q")
        assert t.exit_status() == 0
        s = t.wait_for(lambda x: "icanon" in x.split() or "-icanon" in x.split())
        assert "icanon" in s.split() and "echo" in s.split() and "TrackIO Dashboard" not in s


@pytest.mark.parametrize("size", SIZES, ids=[f"{w}x{h}" for w, h in SIZES])
def test_curve_spans_plot_edge_to_edge(ws_root: Path, size: tuple[int, int]) -> None:
    """Full-screen chart: dots in the plot's first and last column; All data and Last 500
    place run-b's 300 points identically."""
    w, h = size
    with viewer(ws_root, "-p wsproj -i 5", size) as t:
        t.wait_for(lambda x: "train/loss" in x and intact(x, w, h), timeout=60)
        t.send("Enter")
        s = t.wait_for("Esc: back")
        left, right, rows_all = plot_edges(s, w, h)
        assert left and right, s
        t.send("+")
        s = t.wait_for("View: Last 500")
        left, right, rows_500 = plot_edges(s, w, h)
        assert left and right, s
        assert rows_all == rows_500
        t.send("q")
        assert t.exit_status() == 0


def test_ctrl_c_restores_terminal(ws_root: Path) -> None:
    with viewer(ws_root, "-p wsproj -i 0.5", (100, 30)) as t:
        t.wait_for("train/loss", timeout=60)
        t.send("C-c")
        assert t.exit_status() == 0
        s = t.wait_for(lambda x: "icanon" in x.split() or "-icanon" in x.split())
        assert "icanon" in s.split() and "echo" in s.split() and "Traceback" not in s


def test_live_updates_while_writing(tmp_path: Path) -> None:
    write(tmp_path, 'bulk("live", "r1", [{"train/loss": 2.0, "lr": 1e-3}] * 100, list(range(100)))')
    with viewer(tmp_path, "-p live -i 0.3", (120, 40)) as t:
        t.wait_for("100 steps", timeout=60)
        code = PRELUDE + """
import time
for k in range(5):
    steps = list(range(100 + 40 * k, 140 + 40 * k))
    bulk("live", "r1", [{"train/loss": 1.25, "lr": 1e-3, "new/metric": 5.0}] * 40, steps)
    time.sleep(0.2)
"""
        subprocess.run([sys.executable, "-c", code], env=env_for(tmp_path), check=True, timeout=120)
        s = t.wait_for("300 steps", timeout=30)
        s = t.wait_for("new/metric")
        assert "train/loss  1.25" in s
        t.send("q")
        assert t.exit_status() == 0


def test_journal_project_live(tmp_path: Path) -> None:
    """A run tracked only to its journal is shown, and follows new records."""
    from trackers.journal import Journal

    run_dir = tmp_path / "runs" / "jproj" / "only-journal"
    run_dir.mkdir(parents=True)
    j = Journal(run_dir, flush_interval=0)
    for i in range(50):
        j.write("log", i, 1.7e9 + i, {"train/loss": 3.0 - i / 100, "acc": i / 50})
    j.flush()
    (tmp_path / "trackio").mkdir()
    with viewer(tmp_path, "-p jproj -i 0.3", (120, 40)) as t:
        t.wait_for("50 steps", timeout=60)
        assert "only-journal" in t.screen()
        for i in range(50, 80):
            j.write("log", i, 1.7e9 + i, {"train/loss": 1.0, "acc": 1.0})
        j.flush()
        s = t.wait_for("80 steps", timeout=30)
        assert "train/loss  1" in s
        t.send("q")
        assert t.exit_status() == 0
    j.close()


def test_runs_pane_keeps_default_names_apart_at_80x24(tmp_path: Path) -> None:
    """Default run names ({model}_{optimizer}_{time}) differ only at the end: at 80 columns the
    runs pane keeps that end (the time) visible and cuts the shared middle."""
    times = ("231200", "231207", "231315", "231342")
    write(tmp_path, "\n".join(f'bulk("dflt", "lenet5_sgd_20261207_{t}", [{{"train/loss": {i + 1.5}}}] * 20, '
                              f'list(range(20)))' for i, t in enumerate(times)))
    with viewer(tmp_path, "-p dflt -i 0.3", (80, 24)) as t:
        s = t.wait_for(lambda x: "Runs (4)" in x and intact(x, 80, 24), timeout=60)
        pane = [line[1:21] for line in lines_of(s, 24)[2:10]]
        names = pane[0::2]
        for when, line in zip(reversed(times), names, strict=True):  # newest first
            assert line.startswith(("\u25cf ", "\u25cb ")) and when in line and "\u2026" in line, (when, s)
        assert len({line.split()[1] for line in names}) == 4, s
        t.send("q")
        assert t.exit_status() == 0


@pytest.mark.parametrize("size", [(80, 24), (120, 40)], ids=["80x24", "120x40"])
def test_journal_only_run_and_compare_overview(tmp_path: Path, size: tuple[int, int]) -> None:
    """A sweep point tracked only to its journal is in the runs pane beside the Trackio one;
    the overview of the two compared runs is titled as such, keeps its header at the top,
    counts Kconfig symbols and summary values apart and prints numbers in 6 digits."""
    from tests.viewer.test_store_journal import sweep_points

    sweep_points(tmp_path)
    w, h = size
    with viewer(tmp_path, "-p sweep -i 0.3 --compare pt-a pt-b", size) as t:
        s = t.wait_for(lambda x: "Runs (2)" in x and "Runs: \u25a0 pt-a  \u25a0 pt-b" in x and intact(x, w, h),
                       timeout=60)
        assert "pt-b 2.71" in s and "pt-a 0.1" in s
        t.send("o")
        s = t.wait_for("Overview: 2 selected runs")
        pane = [line[line.index("\u2502", 1) + 1:] for line in s.split("\n")
                if line.count("\u2502") >= 3 and line.index("\u2502", 1) < w - 1]
        body = [row.split("\u2502")[1].rstrip() for row in pane if "\u2502" in row]
        first = next(i for i, row in enumerate(body) if row.startswith("Kconfig symbols that differ (1):"))
        assert body[first + 1].split() == ["symbol", "pt-a", "pt-b"], s
        assert body[first + 3].split() == ["TRAIN_LR", "0.1", "0.01"], s
        if h >= 40:
            assert body[first + 5] == "Summary values (2):", s
            assert body[first + 9].split() == ["total_time_s", "0.333333", "0.333333"], s
        else:
            assert "... 6 more lines" in s, s
        assert "0.3333333" not in s and "provenance" not in s
        assert_intact(s, w, h)
        t.send("q")
        assert t.exit_status() == 0
