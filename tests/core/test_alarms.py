"""Alarms on the simulated ring: raise, peak, clear, ack, escalation, restart, filters, texts."""

from __future__ import annotations

import asyncio
import re

import pytest

from enerteg_tui.core.alarms import AlarmChange, AlarmFilter
from enerteg_tui.core.errors import Conflict, PermissionDenied
from enerteg_tui.core.model import Health
from enerteg_tui.core.quantities import Component
from enerteg_tui.core.structure import Kind
from tests.conftest import ADMIN, READONLY, principal
from tests.helpers import wait_for

POWER = principal("power", user="pw")


async def _sweeps(c, n: int = 2) -> None:
    target = c.live.bus.sweeps + n
    await wait_for(lambda: c.live.bus.sweeps >= target, timeout=20)


def _three_phase(c):
    return [d for d in c.live.ordered() if d.info.model.phases == 3 and d.info.model.outlets]


def _alarms_of(c, rule_id: int):
    return [a for a in c.alarms.open_alarms() if a.rule_id == rule_id]


async def test_rack_rule_overrides_all_rule_and_escalates_structure(controller) -> None:
    c = controller
    room = await c.structure.create(ADMIN, Kind.ROOM, "Hall")
    row = await c.structure.create(ADMIN, Kind.ROW, "A", room.id)
    rack = await c.structure.create(ADMIN, Kind.RACK, "A1", row.id)
    dev, other = _three_phase(c)[:2]
    await c.structure.assign(ADMIN, dev.hex_id, rack.id)
    base = {"quantity": "current", "component": "t", "minDurationSeconds": 0}
    await c.rules.create(ADMIN, {**base, "name": "all", "warningAbove": {"enabled": True,
                                                                        "value": 1000}})
    level = dev.value(Component.TOTAL, 0, "current")
    rack_rule = await c.rules.create(ADMIN, {
        **base, "name": "rack A1", "scope": "rack", "target": str(rack.id),
        "warningAbove": {"enabled": True, "value": round(level * 1.6, 2)}})
    assert c.structure.element_health(room.id) is Health.OK
    for d in (dev, other):
        await c.topics.put(ADMIN, f"sim/{d.hex_id}", {"loadFactor": 2.5})
    await wait_for(lambda: _alarms_of(c, rack_rule.id), timeout=10)
    [alarm] = _alarms_of(c, rack_rule.id)
    assert alarm.device == dev.hex_id and alarm.severity == "Warning" and alarm.active
    assert not any(a.device == other.hex_id and a.quantity == "current" for a in c.alarms.active())
    # worst state escalates rack → row → room; the other PDU's colour stays green
    for el in (rack.id, row.id, room.id):
        assert c.structure.element_health(el) is Health.WARNING
    assert c.structure.health(other) is Health.OK
    assert c.alarms.counts()["warning"] >= 1
    # back to normal: cleared, but stays visible as inactive until acknowledged
    await c.topics.put(ADMIN, f"sim/{dev.hex_id}", {"loadFactor": 1.0})
    await wait_for(lambda: not alarm.active, timeout=10)
    assert c.structure.element_health(room.id) is Health.OK
    assert alarm in c.alarms.open_alarms(AlarmFilter(active=False, acked=False))
    assert alarm.peak >= alarm.threshold and alarm.end is not None


async def test_oscillating_value_raises_one_alarm(controller) -> None:
    c = controller
    dev = _three_phase(c)[0]
    base = dev.value(Component.TOTAL, 0, "current")
    rule = await c.rules.create(ADMIN, {
        "name": "flappy", "scope": "pdu", "target": dev.hex_id, "quantity": "current",
        "component": "t", "minDurationSeconds": 0,
        "warningAbove": {"enabled": True, "value": round(base * 1.3, 2)},
        "hysteresis": round(base * 0.6, 2)})
    for factor in (1.8, 1.1, 1.8, 1.1, 1.8, 1.1):
        await c.topics.put(ADMIN, f"sim/{dev.hex_id}", {"loadFactor": factor})
        await _sweeps(c, 2)
    assert len(_alarms_of(c, rule.id)) == 1 and _alarms_of(c, rule.id)[0].active
    await c.topics.put(ADMIN, f"sim/{dev.hex_id}", {"loadFactor": 0.2})
    await wait_for(lambda: not _alarms_of(c, rule.id)[0].active, timeout=10)
    history = await c.alarms.query(READONLY, AlarmFilter(rule_id=rule.id))
    assert len(history) == 1


