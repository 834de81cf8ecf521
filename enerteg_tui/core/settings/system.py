"""Schemas of the controller's own topics and of the databus it polls.

Topics: ``core``, ``hostname``, ``time``, ``devices``, ``sppdu5``.

These are the settings of the controller itself and of the databus it polls (manual
§4.2 time, §5.1 general settings, §7.4 firmware updates, the ``SpPdu5`` device
template of §11.1.4). Every key has a default, so a fresh controller validates with
nothing stored. Read by ``core.configuration`` through ``SETTINGS_TOPICS``; the
controller reads ``core`` (poll cadence) and ``devices`` (driver) at start.
"""

from __future__ import annotations

import zoneinfo
from typing import Annotated, ClassVar, Literal

from pydantic import AfterValidator, BeforeValidator, Field, model_validator

from ..i18n import N_
from ._base import Toggle
from ._common import BaudRate, DevicePath, Host, HostName, TopicSettings, fail, split_list

__all__ = [
    "CoreSettings",
    "HostnameSettings",
    "TimeSettings",
    "DevicesSettings",
    "Sppdu5Settings",
]

def _timezone(value: str) -> str:
    value = value.strip()
    words = "an IANA time zone name such as UTC or Europe/Prague"
    if not value or len(value) > 64:
        raise ValueError(words)
    try:
        zoneinfo.ZoneInfo(value)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError, OSError):
        raise ValueError(words) from None
    return value


class CoreSettings(TopicSettings):
    """General settings (§5.1) and the poller's cadence."""

    TOPIC: ClassVar[str] = "core"
    TITLE: ClassVar[str] = N_("General settings")
    SERVICE: ClassVar[str | None] = "poller, history, watchdog, support access"
    INACTIVE_KEYS: ClassVar[frozenset[str]] = frozenset({"acceptAllCertificates"})

    pollIntervalSeconds: int = Field(5, ge=1, le=60)
    """Seconds between two sweeps of the databus ring."""
    staleAfterSweeps: int = Field(3, ge=1, le=100)
    """Missed sweeps after which a PDU's values are shown as stale."""
    historyFlushSeconds: int = Field(300, ge=10, le=3600)
    """Seconds between writes of collected history to the database."""
    historyKeep5sHours: int = Field(4, ge=2, le=168)
    """Hours to keep the 5-second blocks (the 4-hour chart)."""
    historyKeep1mDays: int = Field(3, ge=2, le=90)
    """Days to keep the 1-minute blocks (the 3-day chart)."""
    historyKeep1hDays: int = Field(400, ge=2, le=3660)
    """Days to keep the hourly blocks (week, month, year and DC charts, reports)."""
    historyKeep1dDays: int = Field(3650, ge=31, le=36600)
    """Days to keep the daily blocks (long-term history)."""
    language: Literal["en", "cs"] = "en"
    """Default language of what people read (console, shell, e-mails, reports): English
    ("en") or Czech ("cs"); a user's own ``language`` preference wins; taken at login
    (core.i18n, docs/language.md). Machine formats stay English."""
    acceptAllCertificates: Toggle = False
    """Accept any TLS certificate when connecting to devices (§5.1); only sensible when
    valid certificates are installed on all of them."""
    remoteManagement: Toggle = False
    """The manual's remote management access for the manufacturer's support (§5.1): while
    enabled, an admin may open the time-limited ``support`` account (``support enable
    --hours N``); disabling it closes an open support access at once (docs/appliance.md)."""
    autoRestart: Toggle = True
    """Restart the application automatically on crashes or hangs (§5.1): under the systemd
    unit of ``enerteg install-service``, the watchdog stops its pings when the event loop
    hangs and a crash exits so that ``Restart=on-failure`` applies (``service_unit``)."""


