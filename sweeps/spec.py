"""Reading a sweep file and expanding it into points.

A sweep file (YAML) names a base defconfig, fixed overrides, the Kconfig
symbols to vary and the command that trains one point::

    defconfig: gpt2-tiny-cpu
    set: {TRAIN_MAX_ITERS: 200}            # same for every point
    vary:
      TRAIN_LEARNING_RATE: [3e-4, 1e-3]    # a list: every value (grid)
      WEIGHT_DECAY: {min: 0.01, max: 0.3, count: 4, log: true}   # random
    seed: 0                                 # random search seed
    metric: best_val_loss                   # what the summary sorts by
    optuna: {trials: 8, direction: minimize}  # optional guided search
    command: make train                     # the default

Lists multiply into a grid; ranges add ``count`` random draws per grid point.
Keys may be symbol names (``TRAIN_LEARNING_RATE``, ``CONFIG_`` optional) or
the short aliases used in run names (``lr``).
"""

from __future__ import annotations

import itertools
import os
import math
import random
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from sweeps.errors import SweepError
from ktrack.names import BadName, check_run

#: Short names used in run names (``lr=3e-4,opt=adamw``); also accepted as keys.
ALIASES: dict[str, str] = {
    "TRAIN_LEARNING_RATE": "lr", "OPTIMIZER": "opt", "PRUNING_TARGET_SPARSITY": "sparsity",
    "PRUNING": "prune", "TRAIN_BATCH_SIZE": "bs", "WEIGHT_DECAY": "wd", "TRAIN_MAX_ITERS": "iters",
    "TRAIN_MIN_LR": "min_lr", "TRAIN_WARMUP_ITERS": "warmup", "TRAIN_LR_SCHEDULE": "sched",
    "TRAIN_SEED": "seed", "TRAIN_GRAD_CLIP": "clip", "TRAIN_GRAD_ACCUM_STEPS": "accum",
    "GPT2_N_LAYER": "layers", "GPT2_N_HEAD": "heads", "GPT2_N_EMBD": "embd",
    "GPT2_BLOCK_SIZE": "block", "GPT2_DROPOUT": "dropout", "ADAM_BETA1": "beta1",
    "ADAM_BETA2": "beta2", "SGD_MOMENTUM": "momentum", "MODEL": "model", "DATASET": "data",
}
_BY_ALIAS = {alias: sym for sym, alias in ALIASES.items()}
_KEYS = {"name", "defconfig", "project", "set", "vary", "seed", "count", "metric", "direction",
         "optuna", "command", "tracker"}
DEFAULT_COMMAND = "make train"
DEFAULT_METRIC = "best_val_loss"


@dataclass
class Range:
    """A ``{min, max, count, log}`` entry: ``count`` random values."""

    low: float
    high: float
    count: int
    log: bool = False
    integer: bool = False


@dataclass
class Sweep:
    """A parsed sweep file."""

    path: Path
    name: str
    defconfig: str
    vary: dict[str, list[Any] | Range]
    fixed: dict[str, Any] = field(default_factory=dict)
    project: str = ""
    command: str = DEFAULT_COMMAND
    seed: int = 0
    count: int = 0
    metric: str = DEFAULT_METRIC
    direction: str = "minimize"
    optuna: dict[str, Any] | None = None
    tracker: str | None = None


def symbol_name(key: str) -> str:
    """``lr`` -> ``TRAIN_LEARNING_RATE``; ``CONFIG_X`` -> ``X``; others unchanged."""
    key = str(key).strip()
    return _BY_ALIAS.get(key, key.removeprefix("CONFIG_"))


def alias(symbol: str) -> str:
    """The short name of ``symbol`` in run names (lower-case name when none)."""
    return ALIASES.get(symbol, symbol.lower())


def format_value(value: Any) -> str:
    """Value as written into ``.config`` and run names: ``3e-4`` stays, 0.0003 -> ``3e-4``."""
    if isinstance(value, bool):
        return "y" if value else "n"
    if isinstance(value, float):
        if value != 0 and (abs(value) < 1e-2 or abs(value) >= 1e5):
            mant, exp = f"{value:.6e}".split("e")
            mant = mant.rstrip("0").rstrip(".")
            return f"{mant}e{int(exp)}"
        return f"{value:.6g}"
    return str(value)


def run_name(varied: dict[str, Any]) -> str:
    """``lr=3e-4,opt=adamw``: what varied, in sweep-file order ('/' becomes '_')."""
    parts = [f"{alias(sym)}={format_value(val)}" for sym, val in varied.items()]
    return ",".join(parts).replace("/", "_") or "base"