async def test_minimum_duration_suppresses_short_excursions(controller) -> None:
    c = controller
    dev = _three_phase(c)[0]
    base = dev.value(Component.TOTAL, 0, "current")
    rule = await c.rules.create(ADMIN, {
        "name": "patient", "scope": "pdu", "target": dev.hex_id, "quantity": "current",
        "component": "t", "minDurationSeconds": 0.6,
        "warningAbove": {"enabled": True, "value": round(base * 1.4, 2)}})
    for _ in range(3):
        await c.topics.put(ADMIN, f"sim/{dev.hex_id}", {"loadFactor": 2.0})
        await _sweeps(c, 2)
        await c.topics.put(ADMIN, f"sim/{dev.hex_id}", {"loadFactor": 1.0})
        await _sweeps(c, 2)
    assert _alarms_of(c, rule.id) == []
    await c.topics.put(ADMIN, f"sim/{dev.hex_id}", {"loadFactor": 2.0})
    await wait_for(lambda: _alarms_of(c, rule.id), timeout=10)
    assert len(_alarms_of(c, rule.id)) == 1


async def test_alarm_text_in_the_manuals_form(controller) -> None:
    c = controller
    dev = _three_phase(c)[0]
    await c.rules.create(ADMIN, {"name": "Alert test", "scope": "pdu", "target": dev.hex_id,
                                 "quantity": "voltage", "component": "o", "indexFrom": 2,
                                 "minDurationSeconds": 0,
                                 "warningAbove": {"enabled": True, "value": 228}})
    await wait_for(lambda: any(a.rule_name == "Alert test" for a in c.alarms.active()))
    alarm = next(a for a in c.alarms.active() if a.rule_name == "Alert test")
    assert alarm.index == 2
    assert re.fullmatch(
        r'Value of 2\d\d(\.\d+)? V at "Outlet # 2" \(2\) outlet has exceeded the warning '
        r'threshold of 228 V via rule "Alert test" for PDU "' + re.escape(dev.info.display_name)
        + '"', alarm.text), alarm.text
    # alarm writes (and their audit entries) go to the database in the background
    raised: list = []
    for _ in range(200):
        entries = await c.audit.query(ADMIN, limit=1000)
        raised = [e for e in entries
                  if e.action == "alarm.raise" and e.object == f"alarms/{alarm.id}"]
        if raised:
            break
        await asyncio.sleep(0.02)
    assert raised and raised[0].severity.value == "Warning" and raised[0].device == dev.hex_id


async def test_unreachable_device_ack_and_events(controller) -> None:
    c = controller
    dev = c.live.ordered()[3]
    sub = c.events.subscribe(kinds={"alarm"})
    await c.topics.put(ADMIN, f"sim/{dev.hex_id}", {"reachable": False})
    await wait_for(lambda: any(a.quantity == "deviceUnreachable" for a in c.alarms.active()),
                   timeout=10)
    alarm = next(a for a in c.alarms.active() if a.quantity == "deviceUnreachable")
    assert alarm.severity == "Critical" and alarm.device == dev.hex_id
    assert alarm.text == f'PDU "{dev.info.display_name}" is unreachable (critical) via rule ' \
                         '"Device unreachable"'
    assert c.alarms.counts()["critical"] == 1
    assert c.structure.health(dev) is Health.CRITICAL
    batch = sub.take()
    changes = [e.data for e in batch.events]
    assert any(isinstance(ch, AlarmChange) and ch.change == "raised" and ch.alarm.id == alarm.id
               for ch in changes)
    # readonly may not acknowledge; power may; ack does not clear
    with pytest.raises(PermissionDenied, match="ack-alarm"):
        await c.alarms.acknowledge(READONLY, alarm.id, "mine")
    await c.alarms.acknowledge(POWER, alarm.id, "technician on the way")
    assert alarm.acked and alarm.active and alarm.ack_user == "pw"
    with pytest.raises(Conflict, match="already acknowledged by pw"):
        await c.alarms.acknowledge(ADMIN, alarm.id)
    await c.topics.put(ADMIN, f"sim/{dev.hex_id}", {"reachable": True})
    await wait_for(lambda: not alarm.active, timeout=10)
    # cleared and acknowledged: off the open alarms page, still in the history
    assert alarm not in c.alarms.open_alarms()
    hist = await c.alarms.query(READONLY, AlarmFilter(device=dev.hex_id, acked=True, active=False))
    assert [a.id for a in hist] == [alarm.id] and hist[0].ack_comment == "technician on the way"
    kinds = [e.data.change for e in sub.take().events]
    assert "acknowledged" in kinds and "cleared" in kinds
    sub.close()


