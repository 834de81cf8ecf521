"""The report of one rule (manual §7.1.2: "a report available for each specific rule").

``g`` (Governs) on the rules page opens it for the highlighted rule: every channel the
rule governs, and every channel its scope and restriction take in where a more specific
rule governs instead (and which one), per PDU, per DC element for a rule on an
element's own totals, or the ring. The content is the core's
(``AlarmService.rule_report``, the same document as the shell's ``cat rules/<id>/report``);
this screen only lays it out. A switched-off rule shows what it would govern.
"""

from __future__ import annotations

from typing import Any, ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Static

from ..core.errors import EnertegError
from .context import console_context
from .livetable import Column, LiveTable, Row

__all__ = ["RuleReportScreen", "COLUMNS"]

COLUMNS = (
    Column("subject", "PDU / element", 27, "left"),
    Column("channel", "Channel", 20, "left"),
    Column("by", "Governed by", 40, "left"),
)
"""One row per channel the rule takes in."""


def _by(rule: dict[str, Any]) -> str:
    target = f" {rule['target']}" if rule.get("target") else ""
    own = " totals" if rule.get("elementTotals") else ""
    return f'rule {rule["id"]} "{rule["name"]}" ({rule["scope"]}{target}{own})'


class RuleReportScreen(ModalScreen[None]):
    """What one rule governs, and where a more specific rule overrides it."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "close", "Close")]

    DEFAULT_CSS = """
    RuleReportScreen { align: center middle; }
    RuleReportScreen > Vertical {
        width: 96; max-width: 100%; height: 90%;
        border: thick $accent; background: $surface; padding: 0 1;
    }
    RuleReportScreen #summary { height: auto; margin-bottom: 1; }
    RuleReportScreen LiveTable { height: 1fr; }
    """

    def __init__(self, rule_id: int) -> None:
        super().__init__()
        self.rule_id = rule_id

    def compose(self) -> ComposeResult:
        with Vertical() as box:
            box.border_title = f"Rule report · rule {self.rule_id}"
            yield Static("", id="summary")
            yield LiveTable(COLUMNS, id="coverage")

    def on_mount(self) -> None:
        ctx = console_context(self)
        try:
            report = ctx.core.alarms.rule_report(ctx.principal, self.rule_id)
        except EnertegError as exc:
            self.query_one("#summary", Static).update(str(exc))
            return
        self.query_one("#summary", Static).update(self.summary(report))
        table = self.query_one(LiveTable)
        table.set_rows(self.rows(report))
        table.focus()

    @staticmethod
    def summary(report: dict[str, Any]) -> Text:
        """Two lines: the rule, then what it governs and where it is overridden."""
        text = Text()
        text.append(f'Rule {report["id"]} "{report["name"]}"', style="bold")
        if not report["enabled"]:
            text.append(" · switched off: governs nothing now; shown is what it would govern",
                        style="yellow")
        subjects = report["subjects"]
        governing = sum(1 for s in subjects if s["governs"])
        where = ("the ring" if report["quantity"] == "ringBreaks" else
                 "its element's totals" if report["elementTotals"] else f"{governing} PDU(s)")
        text.append(f'\nGoverns {report["governed"]} channel(s) on {where}; a more specific '
                    f'rule overrides it on {report["overridden"]} channel(s).')
        if not subjects:
            text.append("\nIts scope and restriction take in no channel now.", style="dim")
        return text

    @staticmethod
    def rows(report: dict[str, Any]) -> list[Row]:
        """Governed channels first, then the overridden ones, per subject."""
        rows: list[Row] = []
        for s in report["subjects"]:
            subject = f'{s["name"]} ({s["device"]})'
            for ch in s["governs"]:
                rows.append(Row(key=(s["device"], ch), cells={
                    "subject": subject, "channel": ch, "by": "this rule"}))
            for o in s["overriddenBy"]:
                rows.append(Row(key=(s["device"], o["channel"]), style="dim", cells={
                    "subject": subject, "channel": o["channel"], "by": _by(o["rule"])}))
        return rows

    def action_close(self) -> None:
        self.dismiss(None)
