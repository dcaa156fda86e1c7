"""Helpers for the harness tests (the ``tree``, ``kconf_cli`` and ``make`` fixtures are in tests/conftest.py)."""

from __future__ import annotations

from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]


def read_py_config(root: Path) -> dict[str, object]:
    """Import the generated config.py of ``root`` and return its CONFIG dict."""
    namespace: dict[str, object] = {}
    exec(compile((root / "config.py").read_text(), str(root / "config.py"), "exec"), namespace)
    return namespace["CONFIG"]  # type: ignore[return-value]
