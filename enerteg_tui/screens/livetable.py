"""A line-API table for live values that repaints only the rows that changed.

``DataTable.update_cell`` repaints the whole widget; with 20 sessions each watching a
24-outlet PDU that is too costly. ``LiveTable`` keeps its rows keyed by a stable id,
caches each rendered row as a ``Strip``, and on ``update_row`` invalidates and
refreshes only that row's line. Cells that changed are marked for ``FLASH_S`` seconds
the way the user chose (``core.preferences`` ``changeMarks``, held by the App as
``change_marks``): ``subtle`` bold, ``flash`` bold and underlined with an arrow telling
the direction, ``off`` not at all; never a solid (reverse) block, which blinks a whole
table at every sweep. A cell may carry a channel key, so that pressing enter on it
asks for that channel's chart. A table made ``markable`` lets its page mark and unmark
rows (``toggle_mark``: space on the device list and the outlet table), drawn on a blue
background and read back with ``marked_keys``, for commands on several rows at once
(switching the marked PDUs or outlets). Used by the device view, device list and
dashboards.
"""

from __future__ import annotations

import re
import time
from collections.abc import Collection, Hashable, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

from rich.cells import cell_len, set_cell_size
from rich.segment import Segment
from rich.style import Style
from rich.text import Text
from textual import events
from textual.binding import Binding, BindingType
from textual.geometry import Region, Size
from textual.message import Message
from textual.reactive import reactive
from textual.scroll_view import ScrollView
from textual.strip import Strip

from ..core.i18n import _
from .names import shorten

__all__ = ["Column", "LiveTable", "Row", "change_direction"]

FLASH_S = 0.8
"""How long a changed cell stays marked (at least; see ``FLASH_GRACE_S``)."""
FLASH_GRACE_S = 0.6
"""Extra time before a timer ends a flash. With a sweep every second the next update
arrives first and ends expired flashes in the same frame, so a session repaints once
per sweep, not twice; the timer only serves tables that stopped changing."""

Cell = str | Text
"""What a cell shows: plain text or styled text."""


def change_direction(old: Cell | None, new: Cell) -> int:
    """+1 if the first number of ``new`` is above that of ``old``, -1 below, else 0."""
    a = _NUMBER.search(old.plain if isinstance(old, Text) else str(old or ""))
    b = _NUMBER.search(new.plain if isinstance(new, Text) else str(new))
    if a is None or b is None:
        return 0
    x, y = float(a.group()), float(b.group())
    return (y > x) - (y < x)

_HEADER = Style(bold=True, underline=True)
_MARK: dict[str, Style] = {"subtle": Style(bold=True), "flash": Style(bold=True, underline=True)}
"""How a changed cell is drawn, by ``change_marks`` mode (``off`` has none)."""
_ARROW = {1: "↑", -1: "↓"}
"""Shown after a changed value in ``flash`` mode: rising or falling."""
_NUMBER = re.compile(r"-?\d+(?:\.\d+)?")
_CURSOR = Style(reverse=True)
_CURSOR_ROW = Style(underline=True)
_NO_MARKS: dict[str, int] = {}
_MARKED = Style(bgcolor="blue", color="bright_white", bold=True)
"""A row marked with space (``markable`` tables)."""


@dataclass(slots=True)
class Column:
    """One column: key, header label, width in cells and alignment."""

    key: str
    label: str
    width: int
    align: str = "right"
    """"left" or "right"."""
    cut: str = "end"
    """How a too-long cell is cut: "end" (sentences) or "middle" (names, which often
    share a prefix and differ at the end: ``names.shorten``)."""


@dataclass(slots=True)
class Row:
    """One row: its cells by column key, optional channel per cell and a row style."""

    key: Hashable
    cells: dict[str, Cell]
    channels: dict[str, Any] = field(default_factory=dict)
    """Column key → whatever identifies the value's channel (for charts)."""
    style: str = ""
    """Rich style for the whole row (e.g. the alarm colour)."""
    sort: dict[str, Any] = field(default_factory=dict)
    """Column key → the value a ``ListTable`` sorts that column by, where the cell's
    text would sort wrongly (a load bar, a value with its unit)."""
    search: str = ""
    """More text the ``/`` filter matches besides the cells (serial, outlet names)."""


