"""The controller's clock (manual §4.2, issue 23 item 1): NTP check, alarm, time zone.

Exists because a controller with a wrong clock writes history and alarms at wrong
times, and the manual promises NTP. ``TimeService`` asks the NTP servers of
``config/time`` (a small SNTP client, RFC 4330: one request, the first server that
answers) every ``interval`` seconds and on every change of the topic, keeps the result
(``status``: synchronised or not, offset, server, round trip) and raises the condition
alarm ``clockUnsynchronised`` when no server answers or the clock is off by more than
``alarmOffsetSeconds``; it clears it once the clock is in step again. It does not steer
the host's clock (that is the host's NTP client: chrony, systemd-timesyncd); with
``--manage-host`` it writes the servers into that client (``core.hostntp``) and an
administrator can set the clock by hand (``set_clock``), refused otherwise with a
message naming the flag.

``local_text`` (and ``local_iso``, ``local_iso_text``, ``zone_abbr`` on top of it) turns
a stored UTC time into the text a person reads in the zone of ``config/time``
``timezone``: every console page, the shell's text output, e-mails. Each call reads the
zone afresh, so a change shows at the next render. Machine formats (JSON, CSV, SNMP,
Modbus, REST, syslog, the audit log) stay UTC/ISO.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import struct
import time
import zoneinfo
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

from .alarm_texts import CLOCK_DETAIL, CLOCK_OFF, CLOCK_UNSYNCHRONISED, compose
from .audit import AuditLog, Severity
from .errors import Invalid, Unsupported
from .hostntp import HostNtpClient
from .permissions import Action, Principal, require

__all__ = ["TimeService", "TimeStatus", "sntp_query", "local_text", "local_iso",
           "local_iso_text", "zone",
           "zone_abbr", "CONDITION", "NTP_EPOCH_OFFSET", "MANAGE_HOST_FLAG", "CLOCK_CHANGE_WARNING"]

from .waiting import cancel_and_wait, wait_event

log = logging.getLogger(__name__)

NTP_EPOCH_OFFSET = 2208988800
"""Seconds from 1900-01-01 (NTP era 0) to 1970-01-01 (Unix)."""
CONDITION = "clockUnsynchronised"
"""Name of the condition alarm (channel ``ring//0/clockUnsynchronised``)."""
INTERVAL_S = 64.0
"""Seconds between two checks (the shortest NTP poll interval)."""
TIMEOUT_S = 2.0
"""Seconds to wait for one server's answer."""
MANAGE_HOST_FLAG = "--manage-host"
CLOCK_CHANGE_WARNING = ("Changing the clock leaves a gap (clock forward) or an overlap "
                        "(clock back) in the history of the hours it jumps over (manual §4.2).")


def zone(config: Any) -> zoneinfo.ZoneInfo:
    """The time zone of ``config/time`` (UTC when unreadable)."""
    try:
        return zoneinfo.ZoneInfo(config.get("time").timezone)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError, OSError):
        return zoneinfo.ZoneInfo("UTC")


def local_text(config: Any, ts: float, fmt: str = "%Y-%m-%d %H:%M:%S %Z") -> str:
    """``ts`` (Unix seconds) as a person reads it in the zone of ``config/time``.

    The one place every face turns a time into text for people (console pages, the
    shell's text output, e-mails); the zone is read afresh at every call, so a
    ``put config/time timezone=…`` shows in the next render without a restart."""
    return dt.datetime.fromtimestamp(ts, zone(config)).strftime(fmt)


def local_iso(config: Any, ts: float | None, none: str = "") -> str:
    """``ts`` as ISO 8601 with the offset of ``config/time``'s zone
    (``2026-12-05T07:30:00+01:00``; ``+00:00`` in UTC): the shell's text output, which
    people read and scripts may still parse; ``none`` for None."""
    if ts is None:
        return none
    return dt.datetime.fromtimestamp(ts, zone(config)).isoformat(timespec="seconds")


