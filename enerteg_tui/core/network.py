"""The controller's network configuration (manual §5.3, issue 23 item 2).

Exists because ``config/network`` must reach the host's interfaces on an appliance
without ever locking the operator out. ``NetworkService`` applies the topic (DHCP or a
static IPv4 address with prefix, gateway and DNS; IPv6 router advertisements and
link-local addressing; an IPv4 link-local fallback when DHCP gets no lease) through
``core.hostnet`` (netlink by pyroute2, busybox's udhcpc) - only when the controller was
started with ``--manage-host``. Otherwise a change is stored and the service says so
("not applied: the host manages its own network; start with --manage-host").

Every applied change is held behind a confirm timer (RouterOS safe mode, Junos
``commit confirmed``): the host's previous configuration (addresses, default route,
IPv6 switches, resolv.conf, which interfaces ran DHCP) is kept; unless an administrator
confirms (``confirm``) within ``config/network`` ``confirmSeconds``, the previous
configuration is restored on the host and in ``config/network``, audited as
``network.rollback``. When the change moved an address, the confirmation must come from
a session that reached the controller on one of the interface's new addresses (proof
that the new address works); sessions that come through no network address (serial
and local consoles) may confirm too. The pending change is kept in
``<data-dir>/network-state.json``: a controller that restarts before the confirmation
rolls back at its start, and one that restarts after it re-applies the confirmed
configuration. A controller on a fresh data directory changes nothing on its host until
an operator applies a change (a ``put`` of ``config/network`` or ``network apply``).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from .audit import AuditLog, Severity
from .errors import Invalid, Unsupported
from .hostnet import (DhcpClient, DhcpEvent, HostNetwork, InterfaceState, NoSuchInterface,
                      Snapshot, link_local_v4)
from .permissions import SYSTEM, Action, Principal, require
from .settings.network import InterfaceSettings

__all__ = ["NetworkService", "Pending", "MANAGE_HOST_FLAG", "NOT_MANAGED", "RESOLV_CONF"]

log = logging.getLogger(__name__)

MANAGE_HOST_FLAG = "--manage-host"
RESOLV_CONF = Path("/etc/resolv.conf")
"""Where DNS servers go on an appliance (``enerteg serve --resolv-conf`` changes it)."""
STATE_FILE = "network-state.json"
NOT_MANAGED = ("not applied: the host manages its own network; start with "
               f"'enerteg serve {MANAGE_HOST_FLAG}' to let the controller apply config/network")


@dataclass(slots=True)
class Pending:
    """An applied change that waits for its confirmation."""

    previous: dict[str, Any]
    """``config/network`` ``interfaces`` before the change (restored on rollback)."""
    snapshot: dict[str, Any]
    """The host's configuration before the change (``hostnet.Snapshot.as_dict``)."""
    dhcp_before: list[str]
    """Interfaces whose DHCP client ran before the change."""
    applied_before: dict[str, Any] | None
    """What this controller had applied before (None: the host's own configuration)."""
    deadline: float
    """Unix seconds at which the change is rolled back."""
    seconds: int
    by: str
    """Who applied it (user, face, address)."""

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(slots=True)
class _State:
    confirmed: dict[str, Any] | None = None
    pending: dict[str, Any] | None = None


def _v4_set(snapshot: dict[str, Any], names: list[str]) -> set[str]:
    return {a.split("/")[0] for n in names
            for a in snapshot.get("interfaces", {}).get(n, {}).get("ipv4", [])}


