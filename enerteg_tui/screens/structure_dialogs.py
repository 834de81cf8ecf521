"""Dialogs of DC structure setup (manual §6.3): pick a row, type a name, assign, set a feed.

The structure page, the rack dashboard (``a``: assign a PDU to this rack) and the device
list (``a``: put the PDU in a rack or take it out) all open these dialogs, so an
assignment looks and behaves the same from everywhere. A dialog that changes something
calls the core itself (``Structure.assign``, ``Structure.create``/``rename``,
``DeviceService.update_settings``) with the session's principal: the core checks the
permission and validates; a refusal is shown inside the dialog in the core's words and
the dialog stays open, so nothing is changed behind the operator's back. The pages
hear about the change through the ``structure`` and ``device`` events, as every other
session does. ``ChoiceDialog`` is generic (a searchable list of rows) and is also used
by the rules page to choose a PDU for its rule report.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Static

from ..core.errors import EnertegError, Invalid
from ..core.model import Feed
from ..core.structure import Kind
from .context import console_context
from .livetable import Column, LiveTable, Row
from .errors import show_error_line
from .unsaved import EditTracker, ask_to_discard

__all__ = [
    "Choice",
    "ChoiceDialog",
    "DEVICE_COLUMNS",
    "FeedDialog",
    "NameDialog",
    "RACK_COLUMNS",
    "UNASSIGNED",
    "assign_to_rack_dialog",
    "rack_choice_dialog",
]

Apply = Callable[[str], Awaitable[str]]
"""A core call made with the chosen key or typed text; returns the success message."""


@dataclass(frozen=True, slots=True)
class Choice:
    """One row of a ``ChoiceDialog``: the key it returns, its cells and its search text."""

    key: str
    cells: dict[str, str | Text]
    search: str = ""
    """Lower-case text the search box matches (name, hex id, path, ...)."""


class _DialogBox(Vertical):
    """The framed box every dialog of this module draws in."""

    DEFAULT_CSS = """
    _DialogBox {
        width: 76; max-width: 98%; height: auto; max-height: 95%;
        border: thick $accent; background: $surface; padding: 0 1;
    }
    _DialogBox .error { color: $error; text-style: bold; height: auto; }
    _DialogBox .hint { color: $text-muted; height: 1; }
    """


class ChoiceDialog(ModalScreen[str | None]):
    """Choose one row of a list; type to narrow it down, enter chooses, escape cancels.

    Args:
        title: the frame's title.
        question: one line above the list saying what choosing does.
        columns: the list's columns.
        choices: the rows.
        apply: if given, called with the chosen key (a core call); a refusal is shown
            in the dialog, which stays open; on success the dialog closes with the key
            and the returned message is notified. Without it the key is returned.
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "cancel", "Cancel"),
        Binding("down", "move(1)", "Down", show=False),
        Binding("up", "move(-1)", "Up", show=False),
        Binding("pagedown", "move(10)", "Page down", show=False),
        Binding("pageup", "move(-10)", "Page up", show=False),
    ]

    DEFAULT_CSS = """
    ChoiceDialog { align: center middle; }
    ChoiceDialog #search { height: 1; border: none; padding: 0; margin-bottom: 1; }
    ChoiceDialog LiveTable { height: auto; max-height: 14; }
    ChoiceDialog #question { height: auto; margin-bottom: 1; }
    """

    def __init__(self, title: str, question: str, columns: Sequence[Column],
                 choices: Sequence[Choice], *, apply: Apply | None = None) -> None:
        super().__init__()
        self.title_text = title
        self.question = question
        self.columns = list(columns)
        self.choices = list(choices)
        self.apply = apply

    def compose(self) -> ComposeResult:
        with _DialogBox() as box:
            box.border_title = self.title_text
            yield Static(self.question, id="question")
            yield Input(placeholder="type to search", compact=True, id="search")
            yield LiveTable(self.columns, id="choices")
            yield Static("", id="error", classes="error")
            yield Static("enter choose · ↑↓ move · esc cancel", classes="hint")

    def on_mount(self) -> None:
        self._fill("")
        self.query_one("#error", Static).display = False
        self.query_one("#search", Input).focus()

    def _fill(self, needle: str) -> None:
        needle = needle.strip().lower()
        rows = [Row(key=c.key, cells=c.cells) for c in self.choices
                if not needle or needle in c.search.lower()]
        self.query_one(LiveTable).set_rows(rows)

    def on_input_changed(self, event: Input.Changed) -> None:
        event.stop()
        self._fill(event.value)

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self._choose()

    def on_live_table_selected(self, event: LiveTable.Selected) -> None:
        event.stop()
        self._choose()

    def _choose(self) -> None:
        row = self.query_one(LiveTable).current
        if row is None:
            self._error("Nothing matches the search; change it or press escape" if self.choices
                        else "There is nothing to choose here; press escape")
            return
        if self.apply is None:
            self.dismiss(str(row.key))
        else:
            self._apply(str(row.key))

    @work(exclusive=True, group="choice-apply")
    async def _apply(self, key: str) -> None:
        assert self.apply is not None
        try:
            message = await self.apply(key)
        except EnertegError as exc:
            self._error(str(exc))
            return
        self.app.notify(message, title=self.title_text)
        self.dismiss(key)

    def _error(self, text: str) -> None:
        show_error_line(self.query_one("#error", Static), text)

    def action_move(self, by: int) -> None:
        self.query_one(LiveTable).cursor_row += by

    def action_cancel(self) -> None:
        self.dismiss(None)


