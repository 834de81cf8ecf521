"""The rules page (manual §9.2–9.3): the rule list, its changes, and a PDU's rule report.

Without a ref it lists every rule: on/off, scope and target (resolved to names),
measurement and restriction, the four thresholds, hysteresis and minimum duration,
with the highlighted rule spelled out below. ``n`` creates a rule in the manual's
order (``rule_form.RuleForm``), ``e``/enter edits, ``t`` switches a rule on or off,
``d`` deletes after a confirmation, ``r`` opens the rule report of a PDU (or of a
room's, row's or rack's own totals, ``dc:<id>``), ``g`` the report of the highlighted
rule (``rule_report``: what it governs, where a more specific rule overrides it). Built with a
PDU's hex id (``Place("rules", hex_id)``) it shows that PDU's rule report instead:
every channel with its value, state, the one rule that governs it (``RuleService``'s
resolution, computed by ``core.evaluation``) and the absolute thresholds; ``n`` there
starts a rule for the highlighted channel, ``e`` edits the governing rule. Every
change goes through ``core.rules`` (``edit-rules`` is checked there); the keys
that change rules are hidden for roles without it. Live: the list follows ``rules``,
``structure`` and ``device`` events; the report also follows the PDU's values and alarms.
"""

from __future__ import annotations

from typing import Any, ClassVar

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.widgets import Static

from ..core.element_rules import element_key, element_of
from ..core.errors import EnertegError
from ..core.evaluation import fmt_num
from ..core.events import Batch
from ..core.model import Health
from ..core.i18n import _
from ..core.permissions import Action
from ..core.quantities import BY_KEY, format_value
from ..core.rules import STATE_QUANTITIES, Rule
from .dialogs import ConfirmDialog
from .listtable import ListTable
from .livetable import Column, LiveTable, Row
from .page import Page, PageTitle
from .queries import HEALTH_MARK, HEALTH_STYLE
from .rule_form import (
    SHORT,
    THRESHOLDS,
    RuleForm,
    quantity_text,
    restriction_text,
    rule_cells,
    rule_detail,
    scope_text,
    seconds_text,
    threshold_text,
)
from .structure_dialogs import Choice, ChoiceDialog
from .tree import Place

__all__ = ["LIST_COLUMNS", "REPORT_COLUMNS", "REPORT_FILTERS", "RulesPage"]

LIST_COLUMNS = (
    Column("on", "On", 2, "left"),
    Column("id", "Id", 3),
    Column("name", "Name", 18, "left"),
    Column("scope", "Scope", 18, "left"),
    Column("measure", "Measurement", 30, "left"),
    Column("criticalBelow", "Crit <", 8),
    Column("warningBelow", "Warn <", 8),
    Column("warningAbove", "Warn >", 8),
    Column("criticalAbove", "Crit >", 8),
    Column("hyst", "Hyst", 7),
    Column("dur", "Dur", 6),
)
"""Rule list columns: what and where first (they matter most at 80 columns)."""

REPORT_COLUMNS = (
    Column("channel", "Channel", 23, "left"),
    Column("value", "Value", 10),
    Column("state", "State", 9, "left"),
    Column("rule", "Rule", 20, "left"),
    Column("criticalBelow", "Crit <", 9),
    Column("warningBelow", "Warn <", 9),
    Column("warningAbove", "Warn >", 9),
    Column("criticalAbove", "Crit >", 9),
    Column("hyst", "Hyst", 8),
    Column("dur", "Dur", 5),
    Column("alarm", "Alarm", 5),
)
"""Rule report columns: thresholds are absolute (percent rules converted)."""

REPORT_FILTERS: dict[str, str] = {
    "governed": "channels a rule covers",
    "watched": "channels with a threshold on",
    "all": "every channel",
}
"""The report's filter choices (``f`` cycles them)."""

STATE_STYLE: dict[str, str] = {
    "critical": HEALTH_STYLE[Health.CRITICAL], "warning": "yellow", "pending": "yellow",
    "ok": "green", "off": "dim", "no rule": "dim", "no rating": "dim",
}
"""Colour of each report state (shape-free words keep it legible without colour)."""

