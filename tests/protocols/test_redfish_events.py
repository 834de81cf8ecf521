"""Redfish EventService, account writes, NetworkProtocol and the audit LogService, through
a real HTTPS client on a simulated ring: pushes are received by a real HTTP listener on
loopback (``http.server`` in a thread), the SSE stream is read by a streaming client."""

from __future__ import annotations

import json
import ssl
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest

from enerteg_tui.core.model import OutletState
from enerteg_tui.core.permissions import SYSTEM
from enerteg_tui.core.subscriptions import Subscriptions
from tests.helpers import free_port, wait_for

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("redfish")]

PW = "Redfish-pass-2026!"
SUBS = "/redfish/v1/EventService/Subscriptions"
TEST = "/redfish/v1/EventService/Actions/EventService.SubmitTestEvent"


class Listener:
    """A real HTTP server on loopback that keeps every JSON body POSTed to it."""

    def __init__(self) -> None:
        got: list[dict[str, Any]] = []
        self.got = got
        heard: list[dict[str, str]] = []
        self.headers = heard

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:          # noqa: N802 (http.server's name)
                length = int(self.headers.get("Content-Length", "0"))
                got.append(json.loads(self.rfile.read(length)))
                heard.append(dict(self.headers))
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/events"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def ids(self) -> list[str]:
        return [e["MessageId"] for doc in self.got for e in doc["Events"]]

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


async def redfish(make_controller: Any, tmp_path: Path) -> tuple[Any, httpx.AsyncClient]:
    c = await make_controller(pdus=2, bind="127.0.0.1", interval=0.2)
    svc = c.service("http")
    await c.config.put(SYSTEM, "http_server", {"enabled": "enabled"})
    await wait_for(lambda: svc.status.running and svc.https_port, timeout=15)
    for name, roles in (("boss", ["admin"]), ("ops", ["power"]), ("viewer", ["readonly"])):
        await c.core.users.add(SYSTEM, name, PW, roles)
    ca = tmp_path / "ca.pem"
    ca.write_text(svc.certificate)
    client = httpx.AsyncClient(base_url=f"https://localhost:{svc.https_port}",
                               verify=ssl.create_default_context(cafile=str(ca)), timeout=30)
    return c, client


def _hub(c: Any) -> Any:
    return c.service("http").events_hub.companions["redfish"]


