"""The Redfish face through a real HTTPS client (httpx, the served certificate pinned)
on a simulated ring: service root and OData documents, headers, 405 with Allow,
extended errors, Basic and session logins through the core's admission (audited,
lockout), accounts and roles, the PDU tree from live state, outlet switching through
the core (a readonly account gets 403 and nothing changes)."""

from __future__ import annotations

import ssl
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import httpx
import pytest

from enerteg_tui.core.model import OutletState
from enerteg_tui.core.permissions import SYSTEM
from enerteg_tui.core.structure import Kind
from enerteg_tui.protocols.http.redfish.root import CSDL_DIR, SCHEMAS
from tests.helpers import wait_for

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("redfish")]

PW = "Redfish-pass-2026!"


async def redfish(make_controller: Any, tmp_path: Path, pdus: int = 2) -> tuple[Any, httpx.AsyncClient]:
    """A controller with the web server on, users admin2/ops/viewer, and an HTTPS client."""
    c = await make_controller(pdus=pdus, bind="127.0.0.1", interval=0.2)
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


async def test_service_root_odata_metadata_and_headers(make_controller, tmp_path) -> None:
    c, client = await redfish(make_controller, tmp_path)
    async with client:
        r = await client.get("/redfish")
        assert r.status_code == 200 and r.json() == {"v1": "/redfish/v1/"}
        r = await client.get("/redfish/v1/")
        root = r.json()
        assert r.headers["odata-version"] == "4.0"
        assert root["@odata.type"] == "#ServiceRoot.v1_20_0.ServiceRoot"
        assert root["@odata.id"] == "/redfish/v1/"
        assert r.headers["etag"] == root["@odata.etag"]
        assert r.headers["link"] == ("<http://redfish.dmtf.org/schemas/v1/ServiceRoot."
                                     "v1_20_0.json>; rel=describedby")
        assert r.headers["allow"] == "GET, HEAD"
        assert (await client.get("/redfish/v1")).json()["UUID"] == root["UUID"]
        odata = (await client.get("/redfish/v1/odata")).json()
        assert {v["url"] for v in odata["value"]} >= {"/redfish/v1/", "/redfish/v1/Chassis"}
        r = await client.get("/redfish/v1/$metadata")
        assert r.headers["content-type"].startswith("application/xml")
        doc = ET.fromstring(r.content)
        refs = [e.get("Uri") for e in doc.iter("{http://docs.oasis-open.org/odata/ns/edmx}Reference")]
        assert len(refs) == len(SCHEMAS)
        # every reference is served, and the package ships exactly those files
        for uri in refs:
            assert (await client.get(uri)).status_code == 200, uri
        assert sorted(p.name for p in CSDL_DIR.glob("*.xml")) == sorted(
            f"{s}_v1.xml" for s in SCHEMAS)
        # 405 with Allow, in the extended error format
        r = await client.delete("/redfish/v1/")
        assert r.status_code == 405 and r.headers["allow"] == "GET, HEAD"
        err = r.json()["error"]
        assert err["code"] == "Base.1.19.OperationNotAllowed"
        assert err["@Message.ExtendedInfo"][0]["MessageId"] == "Base.1.19.OperationNotAllowed"
        # 404 and 401 likewise
        r = await client.get("/redfish/v1/Nothing", auth=("boss", PW))
        assert r.status_code == 404
        assert r.json()["error"]["@Message.ExtendedInfo"][0]["MessageId"].endswith(
            "ResourceNotFound")
        r = await client.get("/redfish/v1/Chassis")
        assert r.status_code == 401 and r.headers["www-authenticate"].startswith("Basic")
        assert r.json()["error"]["code"].endswith("NoValidSession")
        r = await client.head("/redfish/v1/")
        assert r.status_code == 200 and r.content == b""


