"""The node name: KTRACK_NODE_NAME, then SLURMD_NODENAME, then the short hostname, always a safe label."""

from __future__ import annotations

import socket

from hypothesis import given
from hypothesis import strategies as st

from ktrack.node import node_name, safe_label


def test_order_of_sources() -> None:
    assert node_name({"KTRACK_NODE_NAME": "a", "SLURMD_NODENAME": "gpu01"}) == "a"
    assert node_name({"SLURMD_NODENAME": "gpu01"}) == "gpu01"
    assert node_name({}) == safe_label(socket.gethostname().split(".")[0])
    assert "." not in node_name({})


def test_labels_are_key_and_folder_safe() -> None:
    assert safe_label("node 1/x") == "node_1_x"
    assert safe_label("17") == "n17"  # never a GPU index
    assert safe_label("..") == "node"


@given(st.text())
def test_any_name_is_a_safe_label(raw: str) -> None:
    label = safe_label(raw)
    assert label and "/" not in label and label not in (".", "..") and not label.isdigit()
    assert safe_label(label) == label
