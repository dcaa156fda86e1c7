"""The layers of docs/layers.md: every import of every package points down the drawing.

Each import statement of a package's modules is read with ``ast`` (those inside
functions too, and ``if TYPE_CHECKING:`` ones), and its first name checked
against :data:`MAY_IMPORT`, the drawing written as data.
"""

from __future__ import annotations

import ast
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]

_BOTTOM = {"ktrack", "kconf", "gpu"}
_TRACKERS = {"trackers", "rundata"} | _BOTTOM
#: Each package and the packages it may import, as docs/layers.md draws them: a package imports
#: those below it; across a row only where an arrow says so (``training/ ──> numerics/``,
#: ``sweeps/ ──> viewer/``, ``kconf/ gpu/ ──> ktrack/``).
MAY_IMPORT: dict[str, set[str]] = {
    "ktrack": set(),
    "kconf": {"ktrack"},
    "gpu": {"ktrack"},
    "rundata": _BOTTOM,
    "trackers": _TRACKERS,
    "numerics": _TRACKERS,
    "training": {"numerics"} | _TRACKERS,
    "viewer": {"rundata"} | _BOTTOM,
    "sweeps": {"viewer", "rundata"} | _BOTTOM,
    "gpt2": {"training", "numerics"} | _TRACKERS,
    "lenet5": {"training", "numerics"} | _TRACKERS,
}
#: The viewer's data modules, which never import its screen code (``viewer.workspace``).
VIEWER_DATA = ("viewer/series.py", "viewer/buckets.py", "viewer/cache.py")


def _imports(path: Path) -> set[str]:
    """The absolute module names ``path`` imports (relative imports stay in their package)."""
    out: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            out.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            out.add(node.module)
    return out


def test_every_package_is_in_the_drawing() -> None:
    packages = {p.parent.name for p in REPO.glob("*/__init__.py")} - {"tests"}
    assert packages == set(MAY_IMPORT), "place a new package in docs/layers.md and in MAY_IMPORT"


def test_imports_point_down() -> None:
    wrong = []
    for package, allowed in MAY_IMPORT.items():
        for path in sorted((REPO / package).rglob("*.py")):
            for module in sorted(_imports(path)):
                top = module.split(".")[0]
                if top in MAY_IMPORT and top != package and top not in allowed:
                    wrong.append(f"{path.relative_to(REPO)} imports {module}")
    assert not wrong, "imports against docs/layers.md:\n" + "\n".join(wrong)


def test_viewer_data_modules_import_no_screen_code() -> None:
    for name in VIEWER_DATA:
        screen = {m for m in _imports(REPO / name) if m == "viewer.workspace" or m.startswith("viewer.workspace.")}
        assert not screen, f"{name} imports {sorted(screen)}"
