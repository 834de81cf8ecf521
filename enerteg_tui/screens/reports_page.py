"""The Reports page (issue 7): energy and load reports on screen, as CSV and as Excel.

Operators bill tenants and plan capacity from these figures without leaving the
console. A compact form names what the report covers (site, room, row, rack or one
PDU, by name, ``Room / Row / Rack`` path or hex id) and the period (ISO times, last
24 hours by default; ``1``/``7``/``3`` set the last 1, 7 or 30 days). Opened from a
place of the DC tree, the form starts on that element or PDU. ``r`` (or enter in a
field) builds the report with the core's ``ReportService.build`` in a worker, showing
a progress line with the elapsed time (esc cancels), then the summary, a table of
PDUs (energy, average and peak power, peak current per phase) and a table of the
alarms raised in the period. ``c`` and ``x`` write the form's report as CSV or as an
Excel workbook with the core's ``ReportService.generate`` and show the file's path as SFTP
shows it (``/reports/…``), like the shell's ``report`` command. The core checks the
permission, the names, the times and the period; its message is shown as is and
nothing else changes. docs/reports.md explains every figure.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
import time
import zoneinfo
from collections.abc import Awaitable, Callable
from functools import partial
from typing import Any, ClassVar

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.timer import Timer
from textual.widgets import Button, Input, Label, ProgressBar, Select, Static
from textual.worker import Worker

from ..core.errors import EnertegError
from ..core.i18n import _
from ..core.reports import (
    REPORTS_DIR,
    SCOPES,
    AlarmRow,
    DeviceRow,
    Report,
    iso,
    parse_time,
)
from .listtable import ListTable
from .cells import severity_text
from .livetable import Column, LiveTable, Row
from .page import Page, PageTitle
from .tree import Place, StructureTree

__all__ = ["ALARM_COLUMNS", "DEVICE_COLUMNS", "PRESETS", "ReportsPage", "sftp_path"]

log = logging.getLogger(__name__)

PRESETS: dict[str, int] = {"1": 1, "7": 7, "3": 30}
"""Preset keys → the last so many days, ending now."""

DEFAULT_DAYS = 1
"""The period the form starts with: the last 24 hours (as the shell's default)."""

DEVICE_COLUMNS = (
    Column("name", "PDU", 14, "left", cut="middle"),
    Column("kwh", "kWh", 7),
    Column("avg", "Avg W", 6),
    Column("peak", "Peak W", 6),
    Column("L1", "L1 A", 5),
    Column("L2", "L2 A", 5),
    Column("L3", "L3 A", 5),
    Column("hex", "Hex id", 6, "left"),
    Column("location", "Location", 30, "left"),
)
"""PDU table: the columns that matter first, so they fit beside the tree at 80 columns."""

ALARM_COLUMNS = (
    Column("start", "Start UTC", 11, "left"),
    Column("text", "Alarm", 56, "left"),
    Column("severity", "Severity", 8, "left"),
    Column("pdu", "PDU", 14, "left", cut="middle"),
    Column("end", "End UTC", 11, "left"),
    Column("state", "State", 12, "left"),
)
"""Alarm table columns."""

_NONE = "—"


def sftp_path(path: Any) -> str:
    """A report file's path as the SFTP user sees it (``/reports/NAME``)."""
    return f"/{REPORTS_DIR}/{path.name}"


def _short_time(t: float | None, zone: str = "UTC") -> str:
    """``06-15 14:02`` for the alarm table, in the report's zone; empty for None."""
    if t is None:
        return ""
    try:
        tz: dt.tzinfo = dt.UTC if zone in ("UTC", "") else zoneinfo.ZoneInfo(zone)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        tz = dt.UTC
    return dt.datetime.fromtimestamp(t, tz).strftime("%m-%d %H:%M")


def _alarm_columns(report: Report) -> tuple[Column, ...]:
    """``ALARM_COLUMNS``, the times headed by the report's zone (``Start UTC`` or, in
    another zone, ``Start`` with its abbreviation at the report's end, e.g. ``Start CET``)."""
    if report.zone_label == "UTC":
        return ALARM_COLUMNS
    try:
        abbr = dt.datetime.fromtimestamp(report.end, zoneinfo.ZoneInfo(report.zone)).strftime("%Z")
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return ALARM_COLUMNS
    return tuple(dataclasses.replace(c, label=f"{c.label.split()[0]} {abbr}")
                 if c.key in ("start", "end") else c for c in ALARM_COLUMNS)


def _num(v: float | None, places: int) -> str:
    return _NONE if v is None else f"{v:.{places}f}"


def _kwh(v: float | None) -> str:
    """Energy with three decimals, fewer as the figure grows (a column of 7)."""
    if v is None:
        return _NONE
    return f"{v:.3f}" if abs(v) < 100 else f"{v:.1f}" if abs(v) < 10000 else f"{v:.0f}"


def _device_row(d: DeviceRow) -> Row:
    cells: dict[str, str | Text] = {
        "name": d.name, "kwh": _kwh(d.kwh), "avg": _num(d.avg_w, 0), "peak": _num(d.peak_w, 0),
        "hex": d.hex_id, "location": d.location or "unassigned"}
    for p, amps in enumerate(d.peak_a, start=1):
        cells[f"L{p}"] = _num(amps, 2)
    return Row(key=d.hex_id, cells=cells)


def _alarm_row(a: AlarmRow, zone: str = "UTC") -> Row:
    sev = severity_text(a.severity)
    return Row(key=a.id, cells={
        "start": _short_time(a.start, zone), "severity": sev,
        "pdu": a.device_name or a.device,
        "text": a.text, "end": _short_time(a.end, zone) if a.end is not None else "active",
        "state": a.state}, style={"Critical": "red", "Warning": "yellow"}.get(sev.plain, ""))


class ReportsPage(Page):
    """Report form, progress, summary and the PDU and alarm tables of the last report.

    Args:
        ref: what the form starts on: a structure element's id, or a PDU's hex id;
            without one, the DC tree's highlighted place (the site if none).
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("r", "run", "Run"),
        Binding("c", "write('csv')", "CSV"),
        Binding("x", "write('xlsx')", "Excel"),
        Binding("1", "preset('1')", "1 d", show=False),
        Binding("7", "preset('7')", "7 d", show=False),
        Binding("3", "preset('3')", "30 d", show=False),
        Binding("escape", "cancel", "Cancel", show=False),
    ]
    """Keys (inside a field the letters and digits are typed; enter there runs)."""

    FORM_KEYS: ClassVar[frozenset[str]] = frozenset({"r", "c", "x", "1", "7", "3"})
    """The form's own keys, printed on its buttons: they work on its select and buttons
    too (``screens/typing.py``); page-frame and App letters do not."""

    DEFAULT_CSS = """
    ReportsPage #form { height: auto; padding: 0 1; }
    ReportsPage .line { height: 1; }
    ReportsPage .line Label { width: 6; }
    ReportsPage .line .gap { width: 4; padding-left: 1; }
    ReportsPage #scope { width: 12; margin-right: 1; }
    ReportsPage #name { width: 1fr; }
    ReportsPage #from, ReportsPage #to { width: 22; }
    ReportsPage .line Button { margin-right: 1; min-width: 5; }
    ReportsPage #progress-line { height: 1; padding: 0 1; display: none; }
    ReportsPage.-running #progress-line { display: block; }
    ReportsPage #progress { width: 18; }
    ReportsPage #elapsed { width: 1fr; }
    ReportsPage #status { height: auto; padding: 0 1; }
    ReportsPage #status.-error { color: $error; text-style: bold; }
    ReportsPage #summary { height: auto; padding: 0 1; border-top: hkey $panel-lighten-2; }
    ReportsPage .section { text-style: bold; color: $accent; padding: 0 1; }
    ReportsPage .result { display: none; }
    ReportsPage.-result .result { display: block; }
    ReportsPage #result { height: 1fr; }
    ReportsPage #devices { height: auto; min-height: 3; }
    ReportsPage #alarms { height: auto; max-height: 8; }
    ReportsPage.-no-alarms #alarms { display: none; }
    """

    def __init__(self, ref: int | str | None = None) -> None:
        super().__init__()
        self.place = Place("reports")
        self.ref = ref
        self.report: Report | None = None
        """The report shown, or None before the first run."""
        self._job: Worker[None] | None = None
        self._job_id = 0
        """Counts jobs; a cancelled job's late ending must not end its successor's."""
        self._job_started = 0.0
        self._job_label = ""
        self._ticker: Timer | None = None

    # ------------------------------------------------------------------ layout
    def compose(self) -> ComposeResult:
        yield PageTitle(Text.assemble((_("Reports"), "bold"),
                                      " · " + _("energy and load · files go to /{folder}").format(
                                          folder=REPORTS_DIR)),
                        id="title")
        with Vertical(id="form"):
            with Horizontal(classes="line"):
                yield Label(_("Scope"))
                yield Select([(s, s) for s in SCOPES], value="site", allow_blank=False,
                             type_to_search=False, compact=True, id="scope")
                yield Input(placeholder=_("name, Room / Row / Rack path or hex id"),
                            compact=True, id="name")
            with Horizontal(classes="line"):
                yield Label(_("From"))
                yield Input(compact=True, id="from")
                yield Label(_("to"), classes="gap")
                yield Input(compact=True, id="to")
            with Horizontal(classes="line"):
                yield Label(_("Last"))
                for key, days in PRESETS.items():
                    yield Button(f"{days} d", id=f"preset-{key}", compact=True)
                yield Button("r " + _("Run"), id="run", variant="primary", compact=True)
                yield Button("c CSV", id="csv", compact=True)
                yield Button("x Excel", id="xlsx", compact=True)
        with Horizontal(id="progress-line"):
            yield ProgressBar(total=None, show_percentage=False, show_eta=False, id="progress")
            yield Static("", id="elapsed")
        yield Static("", id="status")
        yield Static(self._intro(), id="summary")
        with Vertical(id="result", classes="result"):
            yield Label(_("PDUs"), classes="section", id="devices-label")
            yield ListTable(DEVICE_COLUMNS, id="devices", detail=True)
            yield Label(_("Alarms raised in the period"), classes="section", id="alarms-label")
            yield ListTable(ALARM_COLUMNS, id="alarms")

    @staticmethod
    def _intro() -> Text:
        text = Text()
        text.append("Choose what and when, then ")
        text.append("r", style="bold")
        text.append(" (or enter in a field) shows the report here; ")
        text.append("c", style="bold")
        text.append(" writes it as CSV, ")
        text.append("x", style="bold")
        text.append(f" as an Excel workbook with charts, into /{REPORTS_DIR}. "
                    "Times are UTC unless they carry an offset.")
        return text

    def on_mount(self) -> None:
        scope, name = self._default_target()
        self.query_one("#scope", Select).value = scope
        self._set_name(scope, name)
        self._set_period(DEFAULT_DAYS)

    def focus_first(self) -> None:
        self.query_one("#run", Button).focus(scroll_visible=False)

    # ------------------------------------------------------------------ form
    def _default_target(self) -> tuple[str, str]:
        """Scope and name from the ref, else the DC tree's highlighted place."""
        place: Place | None = None
        if isinstance(self.ref, int):
            place = Place("element", self.ref)
        elif isinstance(self.ref, str) and self.ref:
            place = Place("device", self.ref)
        else:
            trees = self.screen.query(StructureTree)
            node = trees.first().cursor_node if trees else None
            place = node.data if node is not None else None
        structure = self.ctx.core.structure
        try:
            if place is not None and place.kind == "element" and place.ref is not None:
                el = structure.get(int(place.ref))
                return el.kind.value, structure.path(el)
            if place is not None and place.kind == "device" and place.ref is not None:
                return "device", str(place.ref)
        except EnertegError:
            pass  # the element was deleted meanwhile: start on the site
        return "site", ""

    def _set_name(self, scope: str, name: str) -> None:
        box = self.query_one("#name", Input)
        box.value = name
        box.disabled = scope == "site"
        box.placeholder = ("the whole site (no name)" if scope == "site" else
                           "a PDU's name or hex id" if scope == "device" else
                           f"the {scope}'s name or Room / Row / Rack path")

    def _set_period(self, days: int) -> None:
        end = self.ctx.clock()
        self.query_one("#from", Input).value = iso(end - days * 86400)
        self.query_one("#to", Input).value = iso(end)

    def form(self) -> tuple[str, str, float, float]:
        """Scope, name, start and end from the form; ``Invalid`` for a time that is none."""
        scope = str(self.query_one("#scope", Select).value)
        name = self.query_one("#name", Input).value.strip() if scope != "site" else ""
        start = parse_time(self.query_one("#from", Input).value, "From")
        end = parse_time(self.query_one("#to", Input).value, "To")
        return scope, name, start, end

    @on(Select.Changed, "#scope")
    def _scope_changed(self, event: Select.Changed) -> None:
        scope = str(event.value)
        name = self.query_one("#name", Input)
        keep = name.value if scope != "site" and not name.disabled else ""
        if scope != "site" and name.disabled:  # from site: offer the tree's element if it fits
            default_scope, default_name = self._default_target()
            keep = default_name if default_scope == scope else ""
        self._set_name(scope, keep)

    @on(Input.Submitted)
    def _submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.action_run()

    @on(Button.Pressed)
    def _pressed(self, event: Button.Pressed) -> None:
        event.stop()
        bid = event.button.id or ""
        if bid.startswith("preset-"):
            self.action_preset(bid.removeprefix("preset-"))
        elif bid == "run":
            self.action_run()
        elif bid in ("csv", "xlsx"):
            self.action_write(bid)

    # ------------------------------------------------------------------ messages
    def say(self, text: str | Text, *, error: bool = False) -> None:
        """The outcome line of this page is its status line."""
        status = self.query_one("#status", Static)
        status.update(text)
        status.set_class(error, "-error")

    @property
    def running(self) -> bool:
        """Whether a report is being built or written."""
        return self._job is not None

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """Esc cancels a running report; otherwise it is the frame's back key."""
        if action == "cancel":
            return self.running
        return True

    # ------------------------------------------------------------------ actions
    def action_preset(self, key: str) -> None:
        """Set the period to the last 1, 7 or 30 days, ending now."""
        days = PRESETS.get(key)
        if days is not None:
            self._set_period(days)
            self.say(f"Period: the last {days} day{'s' if days > 1 else ''}")

    def action_run(self) -> None:
        """Build the form's report and show it (in a worker; the previous one stays
        until the new one is complete)."""
        self._start("show", self._show_report)

    def action_write(self, fmt: str) -> None:
        """Write the form's report as CSV or Excel into /reports and show the path."""
        self._start(fmt, self._write_file)

    def action_cancel(self) -> None:
        """Stop the report being built; nothing is shown or written."""
        if self._job is not None:
            self._job.cancel()
        self._finish()
        self.say("Report cancelled; nothing was written")

    # ------------------------------------------------------------------ work
    def _start(self, what: str, job: Callable[[str, str, float, float, str],
                                              Awaitable[None]]) -> None:
        if self.running:
            self.say("A report is being made; wait for it or press esc to cancel it")
            return
        try:
            scope, name, start, end = self.form()
        except EnertegError as exc:
            self.say_error(exc)
            return
        kind = {"show": "Building", "csv": "Writing the CSV of", "xlsx": "Writing the Excel "
                "workbook of"}[what]
        self._job_id += 1
        self._job_label = f"{kind} the {scope} report"
        self._job_started = time.monotonic()
        self.say("")
        self.add_class("-running")
        self._tick()
        self._ticker = self.set_interval(0.25, self._tick)
        self._job = self.run_worker(partial(self._guarded, self._job_id, job,
                                            (scope, name, start, end, what)),
                                    group="report", exit_on_error=False)

    def _tick(self) -> None:
        elapsed = time.monotonic() - self._job_started
        self.query_one("#elapsed", Static).update(
            f" {self._job_label}… {elapsed:.1f} s · esc cancels")

    def _finish(self) -> None:
        self._job = None
        self._job_id += 1
        if self._ticker is not None:
            self._ticker.stop()
            self._ticker = None
        self.remove_class("-running")

    async def _guarded(self, job_id: int, job: Callable[..., Awaitable[None]],
                       args: tuple[Any, ...]) -> None:
        """Run a job; the core's refusal (or a file error) is shown, never a traceback."""
        try:
            await job(*args)
        except EnertegError as exc:
            self.say_error(exc)
        except OSError as exc:
            self.say(f"The report file could not be written: {exc.strerror or exc}", error=True)
        except Exception as exc:  # a face shows a message, never a traceback
            log.exception("report failed")
            self.say(f"The report failed: {exc}", error=True)
        finally:
            if job_id == self._job_id:  # not cancelled meanwhile
                self._finish()

    async def _show_report(self, scope: str, name: str, start: float, end: float,
                           what: str) -> None:
        ctx = self.ctx
        report = await ctx.core.reports.build(ctx.principal, scope, name, start, end)
        self.show_report(report)
        self.say("Report built; c writes it as CSV, x as an Excel workbook")

    async def _write_file(self, scope: str, name: str, start: float, end: float,
                          what: str) -> None:
        ctx = self.ctx
        path = await ctx.core.reports.generate(ctx.principal, scope, name, start, end, what)
        size = path.stat().st_size
        text = Text("Wrote ")
        text.append(sftp_path(path), style="bold")
        text.append(f" ({size:,} bytes; download it with sftp or scp)")
        self.say(text)

    # ------------------------------------------------------------------ result
    def show_report(self, report: Report) -> None:
        """Show a report's summary and tables."""
        self.report = report
        self.query_one("#summary", Static).update(self._summary(report))
        self.query_one("#devices", LiveTable).set_rows([_device_row(d) for d in report.devices])
        alarms = self.query_one("#alarms", LiveTable)
        columns = _alarm_columns(report)
        if tuple(alarms.columns) != columns:
            alarms.columns = list(columns)
            alarms.refresh()
        alarms.set_rows([_alarm_row(a, report.zone) for a in report.alarms])
        outlets = len({(o.hex_id, o.outlet) for o in report.outlets})
        self.query_one("#devices-label", Label).update(
            _("PDUs") + f" ({len(report.devices)})" + (
                " · " + _("energy of {count} outlets in the files").format(count=outlets)
                if outlets else ""))
        self.query_one("#alarms-label", Label).update(
            _("Alarms raised in the period") + f" ({len(report.alarms)})"
            if report.alarms else _("Alarms raised in the period: none"))
        self.set_class(not report.alarms, "-no-alarms")
        self.add_class("-result")
        self.call_after_refresh(self._fit_tables)

    def on_resize(self) -> None:
        if self.report is not None:
            self.call_after_refresh(self._fit_tables)

    def _fit_tables(self) -> None:
        """Let the PDU table take what the labels and the alarm table leave, so the alarms
        follow the PDUs right below them yet stay on screen however many PDUs there are."""
        box = self.query_one("#result", Vertical)
        used = sum(w.outer_size.height for w in box.children if w.id != "devices" and w.display)
        self.query_one("#devices", LiveTable).styles.max_height = max(3, box.size.height - used)

    @staticmethod
    def _summary(report: Report) -> Text:
        text = Text()
        text.append(f"{report.scope.capitalize()} {report.target}" if report.scope != "site"
                    else "Site", style="bold")
        text.append(f" · {report.when(report.start)} → {report.when(report.end)}\n")
        text.append(f"{report.total_kwh:.3f} kWh", style="bold")
        peak = report.peak_w
        text.append(f" · {len(report.devices)} PDU{'' if len(report.devices) == 1 else 's'}"
                    " · top PDU peak " + (f"{peak:.0f} W" if peak is not None else _NONE))
        text.append(f" · {report.resolution_s} s blocks")
        return text
