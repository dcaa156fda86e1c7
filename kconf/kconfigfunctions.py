"""Kconfig preprocessor functions (kconfiglib imports this via KCONFIG_FUNCTIONS).

``$(project-name,gpt2)`` expands to ``gpt2-xxxxx`` for the tree's directory
(the repository root, the directory ``make`` runs in).
"""

from __future__ import annotations

import os

from kconf.projectname import project_name


def _project_name_fn(kconf, _name: str, model: str) -> str:
    # kconf.filename is the file being parsed; the tree's root is srctree.
    return project_name(model, kconf.srctree or os.getcwd())


functions = {"project-name": (_project_name_fn, 1, 1)}
