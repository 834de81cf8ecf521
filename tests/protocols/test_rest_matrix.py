"""The role matrix of docs/permissions.md on every kind of REST resource, over HTTPS with
each role's API token: allowed → 2xx, refused → 403 problem+json naming the action, and a
refused write changes nothing. Also the resources beyond topic documents: history,
group switching (plan + confirm), reports and backups (create, download)."""

from __future__ import annotations

import ssl
from typing import Any

import httpx
import pytest

from enerteg_tui.core.permissions import MATRIX, SYSTEM, Action, Role
from tests.helpers import wait_for
from tests.protocols.test_rest import PASSWORD, is_problem, rest_env

pytestmark = pytest.mark.e2e


async def tokens_per_role(c: Any) -> dict[Role, str]:
    out = {}
    for role in Role:
        name = f"u_{role.value}"
        await c.users.add(SYSTEM, name, PASSWORD, [role.value])
        out[role] = (await c.core.tokens.create(SYSTEM, "matrix", user=name))[1]
    return out


def requests(hx: str, audit_id: int, tag: str = "") -> list[tuple[Action, str, str, Any]]:
    """(action needed, method, path, JSON body) for one request of each resource kind."""
    return [
        (Action.READ, "GET", "/devices", None),
        (Action.READ, "GET", f"/devices/{hx}", None),
        (Action.READ, "GET", f"/devices/{hx}/values/o", None),
        (Action.READ, "GET", f"/devices/{hx}/history?quantity=activePower", None),
        (Action.READ, "GET", "/dc", None),
        (Action.READ, "GET", "/rules", None),
        (Action.READ, "GET", "/alarms", None),
        (Action.READ, "GET", "/settings/syslog", None),
        (Action.READ, "GET", "/reports", None),
        (Action.DEVICE_SETUP, "PATCH", f"/devices/{hx}/config", {"location": "Hall 9"}),
        (Action.SWITCH_ON, "POST", f"/devices/{hx}/outlets/2/unlock", {"action": "on"}),
        (Action.SWITCH_OFF, "POST", f"/devices/{hx}/outlets/2/unlock", {"action": "off"}),
        (Action.SWITCH_OFF, "POST", "/switching/plan", {"action": "off", "devices": [hx]}),
        (Action.EDIT_STRUCTURE, "PATCH", "/topics/dc/new", {"name": f"Hall-{tag}"}),
        (Action.EDIT_RULES, "PATCH", "/topics/rules/new",
         {"name": f"Outlet volts {tag}", "quantity": "voltage", "component": "o", "indexFrom": "1",
          "indexTo": "2", "warningAbove.enabled": "true", "warningAbove.value": "250"}),
        (Action.ACK_ALARM, "POST", f"/audit/{audit_id}/comments", {"text": "seen"}),
        (Action.ADMINISTER, "PATCH", "/settings/syslog", {"serverPort": 5515}),
        (Action.ADMINISTER, "GET", "/audit?limit=5", None),
        (Action.ADMINISTER, "GET", "/users", None),
        (Action.ADMINISTER, "GET", "/backups", None),
        (Action.ADMINISTER, "GET", "/software/updates/status", None),
        (Action.SIMULATE, "GET", "/topics/sim", None),
    ]


async def state(c: Any, hx: str) -> Any:
    """What the writes of ``requests`` would change."""
    return (c.config.get("syslog").serverPort,
            c.core.topics.get(SYSTEM, f"sensor/{hx}/config")["u"].get("location"),
            sorted(c.core.topics.node(SYSTEM, "dc").children),
            sorted(c.core.topics.node(SYSTEM, "rules").children),
            (await c.audit.get(SYSTEM, 1)).comments)


async def test_role_matrix_on_every_resource(make_controller: Any) -> None:
    c, base, _ = await rest_env(make_controller)
    hx = next(d.hex_id for d in c.live.ordered() if d.info.model.switchable)
    tokens = await tokens_per_role(c)
    ctx = ssl.create_default_context(cafile=str(c.core.paths.https_certificate))
    checked = 0
    async with httpx.AsyncClient(base_url=base, verify=ctx, timeout=20) as cl:
        for role, token in tokens.items():
            auth = {"Authorization": f"Bearer {token}"}
            for action, method, path, body in requests(hx, 1, role.value):
                before = await state(c, hx)
                r = await cl.request(method, path, headers=auth, json=body)
                if action in MATRIX[role]:
                    assert r.status_code < 300, (role, method, path, r.text)
                else:
                    doc = is_problem(r, 403)
                    assert action.value in doc["detail"] or "simulate" in doc["detail"], doc
                    assert await state(c, hx) == before, (role, method, path)
                checked += 1
    assert checked == len(Role) * len(requests(hx, 1))


async def test_history_reports_backups_and_group_switching(make_controller: Any) -> None:
    c, base, _ = await rest_env(make_controller)
    dev = next(d for d in c.live.ordered() if d.info.model.switchable and d.info.model.outlets)
    hx = dev.hex_id
    ctx = ssl.create_default_context(cafile=str(c.core.paths.https_certificate))
    async with httpx.AsyncClient(base_url=base, verify=ctx, timeout=30) as cl:
        r = await cl.post("/session", json={"user": "boss", "password": PASSWORD})
        auth = {"Authorization": f"Bearer {r.json()['token']}"}
        h = await cl.get(f"/devices/{hx}/history", headers=auth,
                         params={"quantity": "activePower", "range": "4h"})
        assert h.status_code == 200 and len(h.json()["t"]) == len(h.json()["avg"])
        doc = is_problem(await cl.get(f"/devices/{hx}/history", headers=auth,
                                      params={"quantity": "nope"}), 404)
        assert doc["field"] == "channel" and "activePower" in doc["allowed"]
        doc = is_problem(await cl.get(f"/devices/{hx}/history", headers=auth,
                                      params={"range": "1y"}), 422)
        assert doc["field"] == "range" and "week" in doc["allowed"]
        # reports: made, listed, downloaded
        rep = await cl.post("/reports", headers=auth, json={"scope": "device", "name": hx})
        assert rep.status_code == 201, rep.text
        got = await cl.get(rep.json()["href"].removeprefix("/api/v1"), headers=auth)
        assert got.status_code == 200 and got.headers["content-type"].startswith("text/csv")
        assert len(got.content) == rep.json()["size"]
        is_problem(await cl.get("/reports/..%2Fcontroller.db", headers=auth), 404)
        # backups: made, downloaded as the gzip the core wrote
        b = await cl.post("/backups", headers=auth)
        assert b.status_code == 201, b.text
        got = await cl.get(b.json()["href"].removeprefix("/api/v1"), headers=auth)
        assert got.status_code == 200 and got.content[:2] == b"\x1f\x8b"
        # group switching: the plan, then the run with its token
        p = await cl.post("/switching/plan", headers=auth,
                          json={"action": "off", "outlets": [[hx, 3], [hx, 4]],
                                "gapSeconds": 0})
        assert p.status_code == 200, p.text
        assert len(p.json()["plan"]["outlets"]) == 2
        assert dev.outlet_states[3].value == "on"            # a plan changes nothing
        run = await cl.post("/switching/run", headers=auth, json={"confirm": p.json()["confirm"]})
        assert run.status_code == 200 and run.json()["ok"], run.text
        await wait_for(lambda: dev.outlet_states[3].value == "off"
                       and dev.outlet_states[4].value == "off", timeout=15)
        again = await cl.post("/switching/run", headers=auth,
                              json={"confirm": p.json()["confirm"]})
        is_problem(again, 409)                                 # used once