async def test_subscriptions_push_to_a_real_listener_with_filters_and_persist(
        make_controller, tmp_path) -> None:
    c, client = await redfish(make_controller, tmp_path)
    everything, outlets_only = Listener(), Listener()
    live = next(d for d in c.core.live.ordered() if d.info.model.switchable)
    await wait_for(lambda: live.outlet_states.get(3) is OutletState.ON, timeout=15)
    try:
        async with client:
            # readonly: 403, nothing made
            r = await client.post(SUBS, json={"Destination": everything.url},
                                  auth=("viewer", PW))
            assert r.status_code == 403, r.text
            assert c.core.subscriptions.all() == []
            # bad input: 400 naming the thing and what is allowed, nothing made
            for body, word in (({"Destination": "ftp://x/y"}, "http"),
                               ({"Destination": everything.url, "Protocol": "FTP"}, "Redfish"),
                               ({"Destination": everything.url,
                                 "ResourceTypes": ["Toaster"]}, "Outlet"),
                               ({"Context": "no destination"}, "Destination"),
                               ({"Destination": everything.url,
                                 "HttpHeaders": [{"Host": "evil"}]}, "Host")):
                r = await client.post(SUBS, json=body, auth=("ops", PW))
                assert r.status_code == 400 and word in r.json()["error"]["message"], r.text
            assert c.core.subscriptions.all() == []
            r = await client.post(SUBS, json={"Destination": everything.url,
                                              "Context": "all of it"}, auth=("ops", PW))
            assert r.status_code == 201, r.text
            first = r.headers["location"]
            assert r.json()["Context"] == "all of it"
            r = await client.post(SUBS, json={"Destination": outlets_only.url,
                                              "ResourceTypes": ["Outlet"],
                                              "RegistryPrefixes": ["EnerTEG"],
                                              "HttpHeaders": [{"Authorization": "Bearer t0k"}]},
                                  auth=("boss", PW))
            assert r.status_code == 201, r.text
            assert r.json()["HttpHeaders"] == []              # kept, sent, never shown
            assert "t0k" not in str(await c.audit.query(SYSTEM, limit=20))
            # ops sees its own, the admin both
            r = await client.get(SUBS, auth=("ops", PW))
            assert [m["@odata.id"] for m in r.json()["Members"]] == [first]
            r = await client.get(SUBS, auth=("boss", PW))
            assert r.json()["Members@odata.count"] == 2
            # a test event: to the first only (its origin is the EventService)
            r = await client.post(TEST, json={"Message": "hello"}, auth=("ops", PW))
            assert r.status_code == 204, r.text
            await wait_for(lambda: "EnerTEG.1.0.TestEvent" in everything.ids(), timeout=15)
            doc = everything.got[-1]
            assert doc["Context"] == "all of it"
            assert doc["@odata.type"].startswith("#Event.")
            assert doc["Events"][0]["Message"] == "Test event: hello."
            # an outlet switched through Redfish: both hear it, with the outlet as origin
            target = (f"/redfish/v1/PowerEquipment/RackPDUs/{live.hex_id}/Outlets/3")
            r = await client.post(f"{target}/Actions/Outlet.PowerControl",
                                  json={"PowerState": "Off", "Confirm": True},
                                  auth=("ops", PW))
            assert r.status_code == 204, r.text
            for listener in (everything, outlets_only):
                await wait_for(lambda: "EnerTEG.1.0.OutletPoweredOff" in listener.ids(),
                               timeout=20)
            assert "EnerTEG.1.0.TestEvent" not in outlets_only.ids()
            assert outlets_only.headers[0]["Authorization"] == "Bearer t0k"
            assert "Authorization" not in everything.headers[0]
            # PATCH: Context and HttpHeaders (the owner, or an admin), nothing else
            second_id = next(s.id for s in c.core.subscriptions.all()
                             if s.destination == outlets_only.url)
            second = f"{SUBS}/{second_id}"
            r = await client.patch(second, json={"Destination": everything.url},
                                   auth=("boss", PW))
            assert r.status_code == 400 and "Destination" in r.json()["error"]["message"]
            r = await client.patch(second, json={"Context": "outlets", "HttpHeaders": [
                {"Authorization": "Bearer n3w"}]}, auth=("boss", PW))
            assert r.status_code == 200 and r.json()["Context"] == "outlets", r.text
            assert r.json()["HttpHeaders"] == []
            assert _hub(c).pushers[second_id].headers == {"Authorization": "Bearer n3w"}
            rec = next(e for d in outlets_only.got for e in d["Events"]
                       if e["MessageId"].endswith("OutletPoweredOff"))
            assert rec["OriginOfCondition"]["@odata.id"] == target
            # every MessageId resolves in the registry the service serves
            reg = (await client.get("/redfish/v1/Registries/EnerTEG/EnerTEG.1.0.0",
                                    auth=("viewer", PW))).json()
            for mid in everything.ids() + outlets_only.ids():
                assert mid.rsplit(".", 1)[1] in reg["Messages"], mid
            # kept in the store: a fresh service over the same store loads them
            again = Subscriptions(c.core.subscriptions._store, c.core.audit)
            await again.load()
            assert {s.destination for s in again.all()} == {everything.url, outlets_only.url}
            # DELETE: the owner; the readonly user cannot even see it
            r = await client.delete(first, auth=("viewer", PW))
            assert r.status_code == 404
            r = await client.delete(first, auth=("ops", PW))
            assert r.status_code == 204
            assert [s.destination for s in c.core.subscriptions.all()] == [outlets_only.url]
            actions = [e.action for e in await c.audit.query(SYSTEM, limit=100)]
            assert actions.count("subscription.add") == 2
            assert "subscription.delete" in actions
            # a subscription goes with its owner
            r = await client.post(SUBS, json={"Destination": everything.url},
                                  auth=("ops", PW))
            assert r.status_code == 201
            r = await client.delete("/redfish/v1/AccountService/Accounts/ops",
                                    auth=("boss", PW))
            assert r.status_code == 204
            assert [s.owner for s in c.core.subscriptions.all()] == ["boss"]
            again = Subscriptions(c.core.subscriptions._store, c.core.audit)
            await again.load()
            assert [s.owner for s in again.all()] == ["boss"]
    finally:
        everything.close()
        outlets_only.close()


