"""Shell network commands: ``ping`` (real ICMP, in process: ``icmp.py``) and
``network status|list|config|apply|confirm`` (manual §5.3, issue 23 item 2).

``network list``/``status`` read the host's real interfaces (addresses, link state,
speed, MTU) and ``status`` adds what the core's network service says: applied, a
change waiting for its confirmation with the seconds left, DHCP leases, or that the host
manages its own network (no ``--manage-host``). ``network config`` shows and stores
interface settings in ``config/network`` through the core; the service applies them
when the controller manages its host. ``network apply`` applies the stored settings
again and ``network confirm`` keeps an applied change (``core/network.py``).
"""

from __future__ import annotations

import ipaddress
import json
import socket
from typing import Any

import psutil

from ...core.errors import Invalid, NotFound, Unsupported
from ...core.i18n import _
from ...core.settings import is_host
from . import icmp
from .parse import UsageError, usage_error

__all__ = ["cmd_ping", "cmd_network", "interfaces"]

MAX_COUNT, MAX_WAIT_S = 100, 30
"""Bounds of ``-c`` and ``-W``: a ping lasts at most ``MAX_COUNT - 1 + MAX_WAIT_S`` s."""
PING_USAGE = f"Usage: ping <host> [-c COUNT (1-{MAX_COUNT})] [-W TIMEOUT (1-{MAX_WAIT_S} s)]"


def _check_host(host: str) -> str:
    # the same rule as host settings (config/*): one check, one set of words
    if not is_host(host):
        raise Invalid(f"host {host!r} is not a host name or IP address", thing="host", value=host,
                      allowed="a host name (letters, digits, '-', '.') or an IPv4/IPv6 address")
    return host


def _int_opt(flag: str, text: str, lo: int, hi: int) -> int:
    try:
        value = int(text)
    except ValueError:
        raise usage_error("ping: {flag} {value} is not a whole number; allowed is {lo} to {hi}", flag=flag, value=repr(text), lo=lo, hi=hi) from None
    if not lo <= value <= hi:
        raise usage_error("ping: {flag} {value} is out of range; allowed is {lo} to {hi}", flag=flag, value=value, lo=lo, hi=hi)
    return value


async def cmd_ping(sh: Any, args: list[str]) -> None:
    """ping HOST [-c COUNT] [-W TIMEOUT]: ICMP echo from the controller's own process."""
    count, timeout, host = 4, 2, None
    it = iter(args)
    for a in it:
        if a == "-c":
            count = _int_opt("-c", next(it, ""), 1, MAX_COUNT)
        elif a == "-W":
            timeout = _int_opt("-W", next(it, ""), 1, MAX_WAIT_S)
        elif a.startswith("-") or host is not None:
            raise UsageError(PING_USAGE)
        else:
            host = a
    if host is None:
        raise UsageError(PING_USAGE)
    _check_host(host)
    text = sh.format != "json"

    def started(address: str) -> None:
        if text:
            sh.out(f"PING {host} ({address}) {icmp.PAYLOAD} data bytes")

    def replied(r: icmp.EchoReply) -> None:
        if text:
            ttl = f" ttl={r.ttl}" if r.ttl is not None else ""
            sh.out(f"{r.size} bytes from {r.address}: icmp_seq={r.seq}{ttl} time={r.rtt_ms:.3f} ms")

    try:
        result = await icmp.ping(host, count, timeout, on_reply=replied, on_start=started)
    except (socket.gaierror, TimeoutError):
        raise Invalid(f"ping: host {host!r} is not known (name resolution failed)", thing="host",
                      value=host, allowed="a host name that resolves, or an IP address") from None
    except icmp.IcmpUnavailable as exc:
        raise Unsupported(f"ping is not available on this controller: {exc}", thing="ping",
                          value=host, allowed="a controller running as root") from None
    sent, rtts = result.transmitted, [r.rtt_ms for r in result.replies]
    got = len(rtts)
    loss = round(100 * (sent - got) / sent, 1) if sent else 100.0
    if text:
        sh.out(f"--- {host} ping statistics ---")
        sh.out(f"{sent} packets transmitted, {got} received, {loss:g}% packet loss")
        if rtts:
            sh.out(f"rtt min/avg/max = {min(rtts):.3f}/{sum(rtts) / got:.3f}/{max(rtts):.3f} ms")
    else:
        sh.out(json.dumps({"host": host, "address": result.address, "transmitted": sent,
                           "received": got, "rttMs": [round(x, 3) for x in rtts], "loss": loss}))
    if got == 0:
        raise Invalid(f"ping {host}: {got} of {sent} replies", thing="host", value=host,
                      allowed="a host that answers ICMP echo")