def _parse_range(key: str, spec: dict[str, Any], where: str) -> Range:
    unknown = set(spec) - {"min", "max", "count", "log", "int"}
    if unknown or "min" not in spec or "max" not in spec:
        raise SweepError(f"{where}: {key} range needs min and max (and count, log, int), not {sorted(spec)}")
    try:
        low, high = float(spec["min"]), float(spec["max"])
        count = int(spec.get("count", 0))
    except (TypeError, ValueError):
        raise SweepError(f"{where}: {key} range min/max/count must be numbers") from None
    if low > high or (spec.get("log") and low <= 0):
        raise SweepError(f"{where}: {key} range needs 0 < min <= max with log, min <= max without")
    return Range(low, high, count, bool(spec.get("log", False)), bool(spec.get("int", False)))


def load(path: str | os.PathLike[str]) -> Sweep:
    """Parse the sweep file at ``path``; SweepError (one line) on any mistake."""
    where = str(path)
    if not where or not Path(path).is_file():
        raise SweepError(f"sweep file {where!r} does not exist: give SWEEP=sweeps/<name>.yaml "
                         "(see sweeps/*.yaml for examples)")
    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise SweepError(f"cannot read {where}: {exc}") from None
    except yaml.YAMLError as exc:
        raise SweepError(f"{where} is not valid YAML: {str(exc).splitlines()[0]}") from None
    if not isinstance(data, dict):
        raise SweepError(f"{where} must be a mapping with defconfig: and vary:")
    unknown = set(data) - _KEYS
    if unknown:
        raise SweepError(f"{where}: unknown key(s) {', '.join(sorted(unknown))}; allowed: {', '.join(sorted(_KEYS))}")
    if not data.get("defconfig"):
        raise SweepError(f"{where}: name the base configuration with 'defconfig: <name>'")
    vary: dict[str, list[Any] | Range] = {}
    for key, spec in (data.get("vary") or {}).items():
        sym = symbol_name(key)
        if isinstance(spec, dict):
            vary[sym] = _parse_range(sym, spec, where)
        elif isinstance(spec, list) and spec:
            vary[sym] = list(spec)
        else:
            raise SweepError(f"{where}: vary.{key} must be a non-empty list or a {{min, max, count}} range")
    fixed = {symbol_name(k): v for k, v in (data.get("set") or {}).items()}
    optuna_spec = data.get("optuna")
    if optuna_spec is not None and not isinstance(optuna_spec, dict):
        raise SweepError(f"{where}: optuna: must be a mapping (trials, metric, direction, seed)")
    direction = str((optuna_spec or {}).get("direction", data.get("direction", "minimize")))
    if direction not in ("minimize", "maximize"):
        raise SweepError(f"{where}: direction must be minimize or maximize, not {direction!r}")
    name = str(data.get("name") or path.stem)
    try:
        check_run(name)
    except BadName as exc:
        raise SweepError(f"{where}: the sweep name names its state file, and {str(exc).replace('run name', 'name', 1)}"
                         ) from None
    return Sweep(path=path, name=name, defconfig=str(data["defconfig"]),
                 vary=vary, fixed=fixed, project=str(data.get("project") or ""),
                 command=str(data.get("command") or DEFAULT_COMMAND), seed=int(data.get("seed", 0)),
                 count=int(data.get("count", 0)),
                 metric=str((optuna_spec or {}).get("metric", data.get("metric", DEFAULT_METRIC))),
                 direction=direction, optuna=optuna_spec, tracker=data.get("tracker"))


def draw(r: Range, rng: random.Random) -> float | int:
    """One random value from range ``r`` (log-uniform when ``r.log``)."""
    if r.log:
        value = math.exp(rng.uniform(math.log(r.low), math.log(r.high)))
    else:
        value = rng.uniform(r.low, r.high)
    return int(round(value)) if r.integer else float(f"{value:.4g}")


def expand(sweep: Sweep) -> list[dict[str, Any]]:
    """Every point as ``{symbol: value}`` of the varied symbols, in a stable order.

    Lists form a grid; ranges draw ``count`` values (the largest count given,
    or the top-level ``count``) per grid point with ``random.Random(seed)``.
    Optuna sweeps are expanded trial by trial instead (see sweeps.guided).
    """
    lists = {k: v for k, v in sweep.vary.items() if isinstance(v, list)}
    ranges = {k: v for k, v in sweep.vary.items() if isinstance(v, Range)}
    grid = [dict(zip(lists, combo, strict=True)) for combo in itertools.product(*lists.values())]
    if not ranges:
        return grid
    count = max([sweep.count, *(r.count for r in ranges.values())]) or 1
    rng = random.Random(sweep.seed)
    points = []
    for base in grid:
        for _ in range(count):
            point = dict(base)
            point.update({k: draw(r, rng) for k, r in ranges.items()})
            points.append({k: point[k] for k in sweep.vary})
    return points