async def test_a_dead_listener_is_retried_then_dropped_and_blocks_nobody(
        make_controller, tmp_path) -> None:
    c, client = await redfish(make_controller, tmp_path)
    alive = Listener()
    dead = f"http://127.0.0.1:{free_port()}/gone"        # nothing listens there
    hub = _hub(c)
    hub.retry.attempts, hub.retry.interval_s = 2, 0.05
    try:
        async with client:
            for url in (dead, alive.url):
                r = await client.post(SUBS, json={"Destination": url}, auth=("boss", PW))
                assert r.status_code == 201, r.text
            dead_id = next(s.id for s in c.core.subscriptions.all() if s.destination == dead)
            for i in range(5):
                r = await client.post(TEST, json={"Message": f"n{i}"}, auth=("boss", PW))
                assert r.status_code == 204
            await wait_for(lambda: len(alive.got) == 5, timeout=20)
            assert [d["Events"][0]["MessageArgs"][0] for d in alive.got] == [
                f"n{i}" for i in range(5)]
            # the dead one: 1 try + 2 retries of the first event, then it ends (audited)
            await wait_for(lambda: all(s.id != dead_id for s in c.core.subscriptions.all()),
                           timeout=20)

            async def audited() -> bool:
                return any(e.action == "subscription.delete" and "retries" in e.message
                           for e in await c.audit.query(SYSTEM, limit=50))
            await wait_for(audited, timeout=10)
            assert dead_id not in hub.pushers
    finally:
        alive.close()


async def test_sse_stream_with_a_filter(make_controller, tmp_path) -> None:
    c, client = await redfish(make_controller, tmp_path)
    async with client:
        r = await client.get("/redfish/v1/EventService", auth=("viewer", PW))
        uri = r.json()["ServerSentEventUri"]
        r = await client.get(uri, params={"$filter": "Colour eq 'red'"}, auth=("viewer", PW))
        assert r.status_code == 400 and "Colour" in r.json()["error"]["message"]
        async with client.stream("GET", uri, params={"$filter": "ResourceType eq 'EventService'"},
                                 auth=("viewer", PW),
                                 headers={"Accept": "text/event-stream"}) as stream:
            assert stream.status_code == 200
            assert stream.headers["content-type"].startswith("text/event-stream")
            r = await client.post(TEST, json={"Message": "over sse"}, auth=("boss", PW))
            assert r.status_code == 204
            data = None
            async for line in stream.aiter_lines():
                if line.startswith("data: "):
                    data = json.loads(line[6:])
                    break
        assert data is not None
        assert data["Events"][0]["MessageId"] == "EnerTEG.1.0.TestEvent"
        assert data["Events"][0]["Message"] == "Test event: over sse."


async def test_sse_stream_of_a_session_ends_when_the_session_is_deleted(
        make_controller, tmp_path) -> None:
    import asyncio
    c, client = await redfish(make_controller, tmp_path)
    _hub(c).keepalive = 0.2
    async with client:
        r = await client.post("/redfish/v1/SessionService/Sessions",
                              json={"UserName": "viewer", "Password": PW})
        assert r.status_code == 201
        token, where = r.headers["X-Auth-Token"], r.headers["Location"]
        lines: list[str] = []

        async def read_all() -> None:
            async with client.stream("GET", "/redfish/v1/EventService/SSE",
                                     headers={"X-Auth-Token": token}) as resp:
                assert resp.status_code == 200
                async for line in resp.aiter_lines():
                    lines.append(line)
        reading = asyncio.create_task(read_all())
        await wait_for(lambda: lines.count(": keep-alive") >= 2, timeout=15)
        assert not reading.done()           # the open stream keeps the session in use
        r = await client.delete(where, headers={"X-Auth-Token": token})
        assert r.status_code == 204
        await asyncio.wait_for(reading, 15)  # ended at the next keep-alive
        r = await client.get("/redfish/v1/EventService/SSE", headers={"X-Auth-Token": token})
        assert r.status_code == 401
        assert not _hub(c).streams