class LiveTable(ScrollView, can_focus=True):
    """A keyed table drawn line by line; only changed rows are repainted.

    | Key | Description |
    | :- | :- |
    | up/down | Move the cursor row. |
    | left/right | Move the cursor cell (value columns). |
    | enter | Select the row / cell. |
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("up", "cursor_up", "Up", show=False),
        Binding("down", "cursor_down", "Down", show=False),
        Binding("left", "cursor_left", "Left", show=False),
        Binding("right", "cursor_right", "Right", show=False),
        Binding("home", "cursor_home", "Top", show=False),
        Binding("end", "cursor_end", "Bottom", show=False),
        Binding("pageup", "page_up", "Page up", show=False),
        Binding("pagedown", "page_down", "Page down", show=False),
        Binding("enter", "select", "Select", show=False),
    ]

    DEFAULT_CSS = """
    LiveTable {
        height: auto;
        max-height: 100%;
        background: $surface;
        scrollbar-size-vertical: 1;
        scrollbar-size-horizontal: 1;
    }
    """

    cursor_row: reactive[int] = reactive(0, repaint=False, always_update=True)
    """Index of the highlighted row."""
    cursor_col: reactive[int] = reactive(-1, repaint=False)
    """Index of the highlighted column; -1 highlights the whole row."""

    class Selected(Message):
        """Enter pressed on a row; handled by ``on_live_table_selected``."""

        def __init__(self, table: LiveTable, row: Row, column: str | None) -> None:
            super().__init__()
            self.table = table
            self.row = row
            self.column = column
            """Key of the cursor column, or None when the whole row is selected."""

        @property
        def control(self) -> LiveTable:
            return self.table

        def __rich_repr__(self):  # type: ignore[no-untyped-def]
            yield "row", self.row.key
            yield "column", self.column

    class Marked(Message):
        """Space marked or unmarked a row; ``table.marked_keys()`` has them all."""

        def __init__(self, table: LiveTable) -> None:
            super().__init__()
            self.table = table

        @property
        def control(self) -> LiveTable:
            return self.table

    class Highlighted(Message):
        """The cursor moved to another row; handled by ``on_live_table_highlighted``."""

        def __init__(self, table: LiveTable, row: Row | None) -> None:
            super().__init__()
            self.table = table
            self.row = row

        @property
        def control(self) -> LiveTable:
            return self.table

    def __init__(self, columns: Sequence[Column], *, cell_cursor: bool = False,
                 name: str | None = None, id: str | None = None, classes: str | None = None,
                 monotonic: Any = time.monotonic, markable: bool = False) -> None:
        super().__init__(name=name, id=id, classes=classes)
        self.columns = list(columns)
        self.markable = markable
        """Whether space marks rows (``marked_keys``)."""
        self._marked: dict[Hashable, None] = {}
        """Marked row keys in the order they were marked."""
        self.cell_cursor = cell_cursor
        """Whether left/right move a cell cursor (for tables whose values open charts)."""
        self._rows: list[Row] = []
        self._index: dict[Hashable, int] = {}
        self._cache: dict[int, Strip] = {}
        self._flash: dict[Hashable, tuple[float, dict[str, int]]] = {}
        """Row key → (end of its marks, changed column → direction +1/-1/0)."""
        self._flash_timer: Any = None
        self._flash_due = float("inf")
        """Earliest end of a flash."""
        """The one pending timer that ends expired flashes, or None."""
        self._monotonic = monotonic
        self._width = sum(c.width + 1 for c in self.columns)
        self.repaints = 0
        """Rows rendered since creation (tests prove that updates stay local)."""
        self._base: Style | None = None
        """``rich_style`` cached: Textual computes it from every ancestor on each call,
        which was half the cost of a row; dropped whenever styles are re-applied."""

    # ------------------------------------------------------------------ public API
    @property
    def rows(self) -> list[Row]:
        """The rows in display order."""
        return list(self._rows)

    def row(self, key: Hashable) -> Row:
        """A row by key (``KeyError`` names the key)."""
        return self._rows[self._index[key]]

    @property
    def current(self) -> Row | None:
        """The row under the cursor, or None."""
        return self._rows[self.cursor_row] if 0 <= self.cursor_row < len(self._rows) else None

    def marked_keys(self) -> list[Hashable]:
        """Keys of the marked rows that still exist, in the order they were marked."""
        present = set(self._source_keys())
        return [k for k in self._marked if k in present]

    def set_marked(self, keys: Collection[Hashable]) -> None:
        """Mark exactly ``keys`` (an empty collection clears every mark)."""
        self._marked = dict.fromkeys(keys)
        self._cache.clear()
        self.refresh()
        self.post_message(self.Marked(self))

    def set_rows(self, rows: Sequence[Row]) -> None:
        """Replace every row (order may change); repaints the whole table."""
        keep = self.current.key if self.current else None
        self._rows = list(rows)
        self._index = {r.key: i for i, r in enumerate(self._rows)}
        self._cache.clear()
        self.virtual_size = Size(self._width, len(self._rows) + 1)
        if keep in self._index:
            self.cursor_row = self._index[keep]
        else:
            self.cursor_row = min(self.cursor_row, max(0, len(self._rows) - 1))
        self.refresh()

    def sync(self, rows: Sequence[Row], *, flash: bool = True) -> None:
        """Show ``rows``: ``set_rows`` when their keys changed, else ``update_row`` each
        (only the rows that changed repaint)."""
        if [r.key for r in rows] != self._source_keys():
            self.set_rows(rows)
        else:
            for row in rows:
                self.update_row(row, flash=flash)

    def _source_keys(self) -> list[Hashable]:
        """Keys of the rows as the page gave them (a ``ListTable`` shows them sorted)."""
        return [r.key for r in self._rows]

    def update_row(self, row: Row, *, flash: bool = True) -> bool:
        """Replace one row's cells; repaints its line only if something changed.

        Returns:
            True if the row changed.
        """
        i = self._index.get(row.key)
        if i is None:
            return False
        old = self._rows[i]
        if old.cells == row.cells and old.style == row.style:
            return False
        now = self._monotonic()
        if self._flash and now >= self._flash_due:
            self._end_flashes(timer=False)      # in this frame, not one of their own
        marked = self._flash.pop(row.key, (0.0, _NO_MARKS))[1]    # repainted unmarked
        if flash and self.change_marks != "off":
            changed = {k: change_direction(old.cells.get(k), v)
                       for k, v in row.cells.items() if old.cells.get(k) != v}
            self._flash[row.key] = (now + FLASH_S, changed)
            self._flash_due = min(self._flash_due, now + FLASH_S)
            if self._flash_timer is None:           # one timer per table, not per row
                self._flash_timer = self.set_timer(FLASH_S + FLASH_GRACE_S, self._end_flashes)
        whole = old.style != row.style or (i == self.cursor_row and self.has_focus)
        self._rows[i] = row
        self._cache.pop(i, None)
        if whole:
            self.refresh_line(i + 1)
        else:
            self._refresh_cells(i, {k for k, v in row.cells.items() if old.cells.get(k) != v}
                                | marked.keys())
        return True

    @property
    def change_marks(self) -> str:
        """How changed values are marked: the App's ``change_marks`` (off/subtle/flash);
        ``subtle`` under an App that has none (tests, stand-alone use)."""
        return getattr(self.app, "change_marks", "subtle")

    # ------------------------------------------------------------------ rendering
    @property
    def base_style(self) -> Style:
        """The table's own Rich style (colours inherited from its ancestors), cached."""
        if self._base is None:
            self._base = self.rich_style
        return self._base

    def refresh_line(self, y: int) -> None:
        """Repaint one line, only as wide as the visible content.

        ``ScrollView.refresh_line`` marks the whole virtual width dirty; on a table
        wider than its window that reaches into the scrollbars, which then repaint
        (a scrollbar is a widget of its own, ~1 ms) on every live update."""
        self.refresh(Region(0, y - self.scroll_offset.y, self.size.width, 1))

    def _refresh_cells(self, i: int, keys: Collection[str]) -> None:
        """Repaint only the cells ``keys`` of row ``i`` (each with the gap after it, where
        a change arrow goes): the rest of the line goes out again on no terminal. On a
        160-column table a changed value is a tenth of its row's bytes, which is what a
        slow line (115200-baud serial) notices."""
        y = i + 1 - self.scroll_offset.y
        sx = self.scroll_offset.x
        x = 0
        for col in self.columns:
            if col.key in keys:
                self.refresh(Region(x - sx, y, col.width + 1, 1))
            x += col.width + 1

    def notify_style_update(self) -> None:
        super().notify_style_update()
        self._base = None
        self._cache.clear()

    def get_content_height(self, container: Size, viewport: Size, width: int) -> int:
        return len(self._rows) + 1

    def get_content_width(self, container: Size, viewport: Size) -> int:
        return self._width

    def render_line(self, y: int) -> Strip:
        scroll_x, scroll_y = self.scroll_offset
        width = self.size.width
        if y == 0:
            strip = self._header()
        else:
            i = y + scroll_y - 1
            if i >= len(self._rows):
                return Strip.blank(width, self.base_style)
            strip = self._cache.get(i)
            if strip is None:
                strip = self._render_row(i)
                self._cache[i] = strip
        return strip.crop_extend(scroll_x, scroll_x + width, self.base_style)

    def _header(self) -> Strip:
        style = self.base_style + _HEADER
        segs = [Segment(self._fit(_(c.label), c) + " ", style) for c in self.columns]
        return Strip(segs)

    @staticmethod
    def _fit(plain: str, col: Column) -> str:
        """``plain`` cut or padded to exactly the column's width in terminal cells."""
        if col.cut == "middle" and cell_len(plain) > col.width:
            plain = shorten(plain, col.width)
        if not plain.isascii() and cell_len(plain) != len(plain):
            fitted = plain if cell_len(plain) <= col.width else set_cell_size(plain, col.width - 1) + "…"
            pad = " " * (col.width - cell_len(fitted))
            return pad + fitted if col.align == "right" else fitted + pad
        if len(plain) > col.width:
            plain = plain[: col.width - 1] + "…"
        return plain.rjust(col.width) if col.align == "right" else plain.ljust(col.width)

    def _render_row(self, i: int) -> Strip:
        self.repaints += 1
        row = self._rows[i]
        base = self.base_style
        if row.style:
            base = base + Style.parse(row.style)
        if row.key in self._marked:
            base = base + _MARKED
        cursor_row = i == self.cursor_row and self.has_focus
        cursor_col = self.cursor_col
        until, changed = self._flash.get(row.key, (0.0, _NO_MARKS))
        flashing = changed if until > self._monotonic() else _NO_MARKS
        mode = self.change_marks if flashing else "off"
        mark = _MARK.get(mode)
        cells = row.cells
        fit = self._fit
        segs: list[Segment] = []
        gap = Segment(" ", base)
        for ci, col in enumerate(self.columns):
            cell = cells.get(col.key, "")
            if isinstance(cell, Text):
                plain = cell.plain
                own = cell.style
                style = base + (own if isinstance(own, Style) else Style.parse(own)) if own else base
            else:
                plain = cell if isinstance(cell, str) else str(cell)
                style = base
            direction = flashing.get(col.key) if mark is not None else None
            if direction is not None:
                style = style + mark
            if cursor_row:
                style = style + (_CURSOR if cursor_col < 0 or cursor_col == ci else _CURSOR_ROW)
            segs.append(Segment(fit(plain, col), style))
            if direction and mode == "flash":
                segs.append(Segment(_ARROW[direction], base + mark))
            else:
                segs.append(gap)
        return Strip(segs, self._width)  # every cell is fitted to its width: no measuring

    # ------------------------------------------------------------------ helpers
    def _end_flashes(self, timer: bool = True) -> None:
        if timer:
            self._flash_timer = None
        now = self._monotonic()
        for key, (until, changed) in list(self._flash.items()):
            if until <= now:
                del self._flash[key]
                i = self._index.get(key)
                if i is not None:
                    self._cache.pop(i, None)
                    self._refresh_cells(i, list(changed))
        self._flash_due = min((until for until, _ in self._flash.values()), default=float("inf"))
        if self._flash and self._flash_timer is None:
            wait = self._flash_due - now
            self._flash_timer = self.set_timer(max(0.05, wait + FLASH_GRACE_S), self._end_flashes)

    def _repaint_row(self, i: int) -> None:
        if 0 <= i < len(self._rows):
            self._cache.pop(i, None)
            self.refresh_line(i + 1)

    def validate_cursor_row(self, value: int) -> int:
        return max(0, min(value, len(self._rows) - 1)) if self._rows else 0

    def watch_cursor_row(self, old: int, new: int) -> None:
        self._repaint_row(old)
        self._repaint_row(new)
        if self.has_focus:
            self._reveal(new)
        if old != new:
            self.post_message(self.Highlighted(self, self.current))

    def watch_cursor_col(self) -> None:
        self._repaint_row(self.cursor_row)

    def _reveal(self, i: int) -> None:
        """Scroll this table, then its scrolling parent, so row ``i`` is visible."""
        if not self.is_mounted:
            return
        self.scroll_to_region(Region(0, i + 1, 1, 1), animate=False, immediate=True,
                              x_axis=False)
        parent = self.parent
        if parent is not None and getattr(parent, "is_scrollable", False):
            top = self.virtual_region.y
            y = top + i + 1 - int(self.scroll_y)
            if i == 0:  # show the header and the heading above the table too
                region = Region(0, max(0, top - 2), 1, y - top + 3)
            else:
                region = Region(0, y, 1, 1)
            parent.scroll_to_region(region, animate=False,  # type: ignore[attr-defined]
                                    immediate=True, x_axis=False)

    def _on_focus(self, event: events.Focus) -> None:
        self._repaint_row(self.cursor_row)

    def _on_blur(self, event: events.Blur) -> None:
        self._repaint_row(self.cursor_row)

    async def _on_click(self, event: events.Click) -> None:
        i = event.y + int(self.scroll_y) - 1
        if 0 <= i < len(self._rows):
            self.cursor_row = i
            if event.chain >= 2:
                self.action_select()

    # ------------------------------------------------------------------ actions
    def action_cursor_up(self) -> None:
        self.cursor_row -= 1

    def action_cursor_down(self) -> None:
        self.cursor_row += 1

    def action_cursor_home(self) -> None:
        self.cursor_row = 0

    def action_cursor_end(self) -> None:
        self.cursor_row = len(self._rows) - 1

    def action_page_up(self) -> None:
        self.cursor_row -= max(1, self.size.height - 2)

    def action_page_down(self) -> None:
        self.cursor_row += max(1, self.size.height - 2)

    def action_cursor_left(self) -> None:
        if self.cell_cursor:
            self.cursor_col = max(-1, self.cursor_col - 1)
        else:
            self.scroll_left(animate=False)

    def action_cursor_right(self) -> None:
        if self.cell_cursor:
            self.cursor_col = min(len(self.columns) - 1, self.cursor_col + 1)
            x = sum(c.width + 1 for c in self.columns[: self.cursor_col])
            self.scroll_to_region(Region(x, 0, self.columns[self.cursor_col].width, 1),
                                  animate=False, immediate=True, y_axis=False)
        else:
            self.scroll_right(animate=False)

    def toggle_mark(self) -> bool:
        """Mark the row under the cursor, or unmark it (the pages bind space to it);
        False when this table is not ``markable`` or has no row."""
        row = self.current
        if not self.markable or row is None:
            return False
        if row.key in self._marked:
            del self._marked[row.key]
        else:
            self._marked[row.key] = None
        self._repaint_row(self.cursor_row)
        self.post_message(self.Marked(self))
        return True

    def action_select(self) -> None:
        row = self.current
        if row is not None:
            col = self.columns[self.cursor_col].key if self.cursor_col >= 0 else None
            self.post_message(self.Selected(self, row, col))
