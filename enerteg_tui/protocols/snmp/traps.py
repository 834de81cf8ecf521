"""Notifications: SNMP traps and informs on the core's events, to every configured receiver.

While ``config/snmp_agent`` has ``enabledTrap`` on, the receivers are ``serverTrapAddress``
: ``serverTrapPort`` (the manual's one receiver: v2c with ``v2cCommunity`` when the agent
answers v2c, otherwise v3 from the agent's v3 user; trap or inform by
``notificationType``) and each entry of ``trapTargets`` (its own address, version, trap
or inform, community or v3 user and keys). What is sent (ENERTEG-PDU-MIB):

* ``coldStart`` when the sender starts, and ``etgControllerStarted`` after the
  controller's first poll of the ring when the sender was running at the controller's
  start;
* ``etgAlarmRaised`` / ``etgAlarmCleared`` (core ``alarm`` events);
* ``etgRingStateChanged`` (core ``ring`` events);
* ``etgOutletSwitched`` when a PDU reports an outlet in a new state (any face, a
  power-up sequence, the PDU's own buttons), found by comparing outlet states at the end
  of each sweep (one paced batch a sweep);
* ``etgDeviceAdded`` (a PDU found after the first sweep), ``etgDeviceRemoved`` (a PDU
  forgotten), ``etgDeviceChanged`` (its state changed, or its settings).

Traps go out from a separate pysnmp engine with the agent's engine id, so the sender
never touches the agent's USM and VACM tables. A dead or slow receiver never holds the
core: a trap is one datagram handed to the kernel; an inform waits on pysnmp's timers
(2 s, 3 retries), never on the loop; a receiver's name is resolved in its own task with
a time limit, so one that does not resolve delays nobody else (its notifications are
counted as failed until it resolves, tried again at most once a minute); the event
subscription is bounded and coalescing.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import time
from dataclasses import dataclass, field
from typing import Any

from pysnmp.carrier.asyncio.dgram import udp, udp6
from pysnmp.entity import config, engine
from pysnmp.entity.rfc3413 import ntforg
from pysnmp.proto import rfc1902

from ...core.alarms import AlarmChange
from ...core.model import DeviceState, OutletState, RingState
from ...core.quantities import Component
from ...core.services import CoreServices
from ...core.settings import SnmpAgentSettings
from ...core.waiting import cancel_and_wait
from .mib import Mib
from .security import AUTH, PRIV
from .tree import centi, text, to_pysnmp

__all__ = ["TrapSender", "Target", "targets", "COLD_START"]

log = logging.getLogger(__name__)

SYS_UPTIME = (1, 3, 6, 1, 2, 1, 1, 3, 0)
SNMP_TRAP_OID = (1, 3, 6, 1, 6, 3, 1, 1, 4, 1, 0)
COLD_START = (1, 3, 6, 1, 6, 3, 1, 1, 5, 1)
"""SNMPv2-MIB::coldStart: sent when the sender starts."""
INFORM_TIMEOUT_CS = 200
"""An inform waits 2 s (in hundredths, as SNMP-TARGET-MIB counts) for its answer…"""
INFORM_RETRIES = 3
"""…and is sent again up to 3 times."""
RESOLVE_TIMEOUT_S = 5.0
"""How long one receiver's name may take to resolve."""
RESOLVE_RETRY_S = 60.0
"""A receiver whose name did not resolve is tried again after this long."""
_RING = {RingState.CLOSED: 1, RingState.OPEN: 2, RingState.BROKEN: 3}
_SEVERITY = {"Warning": 1, "Critical": 2}
_DEV_STATE = {DeviceState.RUNNING: 1, DeviceState.STALE: 2, DeviceState.UNREACHABLE: 3}
_STATE_EVENTS = {"running": DeviceState.RUNNING, "stale": DeviceState.STALE,
                 "unreachable": DeviceState.UNREACHABLE}

Varbinds = list[tuple[tuple[int, ...], Any]]


