"""Schemas of the outward services: ``snmp_agent``, ``modbus``, ``syslog``, ``email``.

Owns the keys of the SNMP agent (manual §5.5; exactly the 18 keys of the example in
§11.1.5, in that order), the Modbus TCP server (§5.6), the syslog client (§5.4) and
e-mail notifications (§5.7). Invariant: a service that is enabled has what it needs
to run (an address to send to, a user for SNMPv3); format rules (addresses, lengths
of passphrases) hold whether enabled or not. Read by ``core.configuration`` through
``SETTINGS_TOPICS``.
"""

from __future__ import annotations

import ipaddress
import re
from typing import Annotated, Any, ClassVar, Literal

from pydantic import AfterValidator, BeforeValidator, Field, model_validator

from ..i18n import N_
from ._base import Port, PortOrZero, Secret, Toggle
from ._common import (
    ADDRESS_WORDS,
    EMAIL_WORDS,
    HIDDEN,
    EmailOrEmpty,
    HostOrEmpty,
    LineText,
    LongText,
    NestedSettings,
    TopicSettings,
    choice,
    empty_means,
    fail,
    int_choice,
    is_email,
    is_hostname,
)

__all__ = ["SnmpAgentSettings", "SnmpTrapTarget", "ModbusSettings", "SyslogSettings",
           "EmailSettings"]

SNMP_PASSPHRASE_MIN = 8
"""SNMPv3 (RFC 3414) needs passphrases of at least 8 characters."""

FACILITIES = (
    "Kern", "User", "Mail", "Daemon", "Auth", "Syslog", "Lpr", "News", "Uucp", "Cron",
    "Authpriv", "Ftp", "Ntp", "Audit", "Alert", "Clock",
    "Local0", "Local1", "Local2", "Local3", "Local4", "Local5", "Local6", "Local7",
)
"""Syslog facilities in RFC 5424 order (code = position, Kern = 0 … Local7 = 23)."""

Facility = Literal[FACILITIES]  # type: ignore[valid-type]  (built from the tuple above)
"""One of ``FACILITIES``."""

DELAY_ALIASES = {
    "1 min": 60, "1 minute": 60, "5 min": 300, "5 minutes": 300, "15 min": 900,
    "15 minutes": 900, "30 min": 1800, "30 minutes": 1800, "1 hour": 3600, "60 min": 3600,
}
"""The e-mail delay timer as the manual words it (§5.7) → seconds."""

_APP_NAME = re.compile(r"^[!-~]{1,48}$")

Passphrase = Annotated[Secret, Field(max_length=128)]
"""An SNMPv3 passphrase (checked for its minimum length by the model)."""
SnmpText = Annotated[str, Field(max_length=255)]
"""A MIB-2 DisplayString (at most 255 characters)."""
Severity4 = Annotated[Literal["Info", "Log", "Warning", "Error"],
                      choice("Info", "Log", "Warning", "Error")]
"""A notification severity the e-mail service filters on (§5.7)."""


def _split_host_port(data: Any, host_key: str, port_key: str) -> Any:
    """Turn ``host:port`` / ``[v6]:port`` in ``host_key`` into the two keys."""
    if not isinstance(data, dict) or not isinstance(data.get(host_key), str):
        return data
    text = data[host_key].strip()
    try:
        ipaddress.ip_address(text)
        return data  # a bare address, IPv6 included
    except ValueError:
        pass
    m = re.fullmatch(r"\[([0-9A-Fa-f:.]+)\]:(\d{1,5})|([^:\[\]]+):(\d{1,5})", text)
    if not m:
        return data
    data = dict(data)
    data[host_key] = m.group(1) or m.group(3)
    data[port_key] = m.group(2) or m.group(4)
    return data


def _recipients(value: str) -> str:
    parts = [p.strip() for p in value.split(",")]
    parts = [p for p in parts if p]
    if len(parts) > 50:
        raise ValueError("at most 50 comma-separated e-mail addresses")
    for part in parts:
        if not is_email(part):
            raise ValueError(f"comma-separated e-mail addresses such as "
                             f"user1@mail.com,user2@mail.com ({part!r} is not an e-mail address)")
    return ",".join(parts)


def _app_name(value: str) -> str:
    if not _APP_NAME.match(value):
        raise ValueError("1 to 48 printable ASCII characters without spaces (RFC 5424 APP-NAME)")
    return value


