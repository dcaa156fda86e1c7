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

A file built to hurt is one line, fast and in bounded memory: at most
:data:`MAX_BYTES`; YAML aliases may not expand to more than :data:`MAX_VALUES`
values (a "billion laughs" file is refused before anything is built from it)
nor refer to themselves; a grid of more than :data:`MAX_POINTS` points is
refused before it is expanded; every section's keys are checked.
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
_RANGE_KEYS = {"min", "max", "count", "log", "int"}
_OPTUNA_KEYS = {"trials", "metric", "direction", "seed"}
_TEXT_KEYS = ("name", "defconfig", "project", "metric", "direction", "command", "tracker")
DEFAULT_COMMAND = "make train"
DEFAULT_METRIC = "best_val_loss"
#: The largest sweep file read (a real one is a few hundred bytes).
MAX_BYTES = 1 << 20
#: The most values (mapping keys, list items, scalars) a file may stand for once its aliases are expanded.
MAX_VALUES = 10_000
#: The most points a sweep may have (grid points times random draws, or Optuna trials).
MAX_POINTS = 10_000


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


def _unknown(where: str, section: str, given: dict[Any, Any], allowed: set[str]) -> None:
    """SweepError naming the keys of ``given`` that ``section`` does not have, and the ones it has."""
    unknown = [str(k) for k in given if k not in allowed]
    if unknown:
        raise SweepError(f"{where}: unknown key(s) {', '.join(sorted(unknown))} in {section}; "
                         f"allowed: {', '.join(sorted(allowed))}")


def _text(where: str, section: dict[Any, Any], keys: tuple[str, ...], prefix: str = "") -> None:
    """SweepError when one of ``keys`` in ``section`` is not one line of text (a number is fine)."""
    for key in keys:
        value = section.get(key)
        if value is not None and (isinstance(value, (dict, list)) or not str(value).isprintable()):
            raise SweepError(f"{where}: {prefix}{key}: must be one line of text, not {_shown(value)}")


def _integer(where: str, what: str, value: Any, low: int = 0, high: int | None = None) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < low or (high is not None and value > high):
        bound = f"from {low} to {high}" if high is not None else f"of at least {low}"
        raise SweepError(f"{where}: {what} must be a whole number {bound}, not {_shown(value)}")
    return value


