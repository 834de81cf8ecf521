"""Rules on a DC element's own totals (manual §9.2, §6.1) and the report per rule
(manual §7.1.2), in the core."""

from __future__ import annotations

import pytest

from enerteg_tui.core.errors import Invalid
from enerteg_tui.core.model import Health
from enerteg_tui.core.structure import Kind
from tests.conftest import ADMIN
from tests.helpers import wait_for


async def _tree(c):
    room = await c.structure.create(ADMIN, Kind.ROOM, "Hall")
    row = await c.structure.create(ADMIN, Kind.ROW, "Row 1", room.id)
    rack = await c.structure.create(ADMIN, Kind.RACK, "Rack 1", row.id)
    for d in c.live.ordered()[:3]:
        await c.structure.assign(ADMIN, d.hex_id, rack.id)
    return room, row, rack


def _rule(rack_id: int, **kw):
    doc = {"name": "Rack total", "scope": "rack", "target": str(rack_id), "quantity": "current",
           "component": "t", "elementTotals": True, "minDurationSeconds": 0,
           "warningAbove": {"enabled": True, "value": 1.0}}
    doc.update(kw)
    return doc


async def test_validation_names_what_is_allowed(make_controller) -> None:
    c = await make_controller(pdus=4, interval=3600)
    _, _, rack = await _tree(c)
    hx = c.live.ordered()[0].hex_id
    with pytest.raises(Invalid, match="elementTotals.*disabled for scope pdu"):
        await c.rules.create(ADMIN, _rule(rack.id, scope="pdu", target=hx))
    with pytest.raises(Invalid, match="a quantity an element's totals have"):
        await c.rules.create(ADMIN, _rule(rack.id, quantity="voltage", component=""))
    with pytest.raises(Invalid, match="i \\(per phase\\), t \\(totals\\)"):
        await c.rules.create(ADMIN, _rule(rack.id, component="b"))
    assert len(c.rules.all()) == 6                      # the defaults only: nothing stored


async def test_one_alarm_for_the_element_escalating_up(make_controller) -> None:
    c = await make_controller(pdus=4, interval=0.1)
    room, row, rack = await _tree(c)
    rule = await c.rules.create(ADMIN, _rule(rack.id))
    await wait_for(lambda: any(a.rule_id == rule.id for a in c.alarms.active()), timeout=10)
    mine = [a for a in c.alarms.active() if a.rule_id == rule.id]
    assert len(mine) == 1                               # one for the rack, none per PDU
    a = mine[0]
    assert a.device == f"dc:{rack.id}" and a.channel == f"dc:{rack.id}/t/0/current"
    assert 'at the totals (current) has exceeded the warning threshold of 1 A via rule ' \
           '"Rack total" for rack "Hall / Row 1 / Rack 1"' in a.text
    assert c.structure.element_health(rack.id) >= Health.WARNING
    assert c.structure.element_health(room.id) >= Health.WARNING   # escalates upward
    assert c.structure.aggregate(row.id).health >= Health.WARNING
    assert a.id in [x.id for x in c.alarms.open_alarms() if x.device == f"dc:{rack.id}"]
    from enerteg_tui.core.alarms import AlarmFilter
    assert [x.id for x in c.alarms.open_alarms(AlarmFilter(element=room.id))
            if x.rule_id == rule.id] == [a.id]
    report = c.alarms.report(ADMIN, f"dc:{rack.id}")
    total = next(ch for ch in report["channels"] if ch["channel"] == "total.current")
    assert total["rule"]["id"] == rule.id and total["state"] == "warning"
    assert total["alarm"] == a.id and "rules on each PDU in it never do" in report["explanation"]
    await c.rules.delete(ADMIN, rule.id)                # rule gone: the alarm clears
    await wait_for(lambda: not any(x.rule_id == rule.id for x in c.alarms.active()), timeout=10)


