"""The device list (manual chapter 8): every PDU, alarmed first, searchable and sortable.

Filters all / assigned / unassigned, incremental search over name, hex id, serial and
location, sort by alarm state, name, type and chain position; per device a load bar
(highest phase current against the rating), state and stale markers. The list is a
``LiveTable``: on live changes only the rows of devices that changed are repainted;
a device's state change re-sorts (alarmed devices move to the top).
"""

from __future__ import annotations

from typing import ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal
from textual.widgets import Input, Label

from ..core.errors import EnertegError
from ..core.events import Batch
from ..core.live import DeviceLive
from ..core.permissions import Action
from ..core.quantities import Component
from .cells import device_state_text, health_text, load_bar, value
from .livetable import Column, LiveTable, Row
from .page import Page, PageTitle
from .queries import DeviceFilter, DeviceSort, device_health, device_load, list_devices
from .structure_dialogs import rack_choice_dialog
from .tree import Place
from .errors import notify_error

__all__ = ["DeviceListPage"]

COLUMNS = (
    Column("state", "St", 2, "left"),
    Column("name", "Name", 18, "left"),
    Column("hex", "Hex id", 6, "left"),
    Column("type", "Type", 18, "left"),
    Column("outlets", "Out", 3),
    Column("feed", "Feed", 4, "left"),
    Column("current", "Current", 8),
    Column("load", "Load", 17, "left"),
    Column("run", "State", 8, "left"),
    Column("pos", "Pos", 3),
    Column("where", "Location", 24, "left"),
)
"""Device list columns; the first ones matter most at 80 columns."""


class DeviceListPage(Page):
    """All devices with filter, search and sort; enter opens the device view."""

    LIVE_KINDS = ("device", "structure")

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("f", "cycle_filter", "Filter"),
        Binding("s", "cycle_sort", "Sort"),
        Binding("slash", "search", "Search"),
        Binding("a", "assign", "Rack"),
    ]

    DEFAULT_CSS = """
    DeviceListPage #controls { height: 1; padding: 0 1; }
    DeviceListPage #controls Label { width: auto; margin-right: 2; }
    DeviceListPage #search { height: 1; border: none; width: 1fr; padding: 0; }
    DeviceListPage LiveTable { height: 1fr; }
    """

    def __init__(self, *, filter: DeviceFilter = DeviceFilter.ALL,
                 sort: DeviceSort = DeviceSort.ALARM) -> None:
        super().__init__()
        self.filter = filter
        self.sort = sort
        self.search = ""
        self.place = Place("unassigned") if filter is DeviceFilter.UNASSIGNED else None

    def compose(self) -> ComposeResult:
        yield PageTitle(self.title_text())
        with Horizontal(id="controls"):
            yield Label("", id="mode")
            yield Input(placeholder="/ search name, hex id, serial, location", id="search")
        yield LiveTable(COLUMNS, id="devices")

    def title_text(self) -> str:
        return "Devices"

    def on_mount(self) -> None:
        self._fill()
        self.listen()

    def focus_first(self) -> None:
        self.query_one(LiveTable).focus(scroll_visible=False)

    # ------------------------------------------------------------------ live
    def on_live_batch(self, batch: Batch) -> None:
        if batch.devices or batch.events:
            self._fill()
            return
        table = self.query_one(LiveTable)
        for hex_id in batch.live:
            live = self.ctx.core.live.get(hex_id)
            if live is not None and hex_id in table._index:
                table.update_row(self._row(live))

    def _fill(self) -> None:
        c = self.ctx.core
        devices = list_devices(c, filter=self.filter, search=self.search, sort=self.sort)
        self.query_one(LiveTable).set_rows([self._row(d) for d in devices])
        self.query_one("#mode", Label).update(
            f"Filter: {self.filter.value} · Sort: {self.sort.value} · {len(devices)} PDUs")

    def _row(self, live: DeviceLive) -> Row:
        c = self.ctx.core
        info = live.info
        current, rated = device_load(live)
        health = device_health(c, live)
        name = Text(info.display_name)
        if live.stale:
            name.stylize("dim")
        return Row(
            key=live.hex_id,
            cells={
                "state": health_text(health),
                "name": name,
                "hex": info.hex_id,
                "type": info.model.type_name,
                "outlets": str(info.model.outlets),
                "feed": info.settings.feed.value,
                "current": value("current", live.value(Component.TOTAL, 0, "current")),
                "load": load_bar(current, rated, 10),
                "run": device_state_text(live),
                "pos": str(info.position),
                "where": c.structure.location_of(live.hex_id),
            },
        )

    # ------------------------------------------------------------------ events
    def on_input_changed(self, event: Input.Changed) -> None:
        self.search = event.value
        self._fill()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        self.query_one(LiveTable).focus()

    def on_live_table_selected(self, event: LiveTable.Selected) -> None:
        event.stop()
        from .device_view import open_device
        open_device(self, str(event.row.key))

    # ------------------------------------------------------------------ actions
    def action_cycle_filter(self) -> None:
        order = list(DeviceFilter)
        self.filter = order[(order.index(self.filter) + 1) % len(order)]
        self._fill()

    def action_cycle_sort(self) -> None:
        order = list(DeviceSort)
        self.sort = order[(order.index(self.sort) + 1) % len(order)]
        self._fill()

    def action_search(self) -> None:
        self.query_one("#search", Input).focus()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """``a`` (rack of the PDU) only for roles that may edit the structure."""
        return action != "assign" or self.ctx.may(Action.EDIT_STRUCTURE)

    def action_assign(self) -> None:
        """Put the highlighted PDU into a rack or take it out (the dialog calls the core)."""
        row = self.query_one(LiveTable).current
        if row is None:
            self.notify("No PDU selected", title="Rack", severity="warning")
            return
        try:
            self.app.push_screen(rack_choice_dialog(self, str(row.key)))
        except EnertegError as exc:
            notify_error(self, exc, "Rack")
