"""Pilot tests and snapshots of the Reports page (issue 7): F8 opens it, a report over a
history fed with a simulated clock appears as a summary and tables equal to the core's
``ReportService.build``, bad input shows the core's message and changes nothing, ``c``/``x``
write the files into <data-dir>/reports and show their SFTP path.

The module's controller is the frozen ring of the snapshots, but started two hours
before the snapshots' time with the poller stopped after its first sweep: two hours of
deterministic readings of every PDU are fed into the history, then its clock is set
to ``FIXED_CLOCK``, so the last-24-hours report of the page covers them.
"""

from __future__ import annotations

import csv
import math
from pathlib import Path

import openpyxl
import pytest
import pytest_asyncio
from textual.widgets import Input, Select, Static

from enerteg_tui.core.errors import Invalid
from enerteg_tui.core.quantities import Component
from enerteg_tui.core.reports import iso
from enerteg_tui.screens.livetable import LiveTable
from enerteg_tui.screens.reports_page import ReportsPage
from enerteg_tui.screens.tree import Place
from tests.conftest import ADMIN

from .conftest import FIXED_CLOCK, SIZES, build_frozen, make_app, settle

pytestmark = pytest.mark.asyncio(loop_scope="module")

HISTORY_S = 2 * 3600
"""Simulated history before the snapshots' time."""
STEP_S = 10
"""Seconds between two fed readings."""


class MovableClock:
    """The controller's wall clock, moved by the fixture while it feeds the history."""

    def __init__(self, t: float) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t


def readings(t: float, n: int, t0: float, kwh0: float) -> dict:
    """Deterministic readings of PDU number ``n`` at time ``t``: the energy counter rises
    from ``kwh0`` at ``t0`` by (0.5 + n/10) kWh an hour."""
    cur = [1 + n / 4 + 0.5 * math.sin(t / 900 + p) + p / 4 for p in range(3)]
    groups: dict = {(Component.TOTAL, 0): {"energy": kwh0 + (t - t0) / 3600 * (0.5 + n / 10),
                                           "activePower": sum(230 * c for c in cur),
                                           "current": sum(cur), "residualCurrent": 2 + n / 10}}
    for p in range(3):
        groups[(Component.INPUT, p + 1)] = {"current": cur[p], "activePower": 230 * cur[p],
                                            "apparentPower": 235 * cur[p],
                                            "reactivePower": 40 * cur[p]}
    return groups


async def raise_unreachable_alarm(c, clock: MovableClock, hex_id: str) -> None:
    """Make a PDU unreachable until the core raises its alarm, then bring it back (the
    alarm ends), sweeping by hand every 5 simulated seconds."""
    await c.topics.put(ADMIN, f"sim/{hex_id}", {"reachable": False})
    while not any(a.device == hex_id for a in c.alarms.active()):
        clock.t += 5
        await c.poller.sweep()
    await c.topics.put(ADMIN, f"sim/{hex_id}", {"reachable": True})
    while any(a.device == hex_id for a in c.alarms.active()):
        clock.t += 5
        await c.poller.sweep()
    await c.alarms.flush()


async def feed_history(c, clock: MovableClock, seconds: int = HISTORY_S) -> None:
    """Stop the poller, raise and end an alarm on the fourth PDU, feed ``seconds`` of
    readings up to ``FIXED_CLOCK``, flush, and leave the clock there."""
    await c.poller.stop()
    await raise_unreachable_alarm(c, clock, c.live.ordered()[3].hex_id)
    devs = [d.hex_id for d in c.live.ordered()]
    t0 = t = FIXED_CLOCK - seconds
    kwh0 = [c.live.get(h).value(Component.TOTAL, 0, "energy") or 0.0 for h in devs]
    while t < FIXED_CLOCK:
        clock.t = t
        for n, hex_id in enumerate(devs):
            c.history.collector.ingest(hex_id, readings(t, n, t0, kwh0[n]), t)
        t += STEP_S
        if int(t) % 300 == 0:
            await c.history.flush(now=t)
    clock.t = FIXED_CLOCK
    await c.history.flush(now=FIXED_CLOCK)


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def with_history(tmp_path_factory: pytest.TempPathFactory):
    """The snapshots' ring and DC tree with two hours of history before ``FIXED_CLOCK``."""
    clock = MovableClock(FIXED_CLOCK - HISTORY_S - 120)
    c = await build_frozen(tmp_path_factory.mktemp("reports"), clock=clock)
    await feed_history(c, clock)
    yield c
    await c.stop()


def page(app) -> ReportsPage:
    p = app.main.query_one("#page").children[0]
    assert isinstance(p, ReportsPage)
    return p


async def open_reports(pilot) -> ReportsPage:
    await settle(pilot)
    await pilot.press("f8")
    await settle(pilot)
    return page(pilot.app)


async def wait_idle(pilot, p: ReportsPage) -> None:
    """Let the page's worker finish (it reads the history database)."""
    for _ in range(200):
        await settle(pilot)
        if not p.running:
            break
    await settle(pilot)