async def test_account_writes_map_onto_the_core(make_controller, tmp_path) -> None:
    c, client = await redfish(make_controller, tmp_path)
    acc = "/redfish/v1/AccountService/Accounts"
    async with client:
        svc = (await client.get("/redfish/v1/AccountService", auth=("viewer", PW))).json()
        assert svc["MinPasswordLength"] == c.core.users.password_policy.min_length
        before = [u.name for u in await c.core.users.list(SYSTEM)]
        r = await client.post(acc, json={"UserName": "newbie", "Password": PW,
                                         "RoleId": "Operator"}, auth=("viewer", PW))
        assert r.status_code == 403
        assert [u.name for u in await c.core.users.list(SYSTEM)] == before
        # the password policy's own message, nothing made
        r = await client.post(acc, json={"UserName": "newbie", "Password": "x",
                                         "RoleId": "Operator"}, auth=("boss", PW))
        assert r.status_code == 400 and "assword" in r.json()["error"]["message"], r.text
        r = await client.post(acc, json={"UserName": "newbie", "Password": PW,
                                         "RoleId": "Wizard"}, auth=("boss", PW))
        assert r.status_code == 400 and "Operator" in r.json()["error"]["message"]
        assert [u.name for u in await c.core.users.list(SYSTEM)] == before
        r = await client.post(acc, json={"UserName": "newbie", "Password": PW,
                                         "RoleId": "Operator"}, auth=("boss", PW))
        assert r.status_code == 201, r.text
        uri = r.headers["location"]
        assert r.json()["RoleId"] == "Operator"
        assert {x.value for x in (await c.core.users.get("newbie")).roles} == {"power",
                                                                               "readwrite"}
        r = await client.post(acc, json={"UserName": "newbie", "Password": PW,
                                         "RoleId": "ReadOnly"}, auth=("boss", PW))
        assert r.status_code == 409
        # PATCH with If-Match: the current ETag works, a stale one is 412
        r = await client.get(uri, auth=("boss", PW))
        tag = r.headers["etag"]
        r = await client.get(uri, headers={"If-None-Match": tag}, auth=("boss", PW))
        assert r.status_code == 304 and r.content == b""
        r = await client.patch(uri, json={"RoleId": "ReadOnly"},
                               headers={"If-Match": tag}, auth=("boss", PW))
        assert r.status_code == 200 and r.json()["RoleId"] == "ReadOnly", r.text
        r = await client.patch(uri, json={"RoleId": "Administrator"},
                               headers={"If-Match": tag}, auth=("boss", PW))
        assert r.status_code == 412
        assert r.json()["error"]["code"].endswith("PreconditionFailed")
        assert {x.value for x in (await c.core.users.get("newbie")).roles} == {"readonly"}
        # readonly cannot change another account; an unknown property changes nothing
        r = await client.patch(uri, json={"RoleId": "Administrator"}, auth=("viewer", PW))
        assert r.status_code == 403
        r = await client.patch(uri, json={"RoleId": "Operator", "Bogus": 1},
                               auth=("boss", PW))
        assert r.status_code == 400
        assert {x.value for x in (await c.core.users.get("newbie")).roles} == {"readonly"}
        # one's own password: the policy applies; audited like the shell's
        r = await client.patch("/redfish/v1/AccountService/Accounts/viewer",
                               json={"Password": "short"}, auth=("viewer", PW))
        assert r.status_code == 400
        r = await client.patch("/redfish/v1/AccountService/Accounts/viewer",
                               json={"Password": PW + "x"}, auth=("viewer", PW))
        assert r.status_code == 200, r.text
        r = await client.delete(uri, auth=("viewer", PW + "x"))
        assert r.status_code == 403
        r = await client.delete(uri, auth=("boss", PW))
        assert r.status_code == 204
        assert "newbie" not in [u.name for u in await c.core.users.list(SYSTEM)]
        actions = {e.action for e in await c.audit.query(SYSTEM, limit=100)
                   if e.face == "redfish"}
        assert {"user.add", "user.roles", "user.password", "user.delete"} <= actions