def _hostname_or_empty(value: str) -> str:
    value = value.strip()
    if value and not is_hostname(value):
        raise ValueError("a host name (RFC 1123), or empty for the controller's own")
    return value


V3_AUTH = ("MD5", "SHA", "SHA224", "SHA256", "SHA384", "SHA512")
V3_PRIV = ("DES", "AES", "AES192", "AES256")
MAX_TRAP_TARGETS = 8
_TARGET_NAME = re.compile(r"^[A-Za-z0-9_-]{1,32}$")


class SnmpTrapTarget(NestedSettings):
    """One receiver of SNMP notifications, with its own version, kind and credentials."""

    address: HostOrEmpty = ""
    """Address of the receiver; 'IP:Port' is accepted and sets ``port`` too."""
    port: Annotated[Port, empty_means(162)] = 162
    """UDP port of the receiver (empty = 162)."""
    version: Annotated[Literal["v2c", "v3"], choice("v2c", "v3")] = "v2c"
    """SNMP version of the notifications sent to it."""
    notificationType: Annotated[Literal["trap", "inform"], choice("trap", "inform")] = "trap"
    """trap (fire and forget) or inform (acknowledged, retried 3 times 2 s apart)."""
    v2cCommunity: Annotated[Secret, Field(max_length=64)] = ""
    """v2c: the community sent; empty = the agent's ``v2cCommunity``."""
    v3User: Annotated[str, Field(max_length=32)] = ""
    """v3: the user the notifications come from; empty = the agent's v3 user and keys."""
    v3PasswordAuth: Passphrase = ""
    """v3 with its own user: authentication passphrase (at least 8 characters), or empty
    for noAuthNoPriv."""
    v3PasswordPriv: Passphrase = ""
    """v3 with its own user: privacy passphrase (at least 8 characters; needs
    ``v3PasswordAuth``), or empty."""
    v3ProtocolAuth: Annotated[Literal[V3_AUTH], choice(*V3_AUTH)] = "SHA256"  # type: ignore[valid-type]
    """v3 with its own user: authentication protocol."""
    v3ProtocolPriv: Annotated[Literal[V3_PRIV], choice(*V3_PRIV)] = "AES"  # type: ignore[valid-type]
    """v3 with its own user: privacy protocol."""

    @model_validator(mode="before")
    @classmethod
    def _ip_port(cls, data: Any) -> Any:
        return _split_host_port(data, "address", "port")

    @model_validator(mode="after")
    def _target_rules(self) -> SnmpTrapTarget:
        if not self.address:
            raise fail("address", self.address, f"{ADDRESS_WORDS} of the receiver (required)")
        for key in ("v3PasswordAuth", "v3PasswordPriv"):
            if 0 < len(getattr(self, key)) < SNMP_PASSPHRASE_MIN:
                raise fail(key, HIDDEN, f"a passphrase of at least {SNMP_PASSPHRASE_MIN} "
                                        "characters (SNMPv3 requires it), or empty")
        if self.v3PasswordPriv and not self.v3PasswordAuth:
            raise fail("v3PasswordAuth", "", "an authentication passphrase of at least 8 "
                                             "characters (required when v3PasswordPriv is set)")
        if (self.v3PasswordAuth or self.v3PasswordPriv) and not self.v3User:
            raise fail("v3User", "", "the user these passphrases belong to (1 to 32 characters), "
                                     "or no passphrases to use the agent's v3 user")
        return self


def _targets(value: Any) -> Any:
    """``trapTargets.NAME=`` (empty) removes the target ``NAME``; names are checked."""
    if not isinstance(value, dict):
        return value
    for name in value:
        if not isinstance(name, str) or not _TARGET_NAME.match(name):
            raise fail(str(name), name, "a target name of 1 to 32 letters, digits, '-' or '_'")
    return {k: v for k, v in value.items() if v not in ("", None)}


