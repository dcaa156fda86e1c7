"""Helpers for the Hugging Face integration tests: a Kconfig file and the real stores read back."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from rundata.journal import read_records
from trackers import readback
from trackers.readback import tensorboard_scalars, trackio_rows, wandb_run

#: Keys Trackio adds to every run's config itself (``allow_val_change``: the argument of its own
#: ``config.update``, which both Hugging Face integrations of Trackio call, stored as a key).
TRACKIO_OWN = {"_Username", "_Created", "_Group", "_Command", "allow_val_change"}


@pytest.fixture
def kconfig_file(tmp_path: Path) -> Path:
    """A ``.config`` sending runs to all three trackers under ``tmp_path/runs``, with its own names."""
    path = tmp_path / "kconfig" / ".config"
    path.parent.mkdir()
    path.write_text("\n".join([
        "CONFIG_MODEL_GPT2=y", "CONFIG_ENABLE_TRACKIO=y", "CONFIG_ENABLE_WANDB=y", "CONFIG_ENABLE_TENSORBOARD=y",
        "CONFIG_WANDB_OFFLINE=y", 'CONFIG_TRACKER_PROJECT="kconf-project"', 'CONFIG_TRACKER_RUN_NAME="kconf-run"',
        f'CONFIG_RUNS_DIR="{tmp_path / "runs"}"', ""]))
    return path


def trackio_config(db: Path, run: str) -> dict[str, Any]:
    """The config Trackio stored for ``run`` (its own ``_`` keys left out)."""
    return {k: v for k, v in readback.trackio_config(db, run).items() if k not in TRACKIO_OWN}


def own_config(tracker_config: dict[str, Any]) -> dict[str, Any]:
    """A Trackio run config without what ktrack adds to every run: provenance and the end-of-run summary."""
    assert any(key.startswith("provenance/") for key in tracker_config)
    return {k: v for k, v in tracker_config.items() if not k.startswith(("provenance/", "summary/"))}


def flatten(values: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """Nested dicts as ``outer.inner`` keys (Trackio's own integrations store ``_name_or_path`` as it is)."""
    out: dict[str, Any] = {}
    for key, value in values.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            out.update(flatten(value, name + "."))
        else:
            out[name] = value
    return out


def series(rows: list[tuple[int, dict[str, Any]]], key: str, step_key: str | None = None) -> list[tuple[int, float]]:
    """``[(step, value)]`` of ``key``; the step is the row's, or the value of ``step_key`` in the row."""
    return [(int(m[step_key]) if step_key else step, m[key]) for step, m in rows if key in m]


def ktrack_stores(run_dir: Path) -> dict[str, Any]:
    """What ktrack's run wrote, read back: config.json, summary.json, journal, W&B run, TensorBoard scalars."""
    meta = json.loads((run_dir / "config.json").read_text())
    journal = list(read_records(run_dir))
    backends = meta["backends"]
    return {
        "meta": meta,
        "summary": json.loads((run_dir / "summary.json").read_text()),
        "journal": [(r["step"], r["metrics"]) for r in journal if r.get("type") == "log"],
        "trackio": trackio_rows(Path(backends["trackio"]["dir"]) / f"{meta['project']}.db", meta["run"]),
        "trackio_config": trackio_config(Path(backends["trackio"]["dir"]) / f"{meta['project']}.db", meta["run"]),
        "wandb": wandb_run(backends["wandb"]["dir"]),
        "tensorboard": tensorboard_scalars(backends["tensorboard"]["dir"]),
    }


def assert_same(actual: list[tuple[int, float]], expected: list[tuple[int, float]], rel: float = 1e-6) -> None:
    """The same steps, and values equal within ``rel``."""
    assert [s for s, _ in actual] == [s for s, _ in expected], (actual, expected)
    assert [v for _, v in actual] == pytest.approx([v for _, v in expected], rel=rel), (actual, expected)
