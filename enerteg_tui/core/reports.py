"""Energy and power reports over a period, as CSV and as an Excel workbook (issue 7).

Operators bill tenants and plan capacity from these figures: for the site, a room, a
row, a rack or one PDU over a period, the energy each PDU (and each metered outlet)
used, its average and peak active power, its peak current per input phase, the
alarms raised in the period, and the lowest, mean and highest of every other measured
value (voltage, current, power factor, residual current, temperature, humidity:
``core.report_measures``). ``ReportService.build`` queries the history service and the
alarm history on the loop (one PDU at a time, so the loop keeps turning);
``write_csv`` and ``write_xlsx`` are plain functions that ``ReportService.generate`` runs in a
worker thread and writes atomically (temporary file, then rename) into
``<data-dir>/reports``, which SFTP shows as ``/reports``. The shell's ``report``
command calls ``generate``; docs/reports.md explains each figure.
"""

from __future__ import annotations

import asyncio
import csv
import datetime as dt
import os
import re
import zoneinfo
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .alarms import AlarmFilter, AlarmService
from .alarm_texts import shown as alarm_text
from .errors import Invalid
from .history.service import HistoryService, Point
from .history.tiers import TIERS, retention_s, tier_for_span
from .i18n import N_, _
from .layout import REPORTS_DIR
from .live import LiveState
from .permissions import Action, Principal, require
from .quantities import Component
from .report_measures import MeasureRow, measure_csv_rows, measure_rows, write_measure_sheets
from .structure import Kind, Structure

__all__ = ["SCOPES", "FORMATS", "DeviceRow", "OutletRow", "AlarmRow", "Report",
           "parse_time", "ReportService", "write_csv", "write_xlsx",
           "report_filename", "file_label", "REPORTS_DIR"]

SCOPES: tuple[str, ...] = ("site", "room", "row", "rack", "device")
"""What a report can cover."""
FORMATS: tuple[str, ...] = ("csv", "xlsx")
"""File formats of a report."""
"""Folder of the data directory the reports go to (``/reports`` over SFTP)."""
MAX_PERIOD_S = 3660 * 86400
"""Longest period a report covers (the daily tier's default retention)."""
PHASES = (1, 2, 3)
_ALARM_LIMIT = 100_000
_BLOCKS_PER_READ = 10_000
"""History blocks one read decodes on the loop at most (about 20 ms)."""
_TIME_FORMS = "an ISO 8601 time such as 2026-01-31T18:00:00Z or 2026-01-31 (UTC unless an offset is given)"


@dataclass(frozen=True, slots=True)
class DeviceRow:
    """One PDU's figures over the period; ``None`` where the history has nothing."""

    hex_id: str
    name: str
    location: str
    kwh: float | None
    """Energy used in the period from the PDU's total energy counter (kWh)."""
    avg_w: float | None
    """Mean of the block averages of total active power (W)."""
    peak_w: float | None
    """Highest active power seen in any block (W)."""
    peak_a: tuple[float | None, float | None, float | None]
    """Highest current of input phases L1, L2, L3 (A)."""


@dataclass(frozen=True, slots=True)
class OutletRow:
    """One metered outlet's energy over the period."""

    hex_id: str
    device_name: str
    outlet: int
    kwh: float


@dataclass(frozen=True, slots=True)
class AlarmRow:
    """One alarm that started in the period (from the alarm history)."""

    id: int
    start: float
    end: float | None
    severity: str
    """Peak severity the alarm reached."""
    device: str
    device_name: str
    channel: str
    text: str
    state: str


