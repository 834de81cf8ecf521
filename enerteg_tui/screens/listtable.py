"""A ``LiveTable`` that sorts by any column and filters with ``/`` (issue 18, item 3).

Operators expect every list to work like k9s or htop: pick the sort column with a key
or a click on its header, see which column sorts and in which direction (an arrow in
the header), and narrow the list by typing after ``/``. ``ListTable`` is that mechanism
once, for every list page (devices, alarms, audit log, rules, users, dashboards): the
page hands it all its rows; the table keeps them, shows those the filter matches in
the chosen order, and keeps both true while live updates arrive. A live change that
moves a row out of order (a PDU whose load rises past another's while sorted by load)
re-sorts once per batch, not once per row.

Sort values: a row may give a column's value in ``Row.sort`` (a load share, a power in
watts); otherwise the cell's text sorts, numbers by value ("9.5 A" before "10 A").
Empty values ("", "—") sort last in both directions. Columns aligned right (numbers)
sort highest first on their first press, others A to Z; ``descending`` overrides.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Hashable, Sequence
from typing import Any, ClassVar

from rich.cells import cell_len
from rich.text import Text
from textual import events
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal
from textual.message import Message
from textual.widgets import Input, Label
from textual.strip import Strip
from rich.segment import Segment

from ..core.i18n import _
from .livetable import _HEADER, Cell, Column, LiveTable, Row

__all__ = ["FilterBar", "ListTable", "RowDetail", "sort_value"]

ARROW = {False: "▲", True: "▼"}
"""Header mark of the sort column: ▲ ascending (A→Z, low→high), ▼ descending."""

_NUMBER = re.compile(r"^\s*[-+]?\d+(?:\.\d+)?")
_EMPTY = frozenset({"", "—", "-", "–"})


def sort_value(cell: Cell) -> Any:
    """How a cell's text sorts: ``None`` when empty, numbers by value, text case-blind."""
    plain = cell.plain if isinstance(cell, Text) else str(cell)
    plain = plain.strip()
    if plain in _EMPTY:
        return None
    m = _NUMBER.match(plain)
    if m:
        return (0, float(m.group()), plain.casefold())
    return (1, 0.0, plain.casefold())


