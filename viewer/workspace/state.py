"""What the workspace shows and how each key changes it (no terminal, no data access).

Keys arrive as names: printable characters as themselves, and ``up``,
``down``, ``left``, ``right``, ``pgup``, ``pgdn``, ``enter``, ``esc``,
``tab``, ``backspace``.  :meth:`State.key` returns ``"quit"`` or
``"project"`` when the caller has to act, else None.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field

ZOOMS = 5

HELP: tuple[tuple[str, str], ...] = (
    ("arrows", "move the focus between charts (runs pane: Up/Down move in the list)"),
    ("PgDn / PgUp", "next / previous page of charts"),
    ("Enter", "focused chart full screen (with the zoom levels); Esc: back"),
    ("+ / -", "zoom: All data, Last 500, Last 200, Last 100, Last 50"),
    ("/", "filter charts by a regular expression (Enter applies, Esc clears)"),
    ("Tab", "switch focus between the charts and the runs pane"),
    ("space", "add the run under the cursor to the selection, or remove it"),
    ("c", "select every run (again: only the newest)"),
    ("l", "console pane: tail of the run's console.log"),
    ("o", "overview pane: Kconfig symbols and summary; with 2+ runs, the symbols that differ"),
    ("g", "system pane: the run's GPU values"),
    ("0-9", "first node shown in the system pane (a multi-node job)"),
    ("p", "next project"),
    ("?", "this help (any key closes it)"),
    ("q / Ctrl+C", "quit"),
)


@dataclass
class State:
    """The workspace's view state."""

    zoom: int = 0
    metrics: list[str] = field(default_factory=list)  # every metric of the selected runs
    pattern: str = ""
    editing: str | None = None  # the filter line while it is open
    message: str = ""
    focus: int = 0  # index into :attr:`shown`
    page_size: int = 1
    grid_cols: int = 1
    full: bool = False
    pane: str = "grid"  # or "runs"
    runs: list[str] = field(default_factory=list)  # run ids, newest first
    cursor: int = 0
    selected: list[str] = field(default_factory=list)
    console: bool = False
    overview: bool = False
    system: bool = False
    help: bool = False
    first_node: int = 0  # the node the system pane starts with (0-9)
    _regex: re.Pattern[str] | None = None

    # -- derived -------------------------------------------------------------------------------
    @property
    def shown(self) -> list[str]:
        """The metrics that pass the filter."""
        if self._regex is None:
            return list(self.metrics)
        return [m for m in self.metrics if self._regex.search(m)]

    @property
    def page(self) -> int:
        """The page of charts holding the focus."""
        return self.focus // max(1, self.page_size)

    def pages(self) -> int:
        """How many pages the shown charts fill."""
        return max(1, -(-len(self.shown) // max(1, self.page_size)))

    def visible(self) -> list[str]:
        """The metrics of the current page."""
        shown, size = self.shown, max(1, self.page_size)
        start = self.page * size
        return shown[start:start + size]

    @property
    def focused_metric(self) -> str | None:
        """The metric with the focus, if any is shown."""
        shown = self.shown
        return shown[self.focus] if 0 <= self.focus < len(shown) else None

    @property
    def cursor_run(self) -> str | None:
        """The run under the runs pane's cursor."""
        return self.runs[self.cursor] if 0 <= self.cursor < len(self.runs) else None

    # -- updates from data ---------------------------------------------------------------------
    def set_metrics(self, metrics: list[str]) -> None:
        """New metric list; the focus stays on the same metric when it is still shown."""
        keep = self.focused_metric
        self.metrics = metrics
        self._clamp(keep)

    def set_runs(self, runs: list[str]) -> None:
        """New run list (newest first); cursor and selection follow their runs."""
        keep = self.cursor_run
        self.runs = runs
        self.selected = [r for r in self.selected if r in runs]
        if not self.selected and runs:
            self.selected = [runs[0]]
        self.cursor = runs.index(keep) if keep in runs else min(self.cursor, max(0, len(runs) - 1))

    def set_grid(self, cols: int, rows: int) -> None:
        """The grid geometry of the current screen."""
        self.grid_cols, self.page_size = max(1, cols), max(1, cols * rows)

    def _clamp(self, keep: str | None = None) -> None:
        shown = self.shown
        if keep is not None and keep in shown:
            self.focus = shown.index(keep)
        self.focus = min(max(0, self.focus), max(0, len(shown) - 1))

    # -- keys ----------------------------------------------------------------------------------
    def key(self, k: str) -> str | None:
        """Apply one key; returns ``"quit"``, ``"project"`` or None."""
        if self.editing is not None:
            self._edit(k)
            return None
        if k != "?" and self.help:
            self.help = False
            return None if k != "q" else "quit"
        self.message = ""
        if k in ("q", "Q", "\x03"):
            return "quit"
        if k == "esc":
            if self.full:
                self.full = False
            elif self._regex is not None:
                self._set_pattern("")
            return None
        simple = {"?": "help", "l": "console", "o": "overview", "g": "system"}
        if k in simple:
            setattr(self, simple[k], not getattr(self, simple[k]))
        elif k == "+":
            self.zoom = min(ZOOMS - 1, self.zoom + 1)
        elif k == "-":
            self.zoom = max(0, self.zoom - 1)
        elif k == "p":
            return "project"
        elif k == "/":
            self.editing = self.pattern
        elif k == "tab":
            self.pane = "runs" if self.pane == "grid" else "grid"
        elif k == " ":
            self._toggle()
        elif k == "c":
            self.selected = list(self.runs) if len(self.selected) < len(self.runs) else self.runs[:1]
        elif k.isdigit() and len(k) == 1:
            self.first_node = int(k)
        elif k == "enter" and self.pane == "grid" and self.focused_metric is not None:
            self.full = True
        elif k in ("up", "down") and (self.pane == "runs" and not self.full):
            self.cursor = min(max(0, self.cursor + (1 if k == "down" else -1)), max(0, len(self.runs) - 1))
        elif k == "enter" and self.pane == "runs":
            self._toggle()
        elif k in ("up", "down", "left", "right", "pgup", "pgdn"):
            self._move(k)
        return None

    def _toggle(self) -> None:
        run = self.cursor_run
        if run is None:
            return
        if run in self.selected:
            self.selected.remove(run)
        else:
            self.selected.append(run)

    def _move(self, k: str) -> None:
        n = len(self.shown)
        if not n:
            return
        step = {"left": -1, "right": 1, "up": -self.grid_cols, "down": self.grid_cols,
                "pgup": -self.page_size, "pgdn": self.page_size}[k]
        if k in ("pgup", "pgdn"):
            page = min(max(0, self.page + (1 if step > 0 else -1)), self.pages() - 1)
            self.focus = min(n - 1, page * self.page_size)
        else:
            self.focus = min(max(0, self.focus + step), n - 1)

    def _edit(self, k: str) -> None:
        assert self.editing is not None
        if k == "esc":
            self.editing = None
            self._set_pattern("")
        elif k == "enter":
            text, self.editing = self.editing, None
            self._set_pattern(text)
        elif k == "backspace":
            self.editing = self.editing[:-1]
        elif len(k) == 1 and k.isprintable():
            self.editing += k

    def _set_pattern(self, text: str) -> None:
        keep = self.focused_metric
        if not text:
            self.pattern, self._regex = "", None
        else:
            try:
                regex = re.compile(text)
            except (re.error, RecursionError, OverflowError) as exc:
                self.message = f"bad regular expression '{text}': {exc}; the filter stays '{self.pattern}'"
                return
            self.pattern, self._regex = text, regex
        self._clamp(keep)