def status(p: ReportsPage) -> str:
    return str(p.query_one("#status", Static).render())


def set_form(p: ReportsPage, scope: str | None = None, **fields: str) -> None:
    if scope is not None:
        p.query_one("#scope", Select).value = scope
    for key, text in fields.items():
        p.query_one(f"#{key}", Input).value = text


async def test_f8_opens_with_site_and_last_day(with_history) -> None:
    async with make_app(with_history).run_test(size=(120, 40)) as pilot:
        p = await open_reports(pilot)
        assert p.query_one("#scope", Select).value == "site"
        assert p.query_one("#name", Input).disabled
        assert p.form() == ("site", "", FIXED_CLOCK - 86400, FIXED_CLOCK)
        assert not p.has_class("-result") and p.report is None
        await pilot.press("7")
        assert p.form()[2:] == (FIXED_CLOCK - 7 * 86400, FIXED_CLOCK)
        await pilot.press("3")
        assert p.form()[2:] == (FIXED_CLOCK - 30 * 86400, FIXED_CLOCK)
        await pilot.press("1")
        assert p.form()[2:] == (FIXED_CLOCK - 86400, FIXED_CLOCK)


async def test_site_report_on_screen_equals_the_core(with_history) -> None:
    c = with_history
    async with make_app(c).run_test(size=(160, 48)) as pilot:
        p = await open_reports(pilot)
        await pilot.press("r")
        await wait_idle(pilot, p)
        assert "Report built" in status(p) and p.has_class("-result")
        want = await c.reports.build(ADMIN, "site", "", FIXED_CLOCK - 86400, FIXED_CLOCK)
        assert p.report is not None and p.report.devices == want.devices
        assert want.resolution_s == 60 and len(want.devices) == 8
        assert all(d.kwh and d.kwh > 0.9 for d in want.devices)  # two hours of ≥ 0.5 kW
        table = p.query_one("#devices", LiveTable)
        assert [r.key for r in table.rows] == [d.hex_id for d in want.devices]
        first = table.rows[0].cells
        d0 = want.devices[0]
        assert first["kwh"] == f"{d0.kwh:.3f}" and first["peak"] == f"{d0.peak_w:.0f}"
        assert first["L3"] == f"{d0.peak_a[2]:.2f}"
        alarms = p.query_one("#alarms", LiveTable)
        assert len(want.alarms) == 1 and "unreachable" in want.alarms[0].text
        assert [r.key for r in alarms.rows] == [want.alarms[0].id]
        severity = alarms.rows[0].cells["severity"]
        assert str(getattr(severity, "plain", severity)) == "Critical" and alarms.display
        summary = str(p.query_one("#summary", Static).render())
        assert f"{want.total_kwh:.3f} kWh" in summary and "60 s blocks" in summary
        assert iso(FIXED_CLOCK - 86400) in summary


async def test_rack_from_the_tree_and_enter_runs(with_history) -> None:
    c = with_history
    rack = next(e for e in c.structure.elements() if e.name == "Rack 1")
    async with make_app(c).run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        await pilot.app.open_place(Place("element", rack.id))
        await settle(pilot)
        p = await open_reports(pilot)
        assert p.form()[:2] == ("rack", "Hall A / Row 1 / Rack 1")
        p.query_one("#name", Input).focus()
        await pilot.press("enter")
        await wait_idle(pilot, p)
        assert p.report is not None and p.report.target == "Hall A / Row 1 / Rack 1"
        assert [d.hex_id for d in p.report.devices] == c.structure.devices_in(rack.id)


async def test_bad_input_shows_the_core_message_and_keeps_the_result(with_history) -> None:
    c = with_history
    async with make_app(c).run_test(size=(120, 40)) as pilot:
        p = await open_reports(pilot)
        await pilot.press("r")
        await wait_idle(pilot, p)
        shown = p.report
        assert shown is not None
        cases = [
            (dict(scope="site", **{"from": "yesterday"}), "From 'yesterday' is not a time"),
            (dict(scope="rack", name="Rack Q", **{"from": iso(FIXED_CLOCK - 3600)}),
             "rack 'Rack Q': no rack has that name"),
            (dict(scope="site", **{"from": iso(FIXED_CLOCK), "to": iso(FIXED_CLOCK - 60)}),
             "is empty; the end must be after the start"),
        ]
        for fields, text in cases:
            set_form(p, fields.pop("scope"))
            await settle(pilot)
            set_form(p, **fields)
            await pilot.press("r")
            await wait_idle(pilot, p)
            assert text in status(p), status(p)
            assert p.query_one("#status").has_class("-error")
            assert p.report is shown
        before = sorted((Path(c.data_dir) / "reports").glob("*")) if (
            Path(c.data_dir) / "reports").exists() else []
        await pilot.press("c")
        await wait_idle(pilot, p)
        assert "is empty" in status(p)
        after = sorted((Path(c.data_dir) / "reports").glob("*")) if (
            Path(c.data_dir) / "reports").exists() else []
        assert after == before
        with pytest.raises(Invalid, match="Rack Q"):
            await c.reports.build(ADMIN, "rack", "Rack Q", FIXED_CLOCK - 60, FIXED_CLOCK)