class HostnameSettings(TopicSettings):
    """The controller's host name (also the default syslog HOSTNAME)."""

    TOPIC: ClassVar[str] = "hostname"
    TITLE: ClassVar[str] = N_("Host name")
    SERVICE: ClassVar[str | None] = "console, shell, syslog, snmp agent, email, mdns"

    hostname: HostName = "enerteg"
    """Host name of the controller (RFC 1123 labels separated by dots): the shell
    prompt, the console header, syslog's HOSTNAME, e-mails and the mDNS instance name."""
    mdns: Literal["auto", "enabled", "disabled"] = "auto"
    """Announce the controller over mDNS as pdu5-<serial>.local with its services
    (docs/appliance.md): "auto" only when started with --manage-host, "enabled" always,
    "disabled" never."""


class TimeSettings(TopicSettings):
    """Date and time (§4.2): NTP, or time set by hand; the time zone."""

    TOPIC: ClassVar[str] = "time"
    TITLE: ClassVar[str] = N_("Date and time")
    SERVICE: ClassVar[str | None] = "time sync"

    ntpEnabled: Toggle = True
    """Keep the clock in step with the NTP servers below (strongly advised, §4.2)."""
    ntpServers: Annotated[
        list[Host], Field(max_length=8), BeforeValidator(split_list)
    ] = Field(default_factory=lambda: ["pool.ntp.org"])
    """NTP servers (host names or addresses), at most 8; a comma-separated text is
    accepted. At least one is needed while ``ntpEnabled``."""
    timezone: Annotated[str, AfterValidator(_timezone)] = "UTC"
    """IANA time zone of every time a person reads (console, shell, e-mails); stored
    times and machine formats stay UTC."""
    alarmOffsetSeconds: float = Field(2.0, ge=0.01, le=3600)
    """Raise the clockUnsynchronised alarm when the clock is off from the NTP server by
    more than this many seconds (or when no server answers)."""

    @model_validator(mode="after")
    def _servers_when_ntp(self) -> TimeSettings:
        if self.ntpEnabled and not self.ntpServers:
            raise fail("ntpServers", self.ntpServers,
                       "at least one NTP server (host name or address) while ntpEnabled "
                       "is enabled")
        return self


class DevicesSettings(TopicSettings):
    """The driver that talks to the ring, and its limits."""

    TOPIC: ClassVar[str] = "devices"
    TITLE: ClassVar[str] = N_("Devices")
    SERVICE: ClassVar[str | None] = "driver"
    SERVICE_NOTE: ClassVar[str] = "Applies at the next start of the controller."

    driver: Literal["simulated"] = "simulated"
    """Driver of the databus ring; only "simulated" in this build."""
    simulatedPdus: int = Field(8, ge=1, le=1000)
    """Number of PDUs on the simulated ring."""
    busLatencyMs: int = Field(2, ge=0, le=1000)
    """Simulated time on the bus per request, in milliseconds."""
    pollTimeoutMs: int = Field(500, ge=50, le=10000)
    """How long one PDU may take to answer before it counts as silent, in milliseconds."""


class Sppdu5Settings(TopicSettings):
    """Databus settings of the SpPdu5 device family (template "SpPdu5", §11.1.4)."""

    TOPIC: ClassVar[str] = "sppdu5"
    TITLE: ClassVar[str] = N_("SpPdu5 databus")
    SERVICE: ClassVar[str | None] = "firmware update"
    INACTIVE_KEYS: ClassVar[frozenset[str]] = frozenset(
        {"serialPort", "baudRate", "autoDiscovery"})

    serialPort: DevicePath = "/dev/ttyS1"
    """Serial device of the controller module's databus port."""
    baudRate: BaudRate = 115200
    """Databus speed in baud: 9600, 19200, 38400, 57600 or 115200."""
    autoDiscovery: Toggle = True
    """Add PDUs found on the databus to the device list automatically (§3.2)."""
    firmwareAutoUpdate: Toggle = False
    """Update PDU firmware in the background from the firmware shipped with the
    controller (§7.4): PDUs running an older version, the Controller module PDU first,
    one at a time; a PDU in alarm waits (docs/firmware.md)."""

    @model_validator(mode="after")
    def _port_given(self) -> Sppdu5Settings:
        if not self.serialPort:
            raise fail("serialPort", self.serialPort,
                       "a serial device path under /dev/ such as /dev/ttyS1 (the databus "
                       "needs one)")
        return self