def local_iso_text(config: Any, text: str | None, none: str = "-") -> str:
    """An ISO 8601 time kept as text in a machine document (UTC, ``Z`` or an offset) as
    ``local_iso`` shows it; ``none`` for an empty value, the text itself when it is not
    a time with an offset."""
    if not text:
        return none
    try:
        parsed = dt.datetime.fromisoformat(text[:-1] + "+00:00" if text.endswith("Z") else text)
    except ValueError:
        return text
    return text if parsed.tzinfo is None else local_iso(config, parsed.timestamp())


def zone_abbr(config: Any, ts: float | None = None) -> str:
    """The zone's abbreviation at ``ts`` (now when None): ``UTC``, ``CET``, ``CEST``;
    heads the time columns of tables."""
    return local_text(config, time.time() if ts is None else ts, "%Z")


class _Sntp(asyncio.DatagramProtocol):
    def __init__(self) -> None:
        self.answer: asyncio.Future[tuple[bytes, float]] = (
            asyncio.get_running_loop().create_future())

    def datagram_received(self, data: bytes, addr: Any) -> None:
        if not self.answer.done():
            self.answer.set_result((data, time.time()))

    def error_received(self, exc: Exception) -> None:
        if not self.answer.done():
            self.answer.set_exception(exc)


def _to_ntp(ts: float) -> bytes:
    secs = int(ts) + NTP_EPOCH_OFFSET
    frac = int((ts - int(ts)) * 2**32) & 0xFFFFFFFF
    return struct.pack("!II", secs & 0xFFFFFFFF, frac)


def _from_ntp(raw: bytes) -> float:
    secs, frac = struct.unpack("!II", raw)
    return secs - NTP_EPOCH_OFFSET + frac / 2**32


async def sntp_query(host: str, port: int = 123, timeout: float = TIMEOUT_S
                     ) -> dict[str, float | int]:
    """Ask one NTP server for the time (SNTPv4 client mode).

    Returns:
        ``offset`` (seconds to add to this clock to match the server), ``delay`` (round
        trip in seconds) and ``stratum``.

    Raises:
        OSError: the name does not resolve or the network refuses.
        TimeoutError: no answer within ``timeout``.
        ValueError: the answer is not a valid server answer (wrong mode, a kiss-o'-death,
            not for our request, unsynchronised server).
    """
    loop = asyncio.get_running_loop()
    transport, proto = await loop.create_datagram_endpoint(_Sntp, remote_addr=(host, port))
    try:
        t1 = time.time()
        sent = _to_ntp(t1)
        transport.sendto(b"\x23" + b"\x00" * 39 + sent)        # LI 0, VN 4, mode 3
        data, t4 = await asyncio.wait_for(proto.answer, timeout)
    finally:
        transport.close()
    if len(data) < 48:
        raise ValueError(f"answer of {len(data)} bytes (an NTP answer has 48)")
    li_vn_mode, stratum = data[0], data[1]
    if li_vn_mode & 0x7 != 4:
        raise ValueError(f"answer in mode {li_vn_mode & 0x7} (a server answers in mode 4)")
    if stratum == 0:
        raise ValueError(f"kiss-o'-death {data[12:16].decode('ascii', 'replace')!r}")
    if li_vn_mode >> 6 == 3:
        raise ValueError("the server says its own clock is not synchronised")
    if data[24:32] != sent:
        raise ValueError("answer to another request (originate time does not match)")
    t2, t3 = _from_ntp(data[32:40]), _from_ntp(data[40:48])
    return {"offset": ((t2 - t1) + (t3 - t4)) / 2, "delay": (t4 - t1) - (t3 - t2),
            "stratum": stratum}


@dataclass(slots=True)
class TimeStatus:
    """The last check of the clock."""

    state: str = "unchecked"
    """``synchronised``, ``unsynchronised``, ``off`` (NTP disabled) or ``unchecked``."""
    offset: float | None = None
    """Seconds to add to this clock to match the server (None: no answer)."""
    delay: float | None = None
    server: str = ""
    stratum: int | None = None
    checked: float | None = None
    """When it was checked (Unix seconds)."""
    text: str = "not checked yet"

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


