"""Syslog client (manual §5.4): alarms and audit entries to a remote server, RFC 5424.

Owns the connection to the server named in ``config/syslog`` and a bounded queue of
formatted messages. Over UDP one datagram per message; over TCP octet-counted framing
(RFC 6587 §3.4.1: ``LEN SP MSG``), reconnecting with exponential back-off when the
server goes away. Invariants: the core never waits for the network (the event bus is
non-blocking and this client's queue drops its oldest message when full, counting it);
a message is at or above ``minSeverity``. Alarms carry structured data naming the
device, channel, value and rule; audit entries about alarms are not sent twice (the
alarm message says it). Started by the controller; reconfigures itself when
``config/syslog`` changes. Documented in docs/notify.md.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import time
from collections import deque
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from ..core.alarms import AUDIT_SEVERITY, AlarmChange
from ..core.audit import AuditEntry, Severity
from ..core.configuration import Configuration
from ..core.events import EventBus
from ..core.settings import SyslogSettings
from ..core.waiting import cancel_and_wait, wait_event

__all__ = ["SyslogClient", "format_rfc5424", "FACILITY_CODES", "SYSLOG_SEVERITY"]

log = logging.getLogger(__name__)

QUEUE_MAX = 1000
"""Messages waiting for the server before the oldest is dropped."""
DEFAULT_PORT = 514
"""Port used when ``serverPort`` is 0."""
BACKOFF_MIN_S, BACKOFF_MAX_S = 0.5, 30.0
"""TCP reconnect back-off: doubles from the first to the second."""
SD_ID = "enerteg@32473"
"""Structured-data id; 32473 is the private enterprise number reserved for examples
(RFC 5612); a vendor deployment replaces it with its own."""

FACILITY_CODES = {name.lower(): code for code, name in enumerate(
    ["Kern", "User", "Mail", "Daemon", "Auth", "Syslog", "Lpr", "News", "Uucp", "Cron",
     "Authpriv", "Ftp", "Ntp", "Audit", "Alert", "Clock", "Local0", "Local1", "Local2",
     "Local3", "Local4", "Local5", "Local6", "Local7"])}
"""RFC 5424 facility codes by (lowercase) name."""
SYSLOG_SEVERITY = {Severity.DEBUG: 7, Severity.LOG: 6, Severity.INFO: 6, Severity.WARNING: 4,
                   Severity.ERROR: 3, Severity.ALWAYS: 5}
"""RFC 5424 severity of each audit severity (Always = notice: always logged, not urgent)."""
ALARM_SYSLOG_SEVERITY = {"Warning": 4, "Critical": 2}
"""RFC 5424 severity of alarms: warning, and crit for critical alarms."""
NOTIFIED_CHANGES = ("raised", "escalated", "cleared")
"""Alarm changes that produce a message (peaks and de-escalations do not)."""


def _sd_escape(value: Any) -> str:
    return str(value).replace("\\", "\\\\").replace('"', '\\"').replace("]", "\\]")


def format_rfc5424(*, facility: int, severity: int, hostname: str, app_name: str,
                   msgid: str, text: str, sd: dict[str, Any] | None = None,
                   ts: float | None = None, procid: str | None = None) -> bytes:
    """One RFC 5424 message: ``<PRI>1 TIMESTAMP HOST APP PROCID MSGID [SD] MSG``."""
    stamp = datetime.fromtimestamp(ts if ts is not None else time.time(), UTC)
    when = stamp.strftime("%Y-%m-%dT%H:%M:%S.") + f"{stamp.microsecond // 1000:03d}Z"
    if sd:
        params = " ".join(f'{k}="{_sd_escape(v)}"' for k, v in sd.items() if v is not None)
        sd_text = f"[{SD_ID} {params}]"
    else:
        sd_text = "-"
    line = (f"<{facility * 8 + severity}>1 {when} {hostname or '-'} {app_name or '-'} "
            f"{procid or os.getpid()} {msgid} {sd_text} {text}")
    return line.encode("utf-8", "replace")


class SyslogClient:
    """Sends alarms and audit entries to the syslog server of ``config/syslog``.

    Args:
        config: settings (``syslog`` is read at start and on every change).
        events: subscribed for ``alarm``, ``audit`` and ``settings`` events.
        hostname: the controller's host name (``config/hostname``) when ``config/syslog``
            leaves it empty; the OS host name only if none is given.
    """

    name = "syslog"

    def __init__(self, config: Configuration, events: EventBus,
                 hostname: Callable[[], str] = socket.gethostname) -> None:
        self._config = config
        self._events = events
        self._hostname = hostname
        config.appliers.register("syslog", "syslog")
        config.appliers.register("hostname", "syslog")
        self._queue: deque[bytes] = deque()
        self._wake = asyncio.Event()
        self.dropped = 0
        """Messages dropped because the queue was full."""
        self.sent = 0
        self._settings: SyslogSettings = config.get("syslog")  # type: ignore[assignment]
        self._tasks: list[asyncio.Task[None]] = []
        self._writer: asyncio.StreamWriter | None = None
        self._reader: asyncio.StreamReader | None = None
        self._udp: asyncio.DatagramTransport | None = None
        self._generation = 0

    # ------------------------------------------------------------------ lifecycle
    async def start(self) -> None:
        """Start listening to events and sending."""
        if not self._tasks:
            self._sub = self._events.subscribe(kinds={"alarm", "audit", "settings"})
            self._tasks = [asyncio.create_task(self._listen(), name="syslog-listen"),
                           asyncio.create_task(self._send_loop(), name="syslog-send")]

    async def stop(self) -> None:
        """Stop; queued messages that were not sent are dropped."""
        await cancel_and_wait(*self._tasks)
        self._tasks = []
        if hasattr(self, "_sub"):
            self._sub.close()
        self._close()

    def describe(self) -> str:
        """One word for the ready line."""
        s = self._settings
        return (f"syslog={s.protocol.lower()}://{s.serverAddress}:{s.serverPort or DEFAULT_PORT}"
                if s.enabled else "syslog=off")

    # ------------------------------------------------------------------ input
    async def _listen(self) -> None:
        while True:
            batch = await self._sub.get()
            # the audit entry of a settings change is announced just before the change
            # itself: apply new settings first so that entry goes by them
            for ev in batch.events:
                if ev.kind == "settings" and ev.subject == "syslog":
                    self._settings = ev.data
                    self._generation += 1
                    self._close()
                    self._wake.set()
            for ev in batch.events:
                if ev.kind == "alarm" and isinstance(ev.data, AlarmChange):
                    self._on_alarm(ev.data)
                elif ev.kind == "audit" and isinstance(ev.data, AuditEntry):
                    self._on_audit(ev.data)

    def _wanted(self, severity: Severity) -> bool:
        s = self._settings
        return s.enabled and severity.rank >= Severity(s.minSeverity).rank

    def _common(self) -> dict[str, Any]:
        s = self._settings
        return {"facility": FACILITY_CODES[s.facility.lower()],
                "hostname": s.hostname or self._hostname(), "app_name": s.appName}

    def _on_alarm(self, change: AlarmChange) -> None:
        a = change.alarm
        if change.change not in NOTIFIED_CHANGES or not self._wanted(AUDIT_SEVERITY[a.severity]):
            return
        text = a.text if change.change != "cleared" else f"Cleared: {a.text}"
        sd = {"id": a.id, "event": change.change, "state": a.state, "severity": a.severity,
              "device": a.device, "deviceName": a.device_name, "channel": a.channel,
              "value": a.value, "peak": a.peak, "threshold": a.threshold, "rule": a.rule_name,
              "ruleId": a.rule_id}
        self._enqueue(format_rfc5424(severity=ALARM_SYSLOG_SEVERITY[a.severity], msgid="alarm",
                                     text=text, sd=sd, **self._common()))

    def _on_audit(self, e: AuditEntry) -> None:
        if e.action.startswith("alarm.") or not self._wanted(e.severity):
            return
        sd = {"id": e.id, "user": e.user, "face": e.face, "address": e.address or None,
              "action": e.action, "object": e.object, "device": e.device,
              "severity": e.severity.value}
        self._enqueue(format_rfc5424(severity=SYSLOG_SEVERITY[e.severity], msgid="audit",
                                     text=e.message, sd=sd, ts=e.ts, **self._common()))

    def _enqueue(self, msg: bytes) -> None:
        if len(self._queue) >= QUEUE_MAX:
            self._queue.popleft()
            self.dropped += 1
        self._queue.append(msg)
        self._wake.set()

    # ------------------------------------------------------------------ output
    def _close(self) -> None:
        if self._writer is not None:
            self._writer.close()
            self._writer = self._reader = None
        if self._udp is not None:
            self._udp.close()
            self._udp = None

    async def _send_loop(self) -> None:
        backoff = BACKOFF_MIN_S
        failing = False
        while True:
            if not self._queue or not self._settings.enabled:
                self._wake.clear()
                await self._wake.wait()
                continue
            s = self._settings
            port = s.serverPort or DEFAULT_PORT
            try:
                if s.protocol == "UDP":
                    await self._send_udp(s.serverAddress, port)
                else:
                    await self._send_tcp(s.serverAddress, port)
                if failing:
                    log.info("syslog: %s:%d reachable again", s.serverAddress, port)
                failing, backoff = False, BACKOFF_MIN_S
            except asyncio.CancelledError:
                raise
            except OSError as exc:
                self._close()
                if not failing:
                    log.warning("syslog: cannot send to %s:%d over %s (%s); retrying with "
                                "back-off", s.serverAddress, port, s.protocol, exc)
                failing = True
                generation = self._generation
                self._wake.clear()
                await self._wait_settings(generation, backoff)
                backoff = min(BACKOFF_MAX_S, backoff * 2)

    async def _wait_settings(self, generation: int, timeout: float) -> None:
        """Until the settings change (a new generation) or ``timeout`` seconds pass."""
        deadline = time.monotonic() + timeout
        while self._generation == generation:
            if not await wait_event(self._wake, deadline - time.monotonic()):
                return
            self._wake.clear()

    async def _send_udp(self, host: str, port: int) -> None:
        if self._udp is None:
            loop = asyncio.get_running_loop()
            self._udp, _ = await loop.create_datagram_endpoint(
                asyncio.DatagramProtocol, remote_addr=(host, port))
        while self._queue:
            self._udp.sendto(self._queue[0])
            self._queue.popleft()
            self.sent += 1

    async def _send_tcp(self, host: str, port: int) -> None:
        if self._reader is not None and self._reader.at_eof():
            self._close()  # the server closed the connection: reconnect before writing
        if self._writer is None or self._writer.is_closing():
            self._reader, self._writer = await asyncio.wait_for(
                asyncio.open_connection(host, port), 10)
        w = self._writer
        while self._queue:
            msg = self._queue[0]
            w.write(str(len(msg)).encode() + b" " + msg)
            await asyncio.wait_for(w.drain(), 10)
            if w.is_closing():
                raise ConnectionResetError("connection closed by the server")
            self._queue.popleft()
            self.sent += 1
