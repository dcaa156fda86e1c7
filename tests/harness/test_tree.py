"""The Kconfig tree itself: menus, help texts, the tracking symbols and their defaults."""

from __future__ import annotations

import kconfiglib

from kconf.tree import open_tree
from tests.harness.conftest import REPO_ROOT


def _menus(tree: kconfiglib.Kconfig) -> list[str]:
    node, titles = tree.top_node.list, []
    while node:
        if node.item == kconfiglib.MENU:
            titles.append(node.prompt[0])
        node = node.next
    return titles


def test_menus() -> None:
    titles = _menus(open_tree(REPO_ROOT))
    for title in ("Model", "Dataset", "Optimizer", "Training", "Distributed", "Experiment Tracking",
                  "GPU monitoring", "Numerics tracking"):
        assert title in titles


def test_every_symbol_and_choice_has_help() -> None:
    tree = open_tree(REPO_ROOT)
    missing = [sym.name for sym in tree.unique_defined_syms if not any(node.help for node in sym.nodes)]
    missing += [str(choice.nodes[0].prompt[0]) for choice in tree.unique_choices
                if not any(node.help for node in choice.nodes)]
    assert missing == []


def test_tracking_symbols_and_defaults() -> None:
    tree = open_tree(REPO_ROOT)
    syms = tree.syms
    assert syms["ENABLE_TRACKIO"].str_value == "n" and syms["ENABLE_WANDB"].str_value == "n"
    assert syms["WANDB_ENTITY"].str_value == "" and syms["WANDB_OFFLINE"].str_value == "n"
    assert syms["TRACKIO_PORT"].str_value == "7860" and syms["TRACKER_RUN_NAME"].str_value == ""
    assert syms["TRACKER_PROJECT"].str_value.startswith("gpt2-")
    menu = next(node for node in tree.node_iter() if node.item == kconfiglib.MENU
                and node.prompt[0] == "Experiment Tracking")
    names: list[str] = []

    def walk(node: kconfiglib.MenuNode | None) -> None:
        while node:
            if isinstance(node.item, kconfiglib.Symbol):
                names.append(node.item.name)
                walk(node.list)  # symbols that depend on this one are indented under it
            node = node.next

    walk(menu.list)
    assert names == ["ENABLE_TRACKIO", "ENABLE_WANDB", "ENABLE_TENSORBOARD", "TRACKER_PROJECT",
                     "TRACKER_RUN_NAME", "WANDB_ENTITY", "WANDB_OFFLINE", "TRACKIO_PORT",
                     "TRACKER_LOG_GPU", "TRACKER_GPU_INTERVAL", "TRACKER_GPU_STEP_KEYS"]


def test_float_table_matches_the_tree() -> None:
    """kconfig/float-symbols names string symbols whose defaults fit; every numeric string default is listed."""
    import math

    from kconf.floats import float_table

    tree = open_tree(REPO_ROOT)
    table = float_table(REPO_ROOT)
    assert table, "kconfig/float-symbols is missing or empty"
    for name, allowed in table.items():
        sym = tree.syms.get(name)
        assert sym is not None and sym.nodes, f"{name} is in the float table but not in the tree"
        assert sym.orig_type == kconfiglib.STRING, f"{name} must be a string symbol"
        defaults = [value.str_value for value, _ in sym.defaults]
        assert defaults and all(math.isfinite(float(d)) and float(d) in allowed for d in defaults), (name, defaults)
    numeric = []
    for sym in tree.unique_defined_syms:
        if sym.orig_type != kconfiglib.STRING:
            continue
        for value, _ in sym.defaults:
            try:
                float(value.str_value)
            except ValueError:
                continue
            numeric.append(sym.name)
    assert sorted(set(numeric) - set(table)) == [], "string symbols with numeric defaults missing from the table"
    prose = [sym.name for sym in tree.unique_defined_syms for node in sym.nodes
             if node.help and "Type: float" in node.help]
    assert prose == [], "the float type lives in kconfig/float-symbols, not in help texts"


def test_float_table_errors_name_the_line(tmp_path) -> None:
    import pytest

    from kconf.floats import FloatTableError, read_table

    (tmp_path / "t").write_text("# comment\nGOOD  [0, 1)\nBAD 0..1\n")
    with pytest.raises(FloatTableError, match=r"t:3: write 'SYMBOL  \[low, high\)'"):
        read_table(tmp_path / "t")
