"""One configuration shape: ``kconf.load()`` gives every symbol, the tree's default where the
configuration lacks it, and no code restates a Kconfig default."""

from __future__ import annotations

import ast
import pickle
import re
from pathlib import Path

import pytest

from kconf import Config, load
from kconf.tree import config_text, open_tree
from tests.harness.conftest import REPO_ROOT

#: Every package of the checkout whose code reads a configuration.
PACKAGES = ("kconf", "ktrack", "gpu", "rundata", "trackers", "numerics", "training", "sweeps", "viewer",
            "gpt2", "lenet5", "benchmarks")
SYMBOLS = frozenset(sym.name for sym in open_tree(REPO_ROOT).unique_defined_syms)


def _defaults_config(folder: Path) -> Path:
    """What kconfiglib writes for a tree with nothing assigned (``make alldefconfig``)."""
    path = folder / ".config"
    path.write_text(config_text(open_tree(REPO_ROOT)))
    return path


def test_no_config_gives_every_symbol_its_tree_default(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("KCONFIG_CONFIG", raising=False)
    cfg = load()
    assert cfg.recorded() == {}
    written = load(_defaults_config(tmp_path / "..")).recorded()
    assert written and {name: getattr(cfg, name) for name in written} == written
    # Symbols whose dependencies are off by default have their default as if they were on.
    assert set(SYMBOLS) - set(written) >= {"TRACKER_GPU_INTERVAL", "ALERT_GPU_THROTTLE", "DIST_RDZV_TIMEOUT",
                                          "NUMERICS_ACTIVATIONS"}
    assert (cfg.TRACKER_GPU_INTERVAL, cfg.ALERT_GPU_THROTTLE, cfg.DIST_RDZV_TIMEOUT, cfg.NUMERICS_ACTIVATIONS,
            cfg.NUMERICS_OPTIMIZER_STATE) == (1.0, True, 600, True, False)
    assert all(hasattr(cfg, name) for name in SYMBOLS)


def test_a_config_lacking_a_symbol_gets_its_default(tmp_path: Path) -> None:
    path = _defaults_config(tmp_path)
    lines = [line for line in path.read_text().splitlines() if not line.startswith("CONFIG_GPU_HISTORY=")]
    path.write_text("\n".join([*lines, "CONFIG_TRAIN_MAX_ITERS=7", ""]))
    cfg = load(path)
    assert (cfg.TRAIN_MAX_ITERS, cfg.GPU_HISTORY) == (7, load({}).GPU_HISTORY)


def test_values_from_elsewhere_get_the_defaults_they_imply() -> None:
    """A namespace or dict (config.py's, a run's config.json, a test's) is completed from the tree, its
    own values winning; defaults follow them (the model's project)."""
    cfg = load({"MODEL_GPT2": False, "MODEL_LENET5": True, "TRACKER_GPU_INTERVAL": 0.25, "lr": 1})
    assert cfg.MODEL == "lenet5" and cfg.TRACKER_PROJECT.startswith("lenet5-")
    assert cfg.TRACKER_GPU_INTERVAL == 0.25 and cfg.lr == 1 and cfg.GPU_HISTORY == load({}).GPU_HISTORY
    assert cfg.recorded() == {"MODEL_GPT2": False, "MODEL_LENET5": True, "TRACKER_GPU_INTERVAL": 0.25, "lr": 1}
    assert load(cfg) is cfg


def test_a_config_is_read_only_names_unknown_symbols_and_pickles() -> None:
    cfg = load({"TRAIN_MAX_ITERS": 3})
    with pytest.raises(AttributeError, match="NO_SUCH_SYMBOL is not a Kconfig symbol"):
        _ = cfg.NO_SUCH_SYMBOL
    with pytest.raises(AttributeError):
        cfg.TRAIN_MAX_ITERS = 4  # type: ignore[misc]
    again = pickle.loads(pickle.dumps(cfg))
    assert isinstance(again, Config) and again.TRAIN_MAX_ITERS == 3 and again.recorded() == cfg.recorded()
    assert cfg.replace(RUNS_DIR="elsewhere").RUNS_DIR == "elsewhere" and cfg.RUNS_DIR != "elsewhere"


def _restated_defaults(path: Path) -> list[str]:
    """``getattr(x, "SYMBOL", default)`` and ``x.get("SYMBOL", default)`` of a Kconfig symbol, and any
    ``getattr(x, f"...", default)`` or ``getattr(<...cfg or ...config>, name, default)``: each restates
    (or may restate) a default the tree holds."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if not isinstance(node, ast.Call) or len(node.args) < 2:
            continue
        func, name = node.func, node.args[1 if isinstance(node.func, ast.Name) else 0]
        is_getattr = isinstance(func, ast.Name) and func.id == "getattr" and len(node.args) == 3
        is_get = isinstance(func, ast.Attribute) and func.attr == "get" and len(node.args) == 2
        if not (is_getattr or is_get):
            continue
        symbol = isinstance(name, ast.Constant) and isinstance(name.value, str) \
            and name.value.removeprefix("CONFIG_") in SYMBOLS
        of_config = is_getattr and re.search(r"(cfg|config)$", ast.unparse(node.args[0]), re.IGNORECASE)
        if symbol or of_config or (is_getattr and isinstance(name, ast.JoinedStr)):
            found.append(f"{path.relative_to(REPO_ROOT)}:{node.lineno}: {ast.unparse(node)}")
    return found


def test_no_code_restates_a_kconfig_default() -> None:
    """Code reads ``cfg.SYMBOL`` of a :class:`kconf.Config`; the defaults live in the Kconfig tree only."""
    sources = [path for package in PACKAGES for path in sorted((REPO_ROOT / package).rglob("*.py"))]
    assert len(sources) > 50
    assert [line for path in sources for line in _restated_defaults(path)] == []