async def test_basic_and_session_logins_are_admitted_and_audited(make_controller,
                                                                 tmp_path) -> None:
    c, client = await redfish(make_controller, tmp_path)
    async with client:
        r = await client.get("/redfish/v1/Chassis", auth=("boss", PW))
        assert r.status_code == 200 and r.json()["Members@odata.count"] == 2
        r = await client.get("/redfish/v1/Chassis", auth=("boss", "wrong"))
        assert r.status_code == 401
        # a session: 201, token, Location; the token reads; DELETE ends it
        r = await client.post("/redfish/v1/SessionService/Sessions",
                              json={"UserName": "viewer", "Password": PW})
        assert r.status_code == 201, r.text
        token, location = r.headers["x-auth-token"], r.headers["location"]
        assert location == r.json()["@odata.id"]
        assert any(s.principal.face == "redfish" for s in c.core.users.sessions.list())
        r = await client.get("/redfish/v1/PowerEquipment/RackPDUs",
                             headers={"X-Auth-Token": token})
        assert r.status_code == 200
        r = await client.delete(location, headers={"X-Auth-Token": token})
        assert r.status_code == 204
        r = await client.get("/redfish/v1/Chassis", headers={"X-Auth-Token": token})
        assert r.status_code == 401
        assert not any(s.principal.face == "redfish" for s in c.core.users.sessions.list())
        r = await client.post("/redfish/v1/SessionService/Sessions", json={"UserName": "x"})
        assert r.status_code == 400 and "Password" in r.json()["error"]["message"]

        async def audited() -> bool:
            acts = {e.action for e in await c.audit.query(SYSTEM, limit=200)
                    if e.face == "redfish"}
            return {"login", "login.failed", "logout"} <= acts
        await wait_for(audited, timeout=15)
        # lockout: the core's, for this face too (no back-off delay in this test)
        await c.config.put(SYSTEM, "auth", {"addressBackoffSeconds": 0})
        for _ in range(int(c.config.get("auth").lockoutFailures)):
            await client.get("/redfish/v1/Chassis", auth=("ops", "nope"))
        r = await client.get("/redfish/v1/Chassis", auth=("ops", PW))
        assert r.status_code == 401 and "locked" in r.json()["error"]["message"].lower()


async def test_accounts_and_roles_map_our_six_roles(make_controller, tmp_path) -> None:
    c, client = await redfish(make_controller, tmp_path)
    async with client:
        r = await client.get("/redfish/v1/AccountService/Accounts", auth=("boss", PW))
        names = {m["@odata.id"].rsplit("/", 1)[1] for m in r.json()["Members"]}
        assert {"boss", "ops", "viewer"} <= names
        want = {"boss": "Administrator", "ops": "Operator", "viewer": "ReadOnly"}
        for name, role in want.items():
            doc = (await client.get(f"/redfish/v1/AccountService/Accounts/{name}",
                                    auth=("boss", PW))).json()
            assert doc["RoleId"] == role and doc["Password"] is None
        # a readonly user sees only their own account
        r = await client.get("/redfish/v1/AccountService/Accounts", auth=("viewer", PW))
        assert [m["@odata.id"] for m in r.json()["Members"]] == [
            "/redfish/v1/AccountService/Accounts/viewer"]
        r = await client.get("/redfish/v1/AccountService/Accounts/boss", auth=("viewer", PW))
        assert r.status_code == 403
        assert r.json()["error"]["code"].endswith("InsufficientPrivilege")
        roles = (await client.get("/redfish/v1/AccountService/Roles", auth=("boss", PW))).json()
        assert roles["Members@odata.count"] == 9
        power = (await client.get("/redfish/v1/AccountService/Roles/poweron",
                                  auth=("boss", PW))).json()
        assert power["OemPrivileges"] == ["ack-alarm", "read", "switch-on"]
        # a readonly user cannot raise their own role (403, nothing changed)
        r = await client.patch("/redfish/v1/AccountService/Accounts/viewer",
                               json={"RoleId": "Administrator"}, auth=("viewer", PW))
        assert r.status_code == 403
        assert {x.value for x in (await c.core.users.get("viewer")).roles} == {"readonly"}


