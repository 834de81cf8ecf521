"""The REST API v1 through a real HTTPS client (httpx) against the controller's web
server on loopback: sessions, API tokens and Basic through the core's one admission
path (lockout, audit), problem+json errors, ETag/If-Match, the two-step outlet switch,
and the role matrix of docs/permissions.md (readonly writes → 403, nothing changed)."""

from __future__ import annotations

import base64
import ssl
from typing import Any

import httpx
import pytest

from enerteg_tui.core.permissions import SYSTEM
from tests.helpers import wait_for

pytestmark = pytest.mark.e2e

PASSWORD = "Rest-pass-2026!"


async def rest_env(make_controller: Any, controller: dict[str, Any] | None = None,
                   **settings: Any) -> tuple[Any, str, str]:
    """A controller with HTTPS (and plain HTTP) on free ports and users boss (admin),
    oper (readonly) and power (power); (controller, https base, http base)."""
    c = await make_controller(pdus=2, interval=0.2, bind="127.0.0.1", **(controller or {}))
    await c.users.add(SYSTEM, "boss", PASSWORD, ["admin"])
    await c.users.add(SYSTEM, "oper", PASSWORD, ["readonly"])
    await c.users.add(SYSTEM, "power", PASSWORD, ["power"])
    await c.config.put(SYSTEM, "auth", {"addressBackoffSeconds": 0})
    svc = c.service("http")
    await c.config.put(SYSTEM, "http_server", {"enabled": "enabled",
                                               "insecureEnabled": "enabled", **settings})
    await wait_for(lambda: svc.status.running and svc.https_port, timeout=15)
    await wait_for(lambda: len(c.live.devices) == 2 and all(
        d.last_ok_at for d in c.live.devices.values()), timeout=15)
    return c, f"https://127.0.0.1:{svc.https_port}/api/v1", f"http://127.0.0.1:{svc.port}/api/v1"


def client(c: Any, base: str, **kw: Any) -> httpx.AsyncClient:
    """An HTTPS client that trusts the controller's self-signed certificate."""
    return httpx.AsyncClient(base_url=base, verify=ssl.create_default_context(
        cafile=str(c.core.paths.https_certificate)),
                             timeout=20, **kw)


async def login(cl: httpx.AsyncClient, user: str) -> dict[str, str]:
    r = await cl.post("/session", json={"user": user, "password": PASSWORD})
    assert r.status_code == 200, r.text
    return {"Authorization": f"Bearer {r.json()['token']}"}


def is_problem(r: httpx.Response, status: int) -> dict[str, Any]:
    assert r.status_code == status, r.text
    assert r.headers["content-type"] == "application/problem+json"
    doc = r.json()
    assert doc["status"] == status and doc["detail"]
    return doc


async def audit_actions(c: Any) -> list[str]:
    return [e.action for e in await c.audit.query(SYSTEM, limit=200)]


async def test_session_login_use_logout_and_audit(make_controller: Any) -> None:
    c, base, _ = await rest_env(make_controller)
    async with client(c, base) as cl:
        r = await cl.post("/session", json={"user": "boss", "password": PASSWORD})
        assert r.status_code == 200, r.text
        token = r.json()["token"]
        assert r.json()["roles"] == ["admin"] and token.startswith("ses_")
        auth = {"Authorization": f"Bearer {token}"}
        assert any(s.principal.user == "boss" and s.principal.face == "rest"
                   for s in c.users.sessions.list())
        me = await cl.get("/session", headers=auth)
        assert me.json()["user"] == "boss" and me.json()["face"] == "rest"
        assert (await cl.delete("/session", headers=auth)).status_code == 204
        assert not any(s.principal.face == "rest" for s in c.users.sessions.list())
        doc = is_problem(await cl.get("/session", headers=auth), 401)
        assert "session token not accepted" in doc["detail"]
        assert "WWW-Authenticate" in (await cl.get("/devices")).headers
    actions = await audit_actions(c)
    assert "login" in actions and "logout" in actions
    entries = await c.audit.query(SYSTEM, limit=200)
    assert any(e.face == "rest" and e.action == "login" for e in entries)
    assert not any(token in (e.message + str(e.new) + str(e.old)) for e in entries)


