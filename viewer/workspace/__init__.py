"""The live workspace of ``trackio-view``: every metric of the selected runs, live.

Modules: ``state`` (view state and keys, no terminal), ``layout`` (screen
geometry), ``trace`` (a run's metrics in bounded memory), ``source`` (a
project's runs and traces, read incrementally), ``charts`` / ``canvas`` /
``render`` (drawing), ``term`` (the terminal), ``app`` (the loop).
"""
from __future__ import annotations

from viewer.workspace.app import Workspace, run_workspace

__all__ = ["Workspace", "run_workspace"]