@dataclass(slots=True)
class Report:
    """A report's content; times are seconds since the epoch, UTC."""

    scope: str
    target: str
    """Name of what the report covers: ``site``, an element's path, a PDU's name."""
    start: float
    end: float
    generated: float
    resolution_s: int
    """Block length of the history tier the figures come from."""
    devices: list[DeviceRow] = field(default_factory=list)
    outlets: list[OutletRow] = field(default_factory=list)
    alarms: list[AlarmRow] = field(default_factory=list)
    measurements: list[MeasureRow] = field(default_factory=list)
    """Min/avg/max of every measured channel (``core.report_measures``)."""
    zone: str = "UTC"
    """Time zone of the times a person reads in the files (``config/time`` timezone):
    ISO 8601 with that zone's offset; UTC gives ``…Z`` as before."""

    @property
    def zone_label(self) -> str:
        """The zone as the headings name it: ``UTC`` or e.g. ``Europe/Prague``."""
        return "UTC" if self.zone in ("UTC", "Etc/UTC", "") else self.zone

    def when(self, t: float | None) -> str:
        """``t`` as the report's files show it: ISO 8601 in the report's zone."""
        return iso(t, self.zone)

    @property
    def total_kwh(self) -> float:
        """Sum of the PDUs' energy in the period."""
        return round(sum(d.kwh for d in self.devices if d.kwh is not None), 2)

    @property
    def peak_w(self) -> float | None:
        """The highest single-PDU peak power (the PDUs' peaks need not coincide)."""
        peaks = [d.peak_w for d in self.devices if d.peak_w is not None]
        return max(peaks) if peaks else None

    def summary(self, tr: Callable[[str], str] = str) -> list[tuple[str, Any]]:
        """Label/value pairs of the Summary sheet and the CSV head (times in the
        report's zone, the zone named in the labels); ``tr`` translates the labels (the
        workbook: ``_``; the CSV stays English, see ``write_csv``)."""
        return ([
            (tr(N_("Report")), tr(N_("EnerTEG {scope} report")).format(scope=self.scope)),
            (tr(N_("Scope")), self.scope),
            (tr(N_("Target")), self.target),
            (tr(N_("From ({zone})")).format(zone="UTC"), iso(self.start)),
            (tr(N_("To ({zone})")).format(zone="UTC"), iso(self.end)),
            (tr(N_("Generated ({zone})")).format(zone="UTC"), iso(self.generated)),
        ] if self.zone_label == "UTC" else [
            (tr(N_("Report")), tr(N_("EnerTEG {scope} report")).format(scope=self.scope)),
            (tr(N_("Scope")), self.scope),
            (tr(N_("Target")), self.target),
            (tr(N_("Time zone")), tr(N_("{zone} (config/time; times carry their UTC offset)"))
             .format(zone=self.zone)),
            (tr(N_("From ({zone})")).format(zone=self.zone), self.when(self.start)),
            (tr(N_("To ({zone})")).format(zone=self.zone), self.when(self.end)),
            (tr(N_("Generated ({zone})")).format(zone=self.zone), self.when(self.generated)),
        ]) + [
            (tr(N_("History resolution (s)")), self.resolution_s),
            (tr(N_("PDUs")), len(self.devices)),
            (tr(N_("Energy total (kWh)")), self.total_kwh),
            (tr(N_("Highest PDU peak power (W)")), self.peak_w),
            (tr(N_("Alarms raised")), len(self.alarms)),
        ]


# ---------------------------------------------------------------------- input
def iso(t: float | None, zone: str | None = None) -> str:
    """ISO time without fractions: UTC ``2026-01-31T18:00:00Z``, or in ``zone`` (an IANA
    name) with its offset, ``2026-01-31T19:00:00+01:00``; empty for None."""
    if t is None:
        return ""
    if zone and zone not in ("UTC", "Etc/UTC"):
        try:
            return dt.datetime.fromtimestamp(t, zoneinfo.ZoneInfo(zone)).isoformat(
                timespec="seconds")
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            pass
    return dt.datetime.fromtimestamp(t, dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_time(text: str, what: str = "time") -> float:
    """An ISO 8601 time (``Z`` or an offset; UTC when none) as epoch seconds.

    Raises ``Invalid`` naming ``what``, the value and the accepted forms.
    """
    raw = text.strip()
    try:
        value = dt.datetime.fromisoformat(raw[:-1] + "+00:00" if raw.endswith(("Z", "z")) else raw)
    except ValueError:
        raise Invalid(f"{what} {text!r} is not a time; use {_TIME_FORMS}", thing=what,
                      value=text, allowed=_TIME_FORMS) from None
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.timezone.utc)
    return value.timestamp()


