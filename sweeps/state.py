"""The per-sweep state file: which points finished, failed or were interrupted.

``<RUNS_DIR>/<project>/.sweeps/<sweep name>.json``, rewritten atomically
(temporary file + rename) after every change, so a killed sweep leaves a
readable file and a rerun knows what is left to do.
"""

from __future__ import annotations

import json
import os
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

PENDING, RUNNING, DONE, FAILED, INTERRUPTED = "pending", "running", "done", "failed", "interrupted"


def state_path(runs_dir: Path, project: str, sweep_name: str) -> Path:
    """Where the state of sweep ``sweep_name`` in ``project`` lives."""
    return Path(runs_dir) / project / ".sweeps" / f"{sweep_name}.json"


class State:
    """The state of one sweep; ``points`` maps run name to its record."""

    def __init__(self, path: Path, sweep: str = "", project: str = "") -> None:
        self.path = Path(path)
        self._lock = threading.Lock()
        self.data: dict[str, Any] = {"sweep": sweep, "project": project, "points": {}, "trials": []}
        if self.path.is_file():
            try:
                loaded = json.loads(self.path.read_text(encoding="utf-8"))
                if isinstance(loaded, dict):
                    self.data.update(loaded)
            except (OSError, json.JSONDecodeError):
                pass  # a broken state file: start over, run dirs still hold the results

    @property
    def points(self) -> dict[str, dict[str, Any]]:
        """Run name -> record (index, varied, run_dir, status, returncode, started, ended)."""
        return self.data["points"]

    def status(self, name: str) -> str:
        """Status of the point called ``name`` (``pending`` when unknown)."""
        return self.points.get(name, {}).get("status", PENDING)

    def update(self, name: str, **fields: Any) -> None:
        """Merge ``fields`` into the point's record and save at once."""
        with self._lock:
            record = self.points.setdefault(name, {})
            record.update(fields)
            record["updated"] = time.time()
            self.save()

    def save(self) -> None:
        """Write the state atomically."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{self.path.name}.", suffix=".tmp", dir=self.path.parent)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                json.dump(self.data, handle, indent=1, sort_keys=True, default=str)
                handle.write("\n")
            os.replace(tmp, self.path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
