"""The controller's network interfaces as the Manager's Redfish EthernetInterfaces.

Why: the OCP baseline asks a Manager for ``EthernetInterfaces``. They are read from the
core's network service at each request: the host's interfaces as they are
(``NetworkService.read_host``: link, MAC, addresses, IPv4 default gateway), the DNS
servers of its resolv.conf, and, when the controller manages the host (``enerteg serve
--manage-host``), how ``config/network`` sets each interface (DHCP or static, the DHCP
lease in ``NetworkService.status``). Interfaces without a MAC address (loopback) are
not Ethernet interfaces and are not listed.

Read-only: a change of the host's network takes ``network apply`` and then ``network
confirm`` before its timer rolls it back (docs/appliance.md "Network"), two steps a Redfish PATCH
cannot express without the client losing the controller in between; config/network
and the shell's ``network`` command make the change. What is not known is not said: the
origin of an address (DHCP, static) only where the controller set it, or for link-local
addresses by their range.
"""

from __future__ import annotations

import asyncio
import ipaddress
from typing import Any

from ....core.hostnet import InterfaceState
from ....core.permissions import Action, require
from .errors import RedfishError
from .root import MANAGER
from .tree import Ctx, collection, route

__all__ = ["ETH"]

ETH = f"{MANAGER}/EthernetInterfaces"
_NO_MAC = {"", "00:00:00:00:00:00"}


async def _interfaces(ctx: Ctx) -> list[InterfaceState]:
    require(ctx.who, Action.READ, "Managers/Controller/EthernetInterfaces")
    states = await asyncio.to_thread(ctx.core.network.read_host)
    return [s for s in states if s.mac not in _NO_MAC]


@route(ETH)
async def ethernet_interfaces(ctx: Ctx) -> dict[str, Any]:
    return collection(ETH, "#EthernetInterfaceCollection.EthernetInterfaceCollection",
                      "Network interfaces of the controller",
                      [f"{ETH}/{s.name}" for s in await _interfaces(ctx)])


def _link_status(s: InterfaceState) -> str:
    if s.state != "up":
        return "LinkDown"
    return "NoLink" if s.operstate in ("DOWN", "LOWERLAYERDOWN", "NOTPRESENT") else "LinkUp"


def _v4_origin(address: str, config: dict[str, Any] | None, lease: dict[str, Any] | None
               ) -> str | None:
    ip = ipaddress.IPv4Interface(address)
    if ip.ip.is_link_local:
        return "IPv4LinkLocal"
    if config is None:                      # the host sets its own addresses
        return None
    if config.get("dhcp") and lease and lease.get("address") == address:
        return "DHCP"
    if (not config.get("dhcp") and config.get("ipv4Address") == str(ip.ip)
            and config.get("prefixLength") == ip.network.prefixlen):
        return "Static"
    return None


def _nameservers(text: str | None) -> list[str]:
    out = []
    for line in (text or "").splitlines():
        words = line.split()
        if len(words) >= 2 and words[0] == "nameserver":
            out.append(words[1])
    return out


@route(f"{ETH}/{{name}}")
async def ethernet_interface(ctx: Ctx) -> dict[str, Any]:
    name = ctx.params["name"]
    states = {s.name: s for s in await _interfaces(ctx)}
    s = states.get(name)
    if s is None:
        raise RedfishError(404, "ResourceNotFound",
                           f"The controller has no network interface {name!r}; it has "
                           f"{', '.join(states) or 'none'}", args=["EthernetInterface", name])
    net = ctx.core.network
    managed = bool(net.manage_host)
    config = (ctx.core.config.get("network").stored_dump().get("interfaces", {}).get(name)
              if managed else None)
    lease = net.status()["leases"].get(name)
    host = ctx.core.config.get("hostname").hostname
    v4 = []
    for address in s.ipv4:
        ip = ipaddress.IPv4Interface(address)
        item: dict[str, Any] = {"Address": str(ip.ip), "SubnetMask": str(ip.netmask)}
        origin = _v4_origin(address, config, lease)
        if origin:
            item["AddressOrigin"] = origin
        if s.gateway:
            item["Gateway"] = s.gateway
        v4.append(item)
    v6 = []
    for address in s.ipv6:
        ip6 = ipaddress.IPv6Interface(address if "/" in address else f"{address}/128")
        item = {"Address": str(ip6.ip), "PrefixLength": ip6.network.prefixlen}
        if ip6.ip.is_link_local:
            item["AddressOrigin"] = "LinkLocal"
        v6.append(item)
    doc: dict[str, Any] = {
        "@odata.id": f"{ETH}/{name}",
        "@odata.type": "#EthernetInterface.v1_12_4.EthernetInterface",
        "Id": name, "Name": f"Network interface {name}",
        "InterfaceEnabled": s.state == "up", "LinkStatus": _link_status(s),
        "MACAddress": s.mac.upper(),
        "Status": {"State": "Enabled" if s.state == "up" else "Disabled", "Health": "OK"},
        "HostName": host, "FQDN": host,
        "IPv4Addresses": v4, "IPv6Addresses": v6,
        "NameServers": await asyncio.to_thread(lambda: _nameservers(net.host.read_resolv())),
    }
    if config is not None:
        doc["DHCPv4"] = {"DHCPEnabled": bool(config.get("dhcp"))}
        if not config.get("dhcp") and config.get("ipv4Address") and config.get("prefixLength"):
            ip = ipaddress.IPv4Interface(f"{config['ipv4Address']}/{config['prefixLength']}")
            static: dict[str, Any] = {"Address": str(ip.ip), "SubnetMask": str(ip.netmask)}
            if config.get("gateway"):
                static["Gateway"] = config["gateway"]
            doc["IPv4StaticAddresses"] = [static]
        doc["StaticNameServers"] = list(config.get("dns") or [])
    return doc