_CHANGING = ("new", "edit", "toggle", "delete")


class RulesPage(Page):
    """The rule list, or (with a PDU's hex id) that PDU's rule report."""

    LIVE_KINDS = ("rules", "structure", "device", "alarm")

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("n", "new", "New"),
        Binding("e", "edit", "Edit"),
        Binding("t", "toggle", "On/off"),
        Binding("d,delete", "delete", "Delete"),
        Binding("r", "report", "Report"),
        Binding("g", "governs", "Governs"),
        Binding("f", "filter", "Filter"),
        Binding("l", "rule_list", "Rules"),
    ]
    """Keys; those that change rules are hidden for roles without ``edit-rules``."""

    NOTIFY_TITLE = "Rules"

    DEFAULT_CSS = """
    RulesPage LiveTable { height: 1fr; }
    RulesPage #summary { height: 1; padding: 0 1; color: $text-muted; }
    RulesPage #detail { height: auto; padding: 0 1; border-top: hkey $panel-lighten-2; }
    RulesPage #message { height: auto; padding: 0 1; }
    RulesPage #message.-error { color: $error; text-style: bold; }
    """

    def __init__(self, ref: str | None = None) -> None:
        super().__init__()
        self.hex_id = str(ref).strip().lower() if ref is not None else None
        self.report_filter = "governed"
        self._want: int | None = None
        """Rule id to put the cursor on at the next fill (a rule just saved)."""
        self._channels: dict[Any, dict[str, Any]] = {}
        """Report rows by key: the core's channel entries (rule, thresholds, state)."""
        self.element_id = element_of(self.hex_id) if self.hex_id is not None else None
        """Set when the report is of a DC element's own totals (``dc:<id>``)."""
        if self.element_id is not None:
            self.ctx.core.structure.get(self.element_id)  # NotFound, core's words
            self.place = Place("rules", self.hex_id)
        elif self.hex_id is not None:
            self.ctx.core.devices.get(self.hex_id)  # NotFound: "Cannot open", core's words
            self.place = Place("rules", self.hex_id)
        else:
            self.place = Place("rules")

    def live_devices(self) -> list[str]:
        """The report follows its PDU's values; the list needs none."""
        if self.element_id is not None:
            return self.ctx.core.structure.devices_in(self.element_id)
        return [self.hex_id] if self.hex_id else []

    def compose(self) -> ComposeResult:
        yield PageTitle("", id="title")
        if self.hex_id is None:
            yield ListTable(LIST_COLUMNS, id="rules")
        else:
            yield Static("", id="summary")
            yield ListTable(REPORT_COLUMNS, id="report")
        yield Static("", id="detail")
        yield Static("", id="message")

    def on_mount(self) -> None:
        self._fill()
        self.listen()

    def focus_first(self) -> None:
        self.table.focus(scroll_visible=False)

    @property
    def table(self) -> LiveTable:
        """The list or report table."""
        return self.query_one(LiveTable)

    # ------------------------------------------------------------------ filling
    def _fill(self) -> None:
        if self.hex_id is None:
            self._fill_list()
        else:
            self._fill_report()

    def _fill_list(self) -> None:
        rules = self.ctx.core.rules.all()
        table = self.table
        table.set_rows([Row(key=r.id, cells=rule_cells(self.ctx.core, r),
                            style="" if r.doc.enabled else "dim") for r in rules])
        keys = [r.key for r in table.rows]
        if self._want is not None and self._want in keys:
            table.cursor_row = keys.index(self._want)
            self._want = None
        on = sum(1 for r in rules if r.doc.enabled)
        title = Text(_("Rules"), style="bold")
        title.append(f" · {len(rules)} rule{'' if len(rules) == 1 else 's'}, {on} on"
                     " · the most specific one governs")
        if not self.ctx.may(Action.EDIT_RULES):
            title.append(" · read only", style="yellow")
        self.query_one("#title", PageTitle).update(title)
        self._describe()

    def _report(self) -> dict[str, Any]:
        assert self.hex_id is not None
        return self.ctx.core.alarms.report(self.ctx.principal, self.hex_id)

    def _report_rows(self, report: dict[str, Any]) -> list[Row]:
        rows = []
        for ch in report["channels"]:
            rule = ch.get("rule")
            thresholds = ch.get("thresholds")
            if self.report_filter == "governed" and rule is None:
                continue
            if self.report_filter == "watched" and not thresholds:
                continue
            rows.append(self._channel_row(ch))
        return rows

    def _channel_row(self, ch: dict[str, Any]) -> Row:
        q = ch["quantity"]
        unit = ch.get("unit", "")
        value = ch.get("value")
        if q in STATE_QUANTITIES:
            shown = "—" if value is None else ("yes" if value else "no")
        else:
            shown = format_value(q, value) if q in BY_KEY else str(value)
        state = str(ch.get("state", ""))
        rule = ch.get("rule")
        cells: dict[str, str | Text] = {
            "channel": ch["channel"],
            "value": shown,
            "state": Text(state, style=STATE_STYLE.get(state, "")),
            "rule": f"{rule['id']} {rule['name']}" if rule else "—",
            "hyst": "", "dur": "", "alarm": "",
        }
        thresholds = ch.get("thresholds") or {}
        for key, _label in THRESHOLDS:
            v = thresholds.get(key)
            cells[key] = "—" if v is None else f"{fmt_num(v)} {unit}".rstrip()
        if thresholds:
            cells["hyst"] = f"{fmt_num(ch.get('hysteresis', 0.0))} {unit}".rstrip()
            cells["dur"] = seconds_text(float(ch.get("minDurationSeconds", 0.0)))
            cells["alarm"] = str(ch["alarm"]) if ch.get("alarm") is not None else ""
        key = (ch["component"], ch["index"], q)
        self._channels[key] = ch
        return Row(key=key, cells=cells)

    def _fill_report(self) -> None:
        try:
            report = self._report()
        except EnertegError as exc:
            self.say_error(exc)
            return
        self._channels = {}
        rows = self._report_rows(report)
        table = self.table
        table.sync(rows)
        channels = report["channels"]
        governed = sum(1 for ch in channels if ch.get("rule"))
        title = Text(_("Rule report") + ": ", style="bold")
        health = Health[str(report.get("health", "ok")).upper()]
        if self.element_id is not None:
            title.append(f'totals of {report["kind"]} {report["name"]} ')
            title.append(HEALTH_MARK[health], style=HEALTH_STYLE[health])
        else:
            title.append(f'{report["name"]} ({report["hexId"]}) ')
            title.append(f"{HEALTH_MARK[health]} {report['state'].lower()}",
                         style=HEALTH_STYLE[health])
        self.query_one("#title", PageTitle).update(title)
        summary = (f"{governed} of {len(channels)} governed · {report['watched']} watched"
                   f" · filter: {self.report_filter}")
        self.query_one("#summary", Static).update(summary)
        self._describe()

    # ------------------------------------------------------------------ detail
    def _describe(self) -> None:
        detail = self.query_one("#detail", Static)
        row = self.table.current
        if self.hex_id is None:
            if row is None:
                detail.update("No rules: press n to create one" if self.ctx.may(Action.EDIT_RULES)
                              else "No rules")
                return
            rule = self.ctx.core.rules.get(int(str(row.key)))
            detail.update(rule_detail(self.ctx.core, rule))
        else:
            detail.update(self._channel_detail(self._channels[row.key]) if row else
                          f"No {REPORT_FILTERS[self.report_filter]}: press f to show more")

    def _channel_detail(self, ch: dict[str, Any]) -> Text:
        text = Text()
        text.append(ch["channel"], style="bold")
        q = ch["quantity"]
        value = ch.get("value")
        if q in BY_KEY:
            text.append(f" = {format_value(q, value)}")
        state = str(ch.get("state", ""))
        text.append(" · ")
        text.append(state, style=STATE_STYLE.get(state, ""))
        rule = ch.get("rule")
        if rule is None and self.element_id is not None:
            text.append("\nNo enabled rule on this element's own totals (elementTotals) covers "
                        "it; rules on its PDUs never govern a total")
            if self.ctx.may(Action.EDIT_RULES):
                text.append(": press n to create one for it")
            return text
        if rule is None:
            text.append("\nNo enabled rule covers this channel")
            if self.ctx.may(Action.EDIT_RULES):
                text.append(": press n to create one for it")
            return text
        doc = self.ctx.core.rules.get(int(rule["id"])).doc
        text.append(f'\nGoverned by rule {rule["id"]} "{rule["name"]}" '
                    f"({scope_text(self.ctx.core, doc)}, {restriction_text(doc)})")
        parts = []
        unit = ch.get("unit", "")
        for key, _label in THRESHOLDS:
            t = getattr(doc, key)
            if t.enabled:
                absolute = (ch.get("thresholds") or {}).get(key)
                part = f"{SHORT[key]} {threshold_text(doc, key)}"
                if doc.unit == "%" and absolute is not None:
                    part += f" = {fmt_num(absolute)} {unit}"
                parts.append(part)
        text.append("\n" + (" · ".join(parts) if parts else "every threshold off: silenced"))
        if ch.get("thresholds"):
            text.append(f"\nHysteresis {fmt_num(ch.get('hysteresis', 0.0))} {unit}".rstrip()
                        + " · minimum duration "
                        + seconds_text(float(ch.get("minDurationSeconds", 0.0))))
        return text


    # ------------------------------------------------------------------ events
    def on_live_batch(self, batch: Batch) -> None:
        kinds = {ev.kind for ev in batch.events}
        if self.hex_id is None:
            if kinds & {"rules", "structure", "device"}:
                self._fill()
        elif kinds or batch.live or batch.devices:
            self._fill()

    def on_live_table_highlighted(self, event: LiveTable.Highlighted) -> None:
        event.stop()
        self._describe()

    def on_live_table_selected(self, event: LiveTable.Selected) -> None:
        event.stop()
        if self.ctx.may(Action.EDIT_RULES):
            self.action_edit()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """Hide rule-changing keys without ``edit-rules``, and keys of the other mode."""
        if action in _CHANGING and not self.ctx.may(Action.EDIT_RULES):
            return False
        report = self.hex_id is not None
        if action in ("toggle", "delete", "governs"):
            return not report
        if action in ("filter", "rule_list"):
            return report
        return True

    # ------------------------------------------------------------------ actions
    def _current_rule(self) -> Rule | None:
        """The highlighted rule (list) or the highlighted channel's governing rule (report)."""
        row = self.table.current
        if row is None:
            return None
        if self.hex_id is None:
            rule_id = int(str(row.key))
        else:
            governing = self._channels[row.key].get("rule")
            if governing is None:
                return None
            rule_id = int(governing["id"])
        try:
            return self.ctx.core.rules.get(rule_id)
        except EnertegError as exc:
            self.say_error(exc)
            return None

    def _open_form(self, form: RuleForm) -> None:
        def done(rule_id: int | None) -> None:
            if rule_id is not None:
                self._want = rule_id
                self._fill()

        self.app.push_screen(form, done)

    def action_new(self) -> None:
        """Create a rule; in the report, one for the highlighted channel of this PDU."""
        preset: dict[str, Any] = {}
        row = self.table.current if self.hex_id is not None else None
        if row is not None:
            ch = self._channels[row.key]
            if self.element_id is not None:
                el = self.ctx.core.structure.get(self.element_id)
                preset = {"scope": el.kind.value, "target": str(el.id), "elementTotals": True,
                          "quantity": ch["quantity"], "component": ch["component"],
                          "name": f"{el.name} {ch['channel']}"[:64]}
            else:
                live = self.ctx.core.live.get(self.hex_id or "")
                preset = {"scope": "pdu", "target": self.hex_id, "quantity": ch["quantity"],
                          "component": ch["component"],
                          "name": f"{live.info.display_name if live else self.hex_id} "
                                  f"{ch['channel']}"[:64]}
            if ch["component"] in ("i", "b", "o", "s"):
                preset["indexFrom"] = preset["indexTo"] = ch["index"]
        self._open_form(RuleForm(preset=preset))

    def action_edit(self) -> None:
        """Edit the highlighted rule (list) or the governing rule of the channel (report)."""
        rule = self._current_rule()
        if rule is None:
            self.say("Select a rule first" if self.hex_id is None else
                      "No rule governs this channel: press n to create one")
            return
        self._open_form(RuleForm(rule.id))

    @work(exclusive=True, group="rule-toggle")
    async def action_toggle(self) -> None:
        """Switch the highlighted rule on or off."""
        rule = self._current_rule()
        if rule is None:
            self.say("Select a rule first")
            return
        ctx = self.ctx
        try:
            await ctx.core.rules.update(ctx.principal, rule.id,
                                              {"enabled": not rule.doc.enabled})
        except EnertegError as exc:
            self.say_error(exc)
            return
        self.say(f'Rule {rule.id} "{rule.name}" switched {"on" if rule.doc.enabled else "off"}')

    def action_delete(self) -> None:
        """Delete the highlighted rule after a confirmation."""
        rule = self._current_rule()
        if rule is None:
            self.say("Select a rule first")
            return
        ctx = self.ctx

        async def confirmed(yes: bool | None) -> None:
            if not yes:
                self.say(f'Rule {rule.id} "{rule.name}" kept')
                return
            try:
                await ctx.core.rules.delete(ctx.principal, rule.id)
            except EnertegError as exc:
                self.say_error(exc)
                return
            self.say(f'Rule {rule.id} "{rule.name}" deleted')

        extra = ("\nIt is shipped with the controller and does not come back; switching it "
                 "off (t) keeps it for later." if rule.default else "")
        self.app.push_screen(ConfirmDialog(
            f'Delete rule {rule.id} "{rule.name}" ({scope_text(ctx.core, rule.doc)}, '
            f"{quantity_text(rule.doc.quantity)})?{extra}",
            yes="Delete", no="Keep", title="Delete rule"), confirmed)

    def action_report(self) -> None:
        """Choose a PDU and show its rule report."""
        c = self.ctx.core
        evaluator = c.alarms.evaluator
        choices = [
            Choice(d.hex_id, {"name": d.info.display_name, "hex": d.hex_id,
                              "watched": str(len(evaluator.watches_of(d.hex_id))),
                              "where": c.structure.location_of(d.hex_id)},
                   " ".join((d.info.display_name, d.hex_id, c.structure.location_of(d.hex_id))))
            for d in c.live.ordered()]
        choices += [
            Choice(element_key(e.id), {"name": f"{e.kind.value} {e.name} totals",
                                       "hex": element_key(e.id),
                                       "watched": str(len(evaluator.element_watches(e.id))),
                                       "where": c.structure.path(e)},
                   " ".join((e.kind.value, e.name, "totals", c.structure.path(e))))
            for e in c.structure.elements()]
        columns = (Column("name", "Name", 20, "left"), Column("hex", "Hex id", 6, "left"),
                   Column("watched", "Watched", 7), Column("where", "Location", 30, "left"))

        def chosen(hex_id: str | None) -> None:
            if hex_id:
                self.app.call_later(self.app.open_place,  # type: ignore[attr-defined]
                                    Place("rules", hex_id))

        self.app.push_screen(ChoiceDialog("Rule report", "Which PDU's (or room's, row's, rack's "
                                          "own totals') rule report? It shows, for each "
                                          "channel, the one rule that governs it.",
                                          columns, choices), chosen)

    def action_governs(self) -> None:
        """The highlighted rule's report: what it governs, where it is overridden."""
        from .rule_report import RuleReportScreen

        rule = self._current_rule()
        if rule is None:
            self.say("Select a rule first")
            return
        self.app.push_screen(RuleReportScreen(rule.id))

    def action_filter(self) -> None:
        """Cycle the report's filter: governed, watched, every channel."""
        order = list(REPORT_FILTERS)
        self.report_filter = order[(order.index(self.report_filter) + 1) % len(order)]
        self._fill()

    def action_rule_list(self) -> None:
        """Back to the list of rules."""
        self.app.call_later(self.app.open_place, Place("rules"))  # type: ignore[attr-defined]