async def test_network_protocol_and_the_audit_log_service(make_controller, tmp_path) -> None:
    c, client = await redfish(make_controller, tmp_path)
    svc = c.service("http")
    async with client:
        np = (await client.get("/redfish/v1/Managers/Controller/NetworkProtocol",
                               auth=("viewer", PW))).json()
        assert np["HTTPS"] == {"ProtocolEnabled": True, "Port": svc.https_port,
                               "Certificates": {"@odata.id": "/redfish/v1/Managers/Controller"
                                                "/NetworkProtocol/HTTPS/Certificates"}}
        assert np["HTTP"]["Port"] == svc.port
        assert np["SNMP"]["ProtocolEnabled"] is False        # the agent is off by default
        npu = "/redfish/v1/Managers/Controller/NetworkProtocol"
        r = await client.patch(npu, json={"HTTPS": {"Port": 1}}, auth=("boss", PW))
        assert r.status_code == 400 and "HTTPS" in r.json()["error"]["message"]
        assert c.config.get("http_server").httpsPort != 1
        # NTP servers: config/time through the core, with Redfish's array PATCH
        r = await client.patch(npu, json={"NTP": {"NTPServers": ["a.example", "b.example"]}},
                               auth=("viewer", PW))
        assert r.status_code == 403
        r = await client.patch(npu, json={"NTP": {"NTPServers": ["a.example", "b.example"]}},
                               auth=("boss", PW))
        assert r.status_code == 200 and r.json()["NTP"]["NTPServers"] == ["a.example",
                                                                         "b.example"]
        r = await client.patch(npu, json={"NTP": {"NTPServers": [None, {}, "c.example"]}},
                               headers={"If-Match": r.headers["etag"]}, auth=("boss", PW))
        assert r.status_code == 200, r.text
        assert list(c.config.get("time").ntpServers) == ["b.example", "c.example"]
        r = await client.patch(npu, json={"NTP": {"NTPServers": ["bad host!"]}},
                               auth=("boss", PW))
        assert r.status_code == 400 and "bad host!" in r.json()["error"]["message"], r.text
        assert list(c.config.get("time").ntpServers) == ["b.example", "c.example"]
        entries = "/redfish/v1/Managers/Controller/LogServices/AuditLog/Entries"
        r = await client.get(entries, auth=("viewer", PW))
        assert r.status_code == 403
        total = await c.audit.count(SYSTEM)
        seen: list[str] = []
        url: str | None = entries + "?$top=5"
        while url:
            page = (await client.get(url, auth=("boss", PW))).json()
            assert page["Members@odata.count"] >= total
            assert all(m["MessageId"] == "EnerTEG.1.0.AuditEntry" for m in page["Members"])
            seen += [m["@odata.id"] for m in page["Members"]]
            url = page.get("Members@odata.nextLink")
        assert len(seen) >= total > 5                    # more than one page
        assert len(set(seen)) == len(seen)
        entry = (await client.get(seen[0], auth=("boss", PW))).json()
        assert entry["MessageId"] == "EnerTEG.1.0.AuditEntry" and entry["Created"]


async def test_outlet_groups_switch_a_rack_through_group_switching(make_controller,
                                                                   tmp_path) -> None:
    from enerteg_tui.core.structure import Kind
    c, client = await redfish(make_controller, tmp_path)
    s = c.core.structure
    room = await s.create(SYSTEM, Kind.ROOM, "Hall")
    row = await s.create(SYSTEM, Kind.ROW, "R1", room.id)
    rack = await s.create(SYSTEM, Kind.RACK, "K7", row.id)
    pdus = [d for d in c.core.live.ordered() if d.info.model.switchable]
    for d in pdus:
        await s.assign(SYSTEM, d.hex_id, rack.id)
    first = pdus[0]
    await wait_for(lambda: all(d.outlet_states and not d.stale for d in pdus), timeout=15)
    base = f"/redfish/v1/PowerEquipment/RackPDUs/{first.hex_id}/OutletGroups"
    async with client:
        r = await client.get(base, auth=("viewer", PW))
        ids = [m["@odata.id"].rsplit("/", 1)[1] for m in r.json()["Members"]]
        assert ids == ["PDU", f"rack-{rack.id}", f"row-{row.id}", f"room-{room.id}"]
        group = (await client.get(f"{base}/rack-{rack.id}", auth=("viewer", PW))).json()
        assert group["Name"] == "Rack Hall / R1 / K7"
        want = sum(d.info.model.outlets for d in pdus)
        assert group["Links"]["Outlets@odata.count"] == want
        target = group["Actions"]["#OutletGroup.PowerControl"]["target"]
        r = await client.post(target, json={"PowerState": "Off", "Confirm": True},
                              auth=("viewer", PW))
        assert r.status_code == 403
        r = await client.post(target, json={"PowerState": "Off"}, auth=("ops", PW))
        assert r.status_code == 400 and "Confirm" in r.json()["error"]["message"]
        assert not any(d.pending_outlets for d in pdus)
        assert all(st is OutletState.ON for d in pdus for st in d.outlet_states.values())
        r = await client.post(target, json={"PowerState": "Off", "Confirm": True},
                              auth=("ops", PW), timeout=120)
        assert r.status_code == 204, r.text
        await wait_for(lambda: all(st is OutletState.OFF for d in pdus
                                   for st in d.outlet_states.values()), timeout=30)
        entries = await c.audit.query(SYSTEM, limit=200)
        assert any(e.action == "outlet.group.start" and e.face == "redfish"
                   and e.object == f"dc/{rack.id}" for e in entries)
        assert sum(1 for e in entries if e.action == "outlet.off") == want
        group = (await client.get(f"{base}/rack-{rack.id}", auth=("viewer", PW))).json()
        assert group["PowerState"] == "Off"


