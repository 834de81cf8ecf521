"""The running agent: a pysnmp engine on the controller's loop, bound to one UDP socket.

Built from one ``config/snmp_agent`` snapshot (the service builds a new one when the
settings change). pysnmp does the message processing, USM (v3 authentication and
privacy) and VACM; the MIB instrumentation is ours (``tree.LiveInstrum``): pysnmp's
command responders ask it for each varbind, it checks the VACM view through pysnmp's
access hook and reads the value from live state. SNMPv2c reads with one of our
communities (the bulk of monitoring traffic, with one view for every v2c principal)
skip pysnmp: ``fastpath`` answers them from the same tree. SETs are validated synchronously and
then run as a task through the core (``writes``), so the loop is never blocked by a
bus command; the response is sent when the core call has finished.

Views are explicit: ``etg-read`` (the whole tree we serve) for every principal and
``etg-write`` (ENERTEG-PDU-MIB, sysContact, sysName and sysLocation) only when SET is
allowed, given only to the write community and the v3 user; the others get ``etg-none`` (nothing included), so an empty
write view can never mean "everything".
"""

from __future__ import annotations

import asyncio
import logging
import socket
import time
from collections import deque
from collections.abc import Callable
from typing import Any

from pysnmp.carrier.asyncio.dgram import udp, udp6
from pysnmp.entity import config, engine
from pysnmp.entity.rfc3413 import cmdrsp, context
from pysnmp.proto import rfc1902, rfc1905
from pysnmp.proto.api import v2c
from pysnmp.smi import error as smi_error

from ...core.errors import EnertegError
from ...core.services import CoreServices
from ...core.settings import SnmpAgentSettings
from .errors import error_status
from .mib import Mib
from .fastpath import FastReads
from .tree import COUNTER64, OID, Tree, build_tree, to_pysnmp
from .security import AUTH, PRIV
from .traps import TrapSender, targets
from .writes import READ_NAME, SYS_WRITABLE, WRITE_NAME, Writes

__all__ = ["Agent", "AUTH", "PRIV", "READ_NAME", "WRITE_NAME"]

log = logging.getLogger(__name__)

EVERYTHING: OID = (1, 3, 6, 1)
DROP_LOG_EVERY_S = 60.0
"""At most one log line a minute about undecodable datagrams."""
SWEEP_SHARE = 0.05
"""While the poller sweeps, the agent takes at most this share of the loop: after a
request that took t seconds, the next waits 19·t; between sweeps it runs unpaced.
bench/snmp.py (100 full PDUs at 1 s, back-to-back bulk walks, 2 shared cores): unpaced
13.3k OIDs/s but sweep p99 278 → 752 ms; share 0.25: 9.3k, p99 294 → 369 ms; 0.1: 8.3-10.1k,
p99 +0 to +27 % over three runs; 0.05: 10.6-10.8k OIDs/s, p99 311 → 296 and 283 → 309 ms."""
MAX_WAITING = 256
"""Datagrams held back during a sweep; beyond, they are dropped (managers retry)."""
MAX_BULK = 64
"""Varbinds per GETBULK response (pysnmp's cap; managers ask again)."""


