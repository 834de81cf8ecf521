"""DMTF's own tools against the running controller's Redfish face (issue 21 gates):
``rf_service_validator`` with the DMTF schemas of /work/shared/redfish/csdl (0 FAIL) and
``rf_interop_validator`` with the OCP RackPDU profile. Offline: the schemas are local
(``--skipschema``); the validators run as subprocesses against HTTPS on loopback."""

from __future__ import annotations

import asyncio
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from enerteg_tui.core.permissions import SYSTEM
from tests.helpers import wait_for

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("redfish")]

SHARED = Path("/work/shared/redfish")
CSDL = SHARED / "csdl"
PW = "Redfish-pass-2026!"


async def _serve(make_controller: Any) -> str:
    c = await make_controller(pdus=2, bind="127.0.0.1", interval=0.5)
    svc = c.service("http")
    await c.config.put(SYSTEM, "http_server", {"enabled": "enabled"})
    await wait_for(lambda: svc.status.running and svc.https_port, timeout=15)
    await c.core.users.add(SYSTEM, "validator", PW, ["admin"])
    # a rack (outlet groups rack/row/room on its PDU) and a subscription for the walk; the
    # subscription takes test events only, so no delivery to its silent port ends it
    from enerteg_tui.core.structure import Kind
    room = await c.core.structure.create(SYSTEM, Kind.ROOM, "Hall")
    row = await c.core.structure.create(SYSTEM, Kind.ROW, "R1", room.id)
    rack = await c.core.structure.create(SYSTEM, Kind.RACK, "K1", row.id)
    await c.core.structure.assign(SYSTEM, c.core.live.ordered()[0].hex_id, rack.id)
    validator = await c.core.users.principal_for("validator", "redfish", "127.0.0.1")
    await c.core.subscriptions.add(validator, "https://127.0.0.1:9/events", protocol="Redfish",
                                   context="validator walk",
                                   filters={"ResourceTypes": ["EventService"]})
    # a web server certificate without its key (listed under HTTPS, not served)
    from tests.certgen import make_ca, make_leaf
    await c.core.certs.import_data(SYSTEM, make_leaf(make_ca()).pem, usage="web-server")
    return f"https://127.0.0.1:{svc.https_port}"


async def _run(*args: str, timeout: float = 600) -> str:
    proc = await asyncio.create_subprocess_exec(*args, stdout=subprocess.PIPE,
                                                stderr=subprocess.STDOUT)
    out, _ = await asyncio.wait_for(proc.communicate(), timeout)
    return out.decode(errors="replace")


@pytest.mark.skipif(shutil.which("rf_service_validator") is None or not CSDL.is_dir(),
                    reason="needs redfish-service-validator and the DMTF schemas")
async def test_service_validator_finds_no_failure(make_controller, tmp_path) -> None:
    url = await _serve(make_controller)
    out = await _run("rf_service_validator", "--rhost", url, "--user", "validator",
                     "--password", PW, "--authtype", "Session", "--schema_directory",
                     str(CSDL), "--skipschema", "--logdir", str(tmp_path / "logs"))
    m = re.search(r"\|\s*PASS\s*\|\s*WARN\s*\|\s*FAIL\s*\|\s*NOT TESTED\s*\|\s*\n[+-]+\n"
                  r"\|\s*(\d+)\s*\|\s*(\d+)\s*\|\s*(\d+)\s*\|\s*(\d+)\s*\|", out)
    assert m, out[-4000:]
    passed, warned, failed, _untested = map(int, m.groups())
    print(f"rf_service_validator: PASS {passed}, WARN {warned}, FAIL {failed}")
    assert failed == 0, out[-6000:]
    assert passed > 1000                              # it walked the whole tree
    for uri in ("/redfish/v1/PowerEquipment/RackPDUs/", "/Outlets/1", "/Branches/1",
                "/Mains/Mains", "/Metrics", "/Sensors/Power", "/Managers/Controller",
                "/OutletGroups/rack-", "/EventService/Subscriptions/", "/NetworkProtocol",
                "/LogServices/AuditLog", "/Registries/EnerTEG/EnerTEG.1.0.0",
                "/HTTPS/Certificates/", "/CertificateService/CertificateLocations",
                "/EthernetInterfaces/", "/UpdateService/FirmwareInventory/",
                "/SoftwareInventory/Controller", "/TaskService"):
        assert uri in out, uri