async def test_wrong_password_is_audited_and_locks_out_like_ssh(make_controller: Any) -> None:
    c, base, _ = await rest_env(make_controller)
    await c.config.put(SYSTEM, "auth", {"lockoutFailures": 3})
    async with client(c, base) as cl:
        for _ in range(3):
            doc = is_problem(await cl.post("/session", json={"user": "oper",
                                                             "password": "wrong"}), 401)
            assert doc["detail"] == "wrong user name or password"
        # the right password is refused while locked out, and says why
        doc = is_problem(await cl.post("/session", json={"user": "oper",
                                                         "password": PASSWORD}), 401)
        assert "locked" in doc["detail"] and doc["errorType"] == "LockedOut"
    actions = await audit_actions(c)
    assert actions.count("login.failed") == 3 and "login.lockout" in actions
    assert "login.refused" in actions
    assert not any(PASSWORD in e.message or "wrong" == e.new
                   for e in await c.audit.query(SYSTEM, limit=200))


async def test_idle_session_times_out(make_controller: Any) -> None:
    c, base, _ = await rest_env(make_controller)
    async with client(c, base) as cl:
        auth = await login(cl, "oper")
        assert (await cl.get("/devices", headers=auth)).status_code == 200
        for s in c.users.sessions.list():
            s.last_activity -= 16 * 60        # config/cli idleTimeoutMinutes is 15
        is_problem(await cl.get("/devices", headers=auth), 401)
        assert not any(s.principal.face == "rest" for s in c.users.sessions.list())
    assert "session.timeout" in await audit_actions(c)


async def test_api_tokens_from_the_shell_and_the_api(make_controller: Any) -> None:
    from enerteg_tui.protocols.shell.session import ShellSession
    from enerteg_tui.core.permissions import Principal, Role

    c, base, _ = await rest_env(make_controller)
    oper = Principal(user="oper", roles=frozenset({Role.READONLY}), face="shell")
    out: list[str] = []
    err: list[str] = []
    code = await ShellSession(c.core, oper).run_script("token create ansible --days 30",
                                                       out.append, err.append)
    assert code == 0, err
    text = "".join(out)
    token = next(w for w in text.split() if w.startswith("ent_"))
    assert "not shown again" in text
    row = await c.store.fetchone("SELECT hash FROM api_token")
    assert row is not None and token not in row[0] and token.split("_")[2] not in row[0]
    async with client(c, base) as cl:
        auth = {"Authorization": f"Bearer {token}"}
        r = await cl.get("/devices", headers=auth)
        assert r.status_code == 200 and r.json()["total"] == 2
        lst = await cl.get("/tokens", headers=auth)
        assert [t["name"] for t in lst.json()["items"]] == ["ansible"]
        assert "token" not in lst.json()["items"][0]
        # made through the API too, shown once
        made = await cl.post("/tokens", headers=auth, json={"name": "dcim", "days": 0})
        assert made.status_code == 201 and made.json()["expires"] == "never"
        # a readonly user cannot make one for somebody else
        is_problem(await cl.post("/tokens", headers=auth,
                                 json={"name": "x", "user": "boss"}), 403)
        # a mistyped secret is a failed login of the token's user
        bad = token[:-4] + ("AAAA" if not token.endswith("AAAA") else "BBBB")
        is_problem(await cl.get("/devices", headers={"Authorization": f"Bearer {bad}"}), 401)
        tid = token.split("_")[1]
        assert (await cl.delete(f"/tokens/{tid}", headers=auth)).status_code == 204
        is_problem(await cl.get("/devices", headers=auth), 401)
        # validation words: days out of range
        doc = is_problem(await cl.post("/tokens", headers={
            "Authorization": f"Bearer {made.json()['token']}"},
            json={"name": "y", "days": 99999}), 422)
        assert doc["field"] == "days" and doc["value"] == 99999 and "3650" in doc["allowed"]
    actions = await audit_actions(c)
    assert actions.count("token.create") == 2 and "token.revoke" in actions
    assert "login.failed" in actions


async def test_basic_only_over_https(make_controller: Any) -> None:
    c, base, plain = await rest_env(make_controller)
    basic = {"Authorization": "Basic " + base64.b64encode(
        f"boss:{PASSWORD}".encode()).decode()}
    async with client(c, base) as cl:
        r = await cl.get("/users", headers=basic)
        assert r.status_code == 200 and {u["name"] for u in r.json()["items"]} >= {"boss"}
    async with httpx.AsyncClient(base_url=plain, timeout=20) as cl:
        before = (await audit_actions(c)).count("login")
        doc = is_problem(await cl.get("/users", headers=basic), 401)
        assert "HTTPS only" in doc["detail"]
        assert (await audit_actions(c)).count("login") == before      # not even checked