def _check_period(start: float, end: float) -> None:
    if end <= start:
        raise Invalid(f"report period from {iso(start)} to {iso(end)} is empty; the end must "
                      f"be after the start", thing="period", value=f"{iso(start)}..{iso(end)}",
                      allowed="a start before the end")
    if end - start > MAX_PERIOD_S:
        days = MAX_PERIOD_S // 86400
        raise Invalid(f"report period from {iso(start)} to {iso(end)} is longer than {days} days",
                      thing="period", value=f"{iso(start)}..{iso(end)}",
                      allowed=f"at most {days} days")


def _resolve(live: LiveState, structure: Structure, scope: str, name: str,
             forgotten: dict[str, str] | None = None) -> tuple[str, list[str]]:
    """The target's name and the hex ids of its PDUs (a site report also covers the
    forgotten PDUs ``forgotten``, hex id → last name, and a device report finds them)."""
    if scope not in SCOPES:
        raise Invalid(f"report scope {scope!r} does not exist; choose one of {', '.join(SCOPES)}",
                      thing="scope", value=scope, allowed=", ".join(SCOPES))
    if scope == "site":
        if name not in ("", "site"):
            raise Invalid(f"a site report takes no name, got {name!r}", thing="name", value=name,
                          allowed="nothing (the whole site)")
        return "site", structure.devices_in(None) + sorted(forgotten or {})
    if not name:
        raise Invalid(f"a {scope} report needs the {scope}'s name", thing="name", value=name,
                      allowed=("a PDU's name or hex id" if scope == "device"
                               else f"the name or path of a {scope}"))
    if scope == "device":
        wanted = name.strip().lower()
        found = [d for d in live.ordered()
                 if d.hex_id.lower() == wanted or d.info.display_name.lower() == wanted]
        gone = [h for h, n in (forgotten or {}).items() if wanted in (h.lower(), n.lower())]
        if not found and len(gone) == 1:
            return f"{forgotten[gone[0]]} ({gone[0]}, forgotten)", gone  # type: ignore[index]
        if len(found) != 1:
            hint = "no PDU has that name or hex id" if not found else "several PDUs have that name; use the hex id"
            raise Invalid(f"PDU {name!r}: {hint}", thing="device", value=name,
                          allowed="a PDU's name or hex id (see /sensor)")
        d = found[0]
        return f"{d.info.display_name} ({d.hex_id})", [d.hex_id]
    kind = Kind(scope)
    wanted = " / ".join(p.strip() for p in name.split("/")).lower()
    els = structure.elements(kind)
    found = [e for e in els if structure.path(e).lower() == wanted] or \
            [e for e in els if e.name.lower() == wanted]
    if len(found) != 1:
        known = ", ".join(structure.path(e) for e in els[:10]) or "none defined"
        hint = f"no {scope} has that name" if not found else f"several {scope}s have that name; use the path"
        raise Invalid(f"{scope} {name!r}: {hint} ({scope}s: {known})", thing=scope, value=name,
                      allowed=f"the name or 'Room / Row / Rack' path of a {scope}")
    el = found[0]
    return structure.path(el), structure.devices_in(el.id)


def _tier(core: Any, now: float, start: float, end: float) -> int:
    """The finest tier fitting the span whose retention still reaches the start."""
    level = tier_for_span(end - start)
    while level < len(TIERS) - 1 and start < now - retention_s(core, TIERS[level]):
        level += 1
    return level


# ---------------------------------------------------------------------- figures
def counter_kwh(points: list[Point]) -> float | None:
    """Energy used over a counter's blocks: last − first reading.

    The first reading is the first block's minimum, the last the last block's maximum
    (an energy counter only rises). Should it fall (counter reset, PDU replaced), only
    the rises count, so the figure never goes negative.
    """
    if not points:
        return None
    total = points[0].max - points[0].min
    for prev, cur in zip(points, points[1:]):
        total += max(0.0, cur.max - prev.max)
    return round(total, 3)


