"""Pilot tests of the Alarms page (manual §9.1): filters, sort, acknowledge, jump, live.

Alarms come from real rules evaluated by the core on the frozen ring (one sweep, fixed
clock), so the page shows exactly what ``AlarmService`` holds; acknowledging goes through
the core, which refuses roles without ``ack-alarm`` and double acknowledgements.
"""

from __future__ import annotations

import pytest
from textual.widgets import Input, Static

from enerteg_tui.core.alarms import AlarmFilter
from enerteg_tui.core.errors import PermissionDenied
from enerteg_tui.core.quantities import Component
from enerteg_tui.screens.alarms_page import AlarmsPage
from enerteg_tui.screens.device_view import DevicePage
from enerteg_tui.screens.forms import FormDialog
from enerteg_tui.screens.header import StatusHeader
from enerteg_tui.screens.keybar import KeyBar
from tests.conftest import ADMIN, principal
from tests.helpers import wait_for

from .conftest import make_app, settle
from .pilots import page


async def open_alarms(pilot) -> AlarmsPage:
    await settle(pilot)
    await pilot.press("f4")
    await settle(pilot)
    p = page(pilot.app)
    assert isinstance(p, AlarmsPage)
    return p


async def raise_alarms(c) -> list[int]:
    """A warning on every PDU's total current and an alert on the first PDU's L1 current."""
    first = c.live.ordered()[0]
    await c.rules.create(ADMIN, {
        "name": "busy PDUs", "quantity": "current", "component": "t", "minDurationSeconds": 0,
        "warningAbove": {"enabled": True, "value": 0.1}})
    level = first.value(Component.INPUT, 1, "current")
    await c.rules.create(ADMIN, {
        "name": "L1 limit", "scope": "pdu", "target": first.hex_id, "quantity": "current",
        "component": "i", "indexFrom": 1, "indexTo": 1, "minDurationSeconds": 0,
        "criticalAbove": {"enabled": True, "value": round(level / 2, 3)}})
    c.alarms.on_sweep()
    await c.alarms.flush()
    return [a.id for a in c.alarms.open_alarms()]


def detail(p: AlarmsPage) -> str:
    return str(p.query_one("#detail", Static).render())


def keys(app) -> str:
    return str(app.screen.query_one(KeyBar).render())


@pytest.mark.asyncio
async def test_lists_open_alarms_like_the_core(frozen):
    ids = await raise_alarms(frozen)
    assert len(ids) >= 3
    async with make_app(frozen).run_test(size=(120, 40)) as pilot:
        p = await open_alarms(pilot)
        assert [r.key for r in p.table.rows] == ids           # newest first, every open one
        crit = [a for a in frozen.alarms.open_alarms() if a.severity == "Critical"]
        assert len(crit) == 1
        # the header counters agree with the page's title
        header = str(pilot.app.screen.query_one(StatusHeader).render())
        counts = frozen.alarms.counts()
        assert f"✖{counts['critical']}" in header and f"▲{counts['warning']}" in header
        assert f"{counts['warning']} Warning" in str(p.query_one("#title").render())
        # the highlighted alarm is spelled out in the manual's words
        assert frozen.alarms.get(ids[0]).text in detail(p).replace("\n", " ")


@pytest.mark.asyncio
async def test_severity_state_filters_and_sort(frozen):
    await raise_alarms(frozen)
    async with make_app(frozen).run_test(size=(120, 40)) as pilot:
        p = await open_alarms(pilot)
        total = len(p.table.rows)
        await pilot.press("s")                                # warnings
        assert len(p.table.rows) == total - 1
        assert all(frozen.alarms.get(int(r.key)).severity == "Warning" for r in p.table.rows)
        await pilot.press("s")                                # Critical only
        assert [frozen.alarms.get(int(r.key)).severity for r in p.table.rows] == ["Critical"]
        await pilot.press("s")                                # all again
        await pilot.press("f")                                # active, unacknowledged
        assert len(p.table.rows) == total
        await pilot.press("f")                                # active, acknowledged: none
        await settle(pilot)
        assert p.table.rows == [] and "No alarms match" in detail(p)
        await pilot.press("f", "f", "f")                      # back to open
        await settle(pilot)
        assert len(p.table.rows) == total
        await pilot.press("o")                                # Critical first
        first = frozen.alarms.get(int(p.table.rows[0].key))
        assert first.severity == "Critical"
        assert "Critical first" in str(p.query_one("#filters").render())


@pytest.mark.asyncio
async def test_acknowledge_marked_with_a_comment(frozen):
    ids = await raise_alarms(frozen)
    async with make_app(frozen).run_test(size=(120, 40)) as pilot:
        p = await open_alarms(pilot)
        await pilot.press("space", "space")                   # marks the first two rows
        assert p.marked == set(ids[:2])
        await pilot.press("a")
        await settle(pilot)
        form = pilot.app.screen
        assert isinstance(form, FormDialog) and "2 alarms" in form.intro
        form.query_one("#f-comment", Input).value = "moved load to feed B"
        form.query_one(Input).focus()
        await pilot.press("enter")
        await wait_for(lambda: not isinstance(pilot.app.screen, FormDialog))
        await settle(pilot)
        for alarm_id in ids[:2]:
            a = frozen.alarms.get(alarm_id)
            assert a.acked and a.ack_user == "admin" and a.ack_comment == "moved load to feed B"
        assert not frozen.alarms.get(ids[2]).acked
        assert p.marked == set()
        assert "Acknowledged 2 alarms" in str(p.query_one("#message").render())
        # the audit log has one entry per acknowledgement, with the comment
        entries = await frozen.audit.query(ADMIN)
        acks = [e for e in entries if e.action == "alarm.ack"]
        assert len(acks) == 2 and all("moved load to feed B" in e.message for e in acks)
        # active, acknowledged now shows exactly those two
        await pilot.press("f", "f")
        await settle(pilot)
        assert {int(r.key) for r in p.table.rows} == set(ids[:2])