async def test_errors_are_problem_documents_naming_field_value_allowed(
        make_controller: Any) -> None:
    c, base, _ = await rest_env(make_controller)
    async with client(c, base) as cl:
        auth = await login(cl, "boss")
        doc = is_problem(await cl.patch("/settings/syslog", headers=auth,
                                        json={"serverPort": 70000}), 422)
        assert doc["field"] == "serverPort" and doc["value"] == 70000
        assert "65535" in doc["allowed"] and "config/syslog" in doc["detail"]
        doc = is_problem(await cl.get("/settings/nope", headers=auth), 404)
        assert doc["value"] == "nope" and "syslog" in doc["allowed"]
        doc = is_problem(await cl.get("/devices/fffff", headers=auth), 404)
        is_problem(await cl.get("/no/such/thing", headers=auth), 404)
        doc = is_problem(await cl.get("/alarms?limit=0", headers=auth), 422)
        assert doc["field"] == "limit" and doc["value"] in (0, "0")
        doc = is_problem(await cl.post("/audit/1/state", headers=auth, json={}), 405)
        # a refused credential is never repeated back
        long_pw = "P" * 300
        doc = is_problem(await cl.post("/session", json={"user": "boss",
                                                         "password": long_pw}), 422)
        assert doc["field"] == "password" and doc["value"] == "***"
        assert long_pw[:40] not in str(doc)
        doc = is_problem(await cl.post(f"/devices/{c.live.ordered()[0].hex_id}/outlets/1/"
                                       "switch", headers=auth,
                                       json={"action": "on", "confirm": "x" * 200}), 422)
        assert doc["field"] == "confirm" and doc["value"] == "***"


async def test_etag_and_if_match(make_controller: Any) -> None:
    c, base, _ = await rest_env(make_controller)
    async with client(c, base) as cl:
        auth = await login(cl, "boss")
        r = await cl.get("/settings/syslog", headers=auth)
        etag = r.headers["etag"]
        ok = await cl.patch("/settings/syslog", headers={**auth, "If-Match": etag},
                            json={"serverPort": 5514})
        assert ok.status_code == 200 and ok.json()["u"]["serverPort"] == 5514
        assert ok.headers["etag"] != etag
        # the old ETag no longer matches: 412, nothing changed
        doc = is_problem(await cl.patch("/settings/syslog", headers={**auth, "If-Match": etag},
                                        json={"serverPort": 6514}), 412)
        assert doc["field"] == "If-Match" and doc["allowed"] == ok.headers["etag"]
        assert c.config.get("syslog").serverPort == 5514
        # PUT takes back the document GET gave (its "u"), changed, with its ETag
        got = await cl.get("/settings/syslog", headers=auth)
        whole = got.json()
        whole["u"]["serverPort"] = 7514
        put = await cl.put("/settings/syslog", headers={**auth, "If-Match": got.headers["etag"]},
                           json=whole)
        assert put.status_code == 200, put.text
        assert c.config.get("syslog").serverPort == 7514
        # secrets read as "set"
        await c.config.put(SYSTEM, "http_server", {"metricsToken": "s3cret-token"})
        doc = (await cl.get("/settings/http_server", headers=auth)).json()
        assert doc["u"]["metricsToken"] == "set"
        # a document put back whole keeps the secret it read as "set" (as the shell's edit)
        r = await cl.put("/settings/http_server", headers=auth, json=doc)
        assert r.status_code == 200, r.text
        assert c.config.get("http_server").metricsToken == "s3cret-token"


async def test_outlet_switch_needs_the_unlock_token(make_controller: Any) -> None:
    c, base, _ = await rest_env(make_controller)
    dev = next(d for d in c.live.ordered() if d.info.model.switchable and d.info.model.outlets)
    hx = dev.hex_id
    async with client(c, base) as cl:
        auth = await login(cl, "power")
        sw = await cl.post(f"/devices/{hx}/outlets/1/switch", headers=auth,
                           json={"action": "off", "confirm": "guess"})
        is_problem(sw, 409)
        u = await cl.post(f"/devices/{hx}/outlets/1/unlock", headers=auth, json={"action": "off"})
        assert u.status_code == 200 and u.json()["validSeconds"] == 10
        confirm = u.json()["confirm"]
        # the token is for "off" on outlet 1 only
        is_problem(await cl.post(f"/devices/{hx}/outlets/2/switch", headers=auth,
                                 json={"action": "off", "confirm": confirm}), 409)
        u = await cl.post(f"/devices/{hx}/outlets/1/unlock", headers=auth, json={"action": "off"})
        sw = await cl.post(f"/devices/{hx}/outlets/1/switch", headers=auth,
                           json={"action": "off", "confirm": u.json()["confirm"]})
        assert sw.status_code == 200, sw.text
        await wait_for(lambda: dev.outlet_states[1].value == "off", timeout=15)
        ro = await login(cl, "oper")
        is_problem(await cl.post(f"/devices/{hx}/outlets/1/unlock", headers=ro,
                                 json={"action": "on"}), 403)
    assert dev.outlet_states[1].value == "off"             # the readonly try changed nothing


