"""Redfish ResetMetrics (PowerDistributionMetrics, Mains, Outlet) over a real HTTPS client
on a simulated ring: the core's peak reset with its permission and audit entry."""

from __future__ import annotations

import pytest

from enerteg_tui.core.permissions import SYSTEM
from enerteg_tui.core.quantities import Component
from tests.helpers import wait_for
from tests.protocols.test_redfish_events import PW, redfish

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("redfish")]

PDUS = "/redfish/v1/PowerEquipment/RackPDUs"


async def test_reset_metrics_is_the_core_peak_reset(make_controller, tmp_path) -> None:
    c, client = await redfish(make_controller, tmp_path)
    live = c.core.live.ordered()[0]
    await wait_for(lambda: any("currentPeak" in g for g in live.groups.values()), timeout=30)
    base = f"{PDUS}/{live.hex_id}"
    async with client:
        metrics = (await client.get(f"{base}/Metrics", auth=("viewer", PW))).json()
        action = metrics["Actions"]["#PowerDistributionMetrics.ResetMetrics"]["target"]
        assert action == f"{base}/Metrics/Actions/PowerDistributionMetrics.ResetMetrics"
        mains = (await client.get(f"{base}/Mains/Mains", auth=("viewer", PW))).json()
        mains_action = mains["Actions"]["#Circuit.ResetMetrics"]["target"]

        def resets() -> list:
            return [e for e in entries if e.action == "device.reset-peaks"]

        # a readonly user: 403, nothing reset, nothing audited as a reset
        r = await client.post(action, json={}, auth=("viewer", PW))
        assert r.status_code == 403, r.text
        entries = await c.audit.query(SYSTEM, limit=100)
        assert resets() == []
        # a parameter it does not take: 400 naming it
        r = await client.post(action, json={"Bogus": 1}, auth=("boss", PW))
        assert r.status_code == 400 and "Bogus" in r.json()["error"]["message"]
        # the admin: every peak of the PDU, audited with face redfish
        r = await client.post(action, json={}, auth=("boss", PW))
        assert r.status_code == 204, r.text
        for key, g in live.groups.items():
            if "currentPeak" in g and key[0] is not Component.TOTAL:
                assert g["currentPeak"] == g["current"], key
        r = await client.post(mains_action, auth=("boss", PW))
        assert r.status_code == 204, r.text
        entries = await c.audit.query(SYSTEM, limit=100)
        assert [(e.face, e.user, e.new) for e in resets()] == [
            ("redfish", "boss", {"reset": "all phases"}), ("redfish", "boss", {"reset": "all peaks"})]
        # an outlet with a peak has its own action; one that does not exist is 404
        if live.info.model.metered_outlets:
            outlet = (await client.get(f"{base}/Outlets/1", auth=("viewer", PW))).json()
            target = outlet["Actions"]["#Outlet.ResetMetrics"]["target"]
            r = await client.post(target, auth=("boss", PW))
            assert r.status_code == 204, r.text
        r = await client.post(f"{base}/Outlets/999/Actions/Outlet.ResetMetrics", auth=("boss", PW))
        assert r.status_code == 404


async def test_mains_links_what_it_feeds_and_every_pdu_has_branches(make_controller,
                                                                    tmp_path) -> None:
    c, client = await redfish(make_controller, tmp_path)
    async with client:
        for live in c.core.live.ordered():
            base = f"{PDUS}/{live.hex_id}"
            model = live.info.model
            pdu = (await client.get(base, auth=("viewer", PW))).json()
            assert pdu["Branches"] == {"@odata.id": f"{base}/Branches"}
            br = (await client.get(f"{base}/Branches", auth=("viewer", PW))).json()
            assert br["Members@odata.count"] == model.branches
            links = (await client.get(f"{base}/Mains/Mains", auth=("viewer", PW))).json()["Links"]
            assert [m["@odata.id"] for m in links["Outlets"]] == [
                f"{base}/Outlets/{n}" for n in range(1, model.outlets + 1)]
            assert [m["@odata.id"] for m in links.get("DistributionCircuits", [])] == [
                f"{base}/Branches/{n}" for n in range(1, model.branches + 1)]
