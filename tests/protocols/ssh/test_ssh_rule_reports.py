"""Over real OpenSSH: a rule on a rack's own totals made with ``put rules/new``, its one
alarm, the rack's rule report (``rules/report/dc:<id>``) and the report of each rule
(``rules/<id>/report``)."""

from __future__ import annotations

import json

import pytest

from enerteg_tui.core.permissions import SYSTEM
from enerteg_tui.core.structure import Kind
from tests.helpers import wait_for

from .conftest import SSHEnv

pytestmark = pytest.mark.e2e
"""Through a real peer (OpenSSH): see pyproject's markers."""


async def test_rack_totals_rule_alarm_and_reports(ssh_env: SSHEnv) -> None:
    c = ssh_env.controller
    room = await c.structure.create(SYSTEM, Kind.ROOM, "Hall A")
    row = await c.structure.create(SYSTEM, Kind.ROW, "Row 1", room.id)
    rack = await c.structure.create(SYSTEM, Kind.RACK, "Rack 1", row.id)
    for d in c.live.ordered()[:2]:
        await c.structure.assign(SYSTEM, d.hex_id, rack.id)
    r = await ssh_env.ssh("boss", f"format json; put rules/new name='Rack amps' scope=rack "
                          f"target={rack.id} quantity=current component=t elementTotals=true "
                          "warningAbove.enabled=true warningAbove.value=1 minDurationSeconds=0")
    assert r.code == 0, r
    rule_id = json.loads(r.out)["id"]
    await wait_for(lambda: any(a.rule_id == rule_id for a in c.alarms.active()), timeout=10)
    r = await ssh_env.ssh("oper", "cat /alarms/active")
    mine = [a for a in json.loads(r.out)["alarms"] if "Rack amps" in a["text"]]
    assert len(mine) == 1 and mine[0]["device"] == f"dc:{rack.id}", r.out
    assert 'for rack "Hall A / Row 1 / Rack 1"' in mine[0]["text"]
    r = await ssh_env.ssh("oper", f"cat /rules/report/dc:{rack.id}")
    assert r.code == 0, r
    rep = json.loads(r.out)
    total = next(ch for ch in rep["channels"] if ch["channel"] == "total.current")
    assert total["rule"]["id"] == rule_id and total["state"] == "warning"
    assert "rules on each PDU in it never do" in rep["explanation"]
    r = await ssh_env.ssh("oper", f"cat /rules/{rule_id}/report")
    assert r.code == 0, r
    doc = json.loads(r.out)
    assert doc["governed"] == 1 and doc["subjects"][0]["governs"] == ["total.current"]
    r = await ssh_env.ssh("oper", "cat /rules/1/report")
    doc = json.loads(r.out)
    assert doc["name"] == "Phase current" and doc["governed"] >= 4
    assert {s["device"] for s in doc["subjects"]} == {d.hex_id for d in c.live.ordered()}
    # bad input names the key, the value and what is allowed; nothing is stored
    r = await ssh_env.ssh("boss", "put rules/new name=x scope=pdu target="
                          f"{c.live.ordered()[0].hex_id} quantity=current elementTotals=true "
                          "warningAbove.enabled=true warningAbove.value=1")
    assert r.code == 1 and "elementTotals" in r.err and "a room, row or rack has totals" in r.err
    r = await ssh_env.ssh("oper", "cat /rules/99/report")
    assert r.code == 1 and "rules/99" in r.err, r
