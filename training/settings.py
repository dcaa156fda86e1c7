"""Settings for the trainers: the generated config, then command-line flags.

``load_cfg()`` reads the config through ``kconf.load()`` (an empty namespace
when ``kconf`` or ``.config`` is missing, so every setting has a default
here). ``--set NAME=VALUE`` overrides any config symbol by name (without
``CONFIG_``), and the named flags override the most used ones.
"""

from __future__ import annotations

import argparse
import os
import sys
import types
from typing import Any

# symbol -> default; the type of the default is the symbol's type
DEFAULTS: dict[str, Any] = {
    "MODEL": "gpt2",
    "GPT2_N_LAYER": 4, "GPT2_N_HEAD": 4, "GPT2_N_EMBD": 128, "GPT2_BLOCK_SIZE": 128,
    "GPT2_DROPOUT": 0.0, "GPT2_BIAS": True,
    "DATASET": "stdlib", "DATASET_PATH": "", "DATASET_DIR": "data",
    "DATASET_VAL_FRACTION": 0.05, "DATASET_FINEWEBEDU_NAME": "sample-10BT",
    "DATASET_MAX_TOKENS": 2_000_000, "TOKENIZER": "byte",
    "OPTIMIZER": "adamw", "WEIGHT_DECAY": 0.1, "ADAM_BETA1": 0.9, "ADAM_BETA2": 0.95,
    "SGD_MOMENTUM": 0.9,
    "PRUNING": "none", "PRUNING_TARGET_SPARSITY": 0.5, "PRUNING_START_ITER": 0,
    "PRUNING_RAMP_ITERS": 100, "PRUNING_INTERVAL": 10,
    "TRAIN_MAX_ITERS": 300, "TRAIN_BATCH_SIZE": 16, "TRAIN_GRAD_ACCUM_STEPS": 1,
    "TRAIN_WARMUP_ITERS": 20, "TRAIN_EVAL_INTERVAL": 50, "TRAIN_EVAL_ITERS": 10,
    "TRAIN_LOG_INTERVAL": 10, "TRAIN_SEED": 1337, "TRAIN_LEARNING_RATE": 1e-3,
    "TRAIN_MIN_LR": 1e-4, "TRAIN_GRAD_CLIP": 1.0, "TRAIN_LR_SCHEDULE": "cosine",
    "TRAIN_DEVICE": "auto", "TRAIN_DTYPE": "auto", "TRAIN_COMPILE": False,
    "TRAIN_CHECKPOINT": True, "RUNS_DIR": "runs",
    "DIST_NPROC_PER_NODE": 1, "DIST_NNODES": 1, "DIST_BACKEND": "auto",
    "DIST_RDZV_ENDPOINT": "localhost:29400",
    "NUMERICS": False,
}

# flag -> symbol
FLAGS = {
    "max_iters": "TRAIN_MAX_ITERS", "batch_size": "TRAIN_BATCH_SIZE",
    "lr": "TRAIN_LEARNING_RATE", "device": "TRAIN_DEVICE", "dataset": "DATASET",
    "optimizer": "OPTIMIZER",
}


class SettingsError(ValueError):
    """A user mistake in the settings; its message is one line."""


def load_cfg(path: str | None = None) -> types.SimpleNamespace:
    """The generated config via ``kconf.load()``; empty when unavailable."""
    try:
        import kconf
    except ImportError:
        return types.SimpleNamespace()
    try:
        return kconf.load(path) if path else kconf.load()
    except Exception as exc:  # noqa: BLE001 - a broken .config is a user mistake
        raise SettingsError(f"cannot read the config: {exc}") from exc