def _shown(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _parse_range(key: str, spec: dict[str, Any], where: str) -> Range:
    _unknown(where, f"the range of vary.{key}", spec, _RANGE_KEYS)
    if "min" not in spec or "max" not in spec:
        raise SweepError(f"{where}: {key} range needs min and max (and count, log, int), not {sorted(map(str, spec))}")
    try:  # YAML reads 1e-4 (no dot) as text: float() takes both
        low, high = float(spec["min"]), float(spec["max"])
    except (TypeError, ValueError):
        raise SweepError(f"{where}: {key} range min/max/count must be numbers") from None
    count = _integer(where, f"vary.{key}.count", spec.get("count", 0), 0, MAX_POINTS)
    if not (math.isfinite(low) and math.isfinite(high)) or low > high or (spec.get("log") and low <= 0):
        raise SweepError(f"{where}: {key} range needs 0 < min <= max with log, min <= max without")
    return Range(low, high, count, bool(spec.get("log", False)), bool(spec.get("int", False)))


def _children(node: yaml.Node) -> list[yaml.Node]:
    if isinstance(node, yaml.MappingNode):
        return [part for pair in node.value for part in pair]
    return list(node.value) if isinstance(node, yaml.SequenceNode) else []


def _check_size(root: yaml.Node, where: str) -> None:
    """SweepError when the document, its aliases expanded, has more than :data:`MAX_VALUES` values
    or an alias inside itself. Each node is visited once (no recursion, no expansion)."""
    sizes: dict[int, int] = {}
    open_nodes: set[int] = set()  # the nodes whose children are being counted: the path from the root
    stack: list[tuple[yaml.Node, bool]] = [(root, False)]
    while stack:
        node, counted = stack.pop()
        key = id(node)
        if counted:
            open_nodes.discard(key)
            sizes[key] = 1 + sum(sizes[id(child)] for child in _children(node))
            if sizes[key] > MAX_VALUES:
                raise SweepError(f"{where}: its YAML aliases expand to more than {MAX_VALUES} values (line "
                                 f"{node.start_mark.line + 1}); write the values out instead of nesting aliases")
        elif key in open_nodes:
            raise SweepError(f"{where}: a YAML alias on line {node.start_mark.line + 1} refers to itself")
        elif key not in sizes:
            open_nodes.add(key)
            stack.append((node, True))
            stack.extend((child, False) for child in _children(node) if id(child) not in sizes)


def _read_yaml(path: Path, where: str) -> Any:
    """The document in ``path``, read within :data:`MAX_BYTES` and :data:`MAX_VALUES`; SweepError otherwise."""
    try:
        with open(path, "rb") as f:
            raw = f.read(MAX_BYTES + 1)
        text = raw.decode("utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise SweepError(f"cannot read {where}: {exc}") from None
    if len(raw) > MAX_BYTES:
        raise SweepError(f"{where} is larger than {MAX_BYTES >> 20} MiB; a sweep file names a few symbols")
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return None
        _check_size(node, where)
        return loader.construct_document(node)
    except yaml.YAMLError as exc:
        raise SweepError(f"{where} is not valid YAML: {str(exc).splitlines()[0]}") from None
    except RecursionError:
        raise SweepError(f"{where} nests too deeply to be a sweep file") from None
    finally:
        loader.dispose()


def load(path: str | os.PathLike[str]) -> Sweep:
    """Parse the sweep file at ``path``; SweepError (one line) on any mistake."""
    where = str(path)
    if not where or not Path(path).is_file():
        raise SweepError(f"sweep file {where!r} does not exist: give SWEEP=sweeps/<name>.yaml "
                         "(see sweeps/*.yaml for examples)")
    path = Path(path)
    data = _read_yaml(path, where)
    if not isinstance(data, dict):
        raise SweepError(f"{where} must be a mapping with defconfig: and vary:")
    _unknown(where, "the sweep file", data, _KEYS)
    _text(where, data, _TEXT_KEYS)
    if not data.get("defconfig"):
        raise SweepError(f"{where}: name the base configuration with 'defconfig: <name>'")
    for section in ("vary", "set", "optuna"):
        if data.get(section) is not None and not isinstance(data[section], dict):
            raise SweepError(f"{where}: {section}: must be a mapping, not {_shown(data[section])}")
    vary: dict[str, list[Any] | Range] = {}
    for key, spec in (data.get("vary") or {}).items():
        sym = symbol_name(key)
        if isinstance(spec, dict):
            vary[sym] = _parse_range(sym, spec, where)
        elif isinstance(spec, list) and spec and not any(isinstance(v, (dict, list)) for v in spec):
            vary[sym] = list(spec)
        else:
            raise SweepError(f"{where}: vary.{key} must be a non-empty list of values or a {{min, max, count}} range")
    fixed = {symbol_name(k): v for k, v in (data.get("set") or {}).items()}
    for sym, value in fixed.items():
        if isinstance(value, (dict, list)):
            raise SweepError(f"{where}: set.{sym} must be one value, not {_shown(value)}")
    optuna_spec = data.get("optuna")
    if optuna_spec is not None:
        _unknown(where, "optuna:", optuna_spec, _OPTUNA_KEYS)
        _text(where, optuna_spec, ("metric", "direction"), "optuna.")
        _integer(where, "optuna.trials", optuna_spec.get("trials", 8), 1, MAX_POINTS)
        _integer(where, "optuna.seed", optuna_spec.get("seed", 0), 0, 2**32 - 1)
    seed = _integer(where, "seed", data.get("seed", 0), 0, 2**32 - 1)
    count = _integer(where, "count", data.get("count", 0), 0, MAX_POINTS)
    if optuna_spec is None:
        _check_points(vary, count, where)
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
                 command=str(data.get("command") or DEFAULT_COMMAND), seed=seed, count=count,
                 metric=str((optuna_spec or {}).get("metric", data.get("metric", DEFAULT_METRIC))),
                 direction=direction, optuna=optuna_spec, tracker=data.get("tracker"))


def _check_points(vary: dict[str, list[Any] | Range], count: int, where: str) -> None:
    """SweepError when :func:`expand` would give more than :data:`MAX_POINTS` points (counted, not built)."""
    total = 1
    for spec in vary.values():
        if isinstance(spec, list):
            total *= len(spec)
    draws = [spec.count for spec in vary.values() if isinstance(spec, Range)]
    if draws:
        total *= max([count, *draws]) or 1
    if total > MAX_POINTS:
        raise SweepError(f"{where}: the sweep has {total} points; at most {MAX_POINTS} (split it into several files "
                         "or use optuna: with trials)")


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