async def test_progress_shown_and_esc_cancels(with_history) -> None:
    async with make_app(with_history).run_test(size=(120, 40)) as pilot:
        p = await open_reports(pilot)
        p.action_run()  # the worker has not run yet: the progress line is up
        assert p.running and p.has_class("-running")
        assert p.query_one("#progress-line").display
        assert "Building the site report" in str(p.query_one("#elapsed", Static).render())
        assert p.check_action("cancel", ()) is True  # esc is bound to cancel meanwhile
        p.action_cancel()
        assert not p.running and not p.has_class("-running")
        assert p.check_action("cancel", ()) is False
        await settle(pilot)
        assert "cancelled" in status(p) and p.report is None
        await pilot.press("escape")  # nothing running: the frame's back key
        await settle(pilot)
        assert pilot.app.main.query_one("#page").children[0] is not p


async def test_csv_and_excel_files_are_written(with_history) -> None:
    c = with_history
    async with make_app(c, "readonly").run_test(size=(120, 40)) as pilot:
        p = await open_reports(pilot)
        set_form(p, "device")
        await settle(pilot)
        hex_id = c.live.ordered()[1].hex_id
        set_form(p, name=hex_id)
        await pilot.press("r")
        await wait_idle(pilot, p)
        shown = p.report
        assert shown is not None and [d.hex_id for d in shown.devices] == [hex_id]
        await pilot.press("c")
        await wait_idle(pilot, p)
        folder = Path(c.data_dir) / "reports"
        csv_files = list(folder.glob(f"pdu-*-{hex_id}-*.csv"))
        assert len(csv_files) == 1
        assert f"/reports/{csv_files[0].name}" in status(p)
        rows = list(csv.reader(csv_files[0].open(newline="", encoding="utf-8")))
        assert rows[0] == ["Report", "EnerTEG device report"]
        dev = next(r for r in rows if r and r[0] == hex_id)
        assert float(dev[3]) == shown.devices[0].kwh
        await pilot.press("x")
        await wait_idle(pilot, p)
        xlsx = list(folder.glob(f"pdu-*-{hex_id}-*.xlsx"))
        assert len(xlsx) == 1 and f"/reports/{xlsx[0].name}" in status(p)
        wb = openpyxl.load_workbook(xlsx[0])
        assert wb.sheetnames[:4] == ["Summary", "Devices", "Outlets", "Alarms"]
        # issue 19 item 5: one sheet per measured kind after them
        assert {"Voltage", "Current", "Power factor"} <= set(wb.sheetnames[4:])
        assert wb["Voltage"].cell(2, 1).value == hex_id
        assert wb["Devices"].cell(2, 1).value == hex_id
        assert not list(folder.glob(".*.tmp"))


# ---------------------------------------------------------------------- snapshots
@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
async def test_reports_form(with_history, snap, size) -> None:
    async def go(pilot):
        await pilot.press("f8")
        await settle(pilot)

    assert await snap(make_app(with_history), size, go)


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
async def test_reports_site_result(with_history, snap, size) -> None:
    async def go(pilot):
        await pilot.press("f8")
        await settle(pilot)
        p = page(pilot.app)
        await pilot.press("r")
        await wait_idle(pilot, p)

    assert await snap(make_app(with_history), size, go)


async def test_report_times_follow_the_time_zone(with_history) -> None:
    """Issue 23 item 1: with config/time timezone set, the summary line and the alarm
    table show the report's times in that zone, the columns named by its abbreviation."""
    import datetime as dt
    import zoneinfo

    c = with_history
    await c.config.put(ADMIN, "time", {"timezone": "Europe/Prague"})
    try:
        async with make_app(c).run_test(size=(160, 48)) as pilot:
            p = await open_reports(pilot)
            await pilot.press("r")
            await wait_idle(pilot, p)
            assert p.report is not None and p.report.zone == "Europe/Prague"
            tz = zoneinfo.ZoneInfo("Europe/Prague")
            summary = str(p.query_one("#summary", Static).render())
            start = dt.datetime.fromtimestamp(FIXED_CLOCK - 86400, tz).isoformat(
                timespec="seconds")
            assert start in summary and iso(FIXED_CLOCK - 86400) not in summary
            alarms = p.query_one("#alarms", LiveTable)
            abbr = dt.datetime.fromtimestamp(FIXED_CLOCK, tz).strftime("%Z")
            assert [col.label for col in alarms.columns if col.key in ("start", "end")] == [
                f"Start {abbr}", f"End {abbr}"]
            a = p.report.alarms[0]
            assert alarms.rows[0].cells["start"] == dt.datetime.fromtimestamp(
                a.start, tz).strftime("%m-%d %H:%M")
    finally:
        await c.config.put(ADMIN, "time", {"timezone": "UTC"})