class SnmpAgentSettings(TopicSettings):
    """The SNMP agent (§5.5); keys and order as the manual's example in §11.1.5."""

    TOPIC: ClassVar[str] = "snmp_agent"
    TITLE: ClassVar[str] = N_("SNMP agent")
    SERVICE: ClassVar[str | None] = "snmp agent"

    agentAddress: HostOrEmpty = "0.0.0.0"
    """Address the agent listens on; 0.0.0.0 (or empty) = all IPv4 interfaces."""
    snmpLocation: SnmpText = ""
    """Content of the MIB-2 field 'Location' (sysLocation)."""
    enabledTrap: Toggle = False
    """Send traps for the generic PDU MIB functions to ``serverTrapAddress``."""
    snmpContact: SnmpText = ""
    """Content of the MIB-2 field 'Contact' (sysContact)."""
    v3PasswordAuth: Passphrase = ""
    """SNMPv3 authentication passphrase, at least 8 characters; empty = no
    authentication (noAuthNoPriv)."""
    snmpVersion: Annotated[Literal["snmpV2C", "snmpV3", "snmpV2CV3"],
                           choice("snmpV2C", "snmpV3", "snmpV2CV3")] = "snmpV2C"
    """Versions answered: snmpV2C (V2C only), snmpV3 (V3 only) or snmpV2CV3 (both)."""
    enabledWrite: Toggle = False
    """Allow SNMP SET commands."""
    v2cCommunity: Annotated[str, Field(max_length=64)] = "public"
    """Community of SNMP V2C (needed while V2C is answered)."""
    v3PasswordPriv: Passphrase = ""
    """SNMPv3 privacy (encryption) passphrase, at least 8 characters; empty = no
    encryption. Needs ``v3PasswordAuth``."""
    v3ProtocolAuth: Annotated[
        Literal["MD5", "SHA", "SHA224", "SHA256", "SHA384", "SHA512"],
        choice("MD5", "SHA", "SHA224", "SHA256", "SHA384", "SHA512")] = "MD5"
    """SNMPv3 authentication protocol."""
    snmpName: SnmpText = ""
    """Content of the MIB-2 field 'Name' (sysName); empty = the controller's host name
    (``config/hostname``)."""
    enabled: Toggle = False
    """Run the SNMP agent."""
    genericMibEnabledSet: Toggle = False
    """Allow SET on the writable objects of the generic PDU MIB (outlet switching,
    names); takes effect only together with ``enabledWrite``."""
    serverTrapPort: Annotated[Port, empty_means(162)] = 162
    """UDP port of the trap receiver (empty = 162)."""
    v3User: Annotated[str, Field(max_length=32)] = ""
    """SNMPv3 user name (1 to 32 characters); must be defined for V3."""
    agentPort: Annotated[Port, empty_means(161)] = 161
    """UDP port the agent answers on (empty = 161)."""
    v3ProtocolPriv: Annotated[Literal["DES", "AES", "AES192", "AES256"],
                              choice("DES", "AES", "AES192", "AES256")] = "DES"
    """SNMPv3 privacy protocol."""
    serverTrapAddress: HostOrEmpty = ""
    """Address of the trap receiver; 'IP:Port' is accepted and sets
    ``serverTrapPort`` too. Needed while traps are enabled."""
    # --- beyond the manual's 18 keys
    v2cWriteCommunity: Annotated[Secret, Field(max_length=64)] = ""
    """Community of SNMP V2C allowed to SET (with ``enabledWrite`` and
    ``genericMibEnabledSet``); empty = no SET over V2C. ``v2cCommunity`` only reads."""
    notificationType: Annotated[Literal["trap", "inform"], choice("trap", "inform")] = "trap"
    """Notifications as traps (fire and forget) or informs (acknowledged by the
    receiver, retried 3 times 2 s apart)."""
    trapTargets: Annotated[dict[str, SnmpTrapTarget], Field(max_length=MAX_TRAP_TARGETS),
                           BeforeValidator(_targets)] = Field(default_factory=dict)
    """More notification receivers besides ``serverTrapAddress``, by name (at most 8),
    each with its own address, version (v2c/v3), trap or inform and credentials; set one
    key with a dotted path (trapTargets.nms.address=10.0.0.5:162), remove one with
    trapTargets.nms= (empty)."""

    @model_validator(mode="before")
    @classmethod
    def _trap_ip_port(cls, data: Any) -> Any:
        return _split_host_port(data, "serverTrapAddress", "serverTrapPort")

    @model_validator(mode="after")
    def _snmp_rules(self) -> SnmpAgentSettings:
        for key in ("v3PasswordAuth", "v3PasswordPriv"):
            if 0 < len(getattr(self, key)) < SNMP_PASSPHRASE_MIN:
                raise fail(key, HIDDEN, f"a passphrase of at least {SNMP_PASSPHRASE_MIN} "
                                        "characters (SNMPv3 requires it), or empty")
        if not self.enabled:
            return self
        v3 = self.snmpVersion in {"snmpV3", "snmpV2CV3"}
        v2c = self.snmpVersion in {"snmpV2C", "snmpV2CV3"}
        if v3 and not self.v3User.strip():
            raise fail("v3User", self.v3User,
                       f"a user name of 1 to 32 characters (required when snmpVersion is "
                       f"{self.snmpVersion} and the agent is enabled)")
        if v3 and self.v3PasswordPriv and not self.v3PasswordAuth:
            raise fail("v3PasswordAuth", "",
                       "an authentication passphrase of at least 8 characters (SNMPv3 "
                       "encrypts only authenticated messages; required when "
                       "v3PasswordPriv is set)")
        if v2c and not self.v2cCommunity:
            raise fail("v2cCommunity", self.v2cCommunity,
                       f"a community such as public (required when snmpVersion is "
                       f"{self.snmpVersion} and the agent is enabled)")
        if v2c and self.v2cWriteCommunity and self.v2cWriteCommunity == self.v2cCommunity:
            raise fail("v2cWriteCommunity", HIDDEN,
                       "a community other than v2cCommunity (which only reads), or empty")
        if self.enabledTrap and not self.serverTrapAddress and not self.trapTargets:
            raise fail("serverTrapAddress", self.serverTrapAddress,
                       f"{ADDRESS_WORDS} of the trap receiver, or an entry in trapTargets "
                       "(required when enabledTrap is enabled and the agent is enabled)")
        users: dict[str, tuple[str, ...]] = {}
        if self.v3User:
            users[self.v3User] = (self.v3PasswordAuth, self.v3PasswordPriv,
                                  self.v3ProtocolAuth, self.v3ProtocolPriv)
        for name, t in self.trapTargets.items():
            if t.version == "v3" and not t.v3User and not self.v3User.strip():
                raise fail(("trapTargets", name, "v3User"), "",
                           "a v3 user for this target (1 to 32 characters), or a v3User "
                           "of the agent for it to use")
            if t.version == "v2c" and not (t.v2cCommunity or self.v2cCommunity):
                raise fail(("trapTargets", name, "v2cCommunity"), "",
                           "a community for this target, or a v2cCommunity of the agent")
            if t.version == "v3" and t.v3User:
                keys = (t.v3PasswordAuth, t.v3PasswordPriv, t.v3ProtocolAuth, t.v3ProtocolPriv)
                if users.setdefault(t.v3User, keys) != keys:
                    raise fail(("trapTargets", name, "v3User"), t.v3User,
                               "a user name whose passphrases and protocols are the same "
                               "wherever it is used (another target or the agent's v3User "
                               "has other ones)")
        return self