class NameDialog(ModalScreen[str | None]):
    """Type a name for a new or renamed room, row or rack; enter saves through ``apply``.

    Args:
        title: the frame's title.
        question: what the name is for.
        initial: the text the box starts with.
        apply: the core call with the typed name; a refusal (duplicate, empty, too
            long, not permitted) is shown in the dialog and nothing changes.
    """

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "cancel", "Cancel")]

    DEFAULT_CSS = """
    NameDialog { align: center middle; }
    NameDialog #question { margin-bottom: 1; height: auto; }
    NameDialog Input { margin-bottom: 1; }
    """

    def __init__(self, title: str, question: str, apply: Apply, *, initial: str = "") -> None:
        super().__init__()
        self.title_text = title
        self.question = question
        self.apply = apply
        self.initial = initial
        self._edits = EditTracker(self)

    def compose(self) -> ComposeResult:
        with _DialogBox() as box:
            box.border_title = self.title_text
            yield Static(self.question, id="question")
            yield Input(self.initial, placeholder="name (1–64 characters)", compact=True,
                        id="name")
            yield Static("", id="error", classes="error")
            yield Static("enter save · esc cancel", classes="hint")

    def on_mount(self) -> None:
        self.query_one("#error", Static).display = False
        self.query_one("#name", Input).focus()
        self.call_after_refresh(self._edits.mark_clean)

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self._save(event.value)

    @work(exclusive=True, group="name-apply")
    async def _save(self, name: str) -> None:
        try:
            message = await self.apply(name)
        except EnertegError as exc:
            show_error_line(self.query_one("#error", Static), exc)
            return
        self.app.notify(message, title=self.title_text)
        self.dismiss(name)

    def action_cancel(self) -> None:
        ask_to_discard(self, self.title_text, len(self._edits.changed()),
                       lambda: self.dismiss(None))


FEED_KEYS: dict[Feed, str] = {Feed.NONE: "0", Feed.A: "a", Feed.B: "b", Feed.C: "c", Feed.D: "d"}
"""The key that picks each feed in ``FeedDialog``."""


