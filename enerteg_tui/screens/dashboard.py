"""Dashboards of the site, a room, a row and a rack (manual §6, §7.2.3).

Aggregates per phase and total (current, kW, kVA, kvar, energy, residual and neutral
current) from ``Structure.aggregate``, a load bar per phase against the rated
capacity (sum of the PDUs' ratings), the devices in the element with their state
and per-phase currents, the active alarms of its PDUs and of its own totals (and of
the elements under it), and the thresholds that rules on its own totals set. All tables
are ``LiveTable``s; a batch repaints only what changed. A rack's dashboard also shows
its feeds A and B side by side per phase (``feeds.py``).
"""

from __future__ import annotations

from typing import ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.widgets import Label, Static

from ..core.element_rules import element_key
from ..core.errors import EnertegError
from ..core.alarm_texts import shown as alarm_text
from ..core.i18n import N_, _, ngettext
from ..core.evaluation import fmt_num
from ..core.events import Batch
from ..core.live import DeviceLive
from ..core.model import Feed
from ..core.permissions import Action
from ..core.quantities import BY_KEY, POWER_QUANTITIES, Component
from ..core.structure import Aggregate, Kind
from .cells import device_state_text, health_text, load_bar, value
from .listtable import ListTable
from .livetable import Column, LiveTable, Row
from .page import Page, PageTitle, SteadyStatic
from .device_tables import ALARM_STYLE
from .queries import THRESHOLD, active_alarms, device_health, device_load
from .structure_dialogs import assign_to_rack_dialog
from .tree import Place
from .errors import notify_error
from .feeds import feed_columns, feed_rows, feeds_of

__all__ = ["DashboardPage"]

AGG_ROWS = ("current", "activePower", "apparentPower", "reactivePower", "energy",
            "neutralCurrent", "residualCurrent")
"""Aggregate rows; the last two exist only as totals."""

TOTAL_LIMITS = (("criticalBelow", "crit <"), ("warningBelow", "warn <"),
                ("warningAbove", "warn >"), ("criticalAbove", "crit >"))
"""Threshold words of the element-totals section, lowest first."""

ALARMS_SHOWN = 10
"""Active alarms listed on a dashboard; the alarms page lists them all."""

PHASES = (1, 2, 3)
"""Phases shown (single-phase PDUs contribute to L1)."""

AGG_COLUMNS = (
    Column("param", "", 8, "left"),
    Column("L1", "L1", 11),
    Column("L2", "L2", 11),
    Column("L3", "L3", 11),
    Column("total", "Total", 11),
)

AGG_LABELS = {"current": N_("Current"), "activePower": N_("Active"), "apparentPower": N_("Apparent"),
              "reactivePower": N_("Reactive"), "energy": N_("Energy"), "neutralCurrent": N_("Neutral"),
              "residualCurrent": N_("Residual")}
"""Short row labels so the aggregate table fits beside the tree at 80 columns."""
_KIND_DASHBOARD = {"room": N_("Room dashboard"), "row": N_("Row dashboard"),
                   "rack": N_("Rack dashboard")}
_KIND_DEVICES = {"room": N_("Devices in this room"), "row": N_("Devices in this row"),
                 "rack": N_("Devices in this rack")}
_KIND_TOTALS = {"room": N_("Thresholds on this room's totals"),
                "row": N_("Thresholds on this row's totals"),
                "rack": N_("Thresholds on this rack's totals")}
"""Titles per element kind (a whole phrase each: Czech declines the kind's noun)."""

LOAD_COLUMNS = (
    Column("phase", "Phase", 5, "left"),
    Column("current", "Current", 9),
    Column("rated", "Rated", 7),
    Column("bar", "Load", 26, "left"),
)

DEVICE_COLUMNS = (
    Column("state", "St", 2, "left"),
    Column("name", "Name", 18, "left"),
    Column("hex", "Hex id", 6, "left"),
    Column("feed", "Feed", 4, "left"),
    Column("run", "State", 8, "left"),
    Column("total", "Total A", 8),
    Column("L1", "L1 A", 7),
    Column("L2", "L2 A", 7),
    Column("L3", "L3 A", 7),
    Column("load", "Load", 17, "left"),
)


