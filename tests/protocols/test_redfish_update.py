"""Redfish UpdateService over a real HTTPS client: the inventory of the controller and
the PDUs, a PDU firmware image pushed (multipart) to one simulated PDU whose version then
changes, followed as a Task; a controller package refused when tampered, applied (the
restart asked of the core) when good; readonly users refused, nothing stored."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path
from typing import Any

import pytest

from enerteg_tui.core.firmware_image import build_image
from enerteg_tui.core.permissions import SYSTEM
from tests.core.test_firmware_update import bad_checksum
from tests.protocols.test_redfish_events import PW, redfish
from tests.update_packages import build, new_key

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("redfish")]

UPD = "/redfish/v1/UpdateService"


def _form(name: str, data: bytes, params: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"files": {"UpdateParameters": (None, json.dumps(params or {}), "application/json"),
                      "UpdateFile": (name, data, "application/octet-stream")}}


async def test_firmware_push_updates_a_pdu_and_a_package_is_checked_then_applied(
        make_controller: Any, tmp_path: Path) -> None:
    key, pub = new_key(tmp_path, "k")
    good = build(key, "0.7.0", tmp_path / "pkg")
    c, client = await redfish(lambda **kw: make_controller(update_keys=(pub,), **kw), tmp_path)
    c.driver.firmware_reboot_s = 0.15
    upload = c.core.paths.upload
    pdus = c.core.live.ordered()
    first, second = pdus[0], pdus[1]
    before = second.info.identification.firmware_version
    async with client:
        svc = (await client.get(UPD, auth=("viewer", PW))).json()
        push = svc["MultipartHttpPushUri"]
        inv = (await client.get(svc["FirmwareInventory"]["@odata.id"], auth=("viewer", PW))).json()
        uris = [m["@odata.id"] for m in inv["Members"]]
        assert uris == [f"{UPD}/FirmwareInventory/{d.hex_id}" for d in pdus]
        item = (await client.get(uris[0], auth=("viewer", PW))).json()
        assert item["Version"] == first.info.identification.firmware_version
        assert item["Updateable"] is True
        ctl = (await client.get(f"{UPD}/SoftwareInventory/Controller", auth=("viewer", PW))).json()
        assert ctl["Version"] == c.core.software.running_version

        image = build_image("5.9.1", b"EnerTEG test firmware 5.9.1 " * 200)
        # readonly: 403, nothing stored
        r = await client.post(push, auth=("viewer", PW), **_form("pdu.etgfw", image))
        assert r.status_code == 403, r.text
        assert not (upload / "pdu.etgfw").exists()
        # a damaged image: 400 with the core's words, not kept, no plan
        r = await client.post(push, auth=("boss", PW), **_form("bad.etgfw", bad_checksum(image)))
        assert r.status_code == 400 and "checksum" in r.json()["error"]["message"], r.text
        assert not (upload / "bad.etgfw").exists() and c.core.firmware.status() is None
        # a target that is not a PDU's firmware: 400 naming it
        r = await client.post(push, auth=("boss", PW), **_form(
            "pdu.etgfw", image, {"Targets": ["/redfish/v1/Chassis/nope"]}))
        assert r.status_code == 400 and "/redfish/v1/Chassis/nope" in r.text
        # the image to the first PDU only
        r = await client.post(push, auth=("boss", PW), **_form(
            "pdu.etgfw", image, {"Targets": [uris[0]]}))
        assert r.status_code == 202, r.text
        monitor = r.headers["location"]
        assert r.json()["TaskState"] == "Running"
        assert (upload / "pdu.etgfw").read_bytes() == image

        async def finished() -> dict[str, Any]:
            got = await client.get(monitor, auth=("viewer", PW))
            return got.json() if got.status_code == 200 else {}

        done: dict[str, Any] = {}
        deadline = time.monotonic() + 120          # the monitor answers 202 while it runs
        while not done and time.monotonic() < deadline:
            done = await finished()
            await asyncio.sleep(0.2)
        assert done.get("TaskState") == "Completed", done
        assert done["PercentComplete"] == 100
        task = (await client.get(done["@odata.id"], auth=("viewer", PW))).json()
        assert task["TaskState"] == "Completed"
        assert (await client.get(f"{UPD}/FirmwareInventory/{first.hex_id}",
                                 auth=("viewer", PW))).json()["Version"] == "5.9.1"
        assert (await client.get(f"{UPD}/FirmwareInventory/{second.hex_id}",
                                 auth=("viewer", PW))).json()["Version"] == before

        # a controller package: tampered → 400 naming it, not kept; good → applied
        body = good.read_bytes()
        at = body.index(b"PK\x03\x04") + 500
        tampered = body[:at] + bytes([body[at] ^ 1]) + body[at + 1:]
        r = await client.post(push, auth=("boss", PW), **_form("bad.etgpkg", tampered))
        assert r.status_code == 400 and "bad.etgpkg" in r.json()["error"]["message"], r.text
        assert not (upload / "bad.etgpkg").exists()
        r = await client.post(push, auth=("ops", PW), **_form("enerteg-0.7.0.etgpkg", body))
        assert r.status_code == 403 and not (upload / "enerteg-0.7.0.etgpkg").exists()
        r = await client.post(push, auth=("boss", PW), **_form("enerteg-0.7.0.etgpkg", body))
        assert r.status_code == 204, r.text
        assert c.core.system.requested == "restart"
        sw = (await client.get(f"{UPD}/SoftwareInventory", auth=("boss", PW))).json()
        assert f"{UPD}/SoftwareInventory/0.7.0" in [m["@odata.id"] for m in sw["Members"]]
        sw = (await client.get(f"{UPD}/SoftwareInventory", auth=("viewer", PW))).json()
        assert [m["@odata.id"] for m in sw["Members"]] == [f"{UPD}/SoftwareInventory/Controller"]
    actions = [(e.action, e.face) for e in await c.audit.query(SYSTEM, limit=300)]
    assert ("software.update.refused", "redfish") in actions
    assert ("software.update.restart", "redfish") in actions
    assert any(a.startswith("firmware.update") and f == "redfish" for a, f in actions), actions