class FeedDialog(ModalScreen[str | None]):
    """Set the power feed (None, A–D) a PDU is connected to (manual §6.3, §7.1.1).

    The feed is a device setting: it goes through ``DeviceService.update_settings``
    (device-setup permission, a running PDU), like the Configuration tab's field.
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        *(Binding(k, f"feed('{f.value}')", f"Feed {f.value}", show=False)
          for f, k in FEED_KEYS.items()),
        Binding("escape", "cancel", "Cancel"),
    ]

    DEFAULT_CSS = """
    FeedDialog { align: center middle; }
    FeedDialog #question { margin-bottom: 1; height: auto; }
    FeedDialog #feeds { height: 1; margin-bottom: 1; }
    FeedDialog Button { margin-right: 1; }
    """

    def __init__(self, hex_id: str) -> None:
        super().__init__()
        self.hex_id = hex_id

    def compose(self) -> ComposeResult:
        live = console_context(self).core.devices.get(self.hex_id)
        current = live.info.settings.feed
        with _DialogBox() as box:
            box.border_title = "Power feed"
            yield Static(f'PDU "{live.info.display_name}" ({self.hex_id}) is on feed '
                         f"{current.value}. Connected to which feed?", id="question")
            with Horizontal(id="feeds"):
                for feed, key in FEED_KEYS.items():
                    yield Button(f"{feed.value} ({key})", id=f"feed-{feed.value}", compact=True,
                                 variant="primary" if feed is current else "default")
            yield Static("", id="error", classes="error")
            yield Static("a–d or 0 choose · esc cancel", classes="hint")

    def on_mount(self) -> None:
        self.query_one("#error", Static).display = False
        current = console_context(self).core.devices.get(self.hex_id).info.settings.feed
        self.query_one(f"#feed-{current.value}", Button).focus()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        self.action_feed((event.button.id or "feed-None")[5:])

    @work(exclusive=True, group="feed-apply")
    async def action_feed(self, feed: str) -> None:
        ctx = console_context(self)
        try:
            await ctx.core.devices.update_settings(ctx.principal, self.hex_id,
                                                         {"feed": feed})
        except EnertegError as exc:
            show_error_line(self.query_one("#error", Static), exc)
            return
        self.app.notify(f"PDU {self.hex_id} is now on feed {feed}", title="Power feed")
        self.dismiss(feed)

    def action_cancel(self) -> None:
        self.dismiss(None)


# ---------------------------------------------------------------------- builders
DEVICE_COLUMNS = (
    Column("name", "Name", 20, "left"),
    Column("hex", "Hex id", 6, "left"),
    Column("feed", "Feed", 4, "left"),
    Column("where", "Now in", 34, "left"),
)
"""Columns of the PDU list in the assign dialog."""

RACK_COLUMNS = (
    Column("path", "Rack", 50, "left"),
    Column("count", "PDUs", 4),
    Column("mark", "", 8, "left"),
)
"""Columns of the rack list in the rack dialog."""

UNASSIGNED = "-"
"""Key of the "Unassigned" row of the rack dialog."""


def assign_to_rack_dialog(node: Any, rack_id: int) -> ChoiceDialog:
    """The dialog that puts a PDU (unassigned ones listed first) into rack ``rack_id``.

    Raises:
        NotFound: the rack does not exist (any more).
        Invalid: the element is a room or a row.
    """
    ctx = console_context(node)
    c = ctx.core
    s = c.structure
    rack = s.get(rack_id)
    if rack.kind is not Kind.RACK:
        raise Invalid(f'PDUs are placed in racks, not in {rack.kind.value} "{rack.name}"',
                      thing="rack", value=rack_id, allowed="a rack")
    path = s.path(rack)
    free: list[Choice] = []
    placed: list[Choice] = []
    for live in c.live.ordered():
        if c.devices.rack_of(live.hex_id) == rack_id:
            continue
        unassigned = c.devices.rack_of(live.hex_id) is None
        where = s.location_of(live.hex_id)
        info = live.info
        (free if unassigned else placed).append(Choice(
            live.hex_id,
            {"name": info.display_name, "hex": live.hex_id, "feed": info.settings.feed.value,
             "where": Text(where, style="bold") if unassigned else where},
            " ".join((info.display_name, live.hex_id, where, info.identification.serial))))
    choices = free + placed

    async def apply(hex_id: str) -> str:
        await c.structure.assign(ctx.principal, hex_id, rack_id)
        live = c.live.get(hex_id)
        name = live.info.display_name if live else hex_id
        return f'PDU "{name}" ({hex_id}) assigned to {path}'

    return ChoiceDialog(
        "Assign a PDU", f'Put which PDU into rack "{path}"? Unassigned PDUs are listed first;'
        " a PDU in another rack moves here.", DEVICE_COLUMNS, choices, apply=apply)


def rack_choice_dialog(node: Any, hex_id: str) -> ChoiceDialog:
    """The dialog that puts PDU ``hex_id`` into a rack, or takes it out of its rack.

    Raises:
        NotFound: the PDU is not known.
    """
    ctx = console_context(node)
    c = ctx.core
    s = c.structure
    live = c.devices.get(hex_id)
    current = c.devices.rack_of(hex_id)
    choices = [Choice(UNASSIGNED, {"path": Text("Unassigned (in no rack)", style="bold"),
                                   "count": str(len(s.unassigned())),
                                   "mark": "◀ now" if current is None else ""},
                      "unassigned none")]
    for rack in s.elements(Kind.RACK):
        path = s.path(rack)
        choices.append(Choice(str(rack.id), {"path": path, "count": str(len(s.devices_in(rack.id))),
                                             "mark": "◀ now" if rack.id == current else ""},
                              path))
    name = live.info.display_name

    async def apply(key: str) -> str:
        rack_id = None if key == UNASSIGNED else int(key)
        await c.structure.assign(ctx.principal, hex_id, rack_id)
        where = s.path(rack_id) if rack_id is not None else "no rack (unassigned)"
        return f'PDU "{name}" ({hex_id}) is now in {where}'

    where = s.location_of(hex_id)
    return ChoiceDialog(
        "Rack of a PDU", f'PDU "{name}" ({hex_id}) is in {where}. Put it into which rack?',
        RACK_COLUMNS, choices, apply=apply)

