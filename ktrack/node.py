"""Which machine of a job this process runs on: the one home of the node name.

``KTRACK_NODE_NAME`` when set (several simulated nodes on one machine, or a
name the user prefers), else Slurm's ``SLURMD_NODENAME``, else the short
hostname. The name is a label in metric keys (``gpu/<node>/<i>/<field>``) and
a folder name (``nodes/<node>/``): characters other than letters, digits,
``.``, ``_`` and ``-`` become ``_``, and a name of digits only gets an ``n``
in front so that it cannot read as a GPU index.
"""

from __future__ import annotations

import os
import re
import socket

ENV = "KTRACK_NODE_NAME"
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]")


def safe_label(name: str) -> str:
    """``name`` as a key part and folder name (see the module docstring); ``node`` when nothing is left."""
    label = _UNSAFE.sub("_", name.strip()).strip(".") or "node"
    return "n" + label if label.isdigit() else label


def node_name(environ: dict[str, str] | None = None) -> str:
    """This machine's name in the job: ``KTRACK_NODE_NAME``, ``SLURMD_NODENAME`` or the short hostname."""
    env = os.environ if environ is None else environ
    raw = env.get(ENV) or env.get("SLURMD_NODENAME") or socket.gethostname().split(".")[0]
    return safe_label(raw)