async def test_percent_of_the_elements_rating_and_most_specific_wins(make_controller) -> None:
    c = await make_controller(pdus=4, interval=3600)
    _, _, rack = await _tree(c)
    broad = await c.rules.create(ADMIN, _rule(rack.id, name="Rack phases", component="i",
                                              unit="%", warningAbove={"enabled": True,
                                                                      "value": 80}))
    narrow = await c.rules.create(ADMIN, _rule(rack.id, name="Rack L1", component="i",
                                               indexFrom=1, indexTo=1,
                                               warningAbove={"enabled": True, "value": 40}))
    c.alarms.on_sweep()
    agg = c.structure.aggregate(rack.id)
    report = c.alarms.report(ADMIN, f"dc:{rack.id}")
    rows = {ch["channel"]: ch for ch in report["channels"]}
    assert rows["input.L1.current"]["rule"]["id"] == narrow.id
    assert rows["input.L2.current"]["rule"]["id"] == broad.id
    assert rows["input.L2.current"]["thresholds"]["warningAbove"] == pytest.approx(
        0.8 * agg.rated_a[2])
    # a PDU's own channels are never governed by a rule on the element's totals
    pdu_report = c.alarms.report(ADMIN, c.live.ordered()[0].hex_id)
    assert all(ch["rule"] is None or ch["rule"]["id"] not in (broad.id, narrow.id)
               for ch in pdu_report["channels"])
    # the per-rule report says where the narrower rule overrides the broader one
    r = c.alarms.rule_report(ADMIN, broad.id)
    subject = r["subjects"][0]
    assert subject["device"] == f"dc:{rack.id}" and "input.L2.current" in subject["governs"]
    assert subject["overriddenBy"] == [{"channel": "input.L1.current", "rule": {
        "id": narrow.id, "name": "Rack L1", "scope": "rack", "target": str(rack.id),
        "elementTotals": True}}]


async def test_rule_report_governs_and_overridden(make_controller) -> None:
    c = await make_controller(pdus=4, interval=3600)
    first = c.live.ordered()[0]
    phase = next(r for r in c.rules.all() if r.name == "Phase current")
    own = await c.rules.create(ADMIN, {"name": "Controller L2", "scope": "pdu",
                                       "target": first.hex_id, "quantity": "current",
                                       "component": "i", "indexFrom": 2, "indexTo": 2,
                                       "warningAbove": {"enabled": True, "value": 12}})
    report = c.alarms.rule_report(ADMIN, phase.id)
    by_dev = {s["device"]: s for s in report["subjects"]}
    assert "input.L2.current" not in by_dev[first.hex_id]["governs"]
    assert by_dev[first.hex_id]["overriddenBy"][0]["channel"] == "input.L2.current"
    assert by_dev[first.hex_id]["overriddenBy"][0]["rule"]["id"] == own.id
    phases = sum(d.info.model.phases for d in c.live.ordered())
    assert report["governed"] == phases - 1 and report["overridden"] == 1
    mine = c.alarms.rule_report(ADMIN, own.id)
    assert mine["governed"] == 1 and mine["subjects"][0]["governs"] == ["input.L2.current"]
    # switched off: reported as what it would govern, marked off
    await c.rules.update(ADMIN, own.id, {"enabled": False})
    off = c.alarms.rule_report(ADMIN, own.id)
    assert off["enabled"] is False and off["governed"] == 1
    assert c.alarms.rule_report(ADMIN, phase.id)["overridden"] == 0
    # the topic and its place in the tree
    assert "report/" in c.topics.list(ADMIN, f"rules/{phase.id}")
    assert c.topics.get(ADMIN, f"rules/{phase.id}/report")["governed"] == phases


async def test_aggregates_in_one_pass_equal_each_aggregate(make_controller) -> None:
    c = await make_controller(pdus=8, interval=3600)
    room, row, rack = await _tree(c)
    rack2 = await c.structure.create(ADMIN, Kind.RACK, "Rack 2", row.id)
    for d in c.live.ordered()[3:6]:
        await c.structure.assign(ADMIN, d.hex_id, rack2.id)
    ids = {room.id, row.id, rack.id, rack2.id}
    many = c.structure.aggregates(ids | {999})
    assert set(many) == ids
    for eid in ids:
        one = c.structure.aggregate(eid)
        got = many[eid]
        assert (got.devices, got.stale, got.health, got.rated_a) == (
            one.devices, one.stale, one.health, one.rated_a)
        assert got.total == pytest.approx(one.total)
        assert set(got.phases) == set(one.phases)
        for p in one.phases:
            assert got.phases[p] == pytest.approx(one.phases[p])