class LiveInstrum:
    """pysnmp's MIB-instrumentation contract (read, read-next, write) over our ``Tree``."""

    def __init__(self, tree: Tree, writes: Writes, rows: Any) -> None:
        self.tree = tree
        self.writes = writes
        self.rows = rows
        self._seen: dict[tuple[int, ...], bool | None] = {}
        self._seen_epoch = -1

    @staticmethod
    def _visible(name: Any, value: Any, ctx: dict[str, Any], idx: int) -> bool | None:
        """True when the view includes the varbind; None to skip it (v1 and Counter64);
        raises pysnmp's AuthorizationError for a principal without a view."""
        try:
            return not ctx["acFun"]("read", (name, value), idx=idx, **ctx)
        except smi_error.NoAccessError:
            return None

    def read_variables(self, *varBinds: Any, **ctx: Any) -> list[Any]:
        out = []
        for idx, (name, _) in enumerate(varBinds):
            oid = tuple(name)
            exists, raw = self.tree.get(oid)
            value = None if raw is None else to_pysnmp(raw)
            if value is None:
                value = rfc1905.noSuchInstance if exists else rfc1905.noSuchObject
                if not self._visible(name, None, ctx, idx):
                    value = rfc1905.noSuchObject
            elif not self._visible(name, value, ctx, idx):
                value = rfc1905.noSuchObject
            out.append((name, value))
        return out

    def read_next_variables(self, *varBinds: Any, **ctx: Any) -> list[Any]:
        # Views are whole subtrees and each node lies wholly inside or outside each of
        # ours, so within one request (one principal) a node's verdict holds for all its
        # instances: VACM is asked once per node, not once per varbind (a bulk walk's
        # largest cost after pyasn1). Counter64 (hidden from v1) is asked every time.
        if self._seen_epoch != self.rows.epoch:
            self._seen_epoch = self.rows.epoch
            self._seen.clear()
        seen = self._seen
        out = []
        for idx, (name, _) in enumerate(varBinds):
            oid = tuple(name)
            while True:
                found = self.tree.next(oid)
                if found is None:
                    out.append((name, rfc1905.endOfMibView))
                    break
                oid, raw, node = found
                oname = rfc1902.ObjectName(oid)
                value = to_pysnmp(raw)
                if raw[0] == COUNTER64:
                    visible = self._visible(oname, value, ctx, idx)
                else:
                    visible = seen.get(node.prefix, False)
                    if visible is False and node.prefix not in seen:
                        visible = seen[node.prefix] = self._visible(oname, value, ctx, idx)
                if visible:
                    out.append((oname, value))
                    break
        return out

    def write_variables(self, *varBinds: Any, **ctx: Any) -> list[Any]:
        raise smi_error.GenError(idx=0)   # SETs go through SetResponder below


class SetResponder(cmdrsp.SetCommandResponder):
    """SET: access and values checked at once, the core call run as a task, the
    response sent when it is done (pysnmp would answer synchronously)."""

    def __init__(self, snmp_engine: Any, snmp_context: Any, agent: Agent) -> None:
        super().__init__(snmp_engine, snmp_context)
        self.agent = agent
        self._deferred: set[Any] = set()

    def handle_management_operation(self, snmpEngine: Any, stateReference: Any,
                                    contextName: Any, PDU: Any) -> None:
        varbinds = v2c.apiPDU.get_varbinds(PDU)
        ctx = snmpEngine.observer.get_execution_context("rfc3412.receiveMessage:request")
        acctx = dict(snmpEngine=snmpEngine, acFun=self.verify_access, cbCtx=None)
        for idx, (name, value) in enumerate(varbinds):
            if self.verify_access("write", (name, value), idx=idx, **acctx):
                raise smi_error.NoAccessError(name=name, idx=idx)   # not in the write view
        plan = self.agent.writes.plan(varbinds, ctx["securityName"], ctx["securityModel"],
                                      ctx["transportAddress"])
        self._deferred.add(stateReference)
        task = asyncio.get_running_loop().create_task(
            self._finish(snmpEngine, stateReference, varbinds, plan))
        self.agent.tasks.add(task)
        task.add_done_callback(self.agent.tasks.discard)

    async def _finish(self, snmp_engine: Any, ref: Any, varbinds: list[Any],
                      plan: list[tuple[int, Callable[[], Any]]]) -> None:
        status, index = "noError", 0
        for idx, run in plan:
            try:
                await run()
            except EnertegError as exc:
                status, index = error_status(exc), idx + 1
                log.info("SNMP SET refused: %s", exc)
                break
            except Exception:
                log.exception("SNMP SET failed")
                status, index = "genErr", idx + 1
                break
        self._deferred.discard(ref)
        try:
            self.send_varbinds(snmp_engine, ref, status, index, varbinds)
        except Exception:
            log.exception("SNMP SET response could not be sent")
        super().release_state_information(ref)

    def release_state_information(self, stateReference: Any) -> None:
        if stateReference not in self._deferred:
            super().release_state_information(stateReference)


class BulkResponder(cmdrsp.BulkCommandResponder):
    max_varbinds = MAX_BULK