@pytest.mark.asyncio
async def test_acknowledging_twice_shows_the_cores_refusal(frozen):
    ids = await raise_alarms(frozen)
    async with make_app(frozen).run_test(size=(120, 40)) as pilot:
        await open_alarms(pilot)
        await pilot.press("a")
        await settle(pilot)
        form = pilot.app.screen
        assert isinstance(form, FormDialog)
        # another operator acknowledges it while this dialog is open
        await frozen.alarms.acknowledge(principal("admin", user="olga"), ids[0], "mine")
        form.query_one(Input).focus()
        await pilot.press("enter")
        await settle(pilot)
        assert "already acknowledged by olga" in str(form.query_one("#error").render())
        assert frozen.alarms.get(ids[0]).ack_comment == "mine"


@pytest.mark.asyncio
async def test_readonly_sees_alarms_but_no_acknowledge_and_the_core_refuses(frozen):
    ids = await raise_alarms(frozen)
    async with make_app(frozen, "readonly").run_test(size=(120, 40)) as pilot:
        p = await open_alarms(pilot)
        assert len(p.table.rows) == len(ids)
        assert "Acknowledge" not in keys(pilot.app) and "Mark" not in keys(pilot.app)
        assert "read only" in str(p.query_one("#title").render())
        await pilot.press("a")
        await settle(pilot)
        assert not isinstance(pilot.app.screen, FormDialog)
    with pytest.raises(PermissionDenied):
        await frozen.alarms.acknowledge(principal("readonly"), ids[0])
    assert not frozen.alarms.get(ids[0]).acked


@pytest.mark.asyncio
async def test_power_role_may_acknowledge(frozen):
    await raise_alarms(frozen)
    async with make_app(frozen, "power").run_test(size=(120, 40)) as pilot:
        await open_alarms(pilot)
        assert "Acknowledge" in keys(pilot.app)


@pytest.mark.asyncio
async def test_enter_jumps_to_the_device_and_channel(frozen):
    await raise_alarms(frozen)
    crit = next(a for a in frozen.alarms.open_alarms() if a.severity == "Critical")
    async with make_app(frozen).run_test(size=(120, 40)) as pilot:
        p = await open_alarms(pilot)
        p.table.cursor_row = [r.key for r in p.table.rows].index(crit.id)
        await pilot.press("enter")
        await settle(pilot)
        dev = page(pilot.app)
        assert isinstance(dev, DevicePage) and dev.hex_id == crit.device
        inputs = dev.query_one("#inputs")
        assert inputs.has_focus
        row = inputs.current
        col = inputs.columns[inputs.cursor_col].key
        key = row.channels[col]
        assert (key.component.value, key.index, key.quantity) == ("i", 1, "current")


@pytest.mark.asyncio
async def test_new_alarms_appear_live_and_cleared_turn_inactive(ticking):
    dev = ticking.live.ordered()[0]
    async with make_app(ticking).run_test(size=(120, 40)) as pilot:
        p = await open_alarms(pilot)
        assert p.table.rows == []
        assert "No open alarms" in detail(p)
        rule = await ticking.rules.create(ADMIN, {
            "name": "live", "scope": "pdu", "target": dev.hex_id, "quantity": "current",
            "component": "t", "minDurationSeconds": 0,
            "warningAbove": {"enabled": True, "value": 0.1}})
        await wait_for(lambda: len(p.table.rows) == 1, timeout=10)
        assert "live" in detail(p)
        await ticking.rules.update(ADMIN, rule.id, {"warningAbove": {"enabled": True,
                                                                     "value": 1000}})
        await wait_for(lambda: "inactive" in detail(p), timeout=10)
        [alarm] = ticking.alarms.open_alarms(AlarmFilter(active=False))
        assert p.table.rows[0].key == alarm.id


async def test_a_condition_alarm_is_listed_and_enter_says_it_is_the_controllers(frozen):
    """A condition alarm (here: the Modbus server cannot listen) is on the page like any
    alarm; enter explains it belongs to no PDU instead of opening one."""
    alarm = frozen.alarms.raise_condition(
        "modbusNotRunning", "Modbus server not running: cannot listen on TCP 0.0.0.0:502: "
        "Address already in use (another program holds the port)", severity="Warning")
    await frozen.alarms.flush()
    async with make_app(frozen).run_test(size=(120, 40)) as pilot:
        p = await open_alarms(pilot)
        assert alarm.id in [r.key for r in p.table.rows]
        p.table.cursor_row = [r.key for r in p.table.rows].index(alarm.id)
        await pilot.press("enter")
        await settle(pilot)
        assert page(pilot.app) is p
        message = str(p.query_one("#message", Static).render())
        assert "about the controller itself" in message and "0.0.0.0:502" in message
