"""mDNS / DNS-SD announcement of the controller (manual §3.1, issue 23 item 3).

Exists so that an operator finds the controller as ``pdu5-<serial>.local`` without
knowing its address. ``serial`` is the serial number of the controller PDU (the PDU
whose ``info.controller`` is set) or, before it has answered or when the ring has none,
a stable id made once and kept in the data directory (``mdns-id``). The instance name
of every service is the configured host name (``config/hostname``), so a browser lists
the controller under the name people gave it.

Announced: ``_ssh._tcp`` while the SSH server listens, and ``_snmp._udp``,
``_http._tcp``, ``_https._tcp`` while the SNMP agent and the web server run. What runs
is read from the controller's services (``ports``) every ``REFRESH_S`` seconds and on
every settings change, so switching a face on or off changes the announcement without
a restart.

``config/hostname`` ``mdns`` decides: ``auto`` (the default) announces only when the
controller was started with ``--manage-host`` (it then owns the host, an appliance);
on an ordinary Linux host another responder (avahi) usually owns mDNS and a developer's
controller should not advertise itself on the office network. ``enabled`` and
``disabled`` force it. The ``zeroconf`` library is imported only when announcing.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import logging
import re
import secrets
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ..core.services import CoreServices

__all__ = ["MdnsService", "mdns_host", "SERVICE_TYPES", "REFRESH_S"]

from ..core.waiting import cancel_and_wait, wait_event

log = logging.getLogger(__name__)

SERVICE_TYPES = ("_ssh._tcp", "_snmp._udp", "_http._tcp", "_https._tcp")
"""The DNS-SD service types announced when their face runs."""
REFRESH_S = 2.0
"""Seconds between two looks at which faces run (and at the serial, the host name)."""
ID_FILE = "mdns-id"
"""File in the data directory holding the stable id used while no serial is known."""


def _label(text: str) -> str:
    """``text`` as a DNS label part: lower case letters, digits and hyphens."""
    return re.sub(r"[^a-z0-9-]+", "-", text.lower()).strip("-")[:50]


def mdns_host(serial: str) -> str:
    """The mDNS host name for a serial: ``pdu5-<serial>.local.`` (fully qualified)."""
    return f"pdu5-{_label(serial) or 'unknown'}.local."


def _stable_id(root: Path) -> str:
    path = root / ID_FILE
    with contextlib.suppress(OSError):
        text = path.read_text().strip()
        if text:
            return text
    made = secrets.token_hex(4)
    with contextlib.suppress(OSError):
        path.write_text(made + "\n")
    return made


def _addresses() -> list[bytes]:
    """The host's IPv4 addresses (packed); loopback only when there is no other."""
    import ifaddr

    found: list[ipaddress.IPv4Address] = []
    for adapter in ifaddr.get_adapters():
        for ip in adapter.ips:
            if isinstance(ip.ip, str):
                found.append(ipaddress.IPv4Address(ip.ip))
    outside = [a for a in found if not a.is_loopback]
    return [a.packed for a in (outside or found)]


