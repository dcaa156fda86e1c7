"""The Kconfig tree itself: menus, help texts, the seed's tracking symbols."""

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


def test_seed_tracking_symbols_and_defaults() -> None:
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