KNOWN_INTEROP_GAPS = {
    # the store imports keys, it does not make them: no GenerateCSR (docs/redfish.md)
    "/Actions/#CertificateService.GenerateCSR",
    # the profile recommends DMTF's Power, SensorEvent and Update registries for events;
    # ours are of the EnerTEG registry the service serves
    "/RegistryPrefixes",
    # facts the ring does not give us: a peak of power (the PDUs keep current peaks only,
    # shown as PeakReading of the Current sensors; the profile asks it of Power sensors)
    # and when any peak happened; an outlet's rated current (the manual has only a
    # branch's "Max. amps", the breaker's, not the outlet's); its type (the manual says
    # the PDU reports one, shown as a symbol, but names neither its values nor their
    # encoding, and the driver interface does not carry it: a simulated value would be
    # invented)
    "/OutletType", "/RatedCurrentAmps", "/PeakReadingTime", "/PeakReading",
    # the Mains circuit has no user label of its own (the PDU's name is the
    # PowerDistribution's UserLabel); an outlet of a PDU without branch circuits has no
    # Links.BranchCircuit (it is fed by the Mains circuit, which links its outlets)
    "/UserLabel", "/Links",
    # the controller's network interfaces (EthernetInterfaces): where the host sets its
    # own addresses (no --manage-host, as here) the controller does not know how (DHCP,
    # static), nor the IPv6 address state (the core reads addresses, not their flags); the
    # test host's virtual interface reports no speed (/sys/class/net/*/speed is -1)
    "/IPv4Addresses/AddressOrigin", "/IPv6Addresses/AddressOrigin",
    "/IPv6Addresses/AddressState", "/SpeedMbps",
}
"""What the OCP RackPDU profile (and its OCPServiceBaseline) still finds missing."""


@pytest.mark.skipif(shutil.which("rf_interop_validator") is None or not SHARED.is_dir(),
                    reason="needs redfish-interop-validator and the OCP profiles")
async def test_interop_validator_with_the_ocp_rack_pdu_profile(make_controller,
                                                               tmp_path) -> None:
    url = await _serve(make_controller)
    profile = tmp_path / "profiles"
    shutil.copytree(SHARED / "profiles", profile)
    out = await _run("rf_interop_validator", "--rhost", url, "--user", "validator",
                     "--password", PW, "--authtype", "Session", "--logdir",
                     str(tmp_path / "logs"), str(profile / "OCPRackPDU.v1_0_0.json"))
    m = re.search(r"FAIL\s*\|\s*NOT TESTED\s*\|\s*\n[+-]+\n\|\D*(\d+)\D*\|\D*(\d+)\D*\|"
                  r"\D*(\d+)\D*\|", re.sub(r"\x1b\[[0-9;]*m", "", out))
    assert m, out[-4000:]
    passed, warned, failed = map(int, m.groups())
    print(f"rf_interop_validator (OCPRackPDU): PASS {passed}, WARN {warned}, FAIL {failed}")
    log = "\n".join(p.read_text() for p in (tmp_path / "logs").rglob("*.log"))
    missing = {re.sub(r"/\d+(?=/)", "", p)        # an array's elements are one gap
               for p in re.findall(r"FAIL - (/\S+) \(", log)}
    print("rf_interop_validator FAIL paths:", " ".join(sorted(missing)))
    assert missing or not failed, "the failures were not found in the log"
    assert missing <= KNOWN_INTEROP_GAPS, missing - KNOWN_INTEROP_GAPS
