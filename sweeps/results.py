"""Reading results back from run directories (``summary.json``, the journal, ``config.json``, checkpoints).

The journal is read with :func:`rundata.journal.read_records`, the one
reader of ``metrics.jsonl``.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from ktrack.keys import TRAIN_LOSS_KEYS, VAL_LOSS_KEYS
from ktrack.numbers import number
from ktrack.runfolder import RunFolder, read_json
from rundata.journal import LOG, SUMMARY, history, read_records

def records(run_dir: Path) -> list[dict[str, Any]]:
    """Every complete record of the run's final history ([] when it has none or cannot be read)."""
    try:
        return history(rec for rec in read_records(run_dir) if isinstance(rec, dict))
    except (OSError, UnicodeDecodeError):
        return []


def summary(run_dir: Path) -> dict[str, Any]:
    """``summary.json``, else the last ``summary`` record of the journal."""
    data = read_json(RunFolder(run_dir).summary)
    if data:
        return data
    for rec in reversed(records(run_dir)):
        if rec.get("type") == SUMMARY and isinstance(rec.get("summary"), dict):
            return rec["summary"]
    return {}


def finished(run_dir: Path) -> bool:
    """True when the run wrote its summary."""
    return bool(summary(run_dir))


def checkpoint_iter(run_dir: Path) -> int | None:
    """The iteration of the run's ``checkpoints/last.pt``, None when there is none or it cannot be read."""
    path = RunFolder(run_dir).checkpoint()
    if not path.is_file():
        return None
    try:
        import torch

        state = torch.load(path, map_location="cpu", mmap=True, weights_only=False)
        return int(state["iter"])
    except Exception:  # noqa: BLE001 - any unreadable checkpoint only means "not known to be final"
        return None


def completed(run_dir: Path, max_iters: int | None) -> bool:
    """True when the run trained to the end, whatever the sweep's state file says.

    A summary with ``final_iter`` must have reached ``max_iters``; without
    one, a final checkpoint (``last.pt`` at ``max_iters``) counts; a command
    that writes neither is done once it wrote a summary.
    """
    data = summary(run_dir)
    final = number(data.get("final_iter"))
    if final is not None:
        return max_iters is None or final >= max_iters
    if max_iters is not None:
        at = checkpoint_iter(run_dir)
        if at is not None:
            return at >= max_iters
    return bool(data)


def series(run_dir: Path, keys: tuple[str, ...] = TRAIN_LOSS_KEYS) -> list[tuple[int, float]]:
    """``(step, value)`` of the first of ``keys`` each ``log`` record has, in file order."""
    points = []
    for rec in records(run_dir):
        if rec["type"] != LOG:
            continue
        for key in keys:
            value = number(rec["metrics"].get(key))
            if value is not None:
                points.append((rec["step"], value))
                break
    return points


def metric_value(run_dir: Path, metric: str) -> float | None:
    """``metric`` of a run: its summary value, else for a loss the best logged value."""
    value = number(summary(run_dir).get(metric))
    if value is not None:
        return value
    if metric == "best_val_loss":
        losses = [v for _, v in series(run_dir, VAL_LOSS_KEYS) if not math.isnan(v)]
        return min(losses) if losses else None
    if metric == "final_train_loss":
        train = series(run_dir, TRAIN_LOSS_KEYS)
        return train[-1][1] if train else None
    return None


def config(run_dir: Path) -> dict[str, Any]:
    """The run's logged configuration (``config.json``), ``CONFIG_`` keys only when it has any."""
    data = read_json(RunFolder(run_dir).config_json)
    data = data.get("config", data) if isinstance(data.get("config"), dict) else data
    kconfig = {k: v for k, v in data.items() if k.startswith("CONFIG_")}
    return kconfig or data
