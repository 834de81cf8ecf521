"""The one sign-in of every HTTP face (protocols/http/signin.py over core.web_sessions),
through real HTTPS clients against the controller's web server: a session opened on one
face works on the others and Redfish's SessionService lists and deletes it; one
failed-login penalty per address for REST, Redfish, /events and the SSH server; the
idle timeout is
config/cli idleTimeoutMinutes; /events takes session tokens and Basic over HTTPS, and a
stream opened with a session ends with it."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import httpx
import pytest

from enerteg_tui.core.permissions import SYSTEM
from tests.helpers import wait_for
from tests.protocols.test_rest import PASSWORD, client, rest_env

pytestmark = pytest.mark.e2e


def root(base: str) -> str:
    return base.removesuffix("/api/v1")


async def test_one_session_store_for_rest_and_redfish(make_controller: Any) -> None:
    c, base, _ = await rest_env(make_controller)
    rf = root(base) + "/redfish/v1"
    async with client(c, base) as cl:
        r = await cl.post("/session", json={"user": "oper", "password": PASSWORD})
        rest_token = r.json()["token"]
        # the REST session's token reads Redfish, as X-Auth-Token or Bearer
        r = await cl.get(f"{rf}/Chassis", headers={"X-Auth-Token": rest_token})
        assert r.status_code == 200, r.text
        r = await cl.get(f"{rf}/Chassis", headers={"Authorization": f"Bearer {rest_token}"})
        assert r.status_code == 200, r.text
        # a Redfish session reads REST
        r = await cl.post(f"{rf}/SessionService/Sessions",
                          json={"UserName": "boss", "Password": PASSWORD})
        assert r.status_code == 201, r.text
        rf_token = r.headers["x-auth-token"]
        me = await cl.get("/session", headers={"Authorization": f"Bearer {rf_token}"})
        assert me.status_code == 200 and me.json()["user"] == "boss"
        # SessionService lists both (an admin sees every web session, oper only theirs)
        listed = (await cl.get(f"{rf}/SessionService/Sessions",
                               headers={"X-Auth-Token": rf_token})).json()
        assert listed["Members@odata.count"] == 2
        docs = [(await cl.get(root(base) + m["@odata.id"], headers={"X-Auth-Token": rf_token})).json()
                for m in listed["Members"]]
        kinds = {d["UserName"]: d["SessionType"] for d in docs}
        assert kinds == {"oper": "OEM", "boss": "Redfish"}
        assert next(d for d in docs if d["UserName"] == "oper")["OemSessionType"] == "REST API"
        mine = (await cl.get(f"{rf}/SessionService/Sessions",
                             headers={"X-Auth-Token": rest_token})).json()
        assert mine["Members@odata.count"] == 1
        # the admin deletes the REST session over Redfish: its token is refused at once
        oper_uri = root(base) + next(d["@odata.id"] for d in docs if d["UserName"] == "oper")
        r = await cl.delete(oper_uri, headers={"X-Auth-Token": rf_token})
        assert r.status_code == 204
        r = await cl.get("/devices", headers={"Authorization": f"Bearer {rest_token}"})
        assert r.status_code == 401 and "session token not accepted" in r.json()["detail"]
        assert [s.principal.user for s in c.users.sessions.list()
                if s.principal.face in ("rest", "redfish")] == ["boss"]
        # a password login over plain HTTP is refused unchecked on both faces
    async with httpx.AsyncClient(timeout=20) as plain:
        http = f"http://127.0.0.1:{c.service('http').port}"
        before = [e.action for e in await c.audit.query(SYSTEM, limit=300)].count("login")
        r = await plain.post(f"{http}/api/v1/session",
                             json={"user": "boss", "password": PASSWORD})
        assert r.status_code == 401 and "HTTPS only" in r.json()["detail"]
        r = await plain.post(f"{http}/redfish/v1/SessionService/Sessions",
                             json={"UserName": "boss", "Password": PASSWORD})
        assert r.status_code == 403 and "HTTPS" in r.json()["error"]["message"]
        assert [e.action for e in await c.audit.query(SYSTEM, limit=300)
                ].count("login") == before


async def test_one_failed_login_penalty_for_every_network_face(make_controller: Any) -> None:
    c, base, _ = await rest_env(make_controller, {"ssh_enabled": True, "ssh_port": 0})
    rf = root(base) + "/redfish/v1"
    now = time.monotonic()
    c.users.admission._clock = lambda: now     # no draining while a loaded machine is slow
    async with client(c, base) as cl:
        # 8 failures (2 s each, 16 s held; 15 s refuses), spread over the faces and names
        for i in range(4):
            r = await cl.post("/session", json={"user": f"nobody{i}", "password": "x"})
            assert r.status_code == 401
            r = await cl.get(f"{rf}/Chassis", auth=(f"ghost{i}", "x"))
            assert r.status_code == 401
        # now nothing from this address is checked, on any face, the right password neither
        before = [e.action for e in await c.audit.query(SYSTEM, limit=300)]
        r = await cl.post("/session", json={"user": "boss", "password": PASSWORD})
        assert r.status_code == 429 and int(r.headers["retry-after"]) >= 1
        assert "not checked" in r.json()["detail"]
        r = await cl.get(f"{rf}/Chassis", auth=("boss", PASSWORD))
        assert r.status_code == 429 and r.headers["retry-after"]
        assert r.json()["error"]["code"].endswith("ServiceTemporarilyUnavailable")
        r = await cl.get(root(base) + "/events", auth=("boss", PASSWORD))
        assert r.status_code == 429 and "not checked" in r.text
        r = await cl.get("/devices", headers={"Authorization": "Bearer ent_00000000_" + "A" * 43})
        assert r.status_code == 429
        after = [e.action for e in await c.audit.query(SYSTEM, limit=300)]
        assert after.count("login") == before.count("login")
        assert after.count("login.failed") == before.count("login.failed") == 8
    # the SSH server holds the same penalty: a new connection is refused before any SSH
    reader, writer = await asyncio.open_connection("127.0.0.1", c.service("ssh").port)
    said = await asyncio.wait_for(reader.read(), 10)
    writer.close()
    assert said.startswith(b"Refused: too many failed logins from 127.0.0.1"), said


async def test_idle_timeout_is_config_cli(make_controller: Any) -> None:
    c, base, _ = await rest_env(make_controller)
    rf = root(base) + "/redfish/v1"
    await c.config.put(SYSTEM, "cli", {"idleTimeoutMinutes": 2})
    async with client(c, base) as cl:
        r = await cl.post("/session", json={"user": "boss", "password": PASSWORD})
        assert r.json()["idleTimeoutSeconds"] == 120
        auth = {"Authorization": f"Bearer {r.json()['token']}"}
        assert (await cl.get(f"{rf}/SessionService", headers=auth)).json()[
            "SessionTimeout"] == 120
        # 0 (never, on SSH) is the setting's most for a web session: it has no connection
        await c.config.put(SYSTEM, "cli", {"idleTimeoutMinutes": 0})
        assert (await cl.get(f"{rf}/SessionService", headers=auth)).json()[
            "SessionTimeout"] == 86400
        for ws in c.core.tokens.sessions.visible(SYSTEM):
            ws.core.last_activity -= 86400 + 5
        r = await cl.get("/devices", headers=auth)
        assert r.status_code == 401
    assert "session.timeout" in [e.action for e in await c.audit.query(SYSTEM, limit=100)]


async def test_events_take_a_session_token_and_basic_over_https(make_controller: Any) -> None:
    c, base, _ = await rest_env(make_controller)
    url = root(base) + "/events"

    async def first_line(cl: httpx.AsyncClient, **kw: Any) -> tuple[int, str]:
        async with cl.stream("GET", url, **kw) as resp:
            async for line in resp.aiter_lines():
                return resp.status_code, line
            return resp.status_code, ""

    async with client(c, base) as cl:
        r = await cl.post("/session", json={"user": "oper", "password": PASSWORD})
        token = r.json()["token"]
        status, line = await asyncio.wait_for(
            first_line(cl, headers={"Authorization": f"Bearer {token}"}), 30)
        assert status == 200 and line.startswith("retry: ")
        status, line = await asyncio.wait_for(first_line(cl, auth=("oper", PASSWORD)), 30)
        assert status == 200 and line.startswith("retry: ")
        r = await cl.get(url, auth=("oper", "wrong"))
        assert r.status_code == 401 and "wrong user name or password" in r.text
        # a stream opened with a session ends when the session does (logout)
        c.service("http").events_hub.keepalive = 0.2
        lines: list[str] = []

        async def read_all() -> None:
            async with cl.stream("GET", url, headers={"X-Auth-Token": token}) as resp:
                async for line in resp.aiter_lines():
                    lines.append(line)
        reading = asyncio.create_task(read_all())
        await wait_for(lambda: ": keep-alive" in lines, timeout=15)
        assert not reading.done()
        r = await cl.delete("/session", headers={"Authorization": f"Bearer {token}"})
        assert r.status_code == 204
        await asyncio.wait_for(reading, 15)

    async def audited() -> bool:
        entries = [e for e in await c.audit.query(SYSTEM, limit=200) if e.user == "oper"]
        return ({"login", "logout", "login.failed"} <= {e.action for e in entries})
    await wait_for(audited, timeout=15)
    # the Basic request's one-request session ended, the token session was logged out
    assert not [s for s in c.users.sessions.list() if s.principal.face == "rest"]
