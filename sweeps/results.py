"""Reading results back from run directories (``summary.json``, ``metrics.jsonl``, ``config.json``)."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

TRAIN_KEYS = ("train/loss", "train_loss", "loss")
VAL_KEYS = ("val/loss", "val_loss", "eval_loss")


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, str):
        value = {"NaN": math.nan, "Infinity": math.inf, "-Infinity": -math.inf}.get(value, value)
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def read_json(path: Path) -> dict[str, Any]:
    """A JSON object from ``path``; {} when missing or unreadable."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        return {}
    return data if isinstance(data, dict) else {}


def records(run_dir: Path) -> list[dict[str, Any]]:
    """Every complete line of ``metrics.jsonl`` (a partial last line is skipped)."""
    path = Path(run_dir) / "metrics.jsonl"
    out = []
    try:
        with open(path, encoding="utf-8") as handle:
            for line in handle:
                if not line.endswith("\n"):
                    break
                try:
                    rec = json.loads(line)
                except json.JSONDecodeError:
                    continue
                if isinstance(rec, dict):
                    out.append(rec)
    except OSError:
        pass
    return out


def summary(run_dir: Path) -> dict[str, Any]:
    """``summary.json``, else the last ``summary`` record of the journal."""
    data = read_json(Path(run_dir) / "summary.json")
    if data:
        return data
    for rec in reversed(records(run_dir)):
        if rec.get("type") == "summary" and isinstance(rec.get("summary"), dict):
            return rec["summary"]
    return {}


def finished(run_dir: Path) -> bool:
    """True when the run wrote its summary."""
    return bool(summary(run_dir))


def series(run_dir: Path, keys: tuple[str, ...] = TRAIN_KEYS) -> list[tuple[int, float]]:
    """``(step, value)`` of the first of ``keys`` each ``log`` record has, in file order."""
    points = []
    for index, rec in enumerate(records(run_dir)):
        if rec.get("type", "log") != "log":
            continue
        metrics = rec.get("metrics") or {}
        for key in keys:
            value = _number(metrics.get(key))
            if value is not None:
                step = rec.get("step")
                step = int(step) if isinstance(step, (int, float)) else int(metrics.get("iteration", index))
                points.append((step, value))
                break
    return points


def metric_value(run_dir: Path, metric: str) -> float | None:
    """``metric`` of a run: its summary value, else for a loss the best logged value."""
    value = _number(summary(run_dir).get(metric))
    if value is not None:
        return value
    if metric in ("best_val_loss",):
        values = [v for _, v in series(run_dir, VAL_KEYS) if not math.isnan(v)]
        return min(values) if values else None
    if metric in ("final_train_loss",):
        values = series(run_dir, TRAIN_KEYS)
        return values[-1][1] if values else None
    return None


def config(run_dir: Path) -> dict[str, Any]:
    """The run's logged configuration (``config.json``), ``CONFIG_`` keys only when it has any."""
    data = read_json(Path(run_dir) / "config.json")
    data = data.get("config", data) if isinstance(data.get("config"), dict) else data
    kconfig = {k: v for k, v in data.items() if k.startswith("CONFIG_")}
    return kconfig or data
