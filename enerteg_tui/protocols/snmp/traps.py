"""Notifications: SNMP traps (or informs) on alarm raised/cleared, ring state changes and agent start.

Sent while ``config/snmp_agent`` has ``enabledTrap`` on, to ``serverTrapAddress`` :
``serverTrapPort``: an SNMPv2c trap with ``v2cCommunity`` when the agent answers v2c,
otherwise an SNMPv3 trap from the v3 user (authPriv/authNoPriv as its passphrases
allow; the receiver knows our engine id, ``snmpEngineID.0``). Traps go out from a
separate pysnmp engine with the agent's engine id, so the sender never touches the
agent's USM and VACM tables. A trap is one UDP datagram handed to the kernel: a dead
or slow receiver never holds the core (the event subscription is bounded and
coalescing; a failed send is one log line).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from typing import Any

from pysnmp.carrier.asyncio.dgram import udp, udp6
from pysnmp.entity import config, engine
from pysnmp.entity.rfc3413 import ntforg
from pysnmp.proto import rfc1902

from ...core.alarms import AlarmChange
from ...core.model import RingState
from ...core.services import CoreServices
from ...core.settings import SnmpAgentSettings
from .mib import Mib
from .security import AUTH, PRIV
from .tree import centi, text

__all__ = ["TrapSender", "COLD_START"]

log = logging.getLogger(__name__)

SYS_UPTIME = (1, 3, 6, 1, 2, 1, 1, 3, 0)
SNMP_TRAP_OID = (1, 3, 6, 1, 6, 3, 1, 1, 4, 1, 0)
COLD_START = (1, 3, 6, 1, 6, 3, 1, 1, 5, 1)
"""SNMPv2-MIB::coldStart: sent when the agent starts with traps on."""
INFORM_TIMEOUT_CS = 200
"""An inform waits 2 s (in hundredths, as SNMP-TARGET-MIB counts) for its answer…"""
INFORM_RETRIES = 3
"""…and is sent again up to 3 times."""
_RING = {RingState.CLOSED: 1, RingState.OPEN: 2, RingState.BROKEN: 3}
_SEVERITY = {"Warning": 1, "Critical": 2}


class TrapSender:
    """Follows the core's events and sends the matching notifications."""

    def __init__(self, core: CoreServices, mib: Mib, settings: SnmpAgentSettings,
                 engine_id: bytes, started: float) -> None:
        self.core = core
        self.mib = mib
        self.settings = settings
        self.started = started
        self.sent = 0
        self.failed = 0
        self.acknowledged = 0
        """Informs the receiver acknowledged."""
        self.engine = engine.SnmpEngine()
        builder = self.engine.get_mib_builder()
        (eid,) = builder.import_symbols("__SNMP-FRAMEWORK-MIB", "snmpEngineID")
        eid.syntax = eid.syntax.clone(engine_id)
        self.engine.snmpEngineID = eid.syntax
        self._task: asyncio.Task[None] | None = None
        self._ready = False
        self._originator = ntforg.NotificationOriginator()

    async def _configure(self) -> None:
        """The target (address resolved once), its credentials and a notify view."""
        s = self.settings
        eng = self.engine
        infos = await asyncio.get_running_loop().getaddrinfo(
            s.serverTrapAddress, s.serverTrapPort, type=2)   # SOCK_DGRAM
        family, _, _, _, address = infos[0]
        v6 = family == 10                                    # AF_INET6
        domain = udp6.DOMAIN_NAME if v6 else udp.DOMAIN_NAME
        transport = udp6.Udp6AsyncioTransport() if v6 else udp.UdpAsyncioTransport()
        config.add_transport(eng, domain, transport.open_client_mode())
        if s.snmpVersion in ("snmpV2C", "snmpV2CV3"):
            name, model, level = "etg-trap-community", 2, "noAuthNoPriv"   # v2c
            # tagged like the target, so the receiver's answer to an inform is accepted
            config.add_v1_system(eng, name, s.v2cCommunity, transportTag="etg-tag")
            mp_model = 1
        else:
            auth = AUTH[s.v3ProtocolAuth] if s.v3PasswordAuth else config.USM_AUTH_NONE
            priv = (PRIV[s.v3ProtocolPriv] if s.v3PasswordAuth and s.v3PasswordPriv
                    else config.USM_PRIV_NONE)
            config.add_v3_user(eng, s.v3User, auth, s.v3PasswordAuth or None, priv,
                               s.v3PasswordPriv or None)
            name, model, mp_model = s.v3User, 3, 3
            level = ("authPriv" if priv != config.USM_PRIV_NONE
                     else "authNoPriv" if auth != config.USM_AUTH_NONE else "noAuthNoPriv")
        config.add_target_parameters(eng, "etg-params", name, level, mp_model)
        config.add_target_address(eng, "etg-target", domain, tuple(address[:2]), "etg-params",
                                  timeout=INFORM_TIMEOUT_CS, retryCount=INFORM_RETRIES,
                                  tagList="etg-tag")
        config.add_notification_target(eng, "etg-notify", "etg-filter", "etg-tag",
                                       s.notificationType)
        config.add_context(eng, b"")
        config.add_vacm_group(eng, "etg-trap", model, name)
        config.add_vacm_access(eng, "etg-trap", b"", model, level, "exact", "etg-none",
                               "etg-none", "etg-notify")
        config.add_vacm_view(eng, "etg-notify", "included", (1, 3, 6, 1), b"")
        config.add_vacm_view(eng, "etg-none", "excluded", (1, 3, 6, 1), b"")
        self._ready = True

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run(), name="snmp-traps")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        with contextlib.suppress(Exception):
            if self.engine.transport_dispatcher is not None:
                self.engine.transport_dispatcher.close_dispatcher()

    async def _run(self) -> None:
        with self.core.events.subscribe(kinds={"alarm", "ring"}) as sub:
            await self.send(COLD_START, [])
            while True:
                batch = await sub.get()
                for ev in batch.events:
                    try:
                        await self._event(ev)
                    except asyncio.CancelledError:
                        raise
                    except Exception:
                        log.exception("SNMP trap for %s failed", ev.kind)

    async def _event(self, ev: Any) -> None:
        if ev.kind == "ring":
            o = self.mib.oid
            state = RingState(ev.subject)
            await self.send(o("etgRingStateChanged"), [
                (o("etgCtlRingState") + (0,), rfc1902.Integer32(_RING[state])),
                (o("etgCtlBreakCount") + (0,), rfc1902.Unsigned32(len(ev.data or [])))])
            return
        change = ev.data
        if not isinstance(change, AlarmChange) or change.change not in ("raised", "cleared"):
            return
        await self.send(self.mib.oid("etgAlarmRaised" if change.change == "raised"
                                     else "etgAlarmCleared"), self._alarm_varbinds(change))

    def _alarm_varbinds(self, change: AlarmChange) -> list[tuple[tuple[int, ...], Any]]:
        a = change.alarm
        o = self.mib.oid
        dev = self.core.live.get(a.device)
        dev_id = dev.info.settings.device_id if dev is not None else 0
        vbs: list[tuple[tuple[int, ...], Any]] = [
            (o("etgNotifyAlarmId") + (0,), rfc1902.Unsigned32(a.id)),
            (o("etgNotifySeverity") + (0,), rfc1902.Integer32(_SEVERITY.get(a.severity, 1))),
            (o("etgNotifyDevId") + (0,), rfc1902.Unsigned32(dev_id)),
            (o("etgNotifyChannel") + (0,), text(a.channel)),
        ]
        if a.value is not None:
            vbs.append((o("etgNotifyValue") + (0,), centi(a.value)))
        if a.threshold is not None:
            vbs.append((o("etgNotifyThreshold") + (0,), centi(a.threshold)))
        vbs.append((o("etgNotifyText") + (0,), text(a.text)))
        return vbs

    def _acknowledged(self, snmp_engine: Any, handle: Any, error: Any, status: Any,
                      index: Any, varbinds: Any, ctx: Any) -> None:
        """An inform's outcome (after the retries); traps never come here with news."""
        if self.settings.notificationType != "inform":
            return
        if error:
            self.failed += 1
            log.warning("SNMP inform to %s:%s not acknowledged: %s",
                        self.settings.serverTrapAddress, self.settings.serverTrapPort, error)
        else:
            self.acknowledged += 1

    async def send(self, trap_oid: tuple[int, ...], varbinds: list[Any]) -> None:
        """One trap: sysUpTime.0, snmpTrapOID.0, then ``varbinds``."""
        s = self.settings
        uptime = rfc1902.TimeTicks(int((time.monotonic() - self.started) * 100) % 2**32)
        vbs = [(rfc1902.ObjectName(SYS_UPTIME), uptime),
               (rfc1902.ObjectName(SNMP_TRAP_OID), rfc1902.ObjectName(trap_oid))]
        vbs += [(rfc1902.ObjectName(oid), value) for oid, value in varbinds]
        try:
            if not self._ready:
                await self._configure()
            self._originator.send_varbinds(self.engine, "etg-notify", None, b"", vbs,
                                           self._acknowledged)
            self.sent += 1
        except Exception as exc:
            self.failed += 1
            log.warning("SNMP trap to %s:%s not sent: %s", s.serverTrapAddress,
                        s.serverTrapPort, exc)
