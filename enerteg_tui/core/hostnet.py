"""The host's network interfaces through netlink (pyroute2) and a DHCP client (udhcpc).

Exists so ``core.network`` (the ``config/network`` service) states *what* to apply
and this module alone knows *how* a Linux host is changed: IPv4 addresses and the
default route through netlink (pyroute2's ``IPRoute``), the IPv6 switches through the
interface's ``/proc/sys/net/ipv6/conf/<if>/`` sysctls, DNS by writing a resolv.conf
file, and DHCP by running busybox's ``udhcpc`` (Debian package ``udhcpc``) in the
foreground with an event script that prints one line per lease event, which
``DhcpClient`` reads and hands back. Every function here is blocking (netlink, files)
and is called from a worker thread; it acts on the network namespace of the process.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import ipaddress
import logging
import os
import shutil
import stat
import tempfile
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = ["HostNetwork", "DhcpClient", "DhcpEvent", "Snapshot", "InterfaceState",
           "NoSuchInterface", "link_local_v4", "eui64_link_local", "UDHCPC"]

log = logging.getLogger(__name__)

UDHCPC = "udhcpc"
"""The DHCP client: busybox's udhcpc (Debian package ``udhcpc``)."""
_EVENT_TAG = "enerteg-dhcp"
_SCRIPT = f"""#!/bin/sh
# udhcpc event script written by EnerTEG (core/hostnet.py): report, change nothing
echo "{_EVENT_TAG} $1 ip=$ip subnet=$subnet router=$router dns=$dns lease=$lease serverid=$serverid"
"""
AF_INET, AF_INET6 = 2, 10


class NoSuchInterface(LookupError):
    """The host has no interface of that name."""


def link_local_v4(mac: str) -> str:
    """A stable IPv4 link-local address (RFC 3927, 169.254.1.0 to 169.254.254.255) derived
    from the interface's MAC address, as RFC 3927 §2.1 suggests."""
    h = hashlib.sha256(mac.lower().encode()).digest()
    return f"169.254.{1 + h[0] % 254}.{h[1]}"


def eui64_link_local(mac: str) -> str:
    """The IPv6 link-local address (fe80::/64, modified EUI-64) of a MAC address."""
    b = bytearray(int(x, 16) for x in mac.split(":"))
    b[0] ^= 0x02
    iid = bytes(b[:3]) + b"\xff\xfe" + bytes(b[3:])
    return str(ipaddress.IPv6Address(b"\xfe\x80" + b"\x00" * 6 + iid))


@dataclass(slots=True)
class InterfaceState:
    """What the host says about one interface."""

    name: str
    state: str = "down"
    operstate: str = ""
    """The kernel's operational state (``UP``, ``DOWN``, ``LOWERLAYERDOWN``, ``UNKNOWN``):
    whether the link carries traffic, where ``state`` says whether it is switched on."""
    mac: str = ""
    ipv4: list[str] = field(default_factory=list)
    """``address/prefix`` texts."""
    ipv6: list[str] = field(default_factory=list)
    gateway: str = ""
    """The IPv4 default route's gateway through this interface, or empty."""


@dataclass(slots=True)
class Snapshot:
    """The host's configuration before a change, enough to put it back."""

    interfaces: dict[str, dict[str, Any]] = field(default_factory=dict)
    """Name → ``ipv4`` (address/prefix texts), ``gateway``, ``sysctl`` (accept_ra,
    addr_gen_mode)."""
    resolv: str | None = None
    """The resolv.conf text (None: the file did not exist)."""

    def as_dict(self) -> dict[str, Any]:
        return {"interfaces": self.interfaces, "resolv": self.resolv}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Snapshot:
        return cls(interfaces=dict(data.get("interfaces", {})), resolv=data.get("resolv"))


