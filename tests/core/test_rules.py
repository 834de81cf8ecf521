"""Rules (manual §9.2–9.3): schema, defaults, permissions, audit, specificity, the state machine."""

from __future__ import annotations

import pytest

from enerteg_tui.core.errors import Invalid, NotFound, PermissionDenied
from enerteg_tui.core.evaluation import Watch
from enerteg_tui.core.rules import DEFAULT_RULES, Rule, RuleDoc
from enerteg_tui.core.structure import Kind
from tests.conftest import ADMIN, READONLY, principal

READWRITE = principal("readwrite", user="rw")
POWER = principal("power", user="pw")


def _rule(**doc) -> Rule:
    doc.setdefault("name", "r")
    doc.setdefault("quantity", "current")
    return Rule(1, RuleDoc.model_validate(doc))


# ---------------------------------------------------------------- the state machine
def test_hysteresis_keeps_one_level_while_oscillating() -> None:
    w = Watch("k", "d", "o", 1, "current",
              _rule(warningAbove={"enabled": True, "value": 10}, hysteresis=1.0,
                    minDurationSeconds=0), None, "")
    levels = []
    for t, v in enumerate([9, 10.5, 9.5, 10.2, 9.1, 10.8, 8.9, 9.5]):
        w.step(v, float(t))
        levels.append(w.level)
    # enters at 10.5, stays while above 9 (10 − band), leaves at 8.9
    assert levels == [0, 1, 1, 1, 1, 1, 0, 0]


def test_min_duration_ignores_short_spikes_and_escalates_later() -> None:
    w = Watch("k", "d", "i", 1, "current",
              _rule(warningAbove={"enabled": True, "value": 10},
                    criticalAbove={"enabled": True, "value": 20}, minDurationSeconds=3), None, "")
    seq = [(0, 11), (1, 9), (2, 11), (3, 12), (4, 25), (5, 25), (6, 12), (7, 25), (8, 25),
           (9, 25), (10, 3)]
    levels = []
    for t, v in seq:
        w.step(v, float(t))
        levels.append(w.level)
    # warning after 3 s above 10 (t=2..5); critical after 3 s above 20 (t=7..10 needs t=10,
    # but the value drops at t=10 → cleared at once)
    assert levels == [0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 0]


def test_below_thresholds_and_percent_of_rating() -> None:
    w = Watch("k", "d", "i", 1, "current",
              _rule(component="i", unit="%", warningAbove={"enabled": True, "value": 80},
                    warningBelow={"enabled": True, "value": 5}, minDurationSeconds=0), 16.0, "")
    assert w.wa == pytest.approx(12.8) and w.wb == pytest.approx(0.8)
    w.step(0.5, 0.0)
    assert w.level == -1
    w.step(13.0, 1.0)  # straight from below to above: the caller sees a direction change
    assert w.level == 1


# ---------------------------------------------------------------- schema
@pytest.mark.parametrize("doc, key, words", [
    ({"name": "x", "quantity": "volts"}, "quantity", "voltage"),
    ({"name": "x", "quantity": "residualCurrent", "component": "o"}, "component", "outlets"),
    ({"name": "x", "quantity": "voltage", "unit": "%"}, "unit", "rating"),
    ({"name": "x", "quantity": "current", "component": "t", "indexFrom": 2}, "indexFrom", "index"),
    ({"name": "x", "quantity": "current", "component": "o", "indexFrom": 5, "indexTo": 2},
     "indexTo", "indexFrom"),
    ({"name": "x", "quantity": "current", "warningAbove": {"enabled": True, "value": 10},
      "criticalAbove": {"enabled": True, "value": 5}}, "criticalAbove.value", "warningAbove"),
    ({"name": "x", "quantity": "ringBreaks", "scope": "pdu"}, "scope", "all"),
    ({"name": "", "quantity": "current"}, "name", "at least 1"),
    ({"name": "x", "quantity": "current", "minDurationSeconds": 7200}, "minDurationSeconds",
     "3600"),
])
async def test_bad_rules_are_refused_with_a_clear_message(controller, doc, key, words) -> None:
    before = len(controller.rules.all())
    with pytest.raises(Invalid) as err:
        await controller.rules.create(ADMIN, doc)
    msg = str(err.value)
    assert key in msg and words in msg and "allowed" in msg
    assert len(controller.rules.all()) == before


