"""The trainers' settings: the Kconfig configuration with the command line's overrides, through kconfiglib.

The base is the ``.config`` in use (``--config``, ``KCONFIG_CONFIG``,
``./.config``, the checkout's), or, when there is none, what ``make
defconfig`` writes for the trainer's defconfig (``defconfigs/default`` for
GPT-2). Every override goes through :func:`kconf.configure.set_symbol`, as
``make defconfig SET=`` does: the model the trainer trains, then each
``--set NAME=VALUE`` and named flag (``--max-iters``, ``--lr``, ...) in the
order given, then ``--tracker-project``/``--tracker-run-name``, then
``--tracker``. So an unknown symbol, a wrong type, a value out of range or
one that does not take is the same one-line error as ``SET=``, and the
resulting tree is byte for byte what ``make defconfig ... SET=<the same
overrides>`` writes. There are no defaults here: every value comes from the
tree.
"""

from __future__ import annotations

import argparse
import functools
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import kconfiglib

import kconf
import trackers
from kconf.configure import apply_overrides, configured, load_minimal
from kconf.load import find_config, tree_root
from kconf.tree import REPO_ROOT
from kconf.values import typed_values

#: Trainer flag -> the Kconfig symbol it sets.
FLAGS = {
    "--max-iters": "TRAIN_MAX_ITERS", "--batch-size": "TRAIN_BATCH_SIZE", "--lr": "TRAIN_LEARNING_RATE",
    "--device": "TRAIN_DEVICE", "--dataset": "DATASET", "--optimizer": "OPTIMIZER", "--out-dir": "RUNS_DIR",
}
#: The trackers' own flags that also name a Kconfig symbol (applied after the others).
TRACKER_FLAGS = {"tracker_project": "TRACKER_PROJECT", "tracker_run_name": "TRACKER_RUN_NAME"}


class _Override(argparse.Action):
    """Store the flag's text and remember ``(SYMBOL, value)`` in command-line order (``args.overrides``)."""

    def __init__(self, *args: Any, symbol: str | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.symbol = symbol

    def __call__(self, parser: argparse.ArgumentParser, namespace: argparse.Namespace, values: Any,
                 option_string: str | None = None) -> None:
        text = str(values)
        if self.symbol is None:  # --set NAME=VALUE
            name, sep, value = text.partition("=")
            name = name.strip().removeprefix("CONFIG_")
            pair = (name, value) if sep and name else ("", text)  # refused by overrides()
            setattr(namespace, self.dest, [*(getattr(namespace, self.dest, None) or []), text])
        else:
            pair = (self.symbol, text)
            setattr(namespace, self.dest, text)
        namespace.overrides = [*(getattr(namespace, "overrides", None) or []), pair]


class SettingsError(ValueError):
    """A user mistake in the settings; its message is one line."""


class Settings(Mapping[str, Any]):
    """The resolved configuration a trainer reads: ``s["TRAIN_MAX_ITERS"]`` and nothing else.

    ``symbols`` holds the typed value of every symbol the configuration
    records (what ``config.py`` would hold). A symbol whose dependencies are off is absent:
    ``s[name]`` raises KeyError, :meth:`optional` gives None for it; a name
    the tree does not know is a KeyError either way.
    """

    def __init__(self, tree: kconfiglib.Kconfig, source: str) -> None:
        self.tree = tree
        self.source = source
        self.symbols: dict[str, Any] = typed_values(tree)

    def __getitem__(self, name: str) -> Any:
        return self.symbols[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self.symbols)

    def __len__(self) -> int:
        return len(self.symbols)

    def optional(self, name: str) -> Any:
        """The value of ``name``, or None when the configuration leaves it out (its dependencies are off)."""
        if name in self.symbols:
            return self.symbols[name]
        sym = self.tree.syms.get(name)
        if sym is None or not sym.nodes:
            raise KeyError(f"{name} is not a Kconfig symbol")
        return None

    @functools.cached_property
    def cfg(self) -> kconf.Config:
        """The same configuration as :class:`kconf.Config` (for trackers and numerics): every symbol an
        attribute, the tree's default for those whose dependencies are off."""
        return kconf.load(self.tree)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Flags shared by the trainers, plus ``trackers.add_arguments``.

    ``--set`` and the named flags are applied in the order given, like the
    items of ``SET=``. Values stay text: kconfiglib checks them, and the run's
    ``.config`` holds them as typed (``--lr 3e-3`` is ``"3e-3"``).
    """
    helps = {"--max-iters": "iterations to train", "--batch-size": "micro-batch per process",
             "--lr": "peak learning rate", "--device": "auto, cpu, cuda, cuda:N or mps",
             "--dataset": "stdlib, text or finewebedu (GPT-2)", "--optimizer": "adamw, adam or sgd",
             "--out-dir": "runs folder"}
    for flag, symbol in FLAGS.items():
        parser.add_argument(flag, action=_Override, symbol=symbol, help=f"{helps[flag]} ({symbol})")
    parser.add_argument("--resume", nargs="?", const="last", metavar="PATH",
                        help="resume from a checkpoint file or run folder; alone: the latest run")
    parser.add_argument("--set", action=_Override, default=[], metavar="NAME=VALUE",
                        help="override any Kconfig symbol, e.g. --set GPT2_N_LAYER=2")
    parser.add_argument("--config", help="the .config to start from (default: KCONFIG_CONFIG or ./.config)")
    trackers.add_arguments(parser)


def overrides(args: argparse.Namespace) -> list[tuple[str, str]]:
    """``(SYMBOL, value)`` for every ``--set`` and named flag in command-line order, then the tracker names."""
    pairs = list(getattr(args, "overrides", None) or [])
    for name, text in pairs:
        if not name:
            raise SettingsError(f"--set {text!r}: write NAME=VALUE, e.g. --set TRAIN_MAX_ITERS=200")
    for dest, symbol in TRACKER_FLAGS.items():
        value = getattr(args, dest, None)
        if value is not None:
            pairs.append((symbol, str(value)))
    return pairs


def base_tree(config: str | None, defconfig: str) -> tuple[kconfiglib.Kconfig, str, str | None]:
    """``(tree, where it came from, notice)``: the configuration the overrides start from.

    ``config`` (``--config``) must exist; otherwise the ``.config`` in use, or,
    when there is none, ``defconfigs/<defconfig>`` as ``make defconfig`` applies
    it (``notice`` then says so).
    """
    path = Path(config) if config else find_config()
    if path is not None and (config or path.exists()):
        return load_minimal(tree_root(path), path), str(path), None
    where = f"KCONFIG_CONFIG={path}" if path is not None else ".config"
    notice = (f"no configuration ({where} does not exist): using defconfigs/{defconfig}, "
              f"what 'make defconfig DEFCONFIG={defconfig}' writes")
    return configured(REPO_ROOT, defconfig), f"defconfigs/{defconfig}", notice


def configure_from_args(args: argparse.Namespace, model: str, defconfig: str) -> tuple[Settings, str | None]:
    """Resolve the configuration the trainer of ``model`` runs with; return it and the no-.config notice.

    Raises :class:`kconf.ConfigError` (a ValueError) for any override that
    ``make defconfig SET=`` would refuse.
    """
    tree, source, notice = base_tree(getattr(args, "config", None), defconfig)
    pairs = overrides(args)
    if tree.syms["MODEL"].str_value != model:
        pairs.insert(0, ("MODEL", model))
    apply_overrides(tree, pairs, getattr(args, "tracker", None))
    return Settings(tree, source), notice


def repo_root() -> str:
    """The folder holding ``gpt2/`` and ``lenet5/``."""
    return str(REPO_ROOT)