async def test_pdu_tree_from_live_state(make_controller, tmp_path) -> None:
    c, client = await redfish(make_controller, tmp_path)
    live = c.core.live.ordered()[0]
    hex_id = live.hex_id
    base = f"/redfish/v1/PowerEquipment/RackPDUs/{hex_id}"
    async with client:
        pdus = (await client.get("/redfish/v1/PowerEquipment/RackPDUs",
                                 auth=("viewer", PW))).json()
        assert [m["@odata.id"] for m in pdus["Members"]] == [
            f"/redfish/v1/PowerEquipment/RackPDUs/{d.hex_id}" for d in c.core.live.ordered()]
        room = await c.structure.create(SYSTEM, Kind.ROOM, "Hall")
        row = await c.structure.create(SYSTEM, Kind.ROW, "North", room.id)
        rack = await c.structure.create(SYSTEM, Kind.RACK, "R7", row.id)
        await c.structure.assign(SYSTEM, hex_id, rack.id)
        pdu = (await client.get(base, auth=("viewer", PW))).json()
        assert pdu["EquipmentType"] == "RackPDU" and pdu["Status"]["State"] == "Enabled"
        assert pdu["Location"]["Placement"] == {"Rack": "R7", "Row": "North"}
        chassis = (await client.get(f"/redfish/v1/Chassis/{hex_id}", auth=("viewer", PW))).json()
        assert chassis["UUID"] == pdu["UUID"] and chassis["PowerState"] == "On"
        assert pdu["SerialNumber"] == live.info.identification.serial
        mains = (await client.get(f"{base}/Mains/Mains", auth=("viewer", PW))).json()
        assert mains["CircuitType"] == "Mains"
        metrics = (await client.get(f"{base}/Metrics", auth=("viewer", PW))).json()
        assert metrics["PowerWatts"]["Reading"] >= 0 and "EnergykWh" in metrics
        outlets = (await client.get(f"{base}/Outlets", auth=("viewer", PW))).json()
        assert outlets["Members@odata.count"] == live.info.model.outlets
        o1 = (await client.get(f"{base}/Outlets/1", auth=("viewer", PW))).json()
        assert o1["PowerState"] in ("On", "Off")
        assert o1["ElectricalContext"] == f"Line{live.info.model.outlet_phase[0]}ToNeutral"
        assert o1["PowerRestorePolicy"] in ("AlwaysOff", "LastState")
        sensors = (await client.get(f"/redfish/v1/Chassis/{hex_id}/Sensors",
                                    auth=("viewer", PW))).json()
        first = sensors["Members"][0]["@odata.id"]
        s = (await client.get(first, auth=("viewer", PW))).json()
        assert s["ReadingUnits"] == "W" and isinstance(s["Reading"], float)
        assert s["ElectricalContext"] == "Total" and s["SensingInterval"] == "PT0.2S"
        assert s["ReadingTime"].endswith("+00:00")
        r = await client.get(f"{base}/Outlets/999", auth=("viewer", PW))
        assert r.status_code == 404 and "1 to" in r.json()["error"]["message"]
        mgr = (await client.get("/redfish/v1/Managers/Controller", auth=("viewer", PW))).json()
        assert mgr["Links"]["ManagerForChassis@odata.count"] == 2
        # a PDU that stops answering: its readings are absent, never old
        live.state = type(live.state)("STALE")
        metrics = (await client.get(f"{base}/Metrics", auth=("viewer", PW))).json()
        assert "PowerWatts" not in metrics and "EnergykWh" not in metrics
        pdu = (await client.get(base, auth=("viewer", PW))).json()
        assert pdu["Status"]["State"] == "UnavailableOffline"