async def test_ring_break_warns_then_escalates(controller) -> None:
    c = controller
    await c.topics.put(ADMIN, "sim", {"ringBreaks": [2]})
    await wait_for(lambda: any(a.quantity == "ringBreaks" for a in c.alarms.active()))
    ring = next(a for a in c.alarms.active() if a.quantity == "ringBreaks")
    assert ring.severity == "Warning" and "Ring is open at link 2" in ring.text
    await c.topics.put(ADMIN, "sim", {"ringBreaks": [2, 5]})
    await wait_for(lambda: ring.severity == "Critical")
    assert ring.peak_severity == "Critical" and "broken at links 2, 5" in ring.text
    await c.topics.put(ADMIN, "sim", {"ringBreaks": []})
    await wait_for(lambda: not ring.active, timeout=10)
    assert len([a for a in c.alarms.open_alarms() if a.quantity == "ringBreaks"]) == 1


async def test_restart_keeps_alarms_and_acks_without_duplicates(make_controller, tmp_path) -> None:
    data = tmp_path / "keep"
    c = await make_controller(data_dir=data)
    dev = _three_phase(c)[0]
    await c.rules.create(ADMIN, {"name": "volts", "scope": "pdu", "target": dev.hex_id,
                                 "quantity": "voltage", "component": "i", "indexFrom": 1,
                                 "minDurationSeconds": 0,
                                 "warningAbove": {"enabled": True, "value": 200}})
    await wait_for(lambda: any(a.rule_name == "volts" for a in c.alarms.active()))
    alarm = next(a for a in c.alarms.active() if a.rule_name == "volts")
    await c.alarms.acknowledge(ADMIN, alarm.id, "known")
    await c.stop()
    c2 = await make_controller(data_dir=data)
    await _sweeps(c2, 3)
    same = [a for a in c2.alarms.active() if a.rule_name == "volts"]
    assert [a.id for a in same] == [alarm.id] and same[0].acked and same[0].ack_comment == "known"
    rows = await c2.store.fetchall("SELECT COUNT(*) FROM alarm WHERE channel=?", (alarm.channel,))
    assert rows[0][0] == 1
    # a rule deleted while the controller was down clears its alarm at the first sweep
    await c2.stop()
    c3 = await make_controller(data_dir=data)
    rule_id = same[0].rule_id
    await c3.rules.delete(ADMIN, rule_id)
    await wait_for(lambda: not any(a.rule_name == "volts" for a in c3.alarms.active()))


async def test_filters(controller) -> None:
    c = controller
    room = await c.structure.create(ADMIN, Kind.ROOM, "Hall")
    row = await c.structure.create(ADMIN, Kind.ROW, "A", room.id)
    rack = await c.structure.create(ADMIN, Kind.RACK, "A1", row.id)
    a_dev, b_dev = _three_phase(c)[:2]
    await c.structure.assign(ADMIN, a_dev.hex_id, rack.id)
    await c.rules.create(ADMIN, {"name": "v", "quantity": "voltage", "component": "i",
                                 "minDurationSeconds": 0,
                                 "warningAbove": {"enabled": True, "value": 200},
                                 "criticalAbove": {"enabled": True, "value": 210}})
    await wait_for(lambda: sum(1 for a in c.alarms.active() if a.rule_name == "v") >= 6)
    in_rack = await c.alarms.query(READONLY, AlarmFilter(element=room.id))
    assert in_rack and {a.device for a in in_rack} == {a_dev.hex_id}
    crit = await c.alarms.query(READONLY, AlarmFilter(severities={"Critical"}, device=b_dev.hex_id))
    assert len(crit) == 3 and all(a.severity == "Critical" for a in crit)
    assert await c.alarms.query(READONLY, AlarmFilter(severities={"Warning"},
                                                      device=b_dev.hex_id)) == []
    assert await c.alarms.query(READONLY, AlarmFilter(acked=True)) == []
    unacked_active = await c.alarms.query(READONLY, AlarmFilter(acked=False, active=True))
    assert len(unacked_active) == len(c.alarms.active())
    future = await c.alarms.query(READONLY, AlarmFilter(since=c.clock() + 3600))
    assert future == []
