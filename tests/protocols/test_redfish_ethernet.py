"""The Manager's Redfish EthernetInterfaces over a real HTTPS client: the host's interfaces
as the core's network service reads them (not managed: no DHCP/static claims), read-only."""

from __future__ import annotations

import ipaddress

import psutil
import pytest

from tests.protocols.test_redfish_events import PW, redfish

pytestmark = [pytest.mark.xdist_group("redfish")]

ETH = "/redfish/v1/Managers/Controller/EthernetInterfaces"


@pytest.mark.e2e
async def test_ethernet_interfaces_are_the_hosts(make_controller, tmp_path) -> None:
    c, client = await redfish(make_controller, tmp_path)
    addrs = psutil.net_if_addrs()
    nics = sorted(n for n, a in addrs.items()
                  if any(x.family == psutil.AF_LINK and x.address not in ("", "00:00:00:00:00:00")
                         for x in a))
    async with client:
        mgr = (await client.get("/redfish/v1/Managers/Controller", auth=("viewer", PW))).json()
        assert mgr["EthernetInterfaces"] == {"@odata.id": ETH}
        coll = (await client.get(ETH, auth=("viewer", PW))).json()
        assert sorted(m["@odata.id"].rsplit("/", 1)[1] for m in coll["Members"]) == nics
        assert "lo" not in nics
        for name in nics:
            doc = (await client.get(f"{ETH}/{name}", auth=("viewer", PW))).json()
            mac = next(x.address for x in addrs[name] if x.family == psutil.AF_LINK)
            assert doc["MACAddress"].lower() == mac.lower()
            v4 = {ipaddress.IPv4Interface(f"{x.address}/{x.netmask}")
                  for x in addrs[name] if x.family == psutil.socket.AF_INET}
            got = {ipaddress.IPv4Interface(f"{a['Address']}/{a['SubnetMask']}")
                   for a in doc["IPv4Addresses"]}
            assert got == v4, name
            # the host is not managed here: no claim of DHCP or a static address
            assert "DHCPv4" not in doc and "IPv4StaticAddresses" not in doc
            assert all(a.get("AddressOrigin") in (None, "IPv4LinkLocal")
                       for a in doc["IPv4Addresses"])
            if doc["IPv4Addresses"]:
                assert doc["LinkStatus"] == "LinkUp" and doc["InterfaceEnabled"] is True
        r = await client.get(f"{ETH}/nosuch0", auth=("viewer", PW))
        assert r.status_code == 404 and "nosuch0" in r.json()["error"]["message"]
        if nics:
            r = await client.patch(f"{ETH}/{nics[0]}", json={"DHCPv4": {"DHCPEnabled": False}},
                                   auth=("boss", PW))
            assert r.status_code == 405 and r.headers["allow"] == "GET, HEAD"


def test_address_origin_only_where_the_controller_set_it() -> None:
    from enerteg_tui.protocols.http.redfish.ethernet import _v4_origin

    assert _v4_origin("169.254.3.4/16", None, None) == "IPv4LinkLocal"
    assert _v4_origin("10.0.0.5/24", None, None) is None          # the host's own
    lease = {"address": "10.0.0.5/24"}
    assert _v4_origin("10.0.0.5/24", {"dhcp": True}, lease) == "DHCP"
    assert _v4_origin("10.0.0.6/24", {"dhcp": True}, lease) is None
    static = {"dhcp": False, "ipv4Address": "10.0.0.6", "prefixLength": 24}
    assert _v4_origin("10.0.0.6/24", static, None) == "Static"
    assert _v4_origin("10.0.0.6/16", static, None) is None