async def test_users_through_the_core_rules(make_controller: Any) -> None:
    c, base, _ = await rest_env(make_controller)
    async with client(c, base) as cl:
        auth = await login(cl, "boss")
        r = await cl.post("/users", headers=auth,
                          json={"name": "ansible", "password": PASSWORD, "roles": ["power"]})
        assert r.status_code == 201 and r.json()["roles"] == ["power"], r.text
        doc = is_problem(await cl.post("/users", headers=auth, json={
            "name": "Bad Name", "password": PASSWORD, "roles": ["power"]}), 422)
        assert doc["field"] == "login name" and "lowercase" in doc["allowed"]
        is_problem(await cl.post("/users", headers=auth, json={
            "name": "ansible", "password": PASSWORD, "roles": ["power"]}), 409)
        r = await cl.put("/users/ansible/roles", headers=auth, json={"roles": ["readonly"]})
        assert r.json()["roles"] == ["readonly"]
        ro = await login(cl, "oper")
        is_problem(await cl.delete("/users/ansible", headers=ro), 403)
        is_problem(await cl.get("/users/boss", headers=ro), 403)
        assert (await cl.get("/users/oper", headers=ro)).json()["name"] == "oper"
        # one's own password needs the old one
        doc = is_problem(await cl.put("/users/oper/password", headers=ro,
                                      json={"password": "Other-pass-2026!"}), 422)
        assert doc["field"] == "oldPassword"
        r = await cl.put("/users/oper/password", headers=ro,
                         json={"password": "Other-pass-2026!", "oldPassword": PASSWORD})
        assert r.status_code == 204, r.text
        assert (await cl.delete("/users/ansible", headers=auth)).status_code == 204
    assert {"user.add", "user.delete"} <= set(await audit_actions(c))


async def test_factory_password_must_be_changed_at_the_first_login(make_controller: Any) -> None:
    c, base, _ = await rest_env(make_controller)
    async with client(c, base) as cl:
        doc = is_problem(await cl.post("/session", json={"user": "admin",
                                                         "password": "admin"}), 403)
        assert doc["field"] == "newPassword" and "factory default" in doc["detail"]
        assert not any(s.principal.face == "rest" for s in c.users.sessions.list())
        doc = is_problem(await cl.post("/session", json={
            "user": "admin", "password": "admin", "newPassword": "short"}), 422)
        r = await cl.post("/session", json={"user": "admin", "password": "admin",
                                            "newPassword": "New-admin-2026!"})
        assert r.status_code == 200, r.text
        assert not await c.users.must_change("admin")


async def test_sessions_end_when_the_server_stops(make_controller: Any) -> None:
    c, base, _ = await rest_env(make_controller)
    async with client(c, base) as cl:
        await login(cl, "oper")
    assert any(s.principal.face == "rest" for s in c.users.sessions.list())
    svc = c.service("http")
    await c.config.put(SYSTEM, "http_server", {"enabled": "disabled"})
    await wait_for(lambda: not svc.status.running, timeout=15)
    await wait_for(lambda: not any(s.principal.face == "rest"
                                   for s in c.users.sessions.list()), timeout=15)
    assert "logout" in await audit_actions(c)


async def test_a_source_rotating_user_names_is_held_off(make_controller: Any) -> None:
    c, base, _ = await rest_env(make_controller)
    async with client(c, base) as cl:
        codes = [(await cl.post("/session", json={"user": f"guess{i}", "password": "x"}))
                 for i in range(12)]
        assert [r.status_code for r in codes[:7]] == [401] * 7
        held = codes[-1]
        doc = is_problem(held, 429)
        assert "too many failed logins from 127.0.0.1" in doc["detail"]
        assert int(held.headers["retry-after"]) >= 1
        # the right password is not even checked meanwhile
        is_problem(await cl.post("/session", json={"user": "boss", "password": PASSWORD}), 429)
    failed = [a for a in await audit_actions(c) if a == "login.failed"]
    assert len(failed) < 12                       # the held-off tries cost no password check