class HostNetwork:
    """Blocking netlink and sysctl operations on the process's network namespace.

    Args:
        resolv_conf: the resolv.conf file DNS servers are written to.
    """

    def __init__(self, resolv_conf: Path) -> None:
        self.resolv_conf = resolv_conf

    @staticmethod
    def _ipr() -> Any:
        from pyroute2 import IPRoute   # imported when the host is managed, never otherwise

        return IPRoute()

    @staticmethod
    def _index(ipr: Any, name: str) -> int:
        found = ipr.link_lookup(ifname=name)
        if not found:
            raise NoSuchInterface(name)
        return int(found[0])

    def names(self) -> list[str]:
        """The host's interface names."""
        with self._ipr() as ipr:
            return sorted(str(link.get("IFLA_IFNAME")) for link in ipr.get_links())

    def read(self, name: str) -> InterfaceState:
        """Addresses, link state, MAC and IPv4 default gateway of ``name``."""
        with self._ipr() as ipr:
            idx = self._index(ipr, name)
            link = ipr.get_links(idx)[0]
            st = InterfaceState(name=name, mac=str(link.get("IFLA_ADDRESS") or ""),
                                state="up" if link["flags"] & 1 else "down",
                                operstate=str(link.get("IFLA_OPERSTATE") or ""))
            for a in ipr.get_addr(index=idx):
                text = f"{a.get('IFA_ADDRESS')}/{a['prefixlen']}"
                (st.ipv4 if a["family"] == AF_INET else st.ipv6).append(text)
            for r in ipr.get_routes(family=AF_INET, table=254):
                if r["dst_len"] == 0 and r.get("RTA_OIF") == idx and r.get("RTA_GATEWAY"):
                    st.gateway = str(r.get("RTA_GATEWAY"))
        return st

    # ------------------------------------------------------------------ changes
    def link_up(self, name: str) -> None:
        with self._ipr() as ipr:
            ipr.link("set", index=self._index(ipr, name), state="up")

    def set_ipv4(self, name: str, addresses: list[str], gateway: str = "") -> None:
        """Make ``addresses`` (``a.b.c.d/p``) the interface's only IPv4 addresses and, when
        ``gateway`` is given, the default route go through it (IPv4 or IPv6 gateway)."""
        with self._ipr() as ipr:
            idx = self._index(ipr, name)
            want = {str(ipaddress.IPv4Interface(a)) for a in addresses}
            for a in ipr.get_addr(index=idx, family=AF_INET):
                have = f"{a.get('IFA_ADDRESS')}/{a['prefixlen']}"
                if have not in want:
                    ipr.addr("del", index=idx, address=a.get("IFA_ADDRESS"),
                             prefixlen=a["prefixlen"])
            present = {f"{a.get('IFA_ADDRESS')}/{a['prefixlen']}"
                       for a in ipr.get_addr(index=idx, family=AF_INET)}
            for a in sorted(want - present):
                ip = ipaddress.IPv4Interface(a)
                ipr.addr("add", index=idx, address=str(ip.ip), prefixlen=ip.network.prefixlen)
            if gateway:
                if ipaddress.ip_address(gateway).version == 4:
                    ipr.route("replace", dst="0.0.0.0/0", gateway=gateway, oif=idx)
                else:
                    ipr.route("replace", dst="::/0", gateway=gateway, oif=idx, family=AF_INET6)

    def set_ipv6(self, name: str, *, ra: bool, lla: bool) -> None:
        """Router advertisements on or off (``accept_ra``); link-local addressing on (the
        EUI-64 address, ``addr_gen_mode`` 0) or off (``addr_gen_mode`` 1, fe80:: removed)."""
        self._sysctl(name, "accept_ra", "1" if ra else "0")
        self._sysctl(name, "addr_gen_mode", "0" if lla else "1")
        with self._ipr() as ipr:
            idx = self._index(ipr, name)
            mac = str(ipr.get_links(idx)[0].get("IFLA_ADDRESS") or "")
            lls = [a for a in ipr.get_addr(index=idx, family=AF_INET6)
                   if str(a.get("IFA_ADDRESS")).startswith("fe80:")]
            if not lla:
                for a in lls:
                    ipr.addr("del", index=idx, address=a.get("IFA_ADDRESS"),
                             prefixlen=a["prefixlen"], family=AF_INET6)
            elif not lls and mac.count(":") == 5:
                with contextlib.suppress(Exception):   # IPv6 disabled on the interface
                    ipr.addr("add", index=idx, address=eui64_link_local(mac), prefixlen=64,
                             family=AF_INET6)

    def sysctls(self, name: str) -> dict[str, str]:
        return {k: self._read_sysctl(name, k) for k in ("accept_ra", "addr_gen_mode")}

    @staticmethod
    def _path(name: str, key: str) -> Path:
        return Path("/proc/sys/net/ipv6/conf") / name / key

    def _read_sysctl(self, name: str, key: str) -> str:
        try:
            return self._path(name, key).read_text().strip()
        except OSError:
            return ""

    def _sysctl(self, name: str, key: str, value: str) -> None:
        with contextlib.suppress(FileNotFoundError):   # IPv6 not built into this kernel
            self._path(name, key).write_text(value)

    def write_dns(self, servers: list[str]) -> None:
        """Write ``servers`` to the resolv.conf file (atomically: a temp file renamed)."""
        text = ("# written by EnerTEG from config/network (and DHCP leases)\n"
                + "".join(f"nameserver {s}\n" for s in servers))
        self.write_resolv(text)

    def read_resolv(self) -> str | None:
        try:
            return self.resolv_conf.read_text()
        except FileNotFoundError:
            return None

    def write_resolv(self, text: str | None) -> None:
        if text is None:
            with contextlib.suppress(FileNotFoundError):
                self.resolv_conf.unlink()
            return
        self.resolv_conf.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=self.resolv_conf.parent, prefix=".resolv.")
        with os.fdopen(fd, "w") as f:
            f.write(text)
        os.chmod(tmp, 0o644)
        os.replace(tmp, self.resolv_conf)

    # ------------------------------------------------------------------ snapshot
    def snapshot(self, names: list[str]) -> Snapshot:
        """The configuration of ``names`` (those that exist) and the resolv.conf text."""
        snap = Snapshot(resolv=self.read_resolv())
        for name in names:
            try:
                st = self.read(name)
            except NoSuchInterface:
                continue
            snap.interfaces[name] = {"ipv4": st.ipv4, "gateway": st.gateway,
                                     "sysctl": self.sysctls(name)}
        return snap

    def restore(self, snap: Snapshot) -> None:
        """Put the snapshot's addresses, gateways, IPv6 switches and resolv.conf back."""
        for name, conf in snap.interfaces.items():
            try:
                self.set_ipv4(name, list(conf.get("ipv4", [])), str(conf.get("gateway", "")))
                for key, value in dict(conf.get("sysctl", {})).items():
                    if value:
                        self._sysctl(name, key, value)
            except NoSuchInterface:
                continue
        self.write_resolv(snap.resolv)


