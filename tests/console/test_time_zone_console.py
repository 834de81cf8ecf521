"""The zone of ``config/time`` in every time the console shows (issue 23 item 1): the
alarms and audit tables (cells and the zone in the column heading), the audit entry's
detail, the Settings list and the time form (with the manual's warning about history
gaps), the tokens page, a PDU's diagnostics and the chart axes. Winter in Prague: one
hour ahead of UTC, ``CET``; a zone change shows at the next render, no restart."""

from __future__ import annotations

import datetime as dt
import zoneinfo

from textual.widgets import Static

from enerteg_tui.core.timesync import CLOCK_CHANGE_WARNING
from enerteg_tui.core.audit import AuditFilter
from enerteg_tui.screens.audit_page import AuditDetail, describe_filter
from enerteg_tui.screens.chart_axes import readout, time_ticks
from enerteg_tui.screens.device_diag import diag_rows
from tests.conftest import ADMIN

from .conftest import build_frozen, make_app, settle
from .test_alarms_page import open_alarms, raise_alarms
from .test_audit_page import keys as audit_keys, open_audit
from .test_settings_page import open_topic, page as settings_page
from .test_tokens_page import open_tokens, screen_text

WINTER = 1_768_000_000.0
"""2026-01-09 23:06:40 UTC = 2026-01-10 00:06:40 CET (the date changes too)."""
PRAGUE = {"timezone": "Europe/Prague"}


def heading(table, key: str) -> str:
    return next(c.label for c in table.columns if c.key == key)


async def winter(tmp_path):
    c = await build_frozen(tmp_path, clock=lambda: WINTER)
    await c.topics.put(ADMIN, "config/time", PRAGUE)
    return c


async def test_alarms_table_in_the_zone_and_back_to_utc_live(tmp_path) -> None:
    c = await winter(tmp_path)
    try:
        await raise_alarms(c)
        async with make_app(c, clock=lambda: WINTER).run_test(size=(160, 48)) as pilot:
            p = await open_alarms(pilot)
            assert heading(p.table, "time") == "Time (CET)"
            assert {r.cells["time"] for r in p.table.rows} == {"01-10 00:06:40"}
            await c.topics.put(ADMIN, "config/time", {"timezone": "UTC"})
            await pilot.press("f2")                     # another page, then back
            p = await open_alarms(pilot)
            assert heading(p.table, "time") == "Time (UTC)"
            assert {r.cells["time"] for r in p.table.rows} == {"01-09 23:06:40"}
    finally:
        await c.stop()


async def test_audit_table_and_detail_in_the_zone(tmp_path) -> None:
    c = await winter(tmp_path)
    try:
        entry = await c.audit.record(ADMIN, "ring.break", "ring", "Ring broken")
        await c.audit.comment(ADMIN, entry.id, "looked at it")
        async with make_app(c, clock=lambda: WINTER).run_test(size=(120, 40)) as pilot:
            p = await open_audit(pilot)
            assert heading(p.table, "time") == "Time (CET)"
            row = p.table.rows[audit_keys(p).index(entry.id)]
            assert row.cells["time"] == "01-10 00:06:40"
            p.table.cursor_row = audit_keys(p).index(entry.id)
            await pilot.press("enter")
            await settle(pilot)
            detail = pilot.app.screen
            assert isinstance(detail, AuditDetail)
            body = str(detail.query_one("#text", Static).render())
            assert "2026-01-10T00:06:40+01:00" in body
            assert "2026-01-10 00:06:40 " in body            # the comment's time
        assert describe_filter(AuditFilter(since=WINTER), "", "Europe/Prague") == (
            "from 2026-01-10T00:06:40+01:00")
        assert describe_filter(AuditFilter(since=WINTER)) == "from 2026-01-09T23:06:40Z"
    finally:
        await c.stop()


async def test_settings_list_and_time_form_show_the_zone_and_the_warning(tmp_path) -> None:
    c = await winter(tmp_path)
    try:
        async with make_app(c, clock=lambda: WINTER).run_test(size=(160, 48)) as pilot:
            form = await open_topic(pilot, "time")
            line = str(form.query_one("#service", Static).render())
            assert CLOCK_CHANGE_WARNING in line
            assert "host NTP client: the host's own" in line
            await pilot.press("f9")
            await settle(pilot)
            listing = settings_page(pilot.app)
            table = listing.query_one("#topics")
            assert heading(table, "changed") == "Last changed (CET)"
            changed = next(r for r in table.rows if r.key == "time").cells["changed"]
            ts = c.core.config.ts_ms("time") / 1000
            local = dt.datetime.fromtimestamp(ts, zoneinfo.ZoneInfo("Europe/Prague"))
            assert changed == local.strftime("%Y-%m-%d %H:%M:%S")
    finally:
        await c.stop()


async def test_tokens_page_in_the_zone(tmp_path) -> None:
    c = await winter(tmp_path)
    try:
        info, _ = await c.core.tokens.create(ADMIN, "ansible", days=90)
        async with make_app(c, clock=lambda: WINTER).run_test(size=(160, 48)) as pilot:
            await open_tokens(pilot)
            await settle(pilot)
            made = dt.datetime.fromtimestamp(info.created, zoneinfo.ZoneInfo("Europe/Prague"))
            assert f"made {made:%Y-%m-%d %H:%M} {made:%Z}," in screen_text(pilot.app)
    finally:
        await c.stop()


async def test_device_diagnostics_in_the_zone(tmp_path) -> None:
    c = await winter(tmp_path)
    try:
        live = c.live.ordered()[0]
        rows = {str(r.cells["param"]): str(r.cells["value"])
                for r in diag_rows(live, WINTER, c.core.config)}
        answered = rows["Last answer at"]
        assert answered.endswith((" CET", " CEST")), rows
    finally:
        await c.stop()


def test_chart_axes_tick_and_read_in_the_zone() -> None:
    prague = zoneinfo.ZoneInfo("Europe/Prague")
    start = WINTER - 6 * 3600                          # 17:06:40 … 23:06:40 UTC
    utc = time_ticks(start, WINTER, 80)
    local = time_ticks(start, WINTER, 80, prague)
    assert [t for t, _ in local] == [t for t, _ in utc]   # whole hours in both zones
    assert utc[0][1] == "18:00" and local[0][1] == "19:00"
    assert readout("current", WINTER, 1.0, tz=prague).startswith("10 Jan 2026 00:06:40 CET · ")
    india = time_ticks(start, WINTER, 80, zoneinfo.ZoneInfo("Asia/Kolkata"))
    assert india[0][1].endswith(":00")                 # round in local time (UTC+5:30)
