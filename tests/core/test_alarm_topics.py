"""``rules/`` and ``alarms/`` topics: scripts do what the console does, through the same checks."""

from __future__ import annotations

import pytest

from enerteg_tui.core.errors import Invalid, NotFound, PermissionDenied
from tests.conftest import ADMIN, READONLY, principal
from tests.helpers import wait_for

READWRITE = principal("readwrite", user="rw")
POWEROFF = principal("poweroff", user="off")


async def test_rule_lifecycle_through_topics(controller) -> None:
    t = controller.topics
    assert t.list(READONLY, "rules")[:3] == ["_data", "new/", "report/"]
    template = t.get(READONLY, "rules/new/_data")
    assert template["u"]["minDurationSeconds"] == 5.0 and template["id"] is None
    with pytest.raises(PermissionDenied, match="edit-rules"):
        await t.put(READONLY, "rules/new", {"name": "x", "quantity": "current"})
    with pytest.raises(Invalid, match="quantity is missing"):
        await t.put(READWRITE, "rules/new", {"name": "x"})
    # text from the shell is typed by the schema; dotted keys reach the thresholds
    doc = await t.put(READWRITE, "rules/new", {
        "name": "Outlet volts", "quantity": "voltage", "component": "o", "indexFrom": "1",
        "indexTo": "8", "warningAbove.enabled": "true", "warningAbove.value": "250",
        "minDurationSeconds": "0"})
    rid = doc["id"]
    assert doc["u"]["warningAbove"] == {"enabled": "enabled", "value": 250.0}
    assert f"{rid}/" in t.list(READONLY, "rules")
    doc = await t.put(READWRITE, f"rules/{rid}", {"enabled": "disabled"})
    assert doc["u"]["enabled"] == "disabled"
    with pytest.raises(Invalid, match="warningAbove.value = 'x'"):
        await t.put(READWRITE, f"rules/{rid}", {"warningAbove.value": "x"})
    whole = {**doc["u"], "name": "Renamed"}
    await t.put(ADMIN, f"rules/{rid}", whole, replace=True)  # what `edit` does
    assert t.get(READONLY, f"rules/{rid}")["u"]["name"] == "Renamed"
    listed = t.get(READONLY, "rules")["rules"]
    assert any(r["id"] == rid and r["name"] == "Renamed" for r in listed)
    back = await t.put(READWRITE, f"rules/{rid}", {"delete": "true"})
    assert "rules" in back and all(r["id"] != rid for r in back["rules"])
    with pytest.raises(NotFound):
        t.get(READONLY, f"rules/{rid}")


async def test_rule_report_topic(controller) -> None:
    t = controller.topics
    dev = controller.live.ordered()[0]
    assert f"{dev.hex_id}/" in t.list(READONLY, "rules/report")
    rep = t.get(READONLY, f"rules/report/{dev.hex_id}")
    rows = {r["channel"]: r for r in rep["channels"]}
    l1 = rows["input.L1.current"]
    assert l1["rule"]["name"] == "Phase current" and l1["state"] == "ok"
    assert l1["thresholds"]["warningAbove"] == pytest.approx(0.8 * dev.info.model.rating_a)
    assert rows["input.L1.voltage"]["rule"] is None
    assert rows["device.unreachable"]["rule"]["name"] == "Device unreachable"
    summary = t.get(READONLY, "rules/report")["devices"]
    assert summary[0]["hexId"] == dev.hex_id and summary[0]["health"] == "ok"


async def test_alarm_topics_and_ack_by_put(controller) -> None:
    c, t = controller, controller.topics
    dev = c.live.ordered()[2]
    await t.put(ADMIN, f"sim/{dev.hex_id}", {"reachable": "false"})
    await wait_for(lambda: c.alarms.active(), timeout=10)
    alarm = c.alarms.active()[0]
    assert f"{alarm.id}/" in t.list(READONLY, "alarms")
    top = t.get(READONLY, "alarms")
    assert top["counts"] == {"critical": 1, "warning": 0}
    assert [a["id"] for a in t.get(READONLY, "alarms/active")["alarms"]] == [alarm.id]
    doc = t.get(READONLY, f"alarms/{alarm.id}/_data")
    assert doc["state"] == "active" and doc["severity"] == "Critical" and not doc["acknowledged"]
    with pytest.raises(PermissionDenied, match="ack-alarm"):
        await t.put(READONLY, f"alarms/{alarm.id}", {"ack": "true"})
    with pytest.raises(Invalid, match="unknown key state"):
        await t.put(POWEROFF, f"alarms/{alarm.id}", {"state": "inactive"})
    doc = await t.put(POWEROFF, f"alarms/{alarm.id}", {"ack": "true", "comment": "cable fixed"})
    assert doc["acknowledged"] and doc["ackUser"] == "off" and doc["state"] == "active"
    await t.put(ADMIN, f"sim/{dev.hex_id}", {"reachable": "true"})
    await wait_for(lambda: not alarm.active, timeout=10)
    assert t.get(READONLY, "alarms/inactive")["alarms"] == []   # acked + cleared: closed
    assert t.get(READONLY, f"alarms/{alarm.id}")["state"] == "inactive"
    with pytest.raises(NotFound, match="alarm 9999"):
        t.get(READONLY, "alarms/9999")


async def test_topic_shell_script_creates_rule_and_acks(controller) -> None:
    """The shell's own put/cat/cd work on the new folders (no shell code was needed)."""
    from tests.protocols.test_shell_session import run

    code, out, err = await run(controller, 'cd rules/new; put name="Hot inlet" quantity=temperature '
                                           "component=s warningAbove.enabled=true "
                                           "warningAbove.value=60; cat /rules")
    assert code == 0, err
    assert "Hot inlet" in out
    code, _, err = await run(controller, "put rules/new name=x quantity=current",
                             who=READONLY)
    assert code != 0 and "edit-rules" in err