def _mean(points: list[Point]) -> float | None:
    return round(sum(p.avg for p in points) / len(points), 1) if points else None


def _peak(points: list[Point]) -> float | None:
    return max(p.max for p in points) if points else None


async def _read_in_windows(history: Any, keys: list[Any], tier: int, start: float, end: float
                          ) -> dict[Any, list[Point]]:
    """``history.read_many`` over the period in windows of whole chunk periods, each
    decoding at most about ``_BLOCKS_PER_READ`` blocks, with the loop free in between
    (one read of two days of minute blocks of a 24-outlet PDU held the loop ~0.3 s)."""
    spec = TIERS[tier]
    periods = max(1, _BLOCKS_PER_READ * spec.block_s // (max(1, len(keys)) * spec.period_s))
    window = periods * spec.period_s
    out: dict[Any, list[Point]] = {k: [] for k in keys}
    w0 = start
    while w0 < end:
        w1 = min(end, (w0 // window + 1) * window)
        for k, points in (await history.read_many(keys, tier, w0, w1)).items():
            out[k] += points
        w0 = w1
        await asyncio.sleep(0)
    return out


# ---------------------------------------------------------------------- writers
DEVICE_HEADER = (N_("Hex ID"), N_("Name"), N_("Location"), N_("Energy (kWh)"),
                 N_("Average power (W)"), N_("Peak power (W)"), N_("Peak current L1 (A)"),
                 N_("Peak current L2 (A)"), N_("Peak current L3 (A)"))
OUTLET_HEADER = (N_("Hex ID"), N_("PDU"), N_("Outlet"), N_("Energy (kWh)"))
ALARM_HEADER = ("ID", "Start (UTC)", "End (UTC)", N_("Severity"), N_("Hex ID"), N_("PDU"),
                N_("Channel"), N_("Text"), N_("State"))
"""The tables' headings: English in the CSV (programs read its columns by these names),
translated in the workbook (``write_xlsx``: people read it)."""
SHEETS = {"Summary": N_("Summary"), "Devices": N_("Devices"), "Outlets": N_("Outlets"),
          "Alarms": N_("Alarms")}
"""The workbook's sheets: English name → message id (the same text)."""


def alarm_header(report: Report, tr: Callable[[str], str] = str) -> tuple[str, ...]:
    """The alarm table's header, its times named in the report's zone (``tr``: as in
    ``Report.summary``)."""
    label = report.zone_label
    return (tr("ID"), tr(N_("Start ({zone})")).format(zone=label),
            tr(N_("End ({zone})")).format(zone=label), *(tr(h) for h in ALARM_HEADER[3:]))


def _device_cells(d: DeviceRow) -> list[Any]:
    return [d.hex_id, d.name, d.location, d.kwh, d.avg_w, d.peak_w, *d.peak_a]


def _alarm_cells(a: AlarmRow, when: Callable[[float | None], str] = iso) -> list[Any]:
    return [a.id, when(a.start), when(a.end), a.severity, a.device, a.device_name, a.channel,
            a.text, a.state]


def _safe(value: Any) -> Any:
    """A CSV cell: empty for None; text a spreadsheet would run as a formula
    (``=``, ``+``, ``-``, ``@`` first, e.g. in a PDU name) gets a leading apostrophe."""
    if value is None:
        return ""
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@"):
        return "'" + value
    return value


def write_csv(report: Report, path: Path) -> None:
    """Write the report as one CSV file: the summary, then the PDU, outlet and alarm
    tables, each after a blank line and its header row (empty cell: no history), then
    the measured values in long format (kind, PDU, part, quantity, unit, statistic,
    value: one row per channel and statistic)."""
    with open(path, "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        rows: list[list[Any]] = [[label, value] for label, value in report.summary()]
        rows += [[], list(DEVICE_HEADER)] + [_device_cells(d) for d in report.devices]
        rows += [[], list(OUTLET_HEADER)]
        rows += [[o.hex_id, o.device_name, o.outlet, o.kwh] for o in report.outlets]
        rows += [[], list(alarm_header(report))]
        rows += [_alarm_cells(a, report.when) for a in report.alarms]
        rows += [[], *measure_csv_rows(report.measurements)]
        writer.writerows([_safe(v) for v in row] for row in rows)


def write_xlsx(report: Report, path: Path) -> None:
    """Write the report as an Excel workbook with sheets Summary, Devices, Outlets and
    Alarms, then one sheet per measured kind that has data (Voltage, Current, Power
    factor, Residual current, Temperature, Humidity), each with its own line chart; the
    Summary sheet carries two native charts whose series reference the Devices sheet:
    energy per PDU (column D) and average/peak power (columns E, F).

    A workbook is read by people: its sheet names, headings, labels, chart titles and
    alarm sentences are in the language current where it is made (the shell's or the
    console's session; the REST API and a caller outside a session: English)."""
    import xlsxwriter

    sheet = {k: _(v) for k, v in SHEETS.items()}

    wb = xlsxwriter.Workbook(str(path), {"strings_to_numbers": False,
                                         "strings_to_formulas": False,
                                         "strings_to_urls": False})
    try:
        bold = wb.add_format({"bold": True})
        summary = wb.add_worksheet(sheet["Summary"])
        summary.set_column(0, 0, 28)
        summary.set_column(1, 1, 34)
        for r, (label, value) in enumerate(report.summary(_)):
            summary.write(r, 0, label, bold)
            summary.write(r, 1, value)
        devices = wb.add_worksheet(sheet["Devices"])
        devices.write_row(0, 0, [_(h) for h in DEVICE_HEADER], bold)
        devices.set_column(0, 2, 18)
        devices.set_column(3, 8, 14)
        for r, d in enumerate(report.devices, start=1):
            devices.write_row(r, 0, _device_cells(d))
        outlets = wb.add_worksheet(sheet["Outlets"])
        outlets.write_row(0, 0, [_(h) for h in OUTLET_HEADER], bold)
        for r, o in enumerate(report.outlets, start=1):
            outlets.write_row(r, 0, [o.hex_id, o.device_name, o.outlet, o.kwh])
        alarms = wb.add_worksheet(sheet["Alarms"])
        alarms.write_row(0, 0, alarm_header(report, _), bold)
        alarms.set_column(1, 2, 26)
        alarms.set_column(7, 7, 50)
        for r, a in enumerate(report.alarms, start=1):
            cells = _alarm_cells(a, report.when)
            cells[7] = alarm_text(a.text)
            alarms.write_row(r, 0, cells)
        write_measure_sheets(wb, report.measurements, bold)
        n = len(report.devices)
        if n:
            dev = sheet["Devices"]
            names = [dev, 1, 1, n, 1]
            energy = wb.add_chart({"type": "column"})
            energy.add_series({"name": [dev, 0, 3], "categories": names,
                               "values": [dev, 1, 3, n, 3]})
            energy.set_title({"name": _("Energy per PDU (kWh)")})
            energy.set_y_axis({"name": "kWh"})
            energy.set_legend({"none": True})
            power = wb.add_chart({"type": "column"})
            for col in (4, 5):
                power.add_series({"name": [dev, 0, col], "categories": names,
                                  "values": [dev, 1, col, n, col]})
            power.set_title({"name": _("Average and peak power per PDU (W)")})
            power.set_y_axis({"name": "W"})
            summary.insert_chart(len(report.summary()) + 1, 0, energy)
            summary.insert_chart(len(report.summary()) + 17, 0, power)
    finally:
        wb.close()


def _slug(text: str, limit: int = 64) -> str:
    """Letters, digits, ``.``, ``_`` and ``-`` only; no leading or trailing dot; at most
    ``limit`` characters."""
    return re.sub(r"[^A-Za-z0-9._-]+", "_", text).strip("_.")[:limit].strip("_.") or "unnamed"


def _stamp(t: float) -> str:
    """A compact UTC time for a file name: the date alone at midnight, minutes when the
    seconds are zero, else seconds (``20250615``, ``20250615T1506Z``, ``20250615T150640Z``)."""
    d = dt.datetime.fromtimestamp(t, dt.timezone.utc)
    if (d.hour, d.minute, d.second) == (0, 0, 0):
        return d.strftime("%Y%m%d")
    return d.strftime("%Y%m%dT%H%MZ" if d.second == 0 else "%Y%m%dT%H%M%SZ")


FILE_SCOPE = {"device": "pdu"}
"""The word a file name starts with, where it differs from the scope's."""


def report_filename(scope: str, label: str, start: float, end: float, fmt: str) -> str:
    """What the file holds, in its name: ``<scope>-<label>-<from>-<to>.<ext>``
    (``rack-Hall_A.Row_1.Rack_1-20250614-20250615.xlsx``, ``pdu-web-01-4ec27-….csv``,
    ``site-….csv``); ``label`` is the element's path (parts joined by dots) or the PDU's
    name and hex id, in safe characters only."""
    word = FILE_SCOPE.get(scope, scope)
    parts = [word] if scope == "site" else [word, label]
    return f"{'-'.join(parts)}-{_stamp(start)}-{_stamp(end)}.{fmt}"


def file_label(scope: str, target: str, hex_ids: list[str], live: LiveState,
               forgotten: dict[str, str] | None = None) -> str:
    """The safe label of a report's target for its file name (see ``report_filename``);
    ``forgotten`` names PDUs that left the ring (hex id → last name)."""
    if scope == "site":
        return ""
    if scope == "device" and hex_ids:
        d = live.get(hex_ids[0])
        name = d.info.display_name if d is not None else (forgotten or {}).get(hex_ids[0], "")
        return f"{_slug(name, 40)}-{hex_ids[0]}" if name else hex_ids[0]
    return ".".join(_slug(part, 40) for part in target.split(" / "))


class ReportService:
    """Builds reports from explicit dependencies: live state and the structure (which
    PDUs a scope holds), the history (figures), the alarm history, the ``core``
    settings (retention per tier), a clock and the folder reports are written to.
    Faces call ``build`` (figures on screen) and ``generate`` (a file)."""

    def __init__(self, *, live: LiveState, structure: Structure, history: HistoryService,
                 alarms: AlarmService, core_settings: Callable[[], Any], folder: Path,
                 clock: Callable[[], float],
                 forgotten: Callable[[], dict[str, str]] = dict,
                 zone: Callable[[], str] = lambda: "UTC") -> None:
        self._zone = zone
        """The ``config/time`` timezone: the times of the files a person reads."""
        self._live = live
        self._forgotten = forgotten
        """Forgotten PDUs (hex id → last name): their history stays reportable."""
        self._structure = structure
        self._history = history
        self._alarms = alarms
        self._core_settings = core_settings
        self.folder = folder
        """Where ``generate`` writes (``<data-dir>/reports``, SFTP ``/reports``)."""
        self._clock = clock

    async def _device_figures(self, hex_id: str, tier: int, start: float, end: float
                              ) -> tuple[DeviceRow, list[OutletRow]]:
        history = self._history
        known = history.channels_of(hex_id)
        t, i, o = Component.TOTAL.value, Component.INPUT.value, Component.OUTLET.value
        energy = (hex_id, t, 0, "energy")
        power = (hex_id, t, 0, "activePower")
        phase_power = [(hex_id, i, p, "activePower") for p in PHASES]
        currents = [(hex_id, i, p, "current") for p in PHASES]
        outlets = sorted(k for k in known if k[1] == o and k[3] == "energy")
        keys = [energy, power, *phase_power, *currents, *outlets]
        data = await _read_in_windows(history, keys, tier, start, end)
        pw = data[power]
        if not pw:  # no total power channel: per-block sum of the phases
            acc: dict[float, list[float]] = {}
            for k in phase_power:
                for p in data[k]:
                    cur = acc.setdefault(p.t, [0.0, 0.0, 0.0])
                    cur[0] += p.min
                    cur[1] += p.max
                    cur[2] += p.avg
            pw = [Point(tt, v[0], v[1], v[2]) for tt, v in sorted(acc.items())]
        live = self._live.get(hex_id)
        name = live.info.display_name if live is not None else self._forgotten().get(hex_id, hex_id)
        row = DeviceRow(hex_id, name, self._structure.location_of(hex_id),
                        counter_kwh(data[energy]), _mean(pw), _peak(pw),
                        tuple(_peak(data[k]) for k in currents))  # type: ignore[arg-type]
        out = []
        for k in outlets:
            kwh = counter_kwh(data[k])
            if kwh is not None:
                out.append(OutletRow(hex_id, name, k[2], kwh))
        return row, out

    async def build(self, principal: Principal, scope: str, name: str,
                    start: float, end: float) -> Report:
        """Gather a report's figures from the history and the alarm history.

        Args:
            principal: who asks (needs READ).
            scope: site, room, row, rack or device.
            name: the element's name or path, the PDU's name or hex id; empty for site.
            start: period start, epoch seconds (inclusive).
            end: period end, epoch seconds (exclusive).

        Energy is last − first of each energy counter's history in the period (see
        ``counter_kwh``); power and current figures are the history blocks' averages and
        maxima at the finest tier that covers the period.
        """
        require(principal, Action.READ, "reports")
        _check_period(start, end)
        target, devices = _resolve(self._live, self._structure, scope, name, self._forgotten())
        now = self._clock()
        tier = _tier(self._core_settings(), now, start, end)
        report = Report(scope, target, start, end, now, TIERS[tier].block_s, zone=self._zone())
        gone = self._forgotten()
        for hex_id in devices:
            row, outlets = await self._device_figures(hex_id, tier, start, end)
            if scope == "site" and hex_id in gone and row.kwh is None and row.avg_w is None:
                continue  # forgotten before the period: nothing to report
            report.devices.append(row)
            report.outlets += outlets
            report.measurements += await measure_rows(
                self._history.channels_of(hex_id), hex_id, row.name,
                lambda keys: _read_in_windows(self._history, keys, tier, start, end))
            await asyncio.sleep(0)
        alarms = await self._alarms.query(principal, AlarmFilter(since=start, until=end),
                                          limit=_ALARM_LIMIT)
        wanted = set(devices)
        for a in sorted(alarms, key=lambda a: (a.start, a.id)):
            if scope == "site" or a.device in wanted:
                report.alarms.append(AlarmRow(a.id, a.start, a.end, a.peak_severity, a.device,
                                              a.device_name, a.channel, a.text, a.state))
        return report

    async def generate(self, principal: Principal, scope: str, name: str,
                       start: float, end: float, fmt: str) -> Path:
        """Build a report and write it into the reports folder; returns the file.

        The file is written in a worker thread under a temporary name and renamed into
        place, so a reader never sees half a report.
        """
        if fmt not in FORMATS:
            raise Invalid(f"report format {fmt!r} does not exist; choose {' or '.join(FORMATS)}",
                          thing="format", value=fmt, allowed=", ".join(FORMATS))
        report = await self.build(principal, scope, name, start, end)
        folder = self.folder
        folder.mkdir(parents=True, exist_ok=True)
        gone = self._forgotten()
        target, ids = _resolve(self._live, self._structure, scope, name, gone)
        final = folder / report_filename(scope, file_label(scope, target, ids, self._live, gone),
                                         start, end, fmt)
        tmp = folder / f".{final.name}.{os.getpid()}.{id(report)}.tmp"
        writer = write_csv if fmt == "csv" else write_xlsx
        try:
            await asyncio.to_thread(writer, report, tmp)
            await asyncio.to_thread(os.replace, tmp, final)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
        return final