@dataclass(frozen=True, slots=True)
class Target:
    """One receiver as the sender uses it: where, how, and with which credentials."""

    name: str
    """``trap`` for serverTrapAddress, else the ``trapTargets`` key."""
    address: str
    port: int
    version: str
    """``v2c`` or ``v3``."""
    kind: str
    """``trap`` or ``inform``."""
    community: str = ""
    user: str = ""
    auth_key: str = ""
    priv_key: str = ""
    auth: str = "SHA256"
    priv: str = "AES"

    @property
    def where(self) -> str:
        return f"{self.address}:{self.port}"


def targets(s: SnmpAgentSettings) -> list[Target]:
    """The receivers of ``s`` (none while ``enabledTrap`` is off)."""
    if not s.enabledTrap:
        return []
    agent_v3 = dict(user=s.v3User, auth_key=s.v3PasswordAuth, priv_key=s.v3PasswordPriv,
                    auth=s.v3ProtocolAuth, priv=s.v3ProtocolPriv)
    out: list[Target] = []
    if s.serverTrapAddress:
        v2 = s.snmpVersion in ("snmpV2C", "snmpV2CV3")
        out.append(Target("trap", s.serverTrapAddress, s.serverTrapPort,
                          "v2c" if v2 else "v3", s.notificationType,
                          community=s.v2cCommunity, **(agent_v3 if not v2 else {})))
    for name, t in sorted(s.trapTargets.items()):
        if t.version == "v2c":
            out.append(Target(name, t.address, t.port, "v2c", t.notificationType,
                              community=t.v2cCommunity or s.v2cCommunity))
        elif t.v3User:
            out.append(Target(name, t.address, t.port, "v3", t.notificationType,
                              user=t.v3User, auth_key=t.v3PasswordAuth,
                              priv_key=t.v3PasswordPriv, auth=t.v3ProtocolAuth,
                              priv=t.v3ProtocolPriv))
        else:
            out.append(Target(name, t.address, t.port, "v3", t.notificationType, **agent_v3))
    return out


@dataclass(slots=True)
class TargetState:
    """Counters and set-up state of one receiver."""

    target: Target
    index: int
    ready: bool = False
    resolving: asyncio.Task[None] | None = None
    resolve_failed_at: float = -RESOLVE_RETRY_S
    sent: int = 0
    failed: int = 0
    acknowledged: int = 0
    """Informs the receiver acknowledged."""
    last_error: str = ""
    pending: list[Varbinds] = field(default_factory=list)
    """Notifications waiting for the name to resolve (at most ``MAX_PENDING``)."""


MAX_PENDING = 32