async def test_targets_are_checked(controller) -> None:
    with pytest.raises(Invalid, match="hex id of a known PDU"):
        await controller.rules.create(ADMIN, {"name": "x", "quantity": "current", "scope": "pdu",
                                              "target": "zzzzz"})
    with pytest.raises(Invalid, match="id of a rack"):
        await controller.rules.create(ADMIN, {"name": "x", "quantity": "current", "scope": "rack",
                                              "target": "999"})
    with pytest.raises(Invalid, match="PDU type"):
        await controller.rules.create(ADMIN, {"name": "x", "quantity": "current", "scope": "type",
                                              "target": "nope"})
    t = controller.live.ordered()[0].info.model.type_name
    r = await controller.rules.create(ADMIN, {"name": "x", "quantity": "current", "scope": "type",
                                              "target": t.upper()})
    assert r.doc.target == t


# ---------------------------------------------------------------- defaults, permissions, audit
async def test_default_rules_are_shipped_once(make_controller, tmp_path) -> None:
    c = await make_controller(data_dir=tmp_path / "d")
    names = [r.name for r in c.rules.all()]
    assert names == [d["name"] for d in DEFAULT_RULES]
    assert all(r.default for r in c.rules.all())
    await c.rules.delete(ADMIN, c.rules.all()[0].id)
    await c.stop()
    c2 = await make_controller(data_dir=tmp_path / "d")
    assert [r.name for r in c2.rules.all()] == names[1:]  # deleted stays deleted


async def test_permissions_and_audit(controller) -> None:
    doc = {"name": "Outlet volts", "quantity": "voltage", "component": "o",
           "warningAbove": {"enabled": True, "value": 240}}
    for who in (READONLY, POWER):
        with pytest.raises(PermissionDenied, match="edit-rules"):
            await controller.rules.create(who, doc)
    rule = await controller.rules.create(READWRITE, doc)
    await controller.rules.update(READWRITE, rule.id, {"warningAbove.value": 245})
    assert controller.rules.get(rule.id).doc.warningAbove.value == 245
    with pytest.raises(PermissionDenied):
        await controller.rules.delete(READONLY, rule.id)
    await controller.rules.delete(READWRITE, rule.id)
    with pytest.raises(NotFound, match=f"rule {rule.id} does not exist"):
        controller.rules.get(rule.id)
    entries = await controller.audit.query(ADMIN)
    actions = [(e.action, e.user) for e in entries if e.action.startswith("rule.")]
    assert actions == [("rule.delete", "rw"), ("rule.change", "rw"), ("rule.create", "rw")]
    change = next(e for e in entries if e.action == "rule.change")
    assert change.old == {"warningAbove": {"enabled": "enabled", "value": 240.0}}


async def test_most_specific_rule_governs(controller) -> None:
    c = controller
    room = await c.structure.create(ADMIN, Kind.ROOM, "Hall")
    row = await c.structure.create(ADMIN, Kind.ROW, "A", room.id)
    rack = await c.structure.create(ADMIN, Kind.RACK, "A1", row.id)
    three = [d for d in c.live.ordered() if d.info.model.phases == 3]
    dev, other_dev = three[0], three[1]
    await c.structure.assign(ADMIN, dev.hex_id, rack.id)
    base = {"quantity": "voltage", "component": "i", "warningAbove": {"enabled": True, "value": 300}}
    r_all = await c.rules.create(ADMIN, {**base, "name": "all"})
    r_room = await c.rules.create(ADMIN, {**base, "name": "room", "scope": "room", "target": str(room.id)})
    r_rack = await c.rules.create(ADMIN, {**base, "name": "rack", "scope": "rack", "target": str(rack.id)})
    r_l2 = await c.rules.create(ADMIN, {**base, "name": "rack L2", "scope": "rack",
                                        "target": str(rack.id), "indexFrom": 2})
    r_pdu = await c.rules.create(ADMIN, {**base, "name": "pdu", "scope": "pdu", "target": dev.hex_id,
                                         "component": "", "enabled": False})

    def governing(hex_id: str, channel: str) -> str | None:
        rep = c.alarms.report(READONLY, hex_id)
        row_ = next(r for r in rep["channels"] if r["channel"] == channel)
        return row_["rule"]["name"] if row_["rule"] else None

    other = other_dev.hex_id
    assert governing(dev.hex_id, "input.L1.voltage") == "rack"
    assert governing(dev.hex_id, "input.L2.voltage") == "rack L2"   # narrower restriction wins
    assert governing(other, "input.L1.voltage") == "all"
    await c.rules.update(ADMIN, r_pdu.id, {"enabled": True})      # PDU beats every other scope
    assert governing(dev.hex_id, "input.L1.voltage") == "pdu"
    assert governing(dev.hex_id, "total.current") is None
    assert {r_all.id, r_room.id, r_rack.id, r_l2.id} <= {r.id for r in c.rules.all()}