class MdnsService:
    """Announces the controller and its running faces over mDNS.

    Args:
        core: settings (``hostname``), the live ring (serial) and the data directory.
        ports: what runs now: service type (``_ssh._tcp``...) to port, absent when off.
        manage_host: started with ``--manage-host`` (``mdns = auto`` then announces).
    """

    name = "mdns"

    def __init__(self, core: CoreServices, ports: Callable[[], dict[str, int]], *,
                 manage_host: bool = False) -> None:
        self.core = core
        self._ports = ports
        self._manage_host = manage_host
        self._zc: Any = None
        self._infos: dict[str, Any] = {}
        self._task: asyncio.Task[None] | None = None
        self._wake = asyncio.Event()
        self.host = ""
        """The announced host name (``pdu5-<serial>.local.``), empty while silent."""
        self.status = "not announcing"

    # ------------------------------------------------------------------ lifecycle
    async def start(self) -> None:
        self.core.config.appliers.register("hostname", "mdns")
        self._task = asyncio.create_task(self._run(), name="mdns")

    async def stop(self) -> None:
        await cancel_and_wait(self._task)
        self._task = None
        await self._close()

    def describe(self) -> str:
        return f"mdns={self.host.rstrip('.')}" if self._zc else "mdns=off"

    def wanted(self) -> bool:
        """Whether ``config/hostname`` ``mdns`` asks to announce in this process."""
        mode = self.core.config.get("hostname").mdns
        return mode == "enabled" or (mode == "auto" and self._manage_host)

    # ------------------------------------------------------------------ work
    def serial(self) -> str:
        """The controller PDU's serial, or the stable id of this data directory."""
        for d in self.core.live.ordered():
            if d.info.controller and d.info.identification.serial:
                return str(d.info.identification.serial)
        return _stable_id(self.core.paths.root)

    async def _run(self) -> None:
        with self.core.events.subscribe(kinds={"settings"}) as sub:
            waker = asyncio.create_task(self._wake_on(sub), name="mdns-settings")
            try:
                while True:
                    try:
                        await self._refresh()
                    except Exception as exc:  # noqa: BLE001 - a face never stops the controller
                        text = f"not announcing: {exc or type(exc).__name__}"
                        if text != self.status:              # once per cause, not every 2 s
                            log.warning("mdns: %s", text)
                        await self._close()
                        self.status = text
                    self._wake.clear()
                    await wait_event(self._wake, REFRESH_S)
            finally:
                waker.cancel()

    async def _wake_on(self, sub: Any) -> None:
        while True:
            await sub.get()
            self._wake.set()

    def _wanted_infos(self) -> dict[str, Any]:
        from zeroconf import ServiceInfo

        host = mdns_host(self.serial())
        instance = self.core.config.get("hostname").hostname
        addresses = _addresses()
        out: dict[str, Any] = {}
        for stype, port in sorted(self._ports().items()):
            if stype not in SERVICE_TYPES or not port:
                continue
            full = f"{stype}.local."
            out[stype] = ServiceInfo(full, f"{instance}.{full}", port=int(port),
                                     addresses=addresses, server=host,
                                     properties={"product": "EnerTEG", "serial": self.serial()})
        self.host = host
        return out

    @staticmethod
    def _same(a: Any, b: Any) -> bool:
        return (a.name, a.port, a.server, sorted(a.addresses)) == (
            b.name, b.port, b.server, sorted(b.addresses))

    async def _refresh(self) -> None:
        if not self.wanted():
            await self._close()
            self.status = "not announcing (config/hostname mdns = " + (
                f"{self.core.config.get('hostname').mdns}"
                + (", started without --manage-host)" if not self._manage_host else ")"))
            return
        from zeroconf import IPVersion
        from zeroconf.asyncio import AsyncZeroconf

        if self._zc is None:
            self._zc = AsyncZeroconf(ip_version=IPVersion.V4Only)
        wanted = await asyncio.to_thread(self._wanted_infos)
        for stype in list(self._infos):
            if stype not in wanted or not self._same(self._infos[stype], wanted[stype]):
                await self._zc.async_unregister_service(self._infos.pop(stype))
        for stype, info in wanted.items():
            if stype not in self._infos:
                await (await self._zc.async_register_service(info, allow_name_change=True))
                self._infos[stype] = info
        self.status = (f"announcing {self.host.rstrip('.')}: "
                       + (", ".join(sorted(self._infos)) or "no service running"))

    async def _close(self) -> None:
        zc, self._zc = self._zc, None
        self._infos.clear()
        self.host = ""
        if zc is not None:
            with contextlib.suppress(Exception):
                await zc.async_unregister_all_services()
            with contextlib.suppress(Exception):
                await zc.async_close()

