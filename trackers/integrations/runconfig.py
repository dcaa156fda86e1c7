"""Starting the run of a Hugging Face integration: its names, its config, where it is sent.

Where the run is sent (trackers, ``RUNS_DIR``, W&B mode, GPU logging) comes
from the Kconfig configuration that :func:`kconf.load` finds, as for every
``trackers.init``. What the run *is* comes from Hugging Face: the config holds
what the integration hands over (model config, TrainingArguments, accelerate's
``config=``), and the names given to Hugging Face/accelerate win. The
library versions (transformers and accelerate included) are in the run's
provenance, as for every run.

Kconfig's values (``GPT2_N_LAYER``, ``TRAIN_LR``, ...) and its project and run
name describe a ktrack experiment; they join the run only when the harness
configured this process, i.e. when ``KCONFIG_CONFIG`` is set (``make``
exports it to every recipe, sweep jobs set it to their point's ``.config``).
A ``.config`` merely lying in the checkout belongs to some other experiment.
``kconfig=True``/``False`` overrides that test.
"""

from __future__ import annotations

import enum
import os
from typing import Any, Mapping

import kconf
import trackers
from ktrack.names import check_project, check_run

#: Set by ``make`` and by sweep jobs: the harness configured this process.
HARNESS_ENV = "KCONFIG_CONFIG"


def harness_configured() -> bool:
    """True when ``KCONFIG_CONFIG`` is set in the environment."""
    return bool(os.environ.get(HARNESS_ENV))


def _plain(value: Any) -> Any:
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, (list, tuple, set, frozenset)):
        return [_plain(v) for v in value]
    if isinstance(value, enum.Enum):
        return _plain(value.value)
    return str(value)


def flat(values: Mapping[str, Any] | None, prefix: str = "") -> dict[str, Any]:
    """``values`` as one flat dict: nested mappings (and objects with ``to_dict()``)
    become ``outer.inner`` keys, lists keep plain items, anything else is ``str()``.

    Keys stay as given (``_name_or_path``); the Trackio backend renames the
    ones Trackio refuses (:func:`trackers.backends.trackio_backend.trackio_keys`).
    """
    out: dict[str, Any] = {}
    for key, value in (values or {}).items():
        name = f"{prefix}{key}"
        if hasattr(value, "to_dict") and callable(value.to_dict):
            value = value.to_dict()
        if isinstance(value, Mapping):
            out.update(flat(value, name + "."))
        else:
            out[name] = _plain(value)
    return out


def start_run(config: dict[str, Any], *, given_project: str | None, fallback_project: str,
              given_run: str | None, default_run: str, kconfig: bool | None,
              init_kwargs: dict[str, Any]) -> Any:
    """Start the run with :func:`trackers.init` and return it.

    Names, highest first: ``project=``/``run_name=`` in ``init_kwargs``, the
    names given to Hugging Face (``given_*``), Kconfig's ``TRACKER_PROJECT``/
    ``TRACKER_RUN_NAME`` (harness runs only), then the fallbacks. The config
    is ``config`` (+ every Kconfig value for harness runs); the library versions
    are in the run's provenance (:mod:`trackers.provenance`), as for every run.
    ``init_kwargs`` go to :func:`trackers.init` (``cfg=`` replaces the loaded
    configuration). Raises :class:`ktrack.names.BadName` for a bad name.
    """
    kwargs = dict(init_kwargs)
    cfg = kconf.load(kwargs.pop("cfg", None))
    include = harness_configured() if kconfig is None else kconfig
    own = cfg.recorded() if include else {}  # the configuration's own values, not the tree's defaults
    project = check_project(kwargs.pop("project", None) or given_project or own.get("TRACKER_PROJECT")
                            or fallback_project)
    run_name = check_run(kwargs.pop("run_name", None) or given_run or own.get("TRACKER_RUN_NAME") or default_run)
    values = {**config, **own}
    return trackers.init(config=values, project=project, run_name=run_name, cfg=cfg, **kwargs)