async def test_power_control_through_the_core_and_readonly_refused(make_controller,
                                                                   tmp_path) -> None:
    c, client = await redfish(make_controller, tmp_path)
    live = next(d for d in c.core.live.ordered() if d.info.model.switchable)
    target = (f"/redfish/v1/PowerEquipment/RackPDUs/{live.hex_id}/Outlets/2/Actions/"
              "Outlet.PowerControl")
    await wait_for(lambda: live.outlet_states.get(2) is OutletState.ON, timeout=15)
    async with client:
        before = len(await c.audit.query(SYSTEM, limit=500))
        r = await client.post(target, json={"PowerState": "Off", "Confirm": True},
                              auth=("viewer", PW))
        assert r.status_code == 403 and "switch-off" in r.json()["error"]["message"]
        assert live.outlet_states.get(2) is OutletState.ON and 2 not in live.pending_outlets
        # no confirmation, a bad state, an unknown parameter: 400, nothing switched
        for body, word in (({"PowerState": "Off"}, "Confirm"),
                           ({"PowerState": "Sideways", "Confirm": True}, "Sideways"),
                           ({"PowerState": "Off", "Confirm": True, "Now": 1}, "Now")):
            r = await client.post(target, json=body, auth=("ops", PW))
            assert r.status_code == 400 and word in r.json()["error"]["message"], r.text
        assert 2 not in live.pending_outlets
        entries = await c.audit.query(SYSTEM, limit=500)        # newest first
        assert not any(e.action.startswith("outlet.") for e in entries[: len(entries) - before])
        r = await client.post(target, json={"PowerState": "Off", "Confirm": True},
                              auth=("ops", PW))
        assert r.status_code == 204, r.text
        await wait_for(lambda: live.outlet_states.get(2) is OutletState.OFF, timeout=15)

        async def audited() -> bool:
            return any(e.action == "outlet.off" and e.face == "redfish" and e.user == "ops"
                       for e in await c.audit.query(SYSTEM, limit=50))
        await wait_for(audited, timeout=15)
        r = await client.get(target.rsplit("/Actions", 1)[0], auth=("ops", PW))
        assert r.json()["PowerState"] == "Off"


async def test_sessions_outlive_a_listener_restart_and_end_when_idle(make_controller,
                                                                     tmp_path) -> None:
    c, client = await redfish(make_controller, tmp_path)
    svc = c.service("http")
    async with client:
        r = await client.post("/redfish/v1/SessionService/Sessions",
                              json={"UserName": "ops", "Password": PW})
        token = r.headers["x-auth-token"]
        # plain HTTP on: credentials over it are refused, the token session lives on
        await c.config.put(SYSTEM, "http_server", {"insecureEnabled": "enabled"})
        await wait_for(lambda: svc.status.running and "(plain)" in svc.status.text,
                       timeout=15)
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{svc.port}") as plain:
            r = await plain.get("/redfish/v1/Chassis", auth=("ops", PW))
            assert r.status_code == 403 and "HTTPS" in r.json()["error"]["message"]
            r = await plain.post("/redfish/v1/SessionService/Sessions",
                                 json={"UserName": "ops", "Password": PW})
            assert r.status_code == 403
        https = f"https://localhost:{svc.https_port}"
        r = await client.get(f"{https}/redfish/v1/Chassis", headers={"X-Auth-Token": token})
        assert r.status_code == 200
        # idle past the timeout (config/cli idleTimeoutMinutes, 15): ended at the next
        # request, audited, gone from the core
        r = await client.get(f"{https}/redfish/v1/SessionService", headers={"X-Auth-Token": token})
        assert r.json()["SessionTimeout"] == 15 * 60
        store = c.core.tokens.sessions
        for ws in store.visible(SYSTEM):
            ws.core.last_activity -= 16 * 60
        r = await client.get(f"{https}/redfish/v1/Chassis", headers={"X-Auth-Token": token})
        assert r.status_code == 401
        assert not store.visible(SYSTEM)
        assert not any(s.principal.face == "redfish" for s in c.core.users.sessions.list())

        async def audited() -> bool:
            return any(e.action == "session.timeout" and e.face == "redfish"
                       for e in await c.audit.query(SYSTEM, limit=100))
        await wait_for(audited, timeout=15)