class ModbusSettings(TopicSettings):
    """The Modbus TCP server (§5.6): inherently insecure, so off by default."""

    TOPIC: ClassVar[str] = "modbus"
    TITLE: ClassVar[str] = N_("Modbus server")
    SERVICE: ClassVar[str | None] = "modbus server"

    enabled: Toggle = False
    """Run the Modbus TCP server (unencrypted, no access control: keep it on a
    protected network)."""
    port: Port = 502
    """TCP port of the Modbus server."""
    listenAddress: HostOrEmpty = ""
    """Address the server listens on; empty = all interfaces."""
    allowWrite: Toggle = False
    """Allow Modbus clients to write registers (outlet control, naming)."""
    maxConnections: int = Field(32, ge=1, le=256)
    """Clients served at the same time; one more is closed at once."""
    idleTimeoutSeconds: int = Field(120, ge=0, le=86400)
    """Seconds without a request after which a client's connection is closed; 0 = never."""


class SyslogSettings(TopicSettings):
    """The syslog client (§5.4): audit entries and alarms to a remote server."""

    TOPIC: ClassVar[str] = "syslog"
    TITLE: ClassVar[str] = N_("Syslog")
    SERVICE: ClassVar[str | None] = "syslog"

    enabled: Toggle = False
    """Send notifications and alarms to the remote syslog server."""
    serverAddress: HostOrEmpty = ""
    """Host name or IP address of the remote syslog server (needed while enabled)."""
    serverPort: PortOrZero = 0
    """Port on the remote server; 0 = the protocol's default, 514."""
    protocol: Annotated[Literal["UDP", "TCP"], choice("UDP", "TCP")] = "UDP"
    """Transport: BSD syslog over UDP or TCP."""
    facility: Annotated[Facility, choice(*FACILITIES)] = "Local0"
    """Facility the entries appear under at the server (Kern … Local7)."""
    minSeverity: Annotated[
        Literal["Debug", "Log", "Info", "Warning", "Error", "Always"],
        choice("Debug", "Log", "Info", "Warning", "Error", "Always")] = "Warning"
    """Lowest audit severity that is sent (Debug < Log < Info < Warning < Error <
    Always)."""
    hostname: Annotated[str, Field(max_length=253), AfterValidator(_hostname_or_empty)] = ""
    """HOSTNAME field of the messages; empty = the controller's host name."""
    appName: Annotated[str, AfterValidator(_app_name)] = "enerteg"
    """APP-NAME field of the messages (RFC 5424: 1 to 48 printable characters)."""

    @model_validator(mode="after")
    def _server_when_enabled(self) -> SyslogSettings:
        if self.enabled and not self.serverAddress:
            raise fail("serverAddress", self.serverAddress,
                       f"{ADDRESS_WORDS} (required while syslog is enabled)")
        return self