def _coerce(name: str, raw: str, like: Any) -> Any:
    try:
        if isinstance(like, bool):
            if raw.lower() in ("y", "yes", "true", "1", "on"):
                return True
            if raw.lower() in ("n", "no", "false", "0", "off", ""):
                return False
            raise ValueError(raw)
        if isinstance(like, int):
            return int(raw, 0)
        if isinstance(like, float):
            return float(raw)
    except ValueError:
        raise SettingsError(f"{name}={raw!r} is not a valid {type(like).__name__}") from None
    return raw


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Flags shared by the trainers (plus ``trackers.add_arguments`` when present)."""
    parser.add_argument("--max-iters", type=int, help="iterations to train (TRAIN_MAX_ITERS)")
    parser.add_argument("--batch-size", type=int, help="micro-batch per process (TRAIN_BATCH_SIZE)")
    parser.add_argument("--lr", type=float, help="peak learning rate (TRAIN_LEARNING_RATE)")
    parser.add_argument("--device", help="auto, cpu, cuda, cuda:N or mps (TRAIN_DEVICE)")
    parser.add_argument("--dataset", help="dataset (DATASET)")
    parser.add_argument("--optimizer", help="adamw, adam or sgd (OPTIMIZER)")
    parser.add_argument("--out-dir", help="runs folder (RUNS_DIR)")
    parser.add_argument("--resume", nargs="?", const="last", metavar="PATH",
                        help="resume from a checkpoint file or run folder; alone: the latest run")
    parser.add_argument("--set", action="append", default=[], metavar="NAME=VALUE",
                        help="override any config symbol, e.g. --set GPT2_N_LAYER=2")
    parser.add_argument("--config", help="path of the .config to read (default: KCONFIG_CONFIG or ./.config)")
    try:
        import trackers
        trackers.add_arguments(parser)
    except (ImportError, AttributeError):
        parser.add_argument("--tracker", help="none, trackio, wandb, tensorboard, both, or a comma list")
        parser.add_argument("--tracker-project")
        parser.add_argument("--tracker-run-name")


def resolve(args: argparse.Namespace, defaults: dict[str, Any] | None = None
            ) -> tuple[types.SimpleNamespace, dict[str, Any]]:
    """Return ``(cfg, settings)``: the config namespace with overrides applied
    (what ``trackers`` and ``numerics`` read) and a plain dict of every
    setting the trainer uses (what is logged as the run's config)."""
    base = dict(DEFAULTS, **(defaults or {}))
    cfg = load_cfg(getattr(args, "config", None))
    for item in getattr(args, "set", None) or []:
        name, sep, raw = item.partition("=")
        name = name.strip().removeprefix("CONFIG_")
        if not sep or not name:
            raise SettingsError(f"--set {item!r}: use NAME=VALUE")
        like = base.get(name, getattr(cfg, name, ""))
        setattr(cfg, name, _coerce(name, raw, like))
    for flag, sym in FLAGS.items():
        value = getattr(args, flag, None)
        if value is not None:
            setattr(cfg, sym, value)
    if getattr(args, "out_dir", None):
        cfg.RUNS_DIR = args.out_dir
    settings = {name: getattr(cfg, name, default) for name, default in base.items()}
    for name, value in settings.items():
        setattr(cfg, name, value)
    return cfg, settings


def validate_common(s: dict[str, Any]) -> None:
    """Checks every trainer shares; raises ``SettingsError``."""
    positive = ("TRAIN_MAX_ITERS", "TRAIN_BATCH_SIZE", "TRAIN_GRAD_ACCUM_STEPS",
                "TRAIN_EVAL_INTERVAL", "TRAIN_EVAL_ITERS", "TRAIN_LOG_INTERVAL")
    for name in positive:
        if int(s[name]) <= 0:
            raise SettingsError(f"{name}={s[name]} must be > 0")
    if s["TRAIN_LEARNING_RATE"] <= 0:
        raise SettingsError(f"TRAIN_LEARNING_RATE={s['TRAIN_LEARNING_RATE']} must be > 0")
    if s["TRAIN_WARMUP_ITERS"] < 0:
        raise SettingsError(f"TRAIN_WARMUP_ITERS={s['TRAIN_WARMUP_ITERS']} must be >= 0")
    if s["OPTIMIZER"] not in ("adamw", "adam", "sgd"):
        raise SettingsError(f"unknown optimizer {s['OPTIMIZER']!r}: use adamw, adam or sgd")
    if s["TRAIN_LR_SCHEDULE"] not in ("cosine", "linear", "constant"):
        raise SettingsError(f"unknown TRAIN_LR_SCHEDULE {s['TRAIN_LR_SCHEDULE']!r}: use cosine, linear or constant")
    if s["TRAIN_DTYPE"] not in ("auto", "float32", "bfloat16", "float16"):
        raise SettingsError(f"unknown TRAIN_DTYPE {s['TRAIN_DTYPE']!r}: use auto, float32, bfloat16 or float16")
    dev = str(s["TRAIN_DEVICE"])
    if dev not in ("auto", "cpu", "mps") and not dev.startswith("cuda"):
        raise SettingsError(f"unknown device {dev!r}: use auto, cpu, cuda or mps")
    if dev.startswith("cuda"):
        import torch
        if not torch.cuda.is_available():
            raise SettingsError(f"device {dev!r} asked for but no CUDA GPU is usable: use --device auto or cpu")
    if s["PRUNING"] not in ("none", "magnitude"):
        raise SettingsError(f"unknown PRUNING {s['PRUNING']!r}: use none or magnitude")
    if s["PRUNING"] == "magnitude" and not 0.0 <= s["PRUNING_TARGET_SPARSITY"] < 1.0:
        raise SettingsError(f"PRUNING_TARGET_SPARSITY={s['PRUNING_TARGET_SPARSITY']} must be in [0, 1)")


def fail(prog: str, message: str, code: int = 2) -> None:
    """Print one error line starting with the program name and exit."""
    print(f"{prog}: error: {message}", file=sys.stderr)
    sys.exit(code)


def repo_root() -> str:
    """The folder holding ``gpt2/`` and ``lenet5/``."""
    return os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
