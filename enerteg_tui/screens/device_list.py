"""The device list (manual chapter 8): every PDU, alarmed first, searchable and sortable.

Filters all / assigned / unassigned; ``/`` finds devices by name, hex id, serial,
location and the names of their outlets, inputs, branches and sensors (manual §8:
"search devices, ports and chain names"); ``>`` sorts by load (% of the rating) and
power first, then any column, or a click on a header. Per device a load bar (highest
phase current against the rating), power, state and stale markers. The list is a
``ListTable``: on live changes only the rows of devices that changed are repainted; a
device's state change re-sorts (alarmed devices move to the top). The columns operators
sort by (load, power) come right after the name, so they stay visible at 80 columns.
Space marks PDUs; ``u`` switches the marked ones (or the highlighted one when none is
marked) through the group switching dialog (``group_switching``: impact, confirm,
staggered run).
"""

from __future__ import annotations

from typing import ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal
from textual.widgets import Label

from ..core.i18n import N_, _
from ..core.errors import EnertegError
from ..core.events import Batch
from ..core.live import DeviceLive
from ..core.permissions import Action
from ..core.quantities import Component
from .cells import device_state_text, health_text, load_bar, value
from .listtable import ListTable
from .livetable import Column, LiveTable, Row
from .page import Page, PageTitle
from .queries import DeviceFilter, DeviceSort, device_health, device_load, list_devices
from .structure_dialogs import rack_choice_dialog
from .tree import Place
from .errors import notify_error

__all__ = ["DeviceListPage"]

_FILTER_WORDS = {"all": N_("all"), "assigned": N_("assigned"), "unassigned": N_("unassigned")}
"""The filter's word in the mode line (``DeviceFilter`` values)."""

COLUMNS = (
    Column("state", "St", 2, "left"),
    Column("name", "Name", 18, "left", cut="middle"),
    Column("load", "Load", 12, "left"),
    Column("power", "Power", 9),
    Column("current", "Current", 8),
    Column("hex", "Hex id", 6, "left"),
    Column("type", "Type", 18, "left", cut="middle"),
    Column("outlets", "Out", 3),
    Column("feed", "Feed", 4, "left"),
    Column("run", "State", 8, "left"),
    Column("pos", "Pos", 3),
    Column("where", "Location", 24, "left", cut="middle"),
)
"""Device list columns; the first ones matter most at 80 columns (name, load, power)."""

SORT_ORDER = ("load", "power", "current", "state", "name", "type", "hex", "outlets", "feed",
              "run", "pos", "where")
"""What ``>`` steps through after the alarmed-first order: load and power first."""

LOAD_BAR = 5
"""Cells of the load bar (``[###  ] 62%`` fits the 12-cell column)."""