async def test_bad_bodies_and_internal_failures_are_redfish_errors(make_controller, tmp_path,
                                                                   monkeypatch) -> None:
    c, client = await redfish(make_controller, tmp_path)
    async with client:
        r = await client.post("/redfish/v1/SessionService/Sessions", content=b"{not json",
                              headers={"Content-Type": "application/json"})
        assert r.status_code == 400 and r.json()["error"]["code"].endswith("MalformedJSON")
        r = await client.post("/redfish/v1/SessionService/Sessions", json=["a"])
        assert r.status_code == 400 and "JSON object" in r.json()["error"]["message"]

        def boom() -> None:
            raise RuntimeError("secret internals")
        monkeypatch.setattr(c.core.live, "ordered", boom)
        r = await client.get("/redfish/v1/Chassis", auth=("viewer", PW))
        assert r.status_code == 500
        assert r.json()["error"]["code"] == "Base.1.19.InternalError"
        assert "secret internals" not in r.text and "Traceback" not in r.text


async def test_patch_user_label_with_if_match(make_controller, tmp_path) -> None:
    c, client = await redfish(make_controller, tmp_path)
    live = c.core.live.ordered()[0]
    url = f"/redfish/v1/PowerEquipment/RackPDUs/{live.hex_id}"
    async with client:
        r = await client.get(url, auth=("boss", PW))
        assert r.headers["allow"] == "GET, HEAD, PATCH"
        tag = r.headers["etag"]
        # readonly: 403, nothing changed
        r = await client.patch(url, json={"UserLabel": "Rack 7 A"}, auth=("viewer", PW),
                               headers={"If-Match": tag})
        assert r.status_code == 403 and live.info.settings.name != "Rack 7 A"
        # a stale ETag: 412, nothing changed
        r = await client.patch(url, json={"UserLabel": "Rack 7 A"}, auth=("boss", PW),
                               headers={"If-Match": 'W/"0000000000000000"'})
        assert r.status_code == 412 and r.json()["error"]["code"].endswith("PreconditionFailed")
        assert live.info.settings.name != "Rack 7 A"
        # read-only, unknown, wrong type: 400 naming it
        for body, word in (({"Model": "x"}, "Model"), ({"Colour": "x"}, "Colour"),
                           ({"UserLabel": 5}, "string")):
            r = await client.patch(url, json=body, auth=("boss", PW))
            assert r.status_code == 400 and word in r.json()["error"]["message"], r.text
        r = await client.patch(url, json={"UserLabel": "Rack 7 A"}, auth=("boss", PW),
                               headers={"If-Match": tag})
        assert r.status_code == 200, r.text
        assert r.json()["UserLabel"] == "Rack 7 A" == live.info.settings.name
        assert r.json()["Name"] == "Rack 7 A"

        async def audited() -> bool:
            return any(e.action == "device.settings" and e.face == "redfish"
                       for e in await c.audit.query(SYSTEM, limit=50))
        await wait_for(audited, timeout=15)