class TimeService:
    """Checks the clock against ``config/time``'s servers and raises the clock alarm.

    Args:
        config: settings (``time``, read afresh for every check).
        alarms: ``raise_condition``/``clear_condition`` for ``clockUnsynchronised``.
        audit: ``set_clock`` is audited.
        events: the service listens for changes of ``config/time``.
        manage_host: started with ``--manage-host`` (``set_clock`` allowed).
        ntp_port: UDP port of the servers (tests run a fake server on a free port);
            None = no checks in this process (the tests' controllers, which must not ask
            the Internet's servers).
        interval: seconds between two checks.
        faces: ``FaceStatus``: each check is reported under ``time`` (the console's
            Settings page and the shell's ``put config/time`` show it).
        host_client: the host's NTP client (``core.hostntp``), configured with the
            servers at start and at every change of ``config/time``; only used with
            ``manage_host``.
    """

    def __init__(self, config: Any, alarms: Any, audit: AuditLog, events: Any, *,
                 manage_host: bool = False, ntp_port: int | None = 123,
                 interval: float = INTERVAL_S,
                 clock: Callable[[], float] = time.time, faces: Any = None,
                 host_client: HostNtpClient | None = None) -> None:
        self._config = config
        self._alarms = alarms
        self._audit = audit
        self._events = events
        self.manage_host = manage_host
        self.ntp_port = ntp_port
        self.interval = interval
        self._clock = clock
        self._faces = faces
        self.status = TimeStatus()
        self.checks = 0
        """Checks done (tests wait for a count instead of timing)."""
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._host = host_client if manage_host else None
        self._host_task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self._config.appliers.register("time", "time sync")
        if self._host is not None:
            await self._apply_host()
            self._host_task = asyncio.create_task(self._host_on_change(), name="time-host")
        if self.ntp_port is None:
            self.status = TimeStatus(text="not checked: the host keeps its own clock (the "
                                          "controller checks it when started with "
                                          "--manage-host)")
            return
        self._task = asyncio.create_task(self._run(), name="time-sync")

    async def stop(self) -> None:
        await cancel_and_wait(self._task)
        await cancel_and_wait(self._host_task)
        self._task = self._host_task = None

    @property
    def host_text(self) -> str:
        """Who keeps the host's clock: the client this controller configures
        (``--manage-host``) or the host's own."""
        if self._host is not None:
            return self._host.text
        return ("host NTP client: the host's own, with its own configuration (the "
                f"controller writes none without {MANAGE_HOST_FLAG})")

    async def _apply_host(self) -> None:
        assert self._host is not None
        try:
            await self._host.apply(self._config.get("time"))
        except OSError as exc:       # an unwritable file: said, never fatal
            self._host.text = f"host NTP client: {self._host.kind}, not configured: {exc}"
            log.warning("time: %s", self._host.text)

    async def _host_on_change(self) -> None:
        with self._events.subscribe(kinds={"settings"}) as sub:
            while True:
                batch = await sub.get()
                if any(ev.subject == "time" for ev in batch.events):
                    await self._apply_host()

    def check_now(self) -> None:
        """Ask for a check at once (after a settings change, ``time check``)."""
        self._wake.set()

    async def _run(self) -> None:
        with self._events.subscribe(kinds={"settings"}) as sub:
            waker = asyncio.create_task(self._wake_on(sub), name="time-settings")
            try:
                while True:
                    self._wake.clear()
                    try:
                        await self.check()
                    except Exception:  # noqa: BLE001 - the check never stops the controller
                        log.exception("time: check failed")
                    await wait_event(self._wake, self.interval)
            finally:
                waker.cancel()

    async def _wake_on(self, sub: Any) -> None:
        while True:
            batch = await sub.get()
            if any(ev.subject == "time" for ev in batch.events):
                self._wake.set()

    async def check(self) -> TimeStatus:
        """Ask the servers (first answer wins); update ``status``, the alarm and the
        report the faces show."""
        if self.ntp_port is None:
            return self.status
        st = await self._check()
        if self._faces is not None:
            self._faces.report("time", f"{st.state}, {st.text}")
        return st

    async def _check(self) -> TimeStatus:
        s = self._config.get("time")
        now = self._clock()
        if not s.ntpEnabled:
            self.status = TimeStatus(state="off", checked=now,
                                     text="NTP is disabled (config/time ntpEnabled): the "
                                          "clock is not checked")
            self._alarms.clear_condition(CONDITION, "NTP disabled")
            self.checks += 1
            return self.status
        why: list[str] = []
        for server in s.ntpServers:
            try:
                got = await sntp_query(server, self.ntp_port or 123)
            except (OSError, TimeoutError, ValueError) as exc:
                why.append(f"{server}: {str(exc) or f'no answer within {TIMEOUT_S:g} s'}")
                continue
            offset = float(got["offset"])
            limit = float(s.alarmOffsetSeconds)
            state = "synchronised" if abs(offset) <= limit else "unsynchronised"
            text = compose(CLOCK_DETAIL, offset=f"{offset:+.3f}", server=server,
                           stratum=got["stratum"], delay=f"{float(got['delay']) * 1000:.1f}")
            self.status = TimeStatus(state=state, offset=offset, delay=float(got["delay"]),
                                     server=server, stratum=int(got["stratum"]), checked=now,
                                     text=text)
            if state == "synchronised":
                self._alarms.clear_condition(CONDITION, f"clock in step: {text}")
            else:
                self._alarms.raise_condition(
                    CONDITION, compose(CLOCK_OFF, offset=f"{offset:+.1f}", limit=f"{limit:g}",
                                       detail=text),
                    severity="Warning")
            self.checks += 1
            return self.status
        text = "no NTP server answered: " + "; ".join(why)
        self.status = TimeStatus(state="unsynchronised", checked=now, text=text)
        self._alarms.raise_condition(CONDITION, compose(CLOCK_UNSYNCHRONISED,
                                                        why="; ".join(why)),
                                     severity="Warning")
        self.checks += 1
        return self.status

    async def set_clock(self, principal: Principal, when: str) -> str:
        """Set the host's clock by hand to ``when`` (ISO 8601; without an offset it is
        read in the zone of ``config/time``).

        Raises:
            PermissionDenied: needs ``administer``.
            Unsupported: the controller was started without ``--manage-host``.
            Invalid: ``when`` is not a date and time.
        """
        require(principal, Action.ADMINISTER, "time/set")
        if not self.manage_host:
            raise Unsupported(
                f"setting the clock changes the host: this controller was started without "
                f"{MANAGE_HOST_FLAG}; start it with 'enerteg serve {MANAGE_HOST_FLAG}' to "
                "allow 'date set', or set the host's clock with its own tools",
                thing="date set", value="no " + MANAGE_HOST_FLAG, allowed=MANAGE_HOST_FLAG)
        try:
            parsed = dt.datetime.fromisoformat(when.strip())
        except ValueError:
            raise Invalid(f"date set: {when!r} is not a date and time; allowed is ISO 8601 "
                          "such as 2026-12-05T14:30:00 (local time) or 2026-12-05T13:30:00Z",
                          thing="date", value=when, allowed="ISO 8601 date and time") from None
        if parsed.tzinfo is None:
            parsed = parsed.replace(tzinfo=zone(self._config))
        ts = parsed.timestamp()
        before = self._clock()
        await asyncio.to_thread(time.clock_settime, time.CLOCK_REALTIME, ts)
        message = (f"Clock set by hand from {dt.datetime.fromtimestamp(before, dt.UTC):%Y-%m-%dT%H:%M:%SZ}"
                   f" to {dt.datetime.fromtimestamp(ts, dt.UTC):%Y-%m-%dT%H:%M:%SZ}. "
                   + CLOCK_CHANGE_WARNING)
        await self._audit.record(principal, "time.set", "config/time", message,
                                 severity=Severity.WARNING)
        self.check_now()
        return message