@dataclass(slots=True)
class DhcpEvent:
    """One udhcpc event: ``bound``, ``renew``, ``deconfig``, ``leasefail`` or ``nak``."""

    kind: str
    ip: str = ""
    prefix: int = 0
    router: str = ""
    dns: list[str] = field(default_factory=list)
    lease: int = 0
    server: str = ""

    @classmethod
    def parse(cls, line: str) -> DhcpEvent | None:
        words = line.split()
        if len(words) < 2 or words[0] != _EVENT_TAG:
            return None
        kv = dict(w.partition("=")[::2] for w in words[2:])
        ev = cls(kind=words[1], ip=kv.get("ip", ""), router=kv.get("router", ""),
                 server=kv.get("serverid", ""))
        # the values of dns and router may hold several addresses separated by spaces:
        # keep every word after dns= that is an address
        tail = line.split(" dns=", 1)[1].split(" lease=", 1)[0] if " dns=" in line else ""
        for w in tail.split():
            with contextlib.suppress(ValueError):
                ev.dns.append(str(ipaddress.ip_address(w)))
        ev.router = ev.router.split()[0] if ev.router else ""
        with contextlib.suppress(ValueError):
            ev.prefix = ipaddress.IPv4Network(f"0.0.0.0/{kv.get('subnet', '')}").prefixlen
        with contextlib.suppress(ValueError):
            ev.lease = int(kv.get("lease", "0") or 0)
        return ev


class DhcpClient:
    """udhcpc for one interface, run in the foreground; each lease event is handed to
    ``on_event`` (an async callable) in the order udhcpc reports them.

    udhcpc sends 3 discovers 2 s apart, reports ``leasefail`` when no server answers,
    waits ``retry_s`` seconds and tries again; it renews the lease itself.
    """

    def __init__(self, name: str, on_event: Callable[[DhcpEvent], Awaitable[None]], *,
                 retry_s: int = 10) -> None:
        self.name = name
        self._on_event = on_event
        self._retry_s = retry_s
        self._proc: asyncio.subprocess.Process | None = None
        self._reader: asyncio.Task[None] | None = None
        self._dir: str | None = None
        self.last: DhcpEvent | None = None
        """The latest event (the lease, or why there is none)."""

    @staticmethod
    def available() -> str | None:
        """The udhcpc program's path, or None when it is not installed."""
        return shutil.which(UDHCPC) or next(
            (p for p in ("/sbin/udhcpc", "/usr/sbin/udhcpc") if os.access(p, os.X_OK)), None)

    async def start(self) -> None:
        exe = self.available()
        if exe is None:
            raise FileNotFoundError(f"the DHCP client {UDHCPC} is not installed (Debian "
                                    "package udhcpc)")
        self._dir = tempfile.mkdtemp(prefix="enerteg-dhcp-")
        script = Path(self._dir) / "event.sh"
        script.write_text(_SCRIPT)
        script.chmod(stat.S_IRWXU)
        self._proc = await asyncio.create_subprocess_exec(
            exe, "-f", "-i", self.name, "-s", str(script), "-t", "3", "-T", "2",
            "-A", str(self._retry_s), stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT)
        self._reader = asyncio.create_task(self._read(), name=f"dhcp-{self.name}")

    async def _read(self) -> None:
        assert self._proc is not None and self._proc.stdout is not None
        while line := await self._proc.stdout.readline():
            ev = DhcpEvent.parse(line.decode(errors="replace").strip())
            if ev is None:
                continue
            self.last = ev
            try:
                await self._on_event(ev)
            except Exception:  # noqa: BLE001 - one bad event never stops the client
                log.exception("network: DHCP event %s on %s failed", ev.kind, self.name)

    async def stop(self) -> None:
        """Stop udhcpc (the lease's address stays until the caller changes it)."""
        if self._proc is not None and self._proc.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                self._proc.terminate()
            try:
                await asyncio.wait_for(self._proc.wait(), 5)
            except TimeoutError:
                with contextlib.suppress(ProcessLookupError):
                    self._proc.kill()
                await self._proc.wait()
        if self._reader is not None:
            self._reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._reader
        if self._dir is not None:
            shutil.rmtree(self._dir, ignore_errors=True)
        self._proc = self._reader = None
        self._dir = None
