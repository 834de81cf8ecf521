"""The device view (manual §8.2–8.7): tabs Information, Identification, Configuration,
Diagnostics (bus statistics, ``device_diag``).

Information holds the live input, outlet, branch and sensor tables; on a live batch
only the rows of component instances that changed are rebuilt, and each table
repaints only rows that differ. Tab / shift+tab move between the tables. Enter on a
value opens its chart (on an outlet's name or state: its current); ``u`` on an outlet
starts switching (unlock → choose → confirm, see ``switching``); space marks outlets,
and ``u`` with several marked switches them as an outlet group (``group_switching``:
impact, confirm, staggered run); ``i`` makes the PDU
blink; ``f`` forgets a PDU that left the ring (after a confirmation; ``core.retire``). Every command goes through ``core.devices``; refusals show core's text.
"""

from __future__ import annotations

import asyncio
from typing import Any, ClassVar

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.widgets import Label, TabbedContent, TabPane

from ..core.i18n import _
from ..core.errors import EnertegError
from ..core.events import Batch
from ..core.live import DeviceLive
from ..core.quantities import Channel, ChannelKey, Component
from .cells import device_state_text
from .device_config import ConfigForm
from .device_diag import DIAG_COLUMNS, diag_rows
from .device_tables import (
    BRANCH_COLUMNS,
    IDENT_COLUMNS,
    OUTLET_COLUMNS,
    SENSOR_COLUMNS,
    branch_row,
    ident_rows,
    input_columns,
    input_rows,
    outlet_row,
    sensor_row,
)
from .listtable import ListTable
from .livetable import LiveTable
from .page import Page, PageTitle
from .queries import alarmed_channels
from .tree import Place
from .errors import notify_error

__all__ = ["DevicePage", "open_device"]

BLINK_S = 10.0
"""How long Identify makes the PDU's display blink."""


def open_device(node: Any, hex_id: str) -> None:
    """Ask the console to show the device view of ``hex_id``."""
    node.app.call_later(node.app.open_place, Place("device", hex_id))


class SectionLabel(Label):
    """A heading above one of the information tables."""

    DEFAULT_CSS = """
    SectionLabel { text-style: bold; color: $accent; margin-top: 1; padding: 0 1; }
    """