async def test_alarms_raised_and_cleared_are_pushed(make_controller, tmp_path) -> None:
    from enerteg_tui.core.quantities import Component
    c, client = await redfish(make_controller, tmp_path)
    listener = Listener()
    dev = next(d for d in c.live.ordered() if d.value(Component.TOTAL, 0, "current"))
    try:
        async with client:
            r = await client.post(SUBS, json={"Destination": listener.url,
                                              "ResourceTypes": ["PowerDistribution"]},
                                  auth=("ops", PW))
            assert r.status_code == 201, r.text
            base = dev.value(Component.TOTAL, 0, "current")
            await c.rules.create(SYSTEM, {
                "name": "rf-over", "scope": "pdu", "target": dev.hex_id,
                "quantity": "current", "component": "t", "minDurationSeconds": 0,
                "warningAbove": {"enabled": True, "value": round(base * 1.3, 2)}})
            await c.topics.put(SYSTEM, f"sim/{dev.hex_id}", {"loadFactor": 1.8})
            await wait_for(lambda: "EnerTEG.1.0.AlarmRaised" in listener.ids(), timeout=30)
            raised = next(e for d in listener.got for e in d["Events"]
                          if e["MessageId"].endswith("AlarmRaised"))
            assert raised["OriginOfCondition"]["@odata.id"] == (
                f"/redfish/v1/PowerEquipment/RackPDUs/{dev.hex_id}")
            assert raised["MessageSeverity"] == "Warning"
            await c.topics.put(SYSTEM, f"sim/{dev.hex_id}", {"loadFactor": 1.0})
            await wait_for(lambda: "EnerTEG.1.0.AlarmCleared" in listener.ids(), timeout=30)
            cleared = next(e for d in listener.got for e in d["Events"]
                           if e["MessageId"].endswith("AlarmCleared"))
            assert cleared["MessageArgs"][0] == raised["MessageArgs"][0]     # the alarm id
    finally:
        listener.close()


async def test_manager_reset_is_the_core_restart(make_controller, tmp_path) -> None:
    """#Manager.Reset → SystemService.request('restart'): administer only, audited with
    face redfish, the stop asked of the process owner (enerteg serve re-executes: see
    tests/test_system_commands.py for that part)."""
    c, client = await redfish(make_controller, tmp_path)
    target = "/redfish/v1/Managers/Controller/Actions/Manager.Reset"
    async with client:
        r = await client.get("/redfish/v1/Managers/Controller", auth=("viewer", PW))
        action = r.json()["Actions"]["#Manager.Reset"]
        assert action["target"] == target
        assert action["ResetType@Redfish.AllowableValues"] == ["GracefulRestart", "ForceRestart"]
        for who in ("viewer", "ops"):
            r = await client.post(target, json={"ResetType": "ForceRestart"}, auth=(who, PW))
            assert r.status_code == 403, r.text
            assert r.json()["error"]["code"].endswith("InsufficientPrivilege")
        r = await client.post(target, json={"ResetType": "PowerCycle"}, auth=("boss", PW))
        assert r.status_code == 400 and "PowerCycle" in r.json()["error"]["message"]
        r = await client.post(target, json={"ResetType": "GracefulRestart", "Now": 1},
                              auth=("boss", PW))
        assert r.status_code == 400 and "'Now'" in r.json()["error"]["message"]
        assert c.core.system.requested is None and not c.core.system.stop_requested.is_set()
        r = await client.post(target, json={"ResetType": "ForceRestart"}, auth=("boss", PW))
        assert r.status_code == 204, r.text
        assert c.core.system.requested == "restart"
        await wait_for(c.core.system.stop_requested.is_set, timeout=15)
        r = await client.post(target, json={"ResetType": "ForceRestart"}, auth=("boss", PW))
        assert r.status_code == 409 and "under way" in r.json()["error"]["message"]
    entries = [e for e in await c.audit.query(SYSTEM, limit=100) if e.action == "system.restart"]
    assert len(entries) == 1 and entries[0].user == "boss" and entries[0].face == "redfish"