class NetworkService:
    """Applies ``config/network`` to the host behind a confirm timer (``--manage-host``).

    Args:
        config: settings (``network``).
        audit: apply, confirm and rollback are audited.
        events: the service follows changes of ``config/network``.
        state_dir: the data directory (``network-state.json``).
        manage_host: started with ``--manage-host``; without it nothing is applied.
        resolv_conf: the resolv.conf file DNS servers are written to.
        faces: ``FaceStatus``: the service reports under ``network`` (the shell's ``put``
            and the console's Settings page show it).
        clock: Unix seconds (deadlines).
    """

    def __init__(self, config: Any, audit: AuditLog, events: Any, *, state_dir: Path,
                 manage_host: bool = False, resolv_conf: Path = RESOLV_CONF,
                 faces: Any = None, clock: Callable[[], float] = time.time) -> None:
        self._config = config
        self._audit = audit
        self._events = events
        self._state_path = state_dir / STATE_FILE
        self.manage_host = manage_host
        self.host = HostNetwork(resolv_conf)
        self._faces = faces
        self._clock = clock
        self._lock = asyncio.Lock()
        self._applied: dict[str, Any] | None = None
        self._confirmed: dict[str, Any] | None = None
        self._stored: dict[str, Any] = {}
        self._dhcp: dict[str, DhcpClient] = {}
        self._leases: dict[str, DhcpEvent] = {}
        self.pending: Pending | None = None
        self._timer: asyncio.Task[None] | None = None
        self._follow: asyncio.Task[None] | None = None
        self.text = NOT_MANAGED if not manage_host else "starting"
        """The latest report (also in ``faces`` under ``network``)."""
        self.last_rollback = ""
        """Why the last change was rolled back (shown until the next change)."""

    # ------------------------------------------------------------------ life cycle
    async def start(self) -> None:
        self._config.appliers.register("network", "network")
        self._stored = self._interfaces()
        if not self.manage_host:
            self._report(NOT_MANAGED)
        else:
            await self._boot()
        self._follow = asyncio.create_task(self._follow_settings(), name="network-settings")

    async def stop(self) -> None:
        for task in (self._follow, self._timer):
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        self._follow = self._timer = None
        for client in list(self._dhcp.values()):
            await client.stop()
        self._dhcp.clear()

    async def _boot(self) -> None:
        state = self._load_state()
        self._confirmed = state.confirmed
        if state.pending is not None:
            pending = Pending(**state.pending)
            self.pending = pending
            await self._rollback("the controller restarted before the change was confirmed")
            return
        if self._confirmed is not None and self._confirmed == self._stored:
            async with self._lock:
                notes = await self._apply(self._stored)
            self._report("applied at start (the confirmed configuration)"
                         + (f"; {'; '.join(notes)}" if notes else ""))
        elif self._confirmed is not None:
            self._report("the stored config/network differs from the confirmed configuration "
                         "on the host; 'network apply' applies it (with the confirm timer)")
        else:
            self._report("the host's own network configuration is in use; a change of "
                         "config/network or 'network apply' applies the stored settings "
                         "(with the confirm timer)")

    async def _follow_settings(self) -> None:
        # the audit entry of a change comes just before its settings event: it says who
        who = "config/network change"
        with self._events.subscribe(kinds={"settings", "audit"}) as sub:
            while True:
                batch = await sub.get()
                for ev in batch.events:
                    entry = ev.data if ev.kind == "audit" else None
                    if entry is not None and getattr(entry, "object", "") == "config/network" \
                            and getattr(entry, "action", "") == "settings.change":
                        where = f", {entry.address}" if entry.address else ""
                        who = f"{entry.user} ({entry.face}{where})"
                    if ev.kind == "settings" and ev.subject == "network":
                        try:
                            await self._settings_changed(who)
                        except Exception:  # noqa: BLE001 - never stops the controller
                            log.exception("network: applying config/network failed")

    async def _settings_changed(self, who: str) -> None:
        new = self._interfaces()
        if new == self._stored:
            self._report(self._summary())        # e.g. confirmSeconds: nothing to apply
            return
        previous, self._stored = self._stored, new
        if not self.manage_host:
            self._report(NOT_MANAGED)
            return
        await self._change(new, previous, who)

    # ------------------------------------------------------------------ operations
    async def apply(self, principal: Principal) -> str:
        """Apply the stored ``config/network`` to the host now, behind the confirm timer.

        Raises:
            PermissionDenied: needs ``administer``.
            Unsupported: started without ``--manage-host``.
        """
        require(principal, Action.ADMINISTER, "network/apply")
        self._require_managed("network apply")
        return await self._change(self._interfaces(), self._stored, _who(principal), principal)

    async def confirm(self, principal: Principal) -> str:
        """Keep the applied change (stop its timer).

        Raises:
            PermissionDenied: needs ``administer``.
            Unsupported: started without ``--manage-host``.
            Invalid: nothing waits for a confirmation, or the session did not reach the
                controller on a new address when the change moved one.
        """
        require(principal, Action.ADMINISTER, "network/confirm")
        self._require_managed("network confirm")
        async with self._lock:
            pending = self.pending
            if pending is None:
                raise Invalid("network confirm: no applied change waits for a confirmation",
                              thing="network change", value="none pending",
                              allowed="a change applied within confirmSeconds")
            names = sorted(set(self._applied or {}) | set(pending.snapshot.get("interfaces", {})))
            before = _v4_set(pending.snapshot, names)
            now = await asyncio.to_thread(self._addresses, names)
            if now != before and principal.reached:
                new = sorted(now - before) or sorted(now)
                if principal.reached not in new:
                    raise Invalid(
                        f"network confirm: this session reached the controller on "
                        f"{principal.reached}, which the change did not give; confirm from a "
                        f"session on the new address ({', '.join(new) or 'none yet'}), which "
                        "proves it works", thing="session address", value=principal.reached,
                        allowed=", ".join(new) or "a new address")
            self.pending = None
            self._confirmed = self._applied
            self._save_state()
            if self._timer is not None:
                self._timer.cancel()
                self._timer = None
        msg = f"Network change confirmed by {_who(principal)}: {self._describe(self._applied)}"
        await self._audit.record(principal, "network.confirm", "config/network", msg)
        self._report(self._summary())
        return msg

    def seconds_left(self) -> int | None:
        """Seconds until the pending change is rolled back (None: nothing pending)."""
        if self.pending is None:
            return None
        return max(0, round(self.pending.deadline - self._clock()))

    def status(self) -> dict[str, Any]:
        """What the shell's ``network status`` and the console show."""
        out: dict[str, Any] = {"managed": self.manage_host, "text": self._summary(),
                               "pending": None, "leases": {}}
        if self.pending is not None:
            out["pending"] = {"secondsLeft": self.seconds_left(), "by": self.pending.by,
                              "confirmSeconds": self.pending.seconds}
        for name, ev in self._leases.items():
            out["leases"][name] = {"address": f"{ev.ip}/{ev.prefix}", "router": ev.router,
                                   "dns": ev.dns, "leaseSeconds": ev.lease,
                                   "server": ev.server}
        return out

    def pending_text(self) -> str:
        """One line on the pending change, or empty."""
        left = self.seconds_left()
        if left is None or self.pending is None:
            return ""
        return (f"the change by {self.pending.by} waits for confirmation: {left} s left, "
                "then the previous configuration is restored ('network confirm')")

    def read_host(self, names: list[str] | None = None) -> list[InterfaceState]:
        """The host's interfaces as they are (read-only; blocking: call in a thread)."""
        out = []
        for name in names if names is not None else self.host.names():
            with contextlib.suppress(NoSuchInterface):
                out.append(self.host.read(name))
        return out

    # ------------------------------------------------------------------ the change
    async def _change(self, new: dict[str, Any], previous: dict[str, Any], by: str,
                      principal: Principal = SYSTEM) -> str:
        seconds = int(self._config.get("network").confirmSeconds)
        async with self._lock:
            if self.pending is None:    # a second change while pending keeps the first's
                names = sorted(set(new) | set(self._applied or {}) | set(previous))
                snap = await asyncio.to_thread(self.host.snapshot, names)
                self.pending = Pending(previous=previous, snapshot=snap.as_dict(),
                                       dhcp_before=sorted(self._dhcp),
                                       applied_before=self._applied, deadline=0.0,
                                       seconds=seconds, by=by)
            self.pending.deadline = self._clock() + seconds
            self.last_rollback = ""
            self.pending.seconds, self.pending.by = seconds, by
            self._save_state()
            try:
                notes = await self._apply(new)
            except Exception as exc:  # noqa: BLE001 - roll back whatever went wrong
                log.exception("network: apply failed")
                why = f"applying failed ({exc.__class__.__name__}: {exc})"
            else:
                why = ""
        if why:
            await self._rollback(why)
            raise Invalid(f"network: {why}; the previous configuration is restored",
                          thing="config/network", value=self._describe(new),
                          allowed="settings the host accepts")
        if self._timer is not None:
            self._timer.cancel()
        self._timer = asyncio.create_task(self._expire(), name="network-confirm")
        msg = (f"Network change applied by {by}: {self._describe(new)}"
               + (f" ({'; '.join(notes)})" if notes else "")
               + f"; confirm within {seconds} s or the previous configuration is restored")
        await self._audit.record(principal, "network.apply", "config/network", msg,
                                 severity=Severity.WARNING)
        self._report(self._summary())
        return msg

    async def _expire(self) -> None:
        while self.pending is not None:
            left = self.pending.deadline - self._clock()
            if left <= 0:
                await self._rollback(f"not confirmed within {self.pending.seconds} s")
                return
            await asyncio.sleep(min(left, 1.0))

    async def _rollback(self, why: str) -> None:
        async with self._lock:
            pending = self.pending
            if pending is None:
                return
            for name in list(self._dhcp):
                await self._dhcp.pop(name).stop()
            self._leases.clear()
            await asyncio.to_thread(self.host.restore, Snapshot.from_dict(pending.snapshot))
            self._applied = pending.applied_before
            for name in pending.dhcp_before:
                if self._applied and name in self._applied:
                    await self._start_dhcp(name)
            self.pending = None
            self._timer = None
            self._save_state()
            restore = pending.previous != self._interfaces()
            self._stored = pending.previous
        if restore:
            await self._config.put(SYSTEM, "network", {"interfaces": pending.previous})
        self.last_rollback = why
        msg = (f"Network change by {pending.by} rolled back: {why}; the previous "
               f"configuration is restored ({self._describe(pending.previous)})")
        await self._audit.record(SYSTEM, "network.rollback", "config/network", msg,
                                 severity=Severity.WARNING)
        self._report(self._summary())

    async def _apply(self, new: dict[str, Any]) -> list[str]:
        """Apply ``new`` (``interfaces`` dump) to the host; notes on what was skipped."""
        notes: list[str] = []
        present = set(await asyncio.to_thread(self.host.names))
        for name in list(self._dhcp):
            if name not in new or not InterfaceSettings.model_validate(new[name]).dhcp:
                await self._dhcp.pop(name).stop()
                self._leases.pop(name, None)
        for name, raw in new.items():
            s = InterfaceSettings.model_validate(raw)
            if name not in present:
                notes.append(f"{name}: no such interface on this host, skipped")
                continue
            await asyncio.to_thread(self._apply_static_parts, name, s)
            if s.dhcp and name not in self._dhcp:
                await self._start_dhcp(name)
        self._applied = new
        await asyncio.to_thread(self.host.write_dns, self._dns_servers())
        return notes

    def _apply_static_parts(self, name: str, s: InterfaceSettings) -> None:
        self.host.link_up(name)
        self.host.set_ipv6(name, ra=bool(s.ipv6Ra), lla=bool(s.ipv6Lla))
        if not s.dhcp:
            self.host.set_ipv4(name, [f"{s.ipv4Address}/{s.prefixLength}"], s.gateway)

    async def _start_dhcp(self, name: str) -> None:
        async def on_event(ev: DhcpEvent) -> None:
            await self._dhcp_event(name, ev)

        client = DhcpClient(name, on_event)
        await client.start()
        self._dhcp[name] = client

    async def _dhcp_event(self, name: str, ev: DhcpEvent) -> None:
        raw = (self._applied or {}).get(name)
        if raw is None:
            return
        s = InterfaceSettings.model_validate(raw)
        if ev.kind in ("bound", "renew") and ev.ip and ev.prefix:
            gateway = s.gateway or ev.router
            await asyncio.to_thread(self.host.set_ipv4, name, [f"{ev.ip}/{ev.prefix}"], gateway)
            self._leases[name] = ev
            await asyncio.to_thread(self.host.write_dns, self._dns_servers())
            self._report(self._summary())
        elif ev.kind == "deconfig":
            self._leases.pop(name, None)
            await asyncio.to_thread(self.host.set_ipv4, name, [])
        elif ev.kind == "leasefail" and s.llaFallback and name not in self._leases:
            mac = (await asyncio.to_thread(self.host.read, name)).mac
            await asyncio.to_thread(self.host.set_ipv4, name, [f"{link_local_v4(mac)}/16"])
            self._report(f"{name}: no DHCP lease; link-local fallback {link_local_v4(mac)}/16 "
                         "until a lease comes")

    def _dns_servers(self) -> list[str]:
        out: list[str] = []
        for name, raw in (self._applied or {}).items():
            s = InterfaceSettings.model_validate(raw)
            lease = self._leases.get(name)
            for server in (s.dns or (lease.dns if s.dhcp and lease else [])):
                if server not in out:
                    out.append(server)
        return out[:3]          # the resolver reads at most 3 nameservers

    def _addresses(self, names: list[str]) -> set[str]:
        out: set[str] = set()
        for st in self.read_host(names):
            out |= {a.split("/")[0] for a in st.ipv4}
        return out

    # ------------------------------------------------------------------ helpers
    def _interfaces(self) -> dict[str, Any]:
        return dict(self._config.get("network").stored_dump()["interfaces"])

    def _require_managed(self, what: str) -> None:
        if not self.manage_host:
            raise Unsupported(f"{what}: {NOT_MANAGED}", thing=what,
                              value="no " + MANAGE_HOST_FLAG, allowed=MANAGE_HOST_FLAG)

    def _summary(self) -> str:
        if not self.manage_host:
            return NOT_MANAGED
        if self.pending is not None:
            return "applied; " + self.pending_text()
        back = f"; last change rolled back: {self.last_rollback}" if self.last_rollback else ""
        if self._applied is None:
            return "the host's own network configuration is in use" + (
                back or " (nothing applied yet)")
        leases = "; ".join(f"{n}: DHCP lease {ev.ip}/{ev.prefix}" for n, ev in self._leases.items())
        return "applied and confirmed: " + self._describe(self._applied) + (
            f"; {leases}" if leases else "") + back

    @staticmethod
    def _describe(interfaces: dict[str, Any] | None) -> str:
        if not interfaces:
            return "the host's own configuration"
        parts = []
        for name, raw in sorted(interfaces.items()):
            s = InterfaceSettings.model_validate(raw)
            if s.dhcp:
                text = f"{name} DHCP"
            else:
                text = f"{name} {s.ipv4Address}/{s.prefixLength}"
                if s.gateway:
                    text += f" via {s.gateway}"
            if s.dns:
                text += f" dns {','.join(s.dns)}"
            parts.append(text)
        return ", ".join(parts)

    def _report(self, text: str) -> None:
        self.text = text
        if self._faces is not None:
            self._faces.report("network", text)

    def _load_state(self) -> _State:
        try:
            data = json.loads(self._state_path.read_text())
        except (OSError, ValueError):
            return _State()
        return _State(confirmed=data.get("confirmed"), pending=data.get("pending"))

    def _save_state(self) -> None:
        data = {"confirmed": self._confirmed,
                "pending": self.pending.as_dict() if self.pending is not None else None}
        tmp = self._state_path.with_suffix(".tmp")
        tmp.write_text(json.dumps(data, indent=1, sort_keys=True))
        tmp.replace(self._state_path)


def _who(principal: Principal) -> str:
    where = principal.reached or principal.address
    return f"{principal.user} ({principal.face}{', ' + where if where else ''})"


