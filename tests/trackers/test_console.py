"""console.log holds the program's own output as plain text: no ANSI escapes, no tracker chatter."""

from __future__ import annotations

import sys
import threading
import types

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

import trackers
from trackers import console


@pytest.mark.e2e  # a real Trackio and W&B run
def test_trackio_chatter_and_colours_stay_off_console_log(tmp_path, project) -> None:
    cfg = types.SimpleNamespace(MODEL="gpt2", ENABLE_TRACKIO=True, ENABLE_WANDB=False, ENABLE_TENSORBOARD=False,
                                TRACKER_PROJECT="", TRACKER_RUN_NAME="", WANDB_ENTITY="", WANDB_OFFLINE=False,
                                TRACKER_LOG_GPU=False)
    run = trackers.init(cfg=cfg, project=project, run_name="r", run_dir=tmp_path, trackers=["trackio", "wandb"])
    print("iter 1: loss \x1b[1m\x1b[38;5;208m4.2000\x1b[0m")
    print("a \x1b]8;;https://example.org\x07link\x1b]8;;\x07 to nowhere", file=sys.stderr)
    run.log({"train/loss": 4.2}, step=1)
    run.finish()
    text = (tmp_path / "console.log").read_text()
    assert "\x1b" not in text
    assert "iter 1: loss 4.2000\n" in text and "a link to nowhere\n" in text
    # trackio printed these from the backend's thread; they are its chatter, not the program's output
    assert "Trackio" not in text and "Uploading logs" not in text and "trackio show" not in text
    # ktrack's own warning, printed from the W&B backend's thread, stays
    assert "trackers: warning: W&B offline (WANDB_MODE=offline)" in text


def _through_tracker_thread(parts: list[str]) -> str:
    out: list[str] = []

    def main() -> None:
        console.tracker_thread()
        out.extend(console._kept(part) for part in parts)

    thread = threading.Thread(target=main)
    thread.start()
    thread.join()
    return "".join(out)


def test_a_tracker_thread_keeps_ktrack_messages_however_print_splits_them() -> None:
    parts = ["* Trackio project initialized: p", "\n", "trackers", ": warning: W&B offline", "\n",
             "\x1b[93m[TRACKIO WARN]\x1b[0m x\n", "python -m x: error: bad\n* half"]
    assert _through_tracker_thread(parts) == "trackers: warning: W&B offline\npython -m x: error: bad\n"


@given(st.text(alphabet=st.sampled_from(["a", " ", "\n", "\x1b", "[", "1", ";", "m", "]", "\x07", "\\"]),
               max_size=40))
@example("\x1b\x1b\\\\")  # removing "ESC \\" once left "ESC \\" again
def test_strip_ansi_leaves_plain_text_alone_and_is_idempotent(text: str) -> None:
    stripped = console.strip_ansi(text)
    if "\x1b" not in text:
        assert stripped == text
    assert console.strip_ansi(console.strip_ansi(text)) == stripped