class FilterBar(Horizontal):
    """The ``/`` line above a ``ListTable``: the filter text and how many rows match.

    | Key | Description |
    | :- | :- |
    | enter | Keep the filter, back to the table. |
    | escape | Clear the filter and close the line. |
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "clear", "Clear filter"),
    ]

    DEFAULT_CSS = """
    FilterBar { height: 1; width: 1fr; padding: 0 1; background: $boost; }
    FilterBar Label { width: auto; }
    FilterBar #filter-count { margin-left: 1; color: $text-muted; }
    FilterBar Input { height: 1; border: none; width: 1fr; padding: 0; background: $boost; }
    FilterBar Input:focus { border: none; }
    """

    def __init__(self, table: ListTable, placeholder: str) -> None:
        super().__init__(classes="filter-bar")
        self.table = table
        self._placeholder = placeholder

    def compose(self) -> ComposeResult:
        yield Label("/", id="filter-slash")
        yield Input(value=self.table.filter_text, placeholder=self._placeholder,
                    id="filter-input")
        yield Label("", id="filter-count")

    def on_mount(self) -> None:
        self.show_count()

    def show_count(self) -> None:
        """``3 of 8`` (shown of all rows)."""
        if self.is_mounted:
            t = self.table
            self.query_one("#filter-count", Label).update(f"{len(t.rows)} of {t.total}")

    def on_input_changed(self, event: Input.Changed) -> None:
        event.stop()                     # pages listen to their own inputs only
        self.table.filter_text = event.value

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.table.focus()

    def action_clear(self) -> None:
        self.table.filter_text = ""
        self.table.focus()
        self.remove()


class RowDetail(Label):
    """The line under a ``ListTable``: the highlighted row's names in full (issue 18,
    item 4: a cut name must stay readable somewhere). Shows every name column (cut in
    the middle) and any other cell the table had to cut, as ``Label: text``."""

    DEFAULT_CSS = """
    RowDetail { height: 1; width: 1fr; padding: 0 1; color: $text-muted; }
    """

    def __init__(self, table: ListTable) -> None:
        super().__init__("", classes="row-detail", markup=False)
        self.table = table

    def show_row(self, row: Row | None) -> None:
        """Spell out ``row`` (None: the table is empty)."""
        self.update(self.table.detail_text(row) if row is not None else "")


class ListTable(LiveTable):
    """A ``LiveTable`` whose rows sort by any column and filter by text.

    | Key | Description |
    | :- | :- |
    | / | Filter: show only rows containing the typed words. |
    | > | Sort by the next column (the page's order first, then each column). |
    | < | Sort by the previous column. |
    | ! | Reverse the sort direction. |
    | click on a header | Sort by that column; again reverses. |
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("slash", "filter", "Search"),
        Binding("greater_than_sign", "sort_next", "Sort"),
        Binding("less_than_sign", "sort_prev", "Sort back", show=False),
        Binding("exclamation_mark", "sort_reverse", "Reverse sort", show=False),
    ]

    class Sorted(Message):
        """The sort column or direction changed; handled by ``on_list_table_sorted``."""

        def __init__(self, table: ListTable) -> None:
            super().__init__()
            self.table = table
            self.column = table.sort_column
            """Key of the sort column, or None for the page's own order."""
            self.descending = table.descending

        @property
        def control(self) -> ListTable:
            return self.table

    def __init__(self, columns: Sequence[Column], *, sort_order: Sequence[str] | None = None,
                 descending: Collection[str] = (), sort: str | None = None,
                 placeholder: str = "filter: words to find in any column", detail: bool = False,
                 **kwargs: Any) -> None:
        """
        Args:
            columns: as ``LiveTable``.
            sort_order: the columns ``>`` steps through after the page's own order
                (default: every column, left to right); the first ones are the sorts
                operators ask for most (the device list: load, then power).
            descending: columns that sort highest first on their first press besides
                the right-aligned ones (a load bar).
            sort: the column to start sorted by (None: the page's order).
            placeholder: the filter line's hint.
            detail: add a ``RowDetail`` line under the table.
        """
        super().__init__(columns, **kwargs)
        keys = [c.key for c in self.columns]
        self.sort_order: list[str] = [k for k in (sort_order or keys) if k in keys]
        self._desc_first = {c.key for c in self.columns if c.align == "right"} | set(descending)
        self.sort_column: str | None = sort
        """Key of the column the rows are sorted by, or None for the page's order."""
        self.descending = sort in self._desc_first if sort else False
        self._filter = ""
        self._all: list[Row] = []
        self._pos: dict[Hashable, int] = {}
        self._pending = False
        self._placeholder = placeholder
        self._detail = detail

    # ------------------------------------------------------------------ public API
    @property
    def filter_text(self) -> str:
        """The words every shown row contains (case-blind); empty shows all."""
        return self._filter

    @filter_text.setter
    def filter_text(self, text: str) -> None:
        if text != self._filter:
            self._filter = text
            self._relayout()

    @property
    def total(self) -> int:
        """Rows the page gave, shown or not."""
        return len(self._all)

    @property
    def all_rows(self) -> list[Row]:
        """Every row in the page's order, filtered out or not."""
        return list(self._all)

    def set_rows(self, rows: Sequence[Row]) -> None:
        """Replace every row; the filter and sort apply at once."""
        self._all = list(rows)
        self._pos = {r.key: i for i, r in enumerate(self._all)}
        self._relayout()

    def _source_keys(self) -> list[Hashable]:
        return [r.key for r in self._all]

    def update_row(self, row: Row, *, flash: bool = True) -> bool:
        """Replace one row; re-sorts or re-filters (once per batch) if it moved out of place."""
        i = self._pos.get(row.key)
        if i is None:
            return False
        self._all[i] = row
        shown = row.key in self._index
        if self._matches(row) != shown:
            self._schedule()
            return True
        if not shown:
            return False
        changed = super().update_row(row, flash=flash)
        if changed and self.current is not None and self.current.key == row.key:
            self._show_detail()
        if changed and self.sort_column is not None and self._out_of_place(row.key):
            self._schedule()
        return changed

    def sort_by(self, column: str | None, descending: bool | None = None) -> None:
        """Sort by ``column`` (None: the page's order); direction defaults to the column's."""
        if column is not None and column not in {c.key for c in self.columns}:
            raise KeyError(f"no column {column!r}; columns: {', '.join(c.key for c in self.columns)}")
        self.sort_column = column
        self.descending = (column in self._desc_first) if descending is None else descending
        self._relayout()
        self.post_message(self.Sorted(self))

    def detail_text(self, row: Row) -> Text:
        """The row's name cells in full and any other cell cut to its column."""
        text = Text(no_wrap=True, overflow="ellipsis")
        for col in self.columns:
            cell = row.cells.get(col.key, "")
            plain = cell.plain if isinstance(cell, Text) else str(cell)
            cut = cell_len(plain) > col.width
            if col.cut != "middle" and not cut:
                continue
            if not plain.strip():
                continue
            if text:
                text.append(" · ", style="dim")
            if col.cut != "middle":
                text.append(f"{_(col.label)}: ", style="dim")
            text.append(plain)
        return text

    def on_mount(self) -> None:
        if self._detail and self.parent is not None:
            self.parent.mount(RowDetail(self), after=self)
            self.call_after_refresh(self._show_detail)

    def on_live_table_highlighted(self, event: LiveTable.Highlighted) -> None:
        self._show_detail()                  # not stopped: the page hears it too

    def _show_detail(self) -> None:
        parent = self.parent
        if self._detail and parent is not None:
            for d in parent.children:
                if isinstance(d, RowDetail) and d.table is self:
                    d.show_row(self.current)

    # ------------------------------------------------------------------ rendering
    def _header(self) -> Strip:
        style = self.base_style + _HEADER
        segs = []
        for c in self.columns:
            label = self._fit(_(c.label), c)
            if c.key == self.sort_column:
                mark = ARROW[self.descending]
                word = _(c.label)
                plain = word if len(word) < c.width else word[: c.width - 2]
                label = (plain + mark).rjust(c.width) if c.align == "right" else (plain + mark).ljust(c.width)
                label = label[: c.width]
            segs.append(Segment(label + " ", style))
        return Strip(segs)

    # ------------------------------------------------------------------ helpers
    def _matches(self, row: Row) -> bool:
        words = self._filter.casefold().split()
        if not words:
            return True
        hay = " ".join([*(c.plain if isinstance(c, Text) else str(c) for c in row.cells.values()),
                        row.search]).casefold()
        return all(w in hay for w in words)

    def _key(self, row: Row) -> Any:
        col = self.sort_column
        assert col is not None
        return row.sort[col] if col in row.sort else sort_value(row.cells.get(col, ""))

    def _ordered(self) -> list[Row]:
        shown = [r for r in self._all if self._matches(r)]
        if self.sort_column is None:
            return shown
        # stable: equal values keep the page's order; empty values last either way
        empty = [r for r in shown if self._key(r) is None]
        full = [r for r in shown if self._key(r) is not None]
        full.sort(key=self._key, reverse=self.descending)
        return full + empty

    def _relayout(self) -> None:
        self._pending = False
        super().set_rows(self._ordered())
        self.refresh()                       # the header (arrow) too
        for bar in self._bars():
            bar.show_count()
        self._show_detail()

    def _schedule(self) -> None:
        if not self._pending:
            self._pending = True
            self.call_later(self._relayout_if_pending)

    def _relayout_if_pending(self) -> None:
        if self._pending:
            self._relayout()

    def _precedes(self, a: Any, b: Any) -> bool:
        """Whether sort values ``a`` may stand before ``b`` in the current order."""
        if a is None:
            return b is None
        if b is None:
            return True
        return a >= b if self.descending else a <= b

    def _out_of_place(self, key: Hashable) -> bool:
        i = self._index[key]
        rows = self._rows
        me = self._key(rows[i])
        return ((i > 0 and not self._precedes(self._key(rows[i - 1]), me))
                or (i + 1 < len(rows) and not self._precedes(me, self._key(rows[i + 1]))))

    def _bars(self) -> list[FilterBar]:
        parent = self.parent
        if parent is None:
            return []
        return [b for b in parent.children if isinstance(b, FilterBar) and b.table is self]

    async def _on_click(self, event: events.Click) -> None:
        if event.y != 0:
            await super()._on_click(event)
            return
        x = event.x + int(self.scroll_x)
        left = 0
        for col in self.columns:
            if left <= x < left + col.width + 1:
                if col.key == self.sort_column:
                    self.sort_by(col.key, not self.descending)
                else:
                    self.sort_by(col.key)
                return
            left += col.width + 1

    # ------------------------------------------------------------------ actions
    def action_filter(self) -> None:
        """Open (or focus) the filter line above the table."""
        bars = self._bars()
        if bars:
            bars[0].query_one(Input).focus()
            return
        parent = self.parent
        if parent is None:
            return
        bar = FilterBar(self, self._placeholder)
        parent.mount(bar, before=self)
        self.call_after_refresh(lambda: bar.query_one(Input).focus())

    def _step(self, by: int) -> None:
        order: list[str | None] = [None, *self.sort_order]
        i = order.index(self.sort_column) if self.sort_column in order else 0
        self.sort_by(order[(i + by) % len(order)])

    def action_sort_next(self) -> None:
        self._step(1)

    def action_sort_prev(self) -> None:
        self._step(-1)

    def action_sort_reverse(self) -> None:
        if self.sort_column is not None:
            self.sort_by(self.sort_column, not self.descending)
