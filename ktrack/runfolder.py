"""The run folder ``runs/<project>/<run>/``: the one place that names the files in it.

========================  ==================================================  =================
file                      what                                                written by
========================  ==================================================  =================
``.config``               the run's effective configuration                   kconf (``make defconfig RUN=``)
``defconfig``             the same, minimal (``savedefconfig`` form)          kconf; sweeps per point
``params.yaml``           a sweep point's values, for ``get_value``           sweeps
``config.json``           each value once, plus provenance and trackers       trackers (RunRecord)
``metrics.jsonl``         the journal, written before any tracker gets a row  trackers (Journal)
``console.log``           the run's stdout and stderr                         trackers (Run)
``summary.json``          end-of-run values                                   trackers (Run)
``numerics.parquet``      the numerics table                                  numerics
``checkpoints/<n>.pt``    ``last`` and ``best`` checkpoints                   training
``tensorboard/``          TensorBoard event files                             trackers
========================  ==================================================  =================
"""
from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

CONFIG = ".config"
DEFCONFIG = "defconfig"
PARAMS = "params.yaml"
CONFIG_JSON = "config.json"
JOURNAL = "metrics.jsonl"
CONSOLE_LOG = "console.log"
SUMMARY = "summary.json"
NUMERICS = "numerics.parquet"
CHECKPOINTS = "checkpoints"
TENSORBOARD_DIR = "tensorboard"


class RunFolder:
    """The paths of the files of one run folder (nothing is read or created)."""

    __slots__ = ("path",)

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)

    @property
    def config(self) -> Path:
        return self.path / CONFIG

    @property
    def defconfig(self) -> Path:
        return self.path / DEFCONFIG

    @property
    def params(self) -> Path:
        return self.path / PARAMS

    @property
    def config_json(self) -> Path:
        return self.path / CONFIG_JSON

    @property
    def journal(self) -> Path:
        return self.path / JOURNAL

    @property
    def console_log(self) -> Path:
        return self.path / CONSOLE_LOG

    @property
    def summary(self) -> Path:
        return self.path / SUMMARY

    @property
    def numerics(self) -> Path:
        return self.path / NUMERICS

    @property
    def checkpoints(self) -> Path:
        return self.path / CHECKPOINTS

    def checkpoint(self, name: str = "last") -> Path:
        """``checkpoints/<name>.pt`` (``last`` or ``best``)."""
        return self.checkpoints / f"{name}.pt"

    @property
    def tensorboard(self) -> Path:
        return self.path / TENSORBOARD_DIR


def read_json(path: str | os.PathLike[str]) -> dict[str, Any]:
    """The JSON object in ``path``; {} when it is missing, unreadable or not an object."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError):  # ValueError: bad JSON and bad UTF-8 alike
        return {}
    return data if isinstance(data, dict) else {}