def interfaces() -> list[dict[str, Any]]:
    """The host's network interfaces: name, state, MAC, addresses, speed, MTU."""
    stats = psutil.net_if_stats()
    out = []
    for name, addrs in sorted(psutil.net_if_addrs().items()):
        st = stats.get(name)
        item: dict[str, Any] = {"name": name, "state": "up" if st and st.isup else "down",
                                "mac": "", "ipv4": [], "ipv6": [],
                                "speedMbps": st.speed if st else 0, "mtu": st.mtu if st else 0}
        for a in addrs:
            if a.family == socket.AF_INET:
                prefix = ipaddress.IPv4Network(f"0.0.0.0/{a.netmask}").prefixlen if a.netmask else 32
                item["ipv4"].append(f"{a.address}/{prefix}")
            elif a.family == socket.AF_INET6:
                item["ipv6"].append(a.address.split("%")[0])
            elif a.family == psutil.AF_LINK:
                item["mac"] = a.address
        out.append(item)
    return out


def _iface_text(i: dict[str, Any]) -> str:
    lines = [f"{i['name']}: {i['state']}  mac {i['mac'] or '-'}  mtu {i['mtu']}"
             + (f"  speed {i['speedMbps']} Mb/s" if i["speedMbps"] else "")]
    lines += [f"    inet  {a}" for a in i["ipv4"]]
    lines += [f"    inet6 {a}" for a in i["ipv6"]]
    return "\n".join(lines)


NETWORK_USAGE = ("Usage: network status [if] | network list | network config [if] [key=value ...]"
                 " | network apply | network confirm")


def _management(sh: Any) -> dict[str, Any]:
    return dict(sh.core.network.status())


async def cmd_network(sh: Any, args: list[str]) -> None:
    """network status [if] | list | config [if] [key=value ...] | apply | confirm."""
    if not args:
        raise UsageError(NETWORK_USAGE)
    sub, rest = args[0], args[1:]
    ifs = interfaces()
    if sub == "list":
        if rest:
            raise UsageError("Usage: network list")
        sh.emit([{"name": i["name"], "state": i["state"], "ipv4": i["ipv4"]} for i in ifs],
                "\n".join(f"{i['name']:<16} {i['state']:<5} {', '.join(i['ipv4']) or '-'}" for i in ifs))
    elif sub == "status":
        if len(rest) > 1:
            raise UsageError("Usage: network status [if]")
        if rest:
            ifs = [i for i in ifs if i["name"] == rest[0]]
            if not ifs:
                raise NotFound(f"network interface {rest[0]!r} does not exist", thing="interface",
                               value=rest[0], allowed=", ".join(i["name"] for i in interfaces()))
        mgmt = _management(sh)
        sh.emit({"interfaces": ifs, "management": mgmt},
                "\n".join([*(_iface_text(i) for i in ifs),
                           _("Management: {text}").format(text=mgmt["text"]),
                           *(_("DHCP lease on {interface}: {address} via {router}, dns {dns}, "
                               "{seconds} s").format(interface=n, address=v["address"],
                                                     router=v["router"] or "-",
                                                     dns=", ".join(v["dns"]) or "-",
                                                     seconds=v["leaseSeconds"])
                             for n, v in mgmt["leases"].items())]))
    elif sub == "config":
        await _network_config(sh, rest)
    elif sub in ("apply", "confirm"):
        if rest:
            raise UsageError(f"Usage: network {sub}")
        net = sh.core.network
        sh.msg(await (net.apply(sh.principal) if sub == "apply" else net.confirm(sh.principal)))
    else:
        raise usage_error("network: unknown subcommand {value}; allowed are status, list, "
                           "config, apply, confirm", value=repr(sub))


async def _network_config(sh: Any, rest: list[str]) -> None:
    name = "eth0"
    if rest and "=" not in rest[0]:
        name, rest = rest[0], rest[1:]
    topics = sh.core.topics
    if rest:
        changes = {}
        for w in rest:
            key, sep, value = w.partition("=")
            if not sep or not key:
                raise usage_error("network config: {value} is not key=value", value=repr(w))
            changes[f"interfaces.{name}.{key}"] = value
        faces = sh.core.faces
        report = faces.next_report("network")
        await topics.put(sh.principal, "config/network", changes)
        said = await faces.wait("network", report, timeout=10) if report else ""
        sh.msg(_("Settings of {interface} stored in config/network. Network: {said}")
               .format(interface=name, said=said))
    current = topics.get(sh.principal, "config/network")["u"].get("interfaces", {}).get(name)
    if current is None:
        raise NotFound(f"no settings for interface {name!r} in config/network", thing="interface",
                       value=name, allowed=", ".join(topics.get(sh.principal, "config/network")["u"]
                                                     .get("interfaces", {})) or "(none)")
    mgmt = _management(sh)
    sh.emit({"interface": name, "config": current, "management": mgmt},
            _("{interface} (stored settings in config/network)").format(interface=name) + "\n"
            + "\n".join(f"  {k:<14} {v}" for k, v in current.items())
            + "\n" + _("Management: {text}").format(text=mgmt["text"]))