class EmailSettings(TopicSettings):
    """E-mail notifications through an external server (§5.7)."""

    TOPIC: ClassVar[str] = "email"
    TITLE: ClassVar[str] = N_("E-mail services")
    SERVICE: ClassVar[str | None] = "email"

    enabled: Toggle = False
    """Relay notifications by e-mail."""
    serverAddress: HostOrEmpty = ""
    """Host name or address of the e-mail server that relays the e-mails (needed
    while enabled)."""
    serverPort: Port = 587
    """Port of the e-mail server."""
    username: LineText = ""
    """User name for the e-mail server, if it requires one to relay."""
    password: Annotated[Secret, Field(max_length=1024)] = ""
    """Password for the e-mail server."""
    tls: Annotated[Literal["none", "starttls", "tls"], choice("none", "starttls", "tls")] = (
        "starttls")
    """Encryption to the server: none, starttls (upgrade after connecting) or tls
    (encrypted from the start); the server must support it."""
    subject: LineText = "EnerTEG notification"
    """Subject of the e-mails."""
    sender: EmailOrEmpty = ""
    """Address the e-mails are sent from; the server must accept it (needed while
    enabled)."""
    recipients: Annotated[str, Field(max_length=4096), AfterValidator(_recipients)] = ""
    """Addresses the e-mails go to, separated by commas, e.g.
    user1@mail.com,user2@mail.com (at least one while enabled)."""
    textStart: LongText = "Notification message from EnerTEG Platform"
    """Text placed before the first notification."""
    textEnd: LongText = "This message was automatically generated and sent by EnerTEG Platform"
    """Text placed after the notifications."""
    minSeverity: Severity4 = "Warning"
    """Lowest severity that is e-mailed: Info, Log, Warning or Error."""
    delayTimer: Annotated[Literal[60, 300, 900, 1800, 3600], int_choice(DELAY_ALIASES)] = 60
    """Seconds to collect notifications into one e-mail: 60, 300, 900, 1800 or 3600
    ("1 min", "5 min", "15 min", "30 min", "1 hour" are accepted)."""
    immediateMinSeverity: Severity4 = "Error"
    """Lowest severity that is e-mailed at once, without the delay."""

    @model_validator(mode="after")
    def _complete_when_enabled(self) -> EmailSettings:
        if not self.enabled:
            return self
        if not self.serverAddress:
            raise fail("serverAddress", self.serverAddress,
                       f"{ADDRESS_WORDS} of the e-mail server (required while e-mail is "
                       "enabled)")
        if not self.sender:
            raise fail("sender", self.sender, f"{EMAIL_WORDS} (required while e-mail is "
                                              "enabled)")
        if not self.recipients:
            raise fail("recipients", self.recipients,
                       "at least one e-mail address, comma-separated such as "
                       "user1@mail.com,user2@mail.com (required while e-mail is enabled)")
        return self