async def test_placement_rack_and_row_writable_through_the_structure(make_controller,
                                                                    tmp_path) -> None:
    """Location.Placement Rack/Row on the Chassis and the PowerDistribution:
    Structure.assign (edit-structure, audited dc.assign), If-Match, readonly 403."""
    c, client = await redfish(make_controller, tmp_path)
    hex_id = c.core.live.ordered()[0].hex_id
    room = await c.structure.create(SYSTEM, Kind.ROOM, "Hall")
    north = await c.structure.create(SYSTEM, Kind.ROW, "North", room.id)
    south = await c.structure.create(SYSTEM, Kind.ROW, "South", room.id)
    k1n = await c.structure.create(SYSTEM, Kind.RACK, "K1", north.id)
    k1s = await c.structure.create(SYSTEM, Kind.RACK, "K1", south.id)
    k2 = await c.structure.create(SYSTEM, Kind.RACK, "K2", south.id)
    chassis = f"/redfish/v1/Chassis/{hex_id}"
    pdu = f"/redfish/v1/PowerEquipment/RackPDUs/{hex_id}"

    def rack() -> int | None:
        return c.core.structure.places_of(hex_id).get("rack")
    async with client:
        r = await client.get(chassis, auth=("viewer", PW))
        assert r.headers["allow"] == "GET, HEAD, PATCH"
        assert r.json()["Location"]["Placement"] == {"Rack": None, "Row": None}
        tag = r.headers["etag"]
        where = {"Location": {"Placement": {"Rack": "K1", "Row": "South"}}}
        # readonly and power users may not move a PDU: 403, nothing changed
        for who in ("viewer", "ops"):
            r = await client.patch(chassis, json=where, auth=(who, PW), headers={"If-Match": tag})
            assert r.status_code == 403, r.text
        assert rack() is None
        # refusals name the thing; nothing changed
        for body, word in (
                ({"Location": {"Placement": {"Rack": "K1"}}}, "give Row"),
                ({"Location": {"Placement": {"Rack": "K9"}}}, "no rack 'K9'"),
                ({"Location": {"Placement": {"Rack": 7}}}, "string or null"),
                ({"Location": {"Placement": {"Row": "North"}}}, "needs Rack"),
                ({"Location": {"Placement": {"Rack": "K2", "RackOffset": 4}}}, "RackOffset"),
                ({"Location": {"PostalAddress": {}}}, "PostalAddress"),
                ({"AssetTag": "x"}, "AssetTag")):
            r = await client.patch(chassis, json=body, auth=("boss", PW))
            assert r.status_code == 400 and word in r.json()["error"]["message"], (body, r.text)
        r = await client.patch(pdu, json={"UserLabel": "Moved", "Location": {"Placement": {
            "Rack": "K9"}}}, auth=("boss", PW))
        assert r.status_code == 400 and c.core.live.get(hex_id).info.settings.name != "Moved"
        assert rack() is None
        # a stale ETag: 412
        r = await client.patch(chassis, json=where, auth=("boss", PW),
                               headers={"If-Match": 'W/"0000000000000000"'})
        assert r.status_code == 412 and rack() is None
        r = await client.patch(chassis, json=where, auth=("boss", PW), headers={"If-Match": tag})
        assert r.status_code == 200, r.text
        assert r.json()["Location"]["Placement"] == {"Rack": "K1", "Row": "South"}
        assert rack() == k1s.id
        # the old ETag no longer matches (the placement is part of the document)
        r = await client.patch(chassis, json=where, auth=("boss", PW), headers={"If-Match": tag})
        assert r.status_code == 412
        # the PowerDistribution too: its rack and its name in one request
        r = await client.get(pdu, auth=("boss", PW))
        r = await client.patch(pdu, json={"UserLabel": "Moved", "Location": {"Placement": {
            "Rack": "k1", "Row": "north"}}}, auth=("boss", PW),
            headers={"If-Match": r.headers["etag"]})
        assert r.status_code == 200, r.text
        assert rack() == k1n.id and r.json()["UserLabel"] == "Moved"
        r = await client.patch(pdu, json={"Location": {"Placement": {"Rack": "K2"}}},
                               auth=("boss", PW))
        assert r.status_code == 200 and rack() == k2.id
        # null: no rack
        r = await client.patch(chassis, json={"Location": {"Placement": {"Rack": None}}},
                               auth=("boss", PW))
        assert r.status_code == 200 and rack() is None
        assert r.json()["Location"]["Placement"]["Rack"] is None
    moves = [e for e in await c.audit.query(SYSTEM, limit=100) if e.action == "dc.assign"]
    assert len(moves) == 4 and {e.face for e in moves} == {"redfish"}


async def test_protocol_details(make_controller, tmp_path) -> None:
    c, client = await redfish(make_controller, tmp_path)
    async with client:
        r = await client.get("/redfish/v1/", headers={"OData-Version": "4.1"})
        assert r.status_code == 412 and "4.1" in r.json()["error"]["message"]
        assert (await client.get("/redfish/v1/", headers={"OData-Version": "4.0"})
                ).status_code == 200
        r = await client.get("/redfish/v1/Chassis?$expand=*", auth=("viewer", PW))
        assert r.status_code == 501 and "$expand" in r.json()["error"]["message"]
        r = await client.post("/redfish/v1/SessionService/Sessions/Members",
                              json={"UserName": "viewer", "Password": PW})
        assert r.status_code == 201 and "x-auth-token" in r.headers
        r = await client.get("/redfish/v1/SessionService/Sessions/Members",
                             headers={"X-Auth-Token": r.headers["x-auth-token"]})
        assert r.status_code == 405 and r.headers["allow"] == "POST"
