"""A screen of character cells with styles; drawing is clipped to the screen.

Styles are SGR parameter strings (``"1;36"``); :meth:`Canvas.ansi_lines`
turns each row into text with escape sequences, :meth:`Canvas.text` into
plain text (what the tests look at).
"""
from __future__ import annotations

from rich.cells import cell_len, set_cell_size

from ktrack.messages import printable

BOX = {"tl": "\u250c", "tr": "\u2510", "bl": "\u2514", "br": "\u2518", "h": "\u2500", "v": "\u2502"}


def fit(text: str, width: int) -> str:
    """``text`` made safe to print (no control characters) and cut to ``width`` cells."""
    text = printable(text)
    if width <= 0:
        return ""
    if len(text) <= width and text.isascii():
        return text
    if cell_len(text) <= width:
        return text
    return set_cell_size(text, width - 1).rstrip() + "\u2026" if width > 1 else set_cell_size(text, width)


def _tail(text: str, width: int) -> str:
    """The last characters of ``text`` that fit ``width`` cells."""
    out, used = "", 0
    for ch in reversed(text):
        used += cell_len(ch)
        if used > width:
            break
        out = ch + out
    return out


def elide(text: str, width: int, common: int = 0) -> str:
    """``text`` in ``width`` cells, cut in the middle so that its end stays visible.

    ``common`` is how many leading characters ``text`` shares with its
    neighbours (runs named ``{model}_{optimizer}_{time}`` differ only in the
    time): the part after them is kept whole when it fits; when even that
    part does not, the shared part is dropped and that part is cut in the
    middle.  Text that fits is :func:`fit` unchanged.
    """
    text = printable(text)
    if width <= 2 or cell_len(text) <= width:
        return fit(text, width)
    rest = text[min(common, len(text)):]
    if common and cell_len(rest) >= width:
        return "\u2026" + (rest if cell_len(rest) < width else _cut(rest, width - 1))
    return _cut(text, width, cell_len(rest) if common else 0)


def _cut(text: str, width: int, tail: int = 0) -> str:
    """``text`` cut in the middle to ``width`` cells, keeping at least ``tail`` cells of its end
    (and two thirds of the room in any case)."""
    keep = min(width - 1, max(tail, (width - 1) * 2 // 3))
    return set_cell_size(text, width - 1 - keep) + "\u2026" + _tail(text, keep)


class Canvas:
    """``width`` x ``height`` cells, each one character (one cell wide) and a style."""

    def __init__(self, width: int, height: int) -> None:
        self.width, self.height = max(0, width), max(0, height)
        self.chars = [[" "] * self.width for _ in range(self.height)]
        self.styles: list[list[str]] = [[""] * self.width for _ in range(self.height)]

    def put(self, x: int, y: int, text: str, style: str = "", limit: int | None = None) -> int:
        """Write ``text`` at (x, y), cut at the screen edge (and after ``limit`` cells);
        returns the cells written.  Characters wider than one cell are replaced."""
        if not 0 <= y < self.height or x >= self.width or not text:
            return 0
        if limit is not None:
            text = text[:max(0, limit)]
        if x < 0:
            text, x = text[-x:], 0
        text = text[:self.width - x]
        if not text.isascii() and cell_len(text) != len(text):
            text = "".join(ch if cell_len(ch) == 1 else "?" for ch in text)
        n = len(text)
        self.chars[y][x:x + n] = text
        self.styles[y][x:x + n] = [style] * n
        return n

    def fill(self, x: int, y: int, w: int, h: int, style: str = "") -> None:
        """Blank a rectangle."""
        for yy in range(max(0, y), min(self.height, y + h)):
            self.put(x, yy, " " * max(0, w), style)

    def box(self, x: int, y: int, w: int, h: int, title: str = "", style: str = "", title_style: str = "") -> None:
        """A frame of box-drawing characters with ``title`` in its top edge."""
        if w < 2 or h < 2:
            return
        self.put(x, y, BOX["tl"] + BOX["h"] * (w - 2) + BOX["tr"], style)
        for yy in range(y + 1, y + h - 1):
            self.put(x, yy, BOX["v"], style)
            self.put(x + w - 1, yy, BOX["v"], style)
        self.put(x, y + h - 1, BOX["bl"] + BOX["h"] * (w - 2) + BOX["br"], style)
        if title and w > 4:
            self.put(x + 1, y, " " + fit(title, w - 4) + " ", title_style or style)

    def blit(self, x: int, y: int, rows: list[tuple[str, list[str]]]) -> None:
        """Copy pre-rendered rows (text, one style per character) to (x, y)."""
        for i, (text, styles) in enumerate(rows):
            yy = y + i
            if not 0 <= yy < self.height:
                continue
            n = self.put(x, yy, text)
            if n:
                self.styles[yy][x:x + n] = styles[:n]

    def text(self) -> str:
        """The screen as plain text, trailing blanks removed."""
        return "\n".join("".join(row).rstrip() for row in self.chars)

    def ansi_lines(self) -> list[str]:
        """Each row as text with SGR escape sequences (reset at the end of the row)."""
        out = []
        for chars, styles in zip(self.chars, self.styles, strict=True):
            parts, cur, start = [], None, 0
            for i, st in enumerate(styles):
                if st != cur:
                    if i > start:
                        parts.append("".join(chars[start:i]))
                    parts.append(f"\x1b[0;{st}m" if st else "\x1b[0m")
                    cur, start = st, i
            parts.append("".join(chars[start:]))
            parts.append("\x1b[0m")
            out.append("".join(parts))
        return out