class TrapSender:
    """Follows the core's events and sends the matching notifications to every receiver."""

    def __init__(self, core: CoreServices, mib: Mib, settings: SnmpAgentSettings,
                 engine_id: bytes, started: float) -> None:
        self.core = core
        self.mib = mib
        self.settings = settings
        self.started = started
        self.engine = engine.SnmpEngine()
        builder = self.engine.get_mib_builder()
        (eid,) = builder.import_symbols("__SNMP-FRAMEWORK-MIB", "snmpEngineID")
        eid.syntax = eid.syntax.clone(engine_id)
        self.engine.snmpEngineID = eid.syntax
        self._task: asyncio.Task[None] | None = None
        self._originator = ntforg.NotificationOriginator()
        self._transports: dict[int, Any] = {}
        self._users: set[str] = set()
        self.targets = {t.name: TargetState(t, i) for i, t in enumerate(targets(settings))}
        self._outlets: dict[str, dict[int, OutletState]] = {}
        self._states: dict[str, DeviceState] = {}
        config.add_context(self.engine, b"")
        config.add_vacm_view(self.engine, "etg-notify", "included", (1, 3, 6, 1), b"")
        config.add_vacm_view(self.engine, "etg-none", "excluded", (1, 3, 6, 1), b"")

    # ------------------------------------------------------------------ totals
    @property
    def sent(self) -> int:
        return sum(t.sent for t in self.targets.values())

    @property
    def failed(self) -> int:
        return sum(t.failed for t in self.targets.values())

    @property
    def acknowledged(self) -> int:
        return sum(t.acknowledged for t in self.targets.values())

    # ------------------------------------------------------------------ set-up
    def _resolve(self, st: TargetState) -> None:
        """Start resolving a receiver's address in its own task (once at a time)."""
        now = time.monotonic()
        if st.resolving is not None or now - st.resolve_failed_at < RESOLVE_RETRY_S:
            return
        st.resolving = asyncio.get_running_loop().create_task(
            self._configure(st), name=f"snmp-target-{st.target.name}")

    async def _configure(self, st: TargetState) -> None:
        t = st.target
        try:
            infos = await asyncio.wait_for(asyncio.get_running_loop().getaddrinfo(
                t.address, t.port, type=socket.SOCK_DGRAM), RESOLVE_TIMEOUT_S)
            family, _, _, _, address = infos[0]
            self._add_target(st, family == socket.AF_INET6, tuple(address[:2]))
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            why = "no answer from the resolver" if isinstance(exc, TimeoutError) else str(exc)
            st.resolve_failed_at = time.monotonic()
            st.failed += len(st.pending)
            st.pending.clear()
            st.last_error = f"cannot resolve {t.address}: {why}"
            log.warning("SNMP notification target %s (%s): %s", t.name, t.where, st.last_error)
            return
        finally:
            st.resolving = None
        for vbs in st.pending:
            self._send_one(st, vbs)
        st.pending.clear()

    def _add_target(self, st: TargetState, v6: bool, address: tuple[Any, ...]) -> None:
        t, i = st.target, st.index
        eng = self.engine
        domain = udp6.DOMAIN_NAME if v6 else udp.DOMAIN_NAME
        if v6 not in self._transports:
            transport = udp6.Udp6AsyncioTransport() if v6 else udp.UdpAsyncioTransport()
            self._transports[v6] = transport
            config.add_transport(eng, domain, transport.open_client_mode())
        tag = f"etg-tag-{i}"
        if t.version == "v2c":
            name, model, level, mp_model = f"etg-trap-{i}", 2, "noAuthNoPriv", 1
            # tagged like the target, so the receiver's answer to an inform is accepted
            config.add_v1_system(eng, name, t.community, transportTag=tag)
        else:
            auth = AUTH[t.auth] if t.auth_key else config.USM_AUTH_NONE
            priv = PRIV[t.priv] if t.auth_key and t.priv_key else config.USM_PRIV_NONE
            if t.user not in self._users:        # one USM entry per user (same keys checked)
                config.add_v3_user(eng, t.user, auth, t.auth_key or None, priv,
                                   t.priv_key or None)
                self._users.add(t.user)
            name, model, mp_model = t.user, 3, 3
            level = ("authPriv" if priv != config.USM_PRIV_NONE
                     else "authNoPriv" if auth != config.USM_AUTH_NONE else "noAuthNoPriv")
        config.add_target_parameters(eng, f"etg-params-{i}", name, level, mp_model)
        config.add_target_address(eng, f"etg-target-{i}", domain, address, f"etg-params-{i}",
                                  timeout=INFORM_TIMEOUT_CS, retryCount=INFORM_RETRIES,
                                  tagList=tag)
        config.add_notification_target(eng, f"etg-notify-{i}", f"etg-filter-{i}", tag, t.kind)
        config.add_vacm_group(eng, f"etg-trap-{i}", model, name)
        config.add_vacm_access(eng, f"etg-trap-{i}", b"", model, level, "exact", "etg-none",
                               "etg-none", "etg-notify")
        st.ready = True

    # ------------------------------------------------------------------ running
    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run(), name="snmp-traps")

    async def stop(self) -> None:
        await cancel_and_wait(self._task, *(st.resolving for st in self.targets.values()))
        self._task = None
        with contextlib.suppress(Exception):
            if self.engine.transport_dispatcher is not None:
                self.engine.transport_dispatcher.close_dispatcher()

    async def _run(self) -> None:
        poller = self.core.poller
        at_controller_start = not poller.first_sweep_done.is_set()
        for hex_id, dev in self.core.live.devices.items():
            self._outlets[hex_id] = dict(dev.outlet_states)
            self._states[hex_id] = dev.state
        with self.core.events.subscribe(kinds={"alarm", "ring", "device"}, paced=True) as sub:
            self.send(COLD_START, [])
            if at_controller_start:
                await poller.first_sweep_done.wait()
                self._controller_started()
            while True:
                batch = await sub.get()
                for ev in batch.events:
                    self._guarded(self._event, ev)
                for hex_id, groups in batch.live.items():
                    if (Component.OUTLET, 0) in groups:
                        self._guarded(self._outlets_changed, hex_id)

    def _guarded(self, handler: Any, arg: Any) -> None:
        try:
            handler(arg)
        except Exception:
            log.exception("SNMP notification for %r failed", arg)

    # ------------------------------------------------------------------ events
    def _controller_started(self) -> None:
        o = self.mib.oid
        live = self.core.live
        for hex_id, dev in live.devices.items():   # known from the first sweep: not "added"
            self._outlets[hex_id] = dict(dev.outlet_states)
            self._states[hex_id] = dev.state
        self.send(o("etgControllerStarted"), [
            (o("etgCtlRingState") + (0,), rfc1902.Integer32(_RING[live.bus.ring_state])),
            (o("etgCtlDeviceCount") + (0,), rfc1902.Unsigned32(len(live.devices))),
            (o("etgNotifyText") + (0,), text(
                f"Controller started: {len(live.devices)} PDUs on the ring, ring "
                f"{live.bus.ring_state.value.lower()}"))])

    def _event(self, ev: Any) -> None:
        o = self.mib.oid
        if ev.kind == "ring":
            state = RingState(ev.subject)
            self.send(o("etgRingStateChanged"), [
                (o("etgCtlRingState") + (0,), rfc1902.Integer32(_RING[state])),
                (o("etgCtlBreakCount") + (0,), rfc1902.Unsigned32(len(ev.data or [])))])
        elif ev.kind == "device":
            self._device_event(ev.subject, str(ev.data))
        elif isinstance(ev.data, AlarmChange) and ev.data.change in ("raised", "cleared"):
            self.send(o("etgAlarmRaised" if ev.data.change == "raised" else "etgAlarmCleared"),
                      self._alarm_varbinds(ev.data))

    def _device_vbs(self, hex_id: str, dev: Any, name: str) -> Varbinds:
        o = self.mib.oid
        dev_id = dev.info.settings.device_id if dev is not None else 0
        return [(o("etgNotifyDevId") + (0,), rfc1902.Unsigned32(dev_id)),
                (o("etgNotifyHexId") + (0,), text(hex_id)),
                (o("etgNotifyDevName") + (0,), text(name))]

    def _device_event(self, hex_id: str, what: str) -> None:
        o = self.mib.oid
        dev = self.core.live.get(hex_id)
        name = dev.info.display_name if dev is not None else hex_id
        if what == "found":
            if not self.core.poller.first_sweep_done.is_set() or dev is None:
                return                                    # the start's own discovery
            self._outlets[hex_id] = dict(dev.outlet_states)
            self._states[hex_id] = dev.state
            self.send(o("etgDeviceAdded"), self._device_vbs(hex_id, dev, name) + [
                (o("etgNotifyText") + (0,), text(
                    f'PDU "{name}" ({hex_id}) found at ring position {dev.info.position}'))])
        elif what == "forgotten":
            self._outlets.pop(hex_id, None)
            self._states.pop(hex_id, None)
            self.send(o("etgDeviceRemoved"), self._device_vbs(hex_id, None, hex_id) + [
                (o("etgNotifyText") + (0,), text(f"PDU {hex_id} removed from the device list"))])
        elif dev is not None and (what == "settings" or what in _STATE_EVENTS):
            if what in _STATE_EVENTS:
                if self._states.get(hex_id) is _STATE_EVENTS[what]:
                    return                                # e.g. "running" after one miss
                self._states[hex_id] = _STATE_EVENTS[what]
                words = f"is {what}"
            else:
                words = "settings changed"
            self.send(o("etgDeviceChanged"), self._device_vbs(hex_id, dev, name) + [
                (o("etgNotifyDevState") + (0,), rfc1902.Integer32(_DEV_STATE[dev.state])),
                (o("etgNotifyText") + (0,), text(f'PDU "{name}" ({hex_id}) {words}'))])

    def _outlets_changed(self, hex_id: str) -> None:
        dev = self.core.live.get(hex_id)
        if dev is None:
            return
        before = self._outlets.get(hex_id)
        now = dict(dev.outlet_states)
        self._outlets[hex_id] = now
        if before is None:
            return                      # first look at this PDU: nothing to compare with
        o = self.mib.oid
        names = dev.info.settings.outlets
        for outlet, state in sorted(now.items()):
            if before.get(outlet, state) is state:
                continue
            oname = names[outlet - 1].name if outlet <= len(names) else f"Outlet # {outlet}"
            self.send(o("etgOutletSwitched"), self._device_vbs(hex_id, dev, "")[:2] + [
                (o("etgNotifyOutlet") + (0,), rfc1902.Unsigned32(outlet)),
                (o("etgNotifyOutletState") + (0,),
                 rfc1902.Integer32(1 if state is OutletState.ON else 2)),
                (o("etgNotifyText") + (0,), text(
                    f'Outlet "{oname}" ({outlet}) of PDU "{dev.info.display_name}" ({hex_id}) '
                    f'is {"on" if state is OutletState.ON else "off"}'))])

    def _alarm_varbinds(self, change: AlarmChange) -> Varbinds:
        a = change.alarm
        o = self.mib.oid
        dev = self.core.live.get(a.device)
        dev_id = dev.info.settings.device_id if dev is not None else 0
        vbs: Varbinds = [
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

    # ------------------------------------------------------------------ sending
    def send(self, trap_oid: tuple[int, ...], varbinds: Varbinds) -> None:
        """One notification to every receiver: sysUpTime.0, snmpTrapOID.0, ``varbinds``.
        Never waits: a receiver not set up yet gets it when its name resolves."""
        uptime = rfc1902.TimeTicks(int((time.monotonic() - self.started) * 100) % 2**32)
        vbs: Varbinds = [(SYS_UPTIME, uptime), (SNMP_TRAP_OID, rfc1902.ObjectName(trap_oid)),
                         *varbinds]
        for st in self.targets.values():
            if st.ready:
                self._send_one(st, vbs)
                continue
            if len(st.pending) < MAX_PENDING:
                st.pending.append(vbs)
            else:
                st.failed += 1
            self._resolve(st)

    def _send_one(self, st: TargetState, vbs: Varbinds) -> None:
        t = st.target

        def outcome(snmp_engine: Any, handle: Any, error: Any, status: Any, index: Any,
                    varbinds: Any, ctx: Any) -> None:
            """An inform's outcome (after the retries); traps bring no news here."""
            if t.kind != "inform":
                return
            if error:
                st.failed += 1
                st.last_error = f"not acknowledged: {error}"
                log.warning("SNMP inform to %s (%s) not acknowledged: %s", t.name, t.where, error)
            else:
                st.acknowledged += 1

        try:
            self._originator.send_varbinds(
                self.engine, f"etg-notify-{st.index}", None, b"",
                [(rfc1902.ObjectName(oid), to_pysnmp(value) if type(value) is tuple else value)
                 for oid, value in vbs], outcome)
            st.sent += 1
        except Exception as exc:
            st.failed += 1
            st.last_error = str(exc)
            log.warning("SNMP notification to %s (%s) not sent: %s", t.name, t.where, exc)
