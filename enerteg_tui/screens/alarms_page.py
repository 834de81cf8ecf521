"""The open alarms page (manual §9.1): every alarm an operator still has to look at.

The table lists the open alarms (active, or inactive but not yet acknowledged) with
the manual's columns: time, state, severity, device & location, acknowledged, and the
description spelled out below the highlighted row. ``s`` cycles the severity filter
(every severity, Warning, Critical), ``f`` the state filter (the manual's four combinations of
active/inactive and acknowledged/unacknowledged; "inactive, acknowledged" alarms are
closed, so that view reads the alarm history), ``o`` the sort order. ``space`` marks
rows, ``a`` acknowledges the marked rows (or the highlighted one) with one comment,
enter jumps to the alarm's device with the alarm's channel selected.

The list is the alarm service's own (``AlarmService.open_alarms``), redrawn on every
``alarm`` event, so it agrees with the header counters and the tree colours at every
moment. Acknowledging goes through ``AlarmService.acknowledge`` (``ack-alarm`` is
checked there and the key is hidden for roles without it); each refusal is shown in
the core's words and stops nothing else.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.widgets import Static

from ..core.alarms import CONDITION_RULE, Alarm, AlarmFilter
from ..core.element_rules import element_of
from ..core.errors import EnertegError
from ..core.alarm_texts import shown as alarm_text
from ..core.i18n import N_, _, ngettext
from ..core.events import Batch
from ..core.permissions import Action
from ..core.vocabulary import LEVELS
from .cells import severity_rank, severity_text, table_time, time_heading
from .forms import FormDialog, FormField
from .listtable import ListTable
from .livetable import Column, LiveTable, Row
from .page import Page, PageTitle
from .tree import Place

if TYPE_CHECKING:
    from .device_view import DevicePage

__all__ = ["COLUMNS", "SEVERITY_FILTERS", "SORTS", "STATE_FILTERS", "AlarmsPage"]

COLUMNS = (
    Column("mark", "✓", 1, "left"),
    Column("time", "Time (UTC)", 14, "left"),
    Column("state", "State", 8, "left"),
    Column("severity", "Severity", 8, "left"),
    Column("ack", "Ack", 3, "left"),
    Column("device", "Device & location", 34, "left"),
    Column("text", "Description", 120, "left"),
)
"""Alarm table columns: the manual's, with the description last (it is also shown in
full under the table, so at 80 columns nothing essential is cut off)."""

SEVERITY_FILTERS: dict[str, tuple[str, set[str] | None]] = {
    "all": (N_("every severity"), None),
    "warnings": (N_("Warning only"), {"Warning"}),
    "alerts": (N_("Critical only"), {"Critical"}),
}
"""``s`` cycles these: the manual's selection box (all, only warnings, only alerts),
named with the severity words of ``core.vocabulary``."""

STATE_FILTERS: dict[str, tuple[str, bool | None, bool | None]] = {
    "open": (N_("open"), None, None),
    "active-unacked": (N_("active, unacknowledged"), True, False),
    "active-acked": (N_("active, acknowledged"), True, True),
    "inactive-unacked": (N_("inactive, unacknowledged"), False, False),
    "inactive-acked": (N_("inactive, acknowledged (history)"), False, True),
}
"""``f`` cycles these: every open alarm, then the manual's four combinations of
(active, acknowledged)."""

SORTS: dict[str, str] = {"time": N_("newest first"), "severity": N_("Critical first"),
                         "device": N_("by device")}
"""``o`` cycles these sort orders."""

HISTORY_ROWS = 500
"""Closed alarms read from the history for the "inactive, acknowledged" view."""



class AlarmsPage(Page):
    """The open alarms: filter, sort, mark, acknowledge, jump to the device."""

    LIVE_KINDS = ("alarm", "structure")
    LIVE_VALUES = False
    """Alarm events carry every change of an alarm (raised, peak, cleared, acked)."""

    TERMS: ClassVar[tuple[tuple[str, str], ...]] = tuple(
        (f"Severity {lv.word}", lv.meaning) for lv in LEVELS if lv.alarm)
    """What the Severity column says, for the help screen."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("a", "acknowledge", "Acknowledge"),
        Binding("space", "mark", "Mark"),
        Binding("s", "severity", "Severity"),
        Binding("f", "state", "Filter"),
        Binding("o", "sort", "Sort"),
        Binding("g", "goto", "Go to device"),
    ]
    """Keys; acknowledging is hidden for roles without ``ack-alarm``."""

    NOTIFY_TITLE = "Alarms"

    DEFAULT_CSS = """
    AlarmsPage LiveTable { height: 1fr; }
    AlarmsPage #filters { height: 1; padding: 0 1; color: $text-muted; }
    AlarmsPage #detail { height: auto; max-height: 6; padding: 0 1;
                         border-top: hkey $panel-lighten-2; }
    AlarmsPage #message { height: auto; padding: 0 1; }
    AlarmsPage #message.-error { color: $error; text-style: bold; }
    """

    def __init__(self, ref: str | None = None) -> None:
        super().__init__()
        self.place = Place("alarms")
        self.severity = "all"
        self.state = "open"
        self.sort = "time"
        self.marked: set[int] = set()
        self._alarms: dict[int, Alarm] = {}
        self._history: list[Alarm] | None = None
        """Closed alarms read for the "inactive, acknowledged" view (None: not read)."""

    def compose(self) -> ComposeResult:
        yield PageTitle("", id="title")
        yield Static("", id="filters")
        yield ListTable(COLUMNS, id="alarms", descending=("time",))
        yield Static("", id="detail")
        yield Static("", id="message")

    def on_mount(self) -> None:
        self._fill()
        self.listen()

    def focus_first(self) -> None:
        self.table.focus(scroll_visible=False)

    @property
    def table(self) -> LiveTable:
        """The alarm table."""
        return self.query_one("#alarms", LiveTable)

    # ------------------------------------------------------------------ filling
    def _filter(self) -> AlarmFilter:
        _label, active, acked = STATE_FILTERS[self.state]
        return AlarmFilter(active=active, acked=acked, severities=SEVERITY_FILTERS[self.severity][1])

    def alarms(self) -> list[Alarm]:
        """The alarms shown, filtered and sorted as chosen."""
        if self.state == "inactive-acked":
            sev = SEVERITY_FILTERS[self.severity][1]
            out = [a for a in self._history or [] if not sev or a.severity in sev]
        else:
            out = self.ctx.core.alarms.open_alarms(self._filter())
        if self.sort == "severity":
            out.sort(key=lambda a: (a.active, a.severity == "Critical", a.start), reverse=True)
        elif self.sort == "device":
            out.sort(key=lambda a: (a.device_name or a.device).lower())
        return out

    def _location(self, alarm: Alarm) -> str:
        if alarm.device == "ring":
            return "databus ring"
        if element_of(alarm.device) is not None:
            return f"{alarm.device_name or alarm.device} · " + _("its own totals")
        name = alarm.device_name or alarm.device
        where = self.ctx.core.structure.location_of(alarm.device)
        return f"{name} · {where}" if where else name

    def _row(self, alarm: Alarm) -> Row:
        return Row(key=alarm.id, cells={
            "mark": "✓" if alarm.id in self.marked else "",
            "time": table_time(self.ctx.core.config, alarm.start),
            "state": Text(_("Active") if alarm.active else _("Inactive"),
                          style="bold" if alarm.active else "dim"),
            "severity": severity_text(alarm.severity),
            "ack": _("yes") if alarm.acked else _("no"),
            "device": self._location(alarm),
            "text": alarm_text(alarm.text),
        }, style="" if alarm.active else "dim",
            sort={"time": alarm.start, "severity": severity_rank(alarm.severity)})

    def _fill(self) -> None:
        alarms = self.alarms()
        self._alarms = {a.id: a for a in alarms}
        self.marked &= self._alarms.keys()
        rows = [self._row(a) for a in alarms]
        table = self.table
        time_heading(table, self.ctx.core.config)
        table.sync(rows, flash=False)           # keeps the cursor on its alarm
        counts = self.ctx.core.alarms.counts()
        title = Text(_("Alarms"), style="bold")
        title.append(" · " + _("active:") + " ")
        title.append(f"{counts.get('critical', 0)} " + _("Critical"),
                     style="bold red" if counts.get("critical") else "")
        title.append(", ")
        title.append(f"{counts.get('warning', 0)} " + _("Warning"),
                     style="yellow" if counts.get("warning") else "")
        if not self.ctx.may(Action.ACK_ALARM):
            title.append(" · " + _("read only"), style="yellow")
        self.query_one("#title", PageTitle).update(title)
        shown = _("{count} shown").format(count=len(rows)) + (
            ", " + _("{count} marked").format(count=len(self.marked)) if self.marked else "")
        self.query_one("#filters", Static).update(
            f"{shown} · {_(STATE_FILTERS[self.state][0])} (f) · "
            f"{_(SEVERITY_FILTERS[self.severity][0])} (s) · {_(SORTS[self.sort])} (o)")
        self._describe()

    def _describe(self) -> None:
        detail = self.query_one("#detail", Static)
        row = self.table.current
        if row is None:
            detail.update(_("No alarms match these filters") if self.state != "open"
                          or self.severity != "all" else _("No open alarms: every rule is satisfied"))
            return
        a = self._alarms[int(str(row.key))]
        text = Text()
        text.append(f"#{a.id} ", style="bold")
        text.append_text(severity_text(a.severity))
        text.append(" · " + (_("active since {time}") if a.active else _("inactive since {time}"))
                    .format(time=table_time(self.ctx.core.config, a.start)))
        if a.end is not None:
            text.append(" " + _("until {time}").format(time=table_time(self.ctx.core.config, a.end)))
        text.append(f" · {self._location(a)}\n")
        text.append(alarm_text(a.text))
        if a.acked:
            text.append("\n" + _("Acknowledged by {user} at {time}").format(
                user=a.ack_user, time=table_time(self.ctx.core.config, a.ack_ts)), style="dim")
            if a.ack_comment:
                text.append(f": {a.ack_comment}", style="dim")
        detail.update(text)


    # ------------------------------------------------------------------ events
    def on_live_batch(self, batch: Batch) -> None:
        if any(ev.kind in ("alarm", "structure") for ev in batch.events):
            if self.state == "inactive-acked":
                self._read_history()
            else:
                self._fill()

    def on_live_table_highlighted(self, event: LiveTable.Highlighted) -> None:
        event.stop()
        self._describe()

    def on_live_table_selected(self, event: LiveTable.Selected) -> None:
        event.stop()
        self.action_goto()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """Hide the acknowledge and mark keys from roles without ``ack-alarm``."""
        if action in ("acknowledge", "mark") and not self.ctx.may(Action.ACK_ALARM):
            return False
        return True

    # ------------------------------------------------------------------ actions
    def action_severity(self) -> None:
        """Cycle the severity filter: every severity, Warning only, Critical only."""
        order = list(SEVERITY_FILTERS)
        self.severity = order[(order.index(self.severity) + 1) % len(order)]
        self._fill()

    def action_state(self) -> None:
        """Cycle the state filter through open and the manual's four combinations."""
        order = list(STATE_FILTERS)
        self.state = order[(order.index(self.state) + 1) % len(order)]
        self.marked.clear()
        if self.state == "inactive-acked":
            self._read_history()
        else:
            self._history = None
            self._fill()

    @work(exclusive=True, group="alarm-history")
    async def _read_history(self) -> None:
        ctx = self.ctx
        try:
            self._history = await ctx.core.alarms.query(
                ctx.principal, AlarmFilter(active=False, acked=True), limit=HISTORY_ROWS)
        except EnertegError as exc:
            self.say_error(exc)
            self._history = []
        if self.is_mounted:
            self._fill()

    def action_sort(self) -> None:
        """Cycle the sort order: newest first, Critical first, by device."""
        order = list(SORTS)
        self.sort = order[(order.index(self.sort) + 1) % len(order)]
        self._fill()

    def action_mark(self) -> None:
        """Mark or unmark the highlighted alarm for acknowledging several at once."""
        table = self.table
        row = table.current
        if row is None:
            return
        self.marked ^= {int(str(row.key))}
        table.cursor_row = min(table.cursor_row + 1, len(table.rows) - 1)
        self._fill()

    def _targets(self) -> list[Alarm]:
        if self.marked:
            return [self._alarms[i] for i in sorted(self.marked) if i in self._alarms]
        row = self.table.current
        return [self._alarms[int(str(row.key))]] if row is not None else []

    def action_acknowledge(self) -> None:
        """Acknowledge the marked alarms, or the highlighted one, with one comment."""
        targets = [a for a in self._targets() if not a.acked]
        if not targets:
            self.say(_("Nothing to acknowledge: the chosen alarms are already acknowledged")
                      if self._targets() else _("Select an alarm first"))
            return
        ctx = self.ctx
        what = (_("Acknowledge alarm #{id}: {text}").format(id=targets[0].id,
                                                             text=alarm_text(targets[0].text))
                if len(targets) == 1 else _("Acknowledge {count} alarms: {ids}").format(
                    count=len(targets), ids=", ".join(f"#{a.id}" for a in targets)))
        done_ids: list[int] = []

        async def submit(values: dict[str, str]) -> str | None:
            for alarm in targets:
                if alarm.id in done_ids:
                    continue
                try:
                    await ctx.core.alarms.acknowledge(ctx.principal, alarm.id,
                                                           values["comment"])
                except EnertegError as exc:
                    return str(exc)
                done_ids.append(alarm.id)
            return None

        def closed(ok: bool | None) -> None:
            if done_ids:
                self.marked.difference_update(done_ids)
                self.say(ngettext("Acknowledged {count} alarm: {ids}",
                                  "Acknowledged {count} alarms: {ids}", len(done_ids)).format(
                    count=len(done_ids), ids=", ".join(f"#{i}" for i in done_ids)))
            if self.state == "inactive-acked":
                self._read_history()
            else:
                self._fill()

        self.app.push_screen(FormDialog(
            _("Acknowledge"), [FormField("comment", _("Comment (optional, kept with the alarm "
                                                    "and in the audit log)"),
                                         placeholder=_("e.g. load moved"))],
            submit, ok="Acknowledge", intro=what), closed)

    def action_goto(self) -> None:
        """Open the alarm's device with its channel selected."""
        row = self.table.current
        if row is None:
            self.say("Select an alarm first")
            return
        alarm = self._alarms[int(str(row.key))]
        if alarm.rule_name == CONDITION_RULE:
            self.say("This alarm is about the controller itself (no PDU to open): "
                     + alarm.text)
            return
        if alarm.device == "ring":
            self.say("This alarm is about the databus ring, not one PDU: the header shows "
                      "the ring's state")
            return
        self.app.call_later(self._goto, alarm)

    async def _goto(self, alarm: Alarm) -> None:
        app = self.app
        eid = element_of(alarm.device)
        if eid is not None:           # an alarm on an element's totals: its dashboard
            await app.open_place(Place("element", eid))  # type: ignore[attr-defined]
            return
        await app.open_place(Place("device", alarm.device))  # type: ignore[attr-defined]
        page = self.ctx_page(app)
        if page is not None and alarm.component:
            page.focus_channel(alarm.component, alarm.index, alarm.quantity)

    @staticmethod
    def ctx_page(app: object) -> DevicePage | None:
        """The device page the app shows now, if it shows one."""
        from .device_view import DevicePage

        main = getattr(app, "main", None)
        if main is None:
            return None
        host = main.query_one("#page")
        page = host.children[0] if host.children else None
        return page if isinstance(page, DevicePage) else None