class DevicePage(Page):
    """One PDU: live measurements, identification and configuration."""

    LIVE_KINDS = ("device", "alarm")

    def live_devices(self) -> list[str]:
        """Only this PDU's changes wake the page."""
        return [self.hex_id]

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("i", "identify", "Identify"),
        Binding("u", "unlock", "Switch"),
        Binding("c", "chart", "Chart"),
        Binding("space", "mark", "Mark outlet (u switches the marked)", show=False),
        Binding("f", "forget", "Forget PDU (left the ring) / remove sensor", show=False),
        Binding("1", "tab('info')", "Info", show=False),
        Binding("2", "tab('ident')", "Ident", show=False),
        Binding("3", "tab('config')", "Config", show=False),
        Binding("4", "tab('diag')", "Diagnostics", show=False),
    ]

    DEFAULT_CSS = """
    DevicePage TabbedContent { height: 1fr; }
    DevicePage TabPane { padding: 0; height: 1fr; }
    DevicePage #info-scroll { height: 1fr; }
    DevicePage #ident { height: 1fr; }
    """

    def __init__(self, hex_id: str) -> None:
        super().__init__()
        self.hex_id = hex_id
        self.place = Place("device", hex_id)
        self._form: ConfigForm | None = None
        self._form_ready = asyncio.Event()

    @property
    def live(self) -> DeviceLive:
        """The device's live record (``NotFound`` if it was forgotten)."""
        return self.ctx.core.devices.get(self.hex_id)

    def compose(self) -> ComposeResult:
        live = self.live
        model = live.info.model
        yield PageTitle(self.title_text(), id="title")
        with TabbedContent(id="tabs"):
            with TabPane(_("Information"), id="info"), VerticalScroll(id="info-scroll"):
                yield SectionLabel(_("Inputs"))
                yield LiveTable(input_columns(live), cell_cursor=True, id="inputs")
                if model.outlets:
                    yield SectionLabel(_("Outlets  (u: switch · enter: chart)"))
                    yield ListTable(OUTLET_COLUMNS, cell_cursor=model.metered_outlets,
                                    id="outlets", markable=model.switchable)
                if model.branches:
                    yield SectionLabel(_("Branches"))
                    yield ListTable(BRANCH_COLUMNS, cell_cursor=True, id="branches")
                if live.info.sensors:
                    yield SectionLabel(_("Environment sensors"))
                    yield ListTable(SENSOR_COLUMNS, cell_cursor=True, id="sensors")
            with TabPane(_("Identification"), id="ident"):
                yield LiveTable(IDENT_COLUMNS, id="ident-table")
            with TabPane(_("Configuration"), id="config"):
                yield Label("")  # the form is built when the tab is first shown
            with TabPane(_("Diagnostics"), id="diag"):
                yield LiveTable(DIAG_COLUMNS, id="diag-table")

    def title_text(self) -> Text:
        live = self.live
        info = live.info
        text = Text()
        text.append(f"{info.display_name} ", style="bold")
        text.append(f"({info.hex_id}) ")
        text.append_text(device_state_text(live))
        text.append(f" · {self.ctx.core.structure.location_of(self.hex_id)}"
                    f" · {info.model.type_name} · " + _("ring pos {position}").format(position=info.position))
        return text

    def on_mount(self) -> None:
        self._fill()
        self.listen()

    def focus_first(self) -> None:
        self.query_one("#inputs", LiveTable).focus(scroll_visible=False)

    def unsaved_edits(self) -> tuple[str, int]:
        """Edited, unsaved fields of the Configuration tab (escape asks before leaving)."""
        changed = len(self._form.edits.changed()) if self._form is not None else 0
        return f"Configuration of PDU {self.hex_id}", changed

    # ------------------------------------------------------------------ filling
    def _fill(self) -> None:
        live = self.live
        alarmed = alarmed_channels(self.ctx.core, self.hex_id)
        self.query_one("#inputs", LiveTable).set_rows(input_rows(live, alarmed))
        model = live.info.model
        if model.outlets:
            self.query_one("#outlets", LiveTable).set_rows(
                [outlet_row(live, n, alarmed) for n in range(1, model.outlets + 1)])
        if model.branches:
            self.query_one("#branches", LiveTable).set_rows(
                [branch_row(live, n, alarmed) for n in range(1, model.branches + 1)])
        if live.info.sensors:
            self.query_one("#sensors", LiveTable).set_rows(
                [sensor_row(live, n, alarmed) for n in range(1, len(live.info.sensors) + 1)])
        self.query_one("#ident-table", LiveTable).set_rows(ident_rows(live))
        self._fill_diag(live)

    def _fill_diag(self, live: DeviceLive) -> None:
        """The Diagnostics tab (only while it is shown: its figures change every poll)."""
        if self.query_one(TabbedContent).active == "diag":
            self.query_one("#diag-table", LiveTable).set_rows(
                diag_rows(live, self.ctx.core.clock(), self.ctx.core.config))

    def on_live_batch(self, batch: Batch) -> None:
        live = self.ctx.core.live.get(self.hex_id)
        if live is None:
            return
        groups = batch.live.get(self.hex_id, set())
        if self.hex_id in batch.live or self.hex_id in batch.devices:
            self._fill_diag(live)
        state_changed = self.hex_id in batch.devices or any(
            ev.subject == self.hex_id or ev.kind == "alarm" for ev in batch.events)
        if state_changed:
            self.query_one("#title", PageTitle).update(self.title_text())
        if not groups and not state_changed:
            return
        alarmed = alarmed_channels(self.ctx.core, self.hex_id)
        comps = {c for c, _ in groups}
        if comps & {Component.INPUT, Component.TOTAL} or state_changed:
            table = self.query_one("#inputs", LiveTable)
            for row in input_rows(live, alarmed):
                table.update_row(row)
        model = live.info.model
        if model.outlets:
            table = self.query_one("#outlets", LiveTable)
            every = state_changed or (Component.OUTLET, 0) in groups
            for n in range(1, model.outlets + 1):
                if every or (Component.OUTLET, n) in groups:
                    table.update_row(outlet_row(live, n, alarmed))
        if model.branches:
            table = self.query_one("#branches", LiveTable)
            for n in range(1, model.branches + 1):
                if state_changed or (Component.BRANCH, n) in groups:
                    table.update_row(branch_row(live, n, alarmed))
        if live.info.sensors:
            table = self.query_one("#sensors", LiveTable)
            for n in range(1, len(live.info.sensors) + 1):
                if state_changed or (Component.SENSOR, n) in groups:
                    table.update_row(sensor_row(live, n, alarmed))

    # ------------------------------------------------------------------ events
    def on_live_table_selected(self, event: LiveTable.Selected) -> None:
        # enter means one thing in every table, as the outlet table's hint says: the
        # chart of the value (of the row's first value on a name or state cell);
        # switching stays behind its own key, u, and its confirmation
        event.stop()
        key = event.row.channels.get(event.column) if event.column else None
        if key is None and event.row.channels:
            key = next(iter(event.row.channels.values()))
        if key is None:
            hint = " (u switches it)" if event.table.id == "outlets" else ""
            self.notify(f"This row has no measured value to chart{hint}", title="Chart")
            return
        self._chart(Channel(self.hex_id, key.component, key.index, key.quantity))

    def focus_channel(self, component: str, index: int, quantity: str) -> bool:
        """Select the cell of a channel (an alarm's) in the Information tab; False if absent."""
        try:
            want = ChannelKey(Component(component), int(index), quantity)
        except ValueError:
            return False
        for table in self.query("#info-scroll LiveTable").results(LiveTable):
            for y, row in enumerate(table.rows):
                for col, key in row.channels.items():
                    if key != want:
                        continue
                    table.focus()
                    table.cursor_row = y
                    cols = [c.key for c in table.columns]
                    if table.cell_cursor and col in cols:
                        table.cursor_col = cols.index(col)
                    return True
        return False

    def _chart(self, channel: Channel) -> None:
        from .chart import ChartScreen
        self.app.push_screen(ChartScreen(channel))

    def _switch(self, outlet: int) -> None:
        from .switching import start_switch
        start_switch(self, self.hex_id, outlet)

    # ------------------------------------------------------------------ actions
    async def on_tabbed_content_tab_activated(self, event: TabbedContent.TabActivated) -> None:
        if event.pane.id == "config":
            await self._config_form()
        elif event.pane.id == "diag":
            self._fill_diag(self.live)

    async def _config_form(self) -> ConfigForm:
        """The configuration form, built on first use (it has dozens of inputs)."""
        if self._form is None:
            self._form = ConfigForm(self.hex_id)
            pane = self.query_one("#config", TabPane)
            await pane.remove_children()
            await pane.mount(self._form)
            self._form_ready.set()
        await self._form_ready.wait()
        return self._form

    async def action_tab(self, tab: str) -> None:
        """Show a tab and move the focus into it (focus decides the active tab)."""
        self.query_one(TabbedContent).active = tab
        if tab == "config":
            form = await self._config_form()
            form.query_one("#f-name").focus(scroll_visible=False)
        else:
            table = {"info": "#inputs", "ident": "#ident-table", "diag": "#diag-table"}[tab]
            self.query_one(table).focus(scroll_visible=False)

    @work(exclusive=True, group="identify")
    async def action_identify(self) -> None:
        try:
            await self.ctx.core.devices.blink(self.ctx.principal, self.hex_id, BLINK_S)
        except EnertegError as exc:
            notify_error(self, exc, "Identify refused")
            return
        self.notify(f"PDU {self.hex_id} blinks for {BLINK_S:g} s", title="Identify")

    def action_forget(self) -> None:
        """Forget this PDU if it left the ring, or (on the sensor table) remove the selected
        disconnected sensor: refusal at once, else ask, then do it."""
        from .dialogs import ConfirmDialog

        core, principal = self.ctx.core, self.ctx.principal
        focused = self.app.focused
        if isinstance(focused, LiveTable) and focused.id == "sensors" and focused.current:
            index = int(focused.current.key)  # type: ignore[arg-type]
            try:
                name = core.devices.check_sensor_removable(principal, self.hex_id, index)
            except EnertegError as exc:
                notify_error(self, exc, "Remove sensor refused")
                return

            def remove(yes: bool | None) -> None:
                if yes:
                    self._remove_sensor(index)

            self.app.push_screen(ConfirmDialog(
                f'Remove disconnected sensor {index} "{name}" of PDU {self.hex_id}?\n\nIts '
                "open alarms are closed; its history is kept; its number stays taken.",
                yes="Remove", no="Keep", title="Remove sensor"), remove)
            return
        try:
            live = core.devices.check_forgettable(principal, self.hex_id)
        except EnertegError as exc:
            notify_error(self, exc, "Forget refused")
            return
        question = (f'Forget PDU "{live.info.display_name}" ({self.hex_id})?\n\nIt left the '
                    "ring. Its open alarms are closed and it leaves the device list; its "
                    "history stays reportable. If it comes back it is found as a new PDU.")

        def done(yes: bool | None) -> None:
            if yes:
                self._forget()

        self.app.push_screen(ConfirmDialog(question, yes="Forget", no="Keep",
                                           title="Forget PDU"), done)

    @work(exclusive=True, group="forget")
    async def _remove_sensor(self, index: int) -> None:
        try:
            done = await self.ctx.core.retire.remove_sensor(self.ctx.principal, self.hex_id, index)
        except EnertegError as exc:
            notify_error(self, exc, "Remove sensor refused")
            return
        self.notify(f'Sensor {index} "{done.name}" removed; {done.alarms_closed} alarm(s) '
                    "closed", title="Remove sensor")

    @work(exclusive=True, group="forget")
    async def _forget(self) -> None:
        try:
            done = await self.ctx.core.retire.forget_pdu(self.ctx.principal, self.hex_id)
        except EnertegError as exc:
            notify_error(self, exc, "Forget refused")
            return
        self.app.notify(f'PDU "{done.name}" ({done.hex_id}) forgotten; '
                        f"{done.alarms_closed} alarm(s) closed", title="Forget PDU")
        # not awaited here: showing the site removes this page, which waits for this worker
        self.app.call_later(self.app.open_place, Place("site"))  # type: ignore[attr-defined]

    def action_mark(self) -> None:
        """Mark the outlet under the cursor of the outlet table for group switching."""
        focused = self.app.focused
        if isinstance(focused, LiveTable) and focused.id == "outlets" and focused.markable:
            focused.toggle_mark()
            marked = len(focused.marked_keys())
            if marked:
                self.notify(f"{marked} outlet(s) marked; u switches them", title="Switch")
        elif self.live.info.model.switchable and self.live.info.model.outlets:
            self.notify("Space marks outlets in the outlet table", title="Switch")

    def action_unlock(self) -> None:
        if not self.live.info.model.outlets:
            self.notify("This PDU has no outlets", severity="warning")
            return
        table = self.query_one("#outlets", LiveTable)
        marked = [int(k) for k in table.marked_keys()]  # type: ignore[call-overload]
        if len(marked) > 1:
            from .group_switching import start_group_switch

            def closed(result: object) -> None:
                if result is not None:      # a run happened: the marks did their job
                    table.set_marked(())

            start_group_switch(self, outlets=[(self.hex_id, n) for n in marked], done=closed)
            return
        if marked:
            self._switch(marked[0])
            return
        row = table.current
        if not table.has_focus or row is None:
            table.focus()
            self.notify("Select an outlet in the outlet table, then press u", title="Switch")
            return
        self._switch(int(row.key))  # type: ignore[arg-type]

    def action_chart(self) -> None:
        focused = self.app.focused
        if not isinstance(focused, LiveTable) or focused.current is None:
            self.notify("Select a value in a table first", title="Chart")
            return
        row = focused.current
        col = focused.columns[focused.cursor_col].key if focused.cursor_col >= 0 else None
        key = row.channels.get(col) if col else None
        if key is None and row.channels:
            key = next(iter(row.channels.values()))
        if key is None:
            self.notify("This row has no measured value", title="Chart")
            return
        self._chart(Channel(self.hex_id, key.component, key.index, key.quantity))