class DeviceListPage(Page):
    """All devices with filter, search and sort; enter opens the device view."""

    LIVE_KINDS = ("device", "structure")

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("f", "cycle_filter", "Show"),
        Binding("a", "assign", "Rack"),
        Binding("u", "switch", "Switch"),
        Binding("space", "mark", "Mark PDU (u switches the marked)", show=False),
    ]

    DEFAULT_CSS = """
    DeviceListPage #controls { height: 1; padding: 0 1; }
    DeviceListPage #controls Label { width: auto; margin-right: 2; }
    DeviceListPage LiveTable { height: 1fr; }
    """

    def __init__(self, *, filter: DeviceFilter = DeviceFilter.ALL,
                 sort: DeviceSort = DeviceSort.ALARM) -> None:
        super().__init__()
        self.filter = filter
        self.sort = sort
        self.place = Place("unassigned") if filter is DeviceFilter.UNASSIGNED else None

    def compose(self) -> ComposeResult:
        yield PageTitle(self.title_text())
        with Horizontal(id="controls"):
            yield Label("", id="mode")
        yield ListTable(COLUMNS, id="devices", sort_order=SORT_ORDER, descending=("load", "state"),
                        detail=True, markable=True,
                        placeholder=_("name, hex id, serial, location, outlet or port name"))

    def title_text(self) -> str:
        return _("Devices")

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
        table = self.query_one(ListTable)
        for hex_id in batch.live:
            live = self.ctx.core.live.get(hex_id)
            if live is not None:
                table.update_row(self._row(live))     # rows filtered out are kept current too

    def _fill(self) -> None:
        c = self.ctx.core
        devices = list_devices(c, filter=self.filter, sort=self.sort)
        self.query_one(ListTable).set_rows([self._row(d) for d in devices])
        self._show_mode(len(devices))

    def _show_mode(self, count: int | None = None) -> None:
        table = self.query_one(ListTable)
        count = table.total if count is None else count
        marked = len(table.marked_keys())
        self.query_one("#mode", Label).update(
            _("Show: {filter} (f) · {count} PDUs · / search · > sort").format(
                filter=_(_FILTER_WORDS[self.filter.value]), count=count)
            + (" · " + _("{count} marked (u switches)").format(count=marked) if marked else ""))

    def _row(self, live: DeviceLive) -> Row:
        c = self.ctx.core
        info = live.info
        current, rated = device_load(live)
        health = device_health(c, live)
        name = Text(info.display_name)
        if live.stale:
            name.stylize("dim")
        power = live.value(Component.TOTAL, 0, "activePower")
        total = live.value(Component.TOTAL, 0, "current")
        s = info.settings
        ports = [o.name for o in s.outlets] + s.input_names + s.branch_names + s.sensor_names
        return Row(
            key=live.hex_id,
            cells={
                "state": health_text(health),
                "name": name,
                "hex": info.hex_id,
                "type": info.model.type_name,
                "outlets": str(info.model.outlets),
                "feed": info.settings.feed.value,
                "current": value("current", total),
                "power": value("activePower", power),
                "load": load_bar(current, rated, LOAD_BAR),
                "run": device_state_text(live),
                "pos": str(info.position),
                "where": c.structure.location_of(live.hex_id),
            },
            sort={"state": int(health),
                  "load": None if current is None or rated <= 0 else current / rated,
                  "power": power, "current": total, "pos": info.position},
            search=" ".join([info.identification.serial, s.location, s.extra_info, *ports]),
        )

    # ------------------------------------------------------------------ events
    def on_live_table_selected(self, event: LiveTable.Selected) -> None:
        event.stop()
        from .device_view import open_device
        open_device(self, str(event.row.key))

    # ------------------------------------------------------------------ actions
    def action_cycle_filter(self) -> None:
        order = list(DeviceFilter)
        self.filter = order[(order.index(self.filter) + 1) % len(order)]
        self._fill()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """``a`` (rack of the PDU) only for roles that may edit the structure; ``u`` and
        space (switch PDUs) only for roles that may switch."""
        if action in ("switch", "mark"):
            return self.ctx.may(Action.SWITCH_ON) or self.ctx.may(Action.SWITCH_OFF)
        return action != "assign" or self.ctx.may(Action.EDIT_STRUCTURE)

    def action_mark(self) -> None:
        """Mark the highlighted PDU for switching, or unmark it."""
        self.query_one(ListTable).toggle_mark()

    def on_live_table_marked(self, event: LiveTable.Marked) -> None:
        event.stop()
        self._show_mode()

    def action_switch(self) -> None:
        """Switch the marked PDUs (the highlighted one when none is marked) as a group:
        the dialog shows the impact, asks, then switches outlet after outlet."""
        from .group_switching import start_group_switch

        table = self.query_one(ListTable)
        hexes = [str(k) for k in table.marked_keys()]
        if not hexes and table.current is not None:
            hexes = [str(table.current.key)]
        if not hexes:
            self.notify(_("No PDU selected"), title=_("Switch"), severity="warning")
            return

        def closed(result: object) -> None:
            if result is not None:          # a run happened: the marks did their job
                table.set_marked(())

        start_group_switch(self, devices=hexes, done=closed)

    def action_assign(self) -> None:
        """Put the highlighted PDU into a rack or take it out (the dialog calls the core)."""
        row = self.query_one(LiveTable).current
        if row is None:
            self.notify(_("No PDU selected"), title=_("Rack"), severity="warning")
            return
        try:
            self.app.push_screen(rack_choice_dialog(self, str(row.key)))
        except EnertegError as exc:
            notify_error(self, exc, "Rack")