class Agent:
    """One configured, listening agent; ``close`` releases the socket and the engine."""

    def __init__(self, core: CoreServices, settings: SnmpAgentSettings, mib: Mib,
                 sock: socket.socket, engine_id: bytes, boots: int,
                 unlock_seconds: float = 10.0) -> None:
        self.core = core
        self.settings = settings
        self.tasks: set[asyncio.Task[Any]] = set()
        self.started = time.monotonic()
        self.engine = engine.SnmpEngine()
        builder = self.engine.get_mib_builder()
        (eid,) = builder.import_symbols("__SNMP-FRAMEWORK-MIB", "snmpEngineID")
        eid.syntax = eid.syntax.clone(engine_id)
        self.engine.snmpEngineID = eid.syntax
        (boots_obj,) = builder.import_symbols("__SNMP-FRAMEWORK-MIB", "snmpEngineBoots")
        boots_obj.syntax = boots_obj.syntax.clone(boots)
        self.engine_id, self.boots = engine_id, boots
        self.writes = Writes(core, mib, settings, unlock_seconds=unlock_seconds)
        self.tree, self.rows = build_tree(
            mib, core.live, system=lambda: core.config.get("snmp_agent"),
            alarms_open=lambda: len(core.alarms.active()),
            unlocked=self.writes.unlocked, started=self.started,
            host_name=lambda: core.config.get("hostname").hostname,
            open_alarms=core.alarms.open_alarms,
            engine=lambda: (self.engine_id, self.boots,
                            int(time.monotonic() - self.started)))
        family = sock.family
        transport = (udp6.Udp6AsyncioTransport() if family == socket.AF_INET6
                     else udp.UdpAsyncioTransport())
        domain = udp6.DOMAIN_NAME if family == socket.AF_INET6 else udp.DOMAIN_NAME
        config.add_transport(self.engine, domain, transport.open_server_mode(sock=sock))
        self.sock = sock
        self.dropped = 0
        """Datagrams pysnmp could not decode (random bytes, truncated BER...)."""
        self._dropped_logged_at = -DROP_LOG_EVERY_S
        self._waiting: deque[tuple[Any, ...]] = deque()
        """Datagrams held back while a sweep runs (see ``SWEEP_SHARE``)."""
        self._timer: asyncio.TimerHandle | None = None
        self._not_before = 0.0
        self.deferred_dropped = 0
        self._unlisten = core.poller.add_sweep_listener(self._on_sweep)
        # the row indexes are checked again after a sweep (PDUs found, lost, moved) or
        # a device event (settings such as the Device ID, forgotten), not per request
        self._shape_news = core.events.subscribe(kinds={"device", "structure"}, live=False)
        self._swept = True
        self.rows.maybe_changed = self._maybe_changed
        self._configure(settings, mib)
        v2 = settings.snmpVersion in ("snmpV2C", "snmpV2CV3")
        communities = frozenset(c.encode() for c in (settings.v2cCommunity,
                                                      settings.v2cWriteCommunity) if c)
        self.fast: FastReads | None = (FastReads(self.tree, lambda: communities, MAX_BULK)
                                       if v2 and communities else None)
        """v2c reads of our communities, answered without pysnmp (``fastpath``)."""
        transport._callback_function = self._guard(transport._callback_function)
        ctx = context.SnmpContext(self.engine)
        ctx.unregister_context_name(b"")   # pysnmp's own instrumentation
        ctx.register_context_name(b"", LiveInstrum(self.tree, self.writes, self.rows))  # type: ignore[arg-type]
        self.responders = [cmdrsp.GetCommandResponder(self.engine, ctx),
                           cmdrsp.NextCommandResponder(self.engine, ctx),
                           BulkResponder(self.engine, ctx),
                           SetResponder(self.engine, ctx, self)]
        self.engine.transport_dispatcher.job_started(1)
        self.traps: TrapSender | None = None
        if targets(settings):
            self.traps = TrapSender(core, mib, settings, engine_id, self.started)
            self.traps.start()

    def _guard(self, receive: Callable[..., Any]) -> Callable[..., Any]:
        """pysnmp raises out of its receive callback on a malformed datagram (asyncio
        would log a traceback per packet): count it, log a summary at most once a
        minute, and go on answering."""
        rows = self.rows

        def handle(*args: Any) -> None:
            rows.epoch += 1
            started = time.perf_counter()
            try:
                fast = self.fast
                answer = fast.answer(args[2]) if fast is not None else None
                if answer is not None:
                    args[0].transport.sendto(answer, args[1])
                else:
                    receive(*args)
            except Exception as exc:
                self.dropped += 1
                now = time.monotonic()
                if now - self._dropped_logged_at >= DROP_LOG_EVERY_S:
                    self._dropped_logged_at = now
                    log.warning("SNMP agent: dropped an undecodable datagram (%s; %d so far)",
                                type(exc).__name__, self.dropped)
            if self.core.poller.sweeping:
                cost = time.perf_counter() - started
                self._not_before = time.monotonic() + cost * (1 - SWEEP_SHARE) / SWEEP_SHARE

        def guarded(*args: Any) -> None:
            if not self.core.poller.sweeping and not self._waiting:
                handle(*args)
                return
            if len(self._waiting) >= MAX_WAITING:
                self.deferred_dropped += 1       # the manager retries
                return
            self._waiting.append(args)
            self._schedule(handle)

        self._handle = handle
        return guarded

    def _schedule(self, handle: Callable[..., None]) -> None:
        """Run the next waiting datagram when the pace allows (at once when no sweep)."""
        if self._timer is not None or not self._waiting:
            return
        loop = asyncio.get_running_loop()
        delay = (max(0.0, self._not_before - time.monotonic())
                 if self.core.poller.sweeping else 0.0)

        def run() -> None:
            self._timer = None
            if self._waiting:
                handle(*self._waiting.popleft())
            self._schedule(handle)

        self._timer = loop.call_later(delay, run)

    def _maybe_changed(self) -> bool:
        news = bool(self._shape_news.take()) or self._swept
        self._swept = False
        return news

    def _on_sweep(self) -> None:
        self._swept = True
        asyncio.get_running_loop().call_soon(self._after_sweep)

    def _after_sweep(self) -> None:
        """The sweep is over: answer what waited, without pacing."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self._schedule(self._handle)

    def _configure(self, s: SnmpAgentSettings, mib: Mib) -> None:
        eng = self.engine
        v2 = s.snmpVersion in ("snmpV2C", "snmpV2CV3")
        v3 = s.snmpVersion in ("snmpV3", "snmpV2CV3")
        set_allowed = bool(s.enabledWrite and s.genericMibEnabledSet)
        config.add_context(eng, b"")
        config.add_vacm_view(eng, "etg-read", "included", EVERYTHING, b"")
        config.add_vacm_view(eng, "etg-none", "excluded", EVERYTHING, b"")
        if set_allowed:
            config.add_vacm_view(eng, "etg-write", "included", mib.oid("etgPduMIB"), b"")
            for sys_oid in SYS_WRITABLE:                 # sysContact, sysName, sysLocation
                config.add_vacm_view(eng, "etg-write", "included", sys_oid, b"")
        write_view = "etg-write" if set_allowed else "etg-none"

        def grant(group: str, model: int, name: str, level: str, writer: bool) -> None:
            config.add_vacm_group(eng, group, model, name)
            config.add_vacm_access(eng, group, b"", model, level, "exact", "etg-read",
                                   write_view if writer else "etg-none", "etg-none")

        if v2:
            config.add_v1_system(eng, READ_NAME, s.v2cCommunity)
            for model in (1, 2):                         # v1 and v2c
                grant(f"etg-read-{model}", model, READ_NAME, "noAuthNoPriv", False)
            if s.v2cWriteCommunity:
                config.add_v1_system(eng, WRITE_NAME, s.v2cWriteCommunity)
                for model in (1, 2):
                    grant(f"etg-write-{model}", model, WRITE_NAME, "noAuthNoPriv", True)
        if v3 and s.v3User:
            auth = AUTH[s.v3ProtocolAuth] if s.v3PasswordAuth else config.USM_AUTH_NONE
            priv = (PRIV[s.v3ProtocolPriv] if s.v3PasswordAuth and s.v3PasswordPriv
                    else config.USM_PRIV_NONE)
            config.add_v3_user(eng, s.v3User, auth, s.v3PasswordAuth or None, priv,
                               s.v3PasswordPriv or None)
            level = ("authPriv" if priv != config.USM_PRIV_NONE
                     else "authNoPriv" if auth != config.USM_AUTH_NONE else "noAuthNoPriv")
            grant("etg-v3", 3, s.v3User, level, True)
        self.writes.writers = ({WRITE_NAME} if v2 and s.v2cWriteCommunity else set()) | (
            {s.v3User} if v3 and s.v3User else set()) if set_allowed else set()

    async def close(self) -> None:
        """Stop answering: close the socket, finish nothing more."""
        self._unlisten()
        self._shape_news.close()
        if self.traps is not None:
            await self.traps.stop()
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self._waiting.clear()
        for task in list(self.tasks):
            task.cancel()
        for responder in self.responders:
            try:
                responder.close(self.engine)
            except Exception:
                pass
        dispatcher = self.engine.transport_dispatcher
        if dispatcher is not None:
            dispatcher.job_finished(1)
            dispatcher.close_dispatcher()
        # asyncio closes the socket on its next turn; close it now so that a new agent
        # (settings changed) can bind the same port at once
        self.sock.close()
