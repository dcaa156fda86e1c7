"""``config.json`` of a run folder: what the run is, where it came from, where each tracker wrote.

    {"project": ..., "run": ..., "trackers": [...], "created": <time>,
     "config": {<each value once>}, "provenance": {<git, command, versions ...>},
     "resumes": [{"time": ..., "provenance": {...}}, ...],   # parts after the first
     "backends": {"trackio": {...}, "wandb": {"id": ..., "dir": ...}, "tensorboard": {...}},
     "end": {"state": "finished" | "stopped", "signal": "SIGTERM", "time": ...,
             "missed": {"wandb": 3}, "replay": {"wandb": "python -m trackers replay <dir> --to wandb"}}}

The backends' ids (the W&B run id, the Trackio run) are there from the
start, before any tracker has started, so a run killed at any moment is
replayed into the same tracker run. ``end`` is written when the run ends (a
run killed with SIGKILL has none); a resumed part starts without one.
A resumed part keeps the first part's ``created`` and ``provenance`` (its own
goes to ``resumes``) and the trackers' records (the W&B run id it resumes).
"""

from __future__ import annotations

import hashlib
import json
import time
from pathlib import Path
from typing import Any

from kconf.trackerspec import WANDB
from ktrack.runfolder import RunFolder, read_json
from rundata.journal import from_json, to_json
from trackers.journal import write_json


def json_safe(value: Any) -> Any:
    """``value`` when JSON can hold it, else its :func:`to_json` form or ``str``."""
    try:
        json.dumps(value, allow_nan=False)
        return value
    except (TypeError, ValueError):
        v = to_json(value)
        return v if isinstance(v, (str, int, float, bool, dict)) else str(value)


def wandb_run_id(meta: dict[str, Any]) -> str:
    """The W&B run id of a run's ``config.json``: its own, else one derived from project, run and start time."""
    info = (meta.get("backends") or {}).get(WANDB) or {}
    if isinstance(info, dict) and isinstance(info.get("id"), str) and info["id"]:
        return info["id"]
    seed = f"{meta.get('project')}\0{meta.get('run')}\0{meta.get('created')}"
    return "r" + hashlib.sha256(seed.encode()).hexdigest()[:11]


class RunRecord:
    """Builds and writes ``config.json``; on resume starts from the one already there."""

    def __init__(self, run_dir: Path, *, project: str, run: str, trackers: list[str], config: dict[str, Any],
                 provenance: dict[str, Any], resume: bool, rewound_to: int | None = None) -> None:
        """``rewound_to``: the checkpoint step a resume went back to, dropping the later rows logged before."""
        self.path = RunFolder(run_dir).config_json
        previous = read_json(self.path) if resume else {}
        now = time.time()
        summary = read_json(RunFolder(run_dir).summary) if resume else {}
        self.previous_summary: dict[str, Any] = {k: from_json(v) for k, v in summary.items()}
        self.previous_backends: dict[str, Any] = dict(previous.get("backends") or {})
        self.data: dict[str, Any] = {
            "project": project, "run": run, "trackers": list(trackers),
            "created": previous.get("created", now),
            "config": {k: json_safe(v) for k, v in config.items()},
            "provenance": previous.get("provenance") or provenance,
        }
        resumes = list(previous.get("resumes") or [])
        if previous:
            resumes.append({"time": now, "provenance": provenance,
                            **({"rewound_to": rewound_to} if rewound_to is not None else {})})
        if resumes:
            self.data["resumes"] = resumes

    def end(self, signal_name: str | None, missed: dict[str, int]) -> None:
        """Note how the run ended: stopped by ``signal_name`` or finished; rows each tracker missed."""
        end: dict[str, Any] = {"state": "stopped" if signal_name else "finished", "time": time.time()}
        if signal_name:
            end["signal"] = signal_name
        if missed:
            end["missed"] = dict(missed)
            end["replay"] = {name: f"python -m trackers replay {self.path.parent} --to {name}" for name in missed}
        self.data["end"] = end

    def write(self, backends: dict[str, Any]) -> None:
        """Write the record with ``backends`` (each tracker's own entry) over the previous part's."""
        self.data["backends"] = {**self.previous_backends, **backends}
        write_json(self.path, self.data)