def _kilo(quantity: str, v: float | None) -> str:
    """Power and energy in kilo-units, as a dashboard reads them (kW, kVA, kvar)."""
    if v is None:
        return "—"
    if quantity in POWER_QUANTITIES:
        return f"{v / 1000:.2f} k{BY_KEY[quantity].unit}"
    if quantity == "energy" and abs(v) >= 10000:
        return f"{v / 1000:.2f} MWh"
    return value(quantity, v)


class DashboardPage(Page):
    """Dashboard of one structure element, or of the whole site for ``element_id`` None."""

    LIVE_KINDS = ("device", "structure", "alarm")

    BINDINGS: ClassVar[list[BindingType]] = [Binding("a", "assign", "Assign"),
                                              Binding("g", "dc_chart", "Chart"),
                                              Binding("u", "switch", "Switch")]
    """``a`` on a rack's dashboard assigns a PDU to the rack (structure_dialogs); ``g``
    opens the element's DC chart over 1–30 days (dc_chart); ``u`` switches the outlets of
    a room, row or rack (group_switching)."""

    DEFAULT_CSS = """
    DashboardPage VerticalScroll { height: 1fr; }
    DashboardPage .section { text-style: bold; color: $accent; margin-top: 1; padding: 0 1; }
    DashboardPage #alarms { padding: 0 1; }
    DashboardPage #totals-rules { padding: 0 1; }
    """

    def __init__(self, element_id: int | None = None) -> None:
        super().__init__()
        self.element_id = element_id
        self.place = Place("site") if element_id is None else Place("element", element_id)
        self._feeds: list[Feed] | None = None
        """A rack's feeds shown side by side (``screens/feeds.py``); None elsewhere."""

    def _is_rack(self) -> bool:
        if self.element_id is None:
            return False
        try:
            return self.ctx.core.structure.get(self.element_id).kind is Kind.RACK
        except EnertegError:
            return False

    def compose(self) -> ComposeResult:
        self._feeds = feeds_of(self._devices()) if self._is_rack() else None
        yield PageTitle(self.title_text(), id="title")
        with VerticalScroll():
            yield Label(_("Current & power"), classes="section")
            yield LiveTable(AGG_COLUMNS, id="aggregate")
            if self._feeds is not None:
                yield Label(_("Feeds side by side: current and power per phase"), classes="section")
                yield LiveTable(feed_columns(self._feeds), id="feeds")
            yield Label(_("Load against rated capacity"), classes="section")
            yield LiveTable(LOAD_COLUMNS, id="load")
            yield Label(_("Devices in this element"), classes="section", id="devices-label")
            yield ListTable(DEVICE_COLUMNS, id="devices", descending=("load", "state"))
            yield Label(_("Active alarms"), classes="section")
            yield SteadyStatic(_("No active alarms"), id="alarms")
            if self.element_id is not None:
                yield Label(_("Thresholds on this element's totals"), classes="section",
                            id="totals-label")
                yield Static("", id="totals-rules")

    def title_text(self) -> Text:
        s = self.ctx.core.structure
        text = Text()
        if self.element_id is None:
            text.append(_("Site dashboard"), style="bold")
        else:
            el = s.get(self.element_id)
            text.append(_(_KIND_DASHBOARD[el.kind.value]) + ": ", style="bold")
            text.append(s.path(el))
        agg = s.aggregate(self.element_id)
        text.append("  · " + _("{count} PDU(s)").format(count=agg.devices))
        if agg.stale:
            text.append(", " + _("{count} not running").format(count=agg.stale), style="yellow")
        text.append("  ")
        text.append_text(health_text(agg.health))
        return text

    def on_mount(self) -> None:
        self._fill(full=True)
        self.listen()

    def focus_first(self) -> None:
        self.query_one("#devices", LiveTable).focus(scroll_visible=False)

    # ------------------------------------------------------------------ filling
    def _devices(self) -> list[DeviceLive]:
        c = self.ctx.core
        return [d for h in c.structure.devices_in(self.element_id)
                if (d := c.live.get(h)) is not None]

    def _fill(self, *, full: bool) -> None:
        c = self.ctx.core
        agg = c.structure.aggregate(self.element_id)
        agg_rows = self._agg_rows(agg)
        load_rows = self._load_rows(agg)
        dev_rows = [self._device_row(d) for d in self._devices()]
        tables = [(self.query_one("#aggregate", LiveTable), agg_rows),
                  (self.query_one("#load", LiveTable), load_rows),
                  (self.query_one("#devices", LiveTable), dev_rows)]
        if self._feeds is not None:
            tables.append((self.query_one("#feeds", LiveTable),
                           feed_rows(self._devices(), self._feeds)))
        for table, rows in tables:
            if full:
                table.set_rows(rows)
            else:
                table.sync(rows)
        self.query_one("#title", PageTitle).update(self.title_text())
        if full and self.element_id is not None:
            el = c.structure.get(self.element_id)
            self.query_one("#devices-label", Label).update(_(_KIND_DEVICES[el.kind.value]))
        self.query_one("#alarms", Static).update(self._alarms_text())
        if self.element_id is not None:
            if full:
                kind = c.structure.get(self.element_id).kind.value
                self.query_one("#totals-label", Label).update(_(_KIND_TOTALS[kind]))
            self.query_one("#totals-rules", Static).update(self._totals_text())

    def _totals_text(self) -> Text:
        """Each aggregate channel a rule on this element's totals watches: value, state,
        rule and thresholds (the full story is the rule report of ``dc:<id>``)."""
        assert self.element_id is not None
        c = self.ctx.core
        rows = [ch for ch in c.alarms.evaluator.element_report(self.element_id)
                if ch.get("thresholds")]
        if not rows:
            return Text(_("None. A rule on a room, row or rack with elementTotals on watches its "
                          "own totals (one alarm for the element)."), style="dim")
        text = Text()
        for ch in rows:
            state = str(ch["state"])
            style = {"critical": "bold red", "warning": "yellow", "pending": "yellow"}.get(
                state, "green")
            limits = " ".join(f"{label} {fmt_num(v)}" for key, label in TOTAL_LIMITS
                              if (v := ch["thresholds"].get(key)) is not None)
            text.append(f"{ch['channel']} {value(ch['quantity'], ch['value'])} ")
            text.append(state, style=style)
            text.append(f' · rule {ch["rule"]["id"]} "{ch["rule"]["name"]}" {limits} '
                        f'{ch["unit"]}\n')
        text.rstrip()
        return text

    def _alarms_text(self) -> Text:
        c = self.ctx.core
        subjects = set(c.structure.devices_in(self.element_id)) | {
            element_key(e) for e in c.structure.subtree(self.element_id)}
        alarms = active_alarms(c, subjects)
        if not alarms:
            return Text(_("No active alarms"))
        text = Text()
        for a in alarms[:ALARMS_SHOWN]:
            crit = getattr(a, "severity", "") == "Critical"
            text.append("✖ " if crit else "▲ ", style="bold red" if crit else "yellow")
            text.append(f"{alarm_text(str(getattr(a, 'text', a)))}\n")
        if len(alarms) > ALARMS_SHOWN:
            more = len(alarms) - ALARMS_SHOWN
            text.append(ngettext("… and {count} more", "… and {count} more", more).format(count=more))
        return text

    def _totals_marks(self) -> dict[tuple[str, int, str], str]:
        """(component, index, quantity) of this element's totals → ``Critical``/``Warning``
        while in alarm, ``THRESHOLD`` while a rule on its totals watches it."""
        if self.element_id is None:
            return {}
        out: dict[tuple[str, int, str], str] = {}
        for w in self.ctx.core.alarms.evaluator.element_watches(self.element_id):
            level = abs(w.level)
            out[(w.component, w.index, w.quantity)] = (
                "Critical" if level == 2 else "Warning" if level == 1 else THRESHOLD)
        return out

    def _agg_rows(self, agg: Aggregate) -> list[Row]:
        rows = []
        marks = self._totals_marks()

        def cell(text: str, mark: str | None) -> str | Text:
            if mark is None or not text:
                return text
            if mark == THRESHOLD:                 # watched by a rule on the totals
                return Text.assemble(("◆", "dim"), text)
            return Text(("✖" if mark == "Critical" else "▲") + text,
                        style=ALARM_STYLE.get(mark, "bold"))

        for key in AGG_ROWS:
            cells: dict[str, str | Text] = {"param": _(AGG_LABELS[key])}
            for p in PHASES:
                ph = agg.phases.get(p)
                cells[f"L{p}"] = cell(_kilo(key, ph.get(key)) if ph and key in ph else "",
                                      marks.get(("i", p, key)))
            cells["total"] = cell(_kilo(key, agg.total.get(key)), marks.get(("t", 0, key)))
            rows.append(Row(key=key, cells=cells))
        return rows

    def _load_rows(self, agg: Aggregate) -> list[Row]:
        rows = []
        for p in PHASES:
            rated = agg.rated_a.get(p, 0.0)
            cur = agg.phases.get(p, {}).get("current")
            rows.append(Row(key=p, cells={
                "phase": f"L{p}",
                "current": value("current", cur),
                "rated": f"{rated:g} A" if rated else "—",
                "bar": load_bar(cur, rated, 16) if rated else Text("no PDU on this phase", "dim"),
            }))
        return rows

    def _device_row(self, live: DeviceLive) -> Row:
        c = self.ctx.core
        current, rated = device_load(live)
        cells: dict[str, str | Text] = {
            "state": health_text(device_health(c, live)),
            "name": live.info.display_name,
            "hex": live.hex_id,
            "feed": live.info.settings.feed.value,
            "run": device_state_text(live),
            "total": value("current", live.value(Component.TOTAL, 0, "current")),
            "load": load_bar(current, rated, 10),
        }
        for p in PHASES:
            v = live.value(Component.INPUT, p, "current")
            cells[f"L{p}"] = f"{v:.2f}" if v is not None else ""
        return Row(key=live.hex_id, cells=cells)

    # ------------------------------------------------------------------ events
    def on_live_batch(self, batch: Batch) -> None:
        mine = set(self.ctx.core.structure.devices_in(self.element_id))
        structural = any(ev.kind == "structure" for ev in batch.events)
        if structural or (mine & (set(batch.live) | batch.devices)) or batch.events:
            self._fill(full=False)

    def on_live_table_selected(self, event: LiveTable.Selected) -> None:
        if event.table.id == "devices":
            event.stop()
            from .device_view import open_device
            open_device(self, str(event.row.key))

    # ------------------------------------------------------------------ assign
    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """``a`` only on a rack's dashboard, for roles that may edit the structure; ``u``
        only on an element's dashboard, for roles that may switch."""
        if action == "switch":
            return self.element_id is not None and (
                self.ctx.may(Action.SWITCH_ON) or self.ctx.may(Action.SWITCH_OFF))
        if action != "assign":
            return True
        if self.element_id is None or not self.ctx.may(Action.EDIT_STRUCTURE):
            return False
        try:
            return self.ctx.core.structure.get(self.element_id).kind is Kind.RACK
        except EnertegError:
            return False

    def action_dc_chart(self) -> None:
        """Open the chart of this element (or the site) over days (manual §7.2.3)."""
        from .dc_chart import DCChartScreen

        try:
            self.app.push_screen(DCChartScreen(self.element_id))
        except EnertegError as exc:
            notify_error(self, exc, "Chart")

    def action_switch(self) -> None:
        """Switch the outlets of this room, row or rack (impact, confirm, staggered run)."""
        from .group_switching import start_group_switch

        if self.element_id is not None:
            start_group_switch(self, self.element_id)

    def action_assign(self) -> None:
        """Choose a PDU to put into this rack (the dialog calls ``Structure.assign``)."""
        try:
            self.app.push_screen(assign_to_rack_dialog(self, self.element_id or 0))
        except EnertegError as exc:
            notify_error(self, exc, "Assign")
