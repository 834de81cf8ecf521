"""Schemas of the topics that govern access: ``auth``, ``cli``, ``http_server``.

Owns the keys of authentication and LDAP / Active Directory (manual §5.9, §5.10),
the SSH CLI (§5.11, §11.1) and the web server with its TLS certificate (§5.2, §5.12).
Invariant: private keys and passwords are ``Secret`` fields; a private key pasted
together with the certificate (the manual's concatenated PEM file) is moved into
``privateKeyPem`` before validation, so it is never shown. Read by
``core.configuration`` through ``SETTINGS_TOPICS``.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, ClassVar
from urllib.parse import urlsplit

from pydantic import AfterValidator, Field, model_validator

from ..i18n import N_
from ..permissions import Role
from ._base import Port, PortOrZero, Secret, Toggle
from ._common import (
    HIDDEN,
    BaudRate,
    DevicePath,
    HostOrEmpty,
    LongText,
    TopicSettings,
    fail,
    is_host,
)

__all__ = ["AuthSettings", "CliSettings", "HttpServerSettings"]

_ATTRIBUTE = re.compile(r"^[A-Za-z][A-Za-z0-9-]{0,63}$")
_PEM_CERT = "-----BEGIN CERTIFICATE-----"
_PEM_KEY = re.compile(
    r"-----BEGIN ((?:RSA |EC |DSA |ENCRYPTED )?PRIVATE KEY)-----.*?-----END \1-----\s*", re.S)


def _ldap_url(value: str) -> str:
    value = value.strip()
    if not value:
        return value
    words = "an LDAP URL such as ldap://10.0.0.5 or ldaps://dc.example.com:3269, or empty"
    try:
        parts = urlsplit(value)
        port_ok = parts.port is None or 1 <= parts.port <= 65535
    except ValueError:
        raise ValueError(words) from None
    if parts.scheme.lower() not in {"ldap", "ldaps"} or not parts.hostname:
        raise ValueError(words)
    if not port_ok or not is_host(parts.hostname):
        raise ValueError(words)
    return value


def _attribute(value: str) -> str:
    value = value.strip()
    if value and not _ATTRIBUTE.match(value):
        raise ValueError("an LDAP attribute or class name (a letter, then letters, digits or "
                         "hyphens, at most 64), or empty")
    return value


def _dn(value: str) -> str:
    value = value.strip()
    if value and "=" not in value:
        raise ValueError("a distinguished name such as ou=people,dc=example,dc=com, or empty")
    return value


def _dn_template(value: str) -> str:
    value = value.strip()
    if value and ("{0}" not in value or (not value.startswith("(") and "=" not in value)):
        raise ValueError("a search filter containing {0} for the user name, such as "
                         "(uid={0}), or a DN template such as uid={0},ou=people,dc=example,"
                         "dc=com, or empty")
    return value


def _certificate(value: str) -> str:
    value = value.strip()
    if value and _PEM_CERT not in value:
        raise ValueError(f"PEM text containing {_PEM_CERT}, or empty")
    return value


LdapUrl = Annotated[str, Field(max_length=1024), AfterValidator(_ldap_url)]
"""``ldap://`` or ``ldaps://`` URL, or empty."""
LdapName = Annotated[str, Field(max_length=64), AfterValidator(_attribute)]
"""An LDAP attribute or object class name, or empty."""
Dn = Annotated[str, Field(max_length=1024), AfterValidator(_dn)]
"""A distinguished name, or empty."""
CertificatePem = Annotated[str, Field(max_length=65536), AfterValidator(_certificate)]
"""PEM certificate text (a chain may follow the certificate), or empty."""


class AuthSettings(TopicSettings):
    """Local passwords, lockout, and LDAP / Active Directory login (§5.9, §5.10)."""

    TOPIC: ClassVar[str] = "auth"
    TITLE: ClassVar[str] = N_("Authentication")
    SERVICE: ClassVar[str | None] = "users"
    SERVICE_NOTE: ClassVar[str] = ("Password policy, lockout and the ldap keys apply at once "
                                   "(the next login asks the directory as configured).")

    minPasswordLength: int = Field(8, ge=4, le=128)
    """Shortest password accepted for a local user ("Password too short", §5.9)."""
    passwordNeedsLowercase: Toggle = False
    """A new password must hold a lowercase letter (a-z)."""
    passwordNeedsUppercase: Toggle = False
    """A new password must hold an uppercase letter (A-Z)."""
    passwordNeedsDigit: Toggle = False
    """A new password must hold a digit (0-9)."""
    passwordNeedsSpecial: Toggle = False
    """A new password must hold a character that is neither a letter nor a digit."""
    passwordHistory: int = Field(0, ge=0, le=24)
    """A new password may not repeat any of the user's last N (the current one included;
    only their hashes are kept); 0 = no check."""
    passwordMaxAgeDays: int = Field(0, ge=0, le=3650)
    """Days after which a password expires: the user must set a new one at the next
    interactive login, and scripts are refused until then; 0 = never."""
    lockoutFailures: int = Field(5, ge=1, le=100)
    """Failed logins in a row of one account from one address after which that account is
    locked from that address (``core.lockout``)."""
    lockoutMinutes: int = Field(5, ge=1, le=1440)
    """How long such a lock lasts, in minutes (``unlock NAME`` clears it sooner)."""
    addressBackoffSeconds: int = Field(2, ge=0, le=60)
    """Delay after a failed login before the same account may be tried again from the same
    address, in seconds, doubling, at most 8 s (0 = none)."""
    ldapEnabled: Toggle = False
    """Log users in against an LDAP or Active Directory server (§5.10)."""
    ldapUrl: LdapUrl = ""
    """LDAP server, ldap://IP or ldaps://IP (encrypted); for Active Directory port 3269
    is advised for encrypted LDAP. Needed while ``ldapEnabled``."""
    ldapBindDnTemplate: Annotated[str, Field(max_length=1024), AfterValidator(_dn_template)] = ""
    """How the login name becomes the user's DN, {0} standing for it (escaped): a search
    filter such as (uid={0}) run under ``ldapSearchBase``, or a DN template such as
    uid={0},ou=people,dc=example,dc=com (no search); empty = a search by
    ``ldapUsernameAttribute``."""
    ldapUsernameAttribute: LdapName = "cn"
    """Attribute of search responses that gives the user name; typically cn. Not used
    together with ``ldapBindDnTemplate``."""
    ldapSearchBase: Dn = ""
    """Base DN where a search for a user starts (optional)."""
    ldapGroupSearchBase: Dn = ""
    """Base DN where a search for a group starts (optional)."""
    ldapGroupClass: LdapName = ""
    """Object class of groups (optional): typically posixGroup for LDAP, Group for
    Active Directory."""
    ldapUserObjectClass: LdapName = ""
    """Object class of users (optional): typically posixAccount for LDAP, User for
    Active Directory."""
    ldapBindDn: Dn = ""
    """User that searches the directory (needs read access); empty = anonymous bind."""
    ldapBindPassword: Annotated[Secret, Field(max_length=1024)] = ""
    """Password of ``ldapBindDn``."""
    ldapRoleMap: Annotated[dict[Annotated[str, Field(min_length=1, max_length=256)], Role],
                           Field(max_length=64)] = Field(default_factory=dict)
    """LDAP group (its name, e.g. pdu-admins, or its DN) → role given to its members:
    admin, readonly, power, readwrite, poweron or poweroff (at most 64 groups). A user in
    several gets the highest (admin, readwrite, power, poweron, poweroff, readonly); a
    user in none is refused."""
    ldapStartTls: Toggle = True
    """On an ldap:// URL, switch to TLS (StartTLS) before sending any password; the
    server is verified against the certificate store's CAs for usage ldap."""
    ldapTimeoutSeconds: int = Field(5, ge=1, le=30)
    """Seconds each step with the directory may take (connect, answer); a login waits
    at most about twice this for a directory that is down or silent."""
    ldapNestedGroupDepth: int = Field(3, ge=0, le=10)
    """Levels of nested groups followed: a user in group A, A a member of group B, gets
    B's role (memberOf of groups, or member/uniqueMember searches under
    ``ldapGroupSearchBase``); cycles are safe; 0 = only the user's own groups."""
    ldapSshKeys: Toggle = False
    """Let directory users log in over SSH with a public key listed in their entry's
    ``ldapSshKeyAttribute`` (openssh-lpk schema); the role still comes from their
    groups, checked at every login."""
    ldapSshKeyAttribute: LdapName = "sshPublicKey"
    """Attribute of a user's entry that holds their OpenSSH public keys, one per value
    (used while ``ldapSshKeys`` is enabled)."""
    ldapCacheHours: int = Field(0, ge=0, le=720)
    """Credential cache: remember the argon2 hash of a directory user's password after a
    successful login, for at most this many hours, and accept it ONLY while the directory
    cannot be asked (down, silent, TLS refused); a refusal by the directory forgets it.
    0 = no cache (the default): nobody logs in through the directory while it is down."""

    @model_validator(mode="after")
    def _url_when_enabled(self) -> AuthSettings:
        if self.ldapEnabled and not self.ldapUrl:
            raise fail("ldapUrl", self.ldapUrl,
                       "an LDAP URL such as ldap://10.0.0.5 (required while ldapEnabled "
                       "is enabled)")
        return self


class CliSettings(TopicSettings):
    """The SSH command line and serial console (§5.11, §11.1)."""

    TOPIC: ClassVar[str] = "cli"
    TITLE: ClassVar[str] = N_("CLI")
    SERVICE: ClassVar[str | None] = "ssh, serial console"
    SERVICE_NOTE: ClassVar[str] = ("On, port, listen address and banner apply at once (the SSH "
                                   "listener restarts; open sessions stay), unless enerteg "
                                   "serve was given --ssh-port, --bind or --no-ssh, which win; "
                                   "the serial line applies at the next start.")

    enabled: Toggle = True
    """Offer the command line over SSH (enabled by default, §11.1)."""
    port: PortOrZero = 0
    """TCP port of the SSH server; 0 = automatic: 22 when run as root, 2022 otherwise."""
    listenAddress: HostOrEmpty = ""
    """Address or host name the SSH server listens on; empty or 0.0.0.0 = all
    interfaces."""
    banner: Annotated[LongText, Field(json_schema_extra={"multiline": True})] = \
        "EnerTEG controller — authorised access only"
    """Text shown before login."""
    idleTimeoutMinutes: int = Field(15, ge=0, le=1440)
    """Minutes without input after which a session is closed; 0 = never."""
    maxSessionsPerUser: int = Field(5, ge=1, le=100)
    """Sessions one user may have open at the same time."""
    serialDevice: DevicePath = ""
    """Serial device that offers a login console, e.g. /dev/ttyS0; empty = none."""
    serialBaud: BaudRate = 115200
    """Speed of the serial console in baud: 9600, 19200, 38400, 57600 or 115200."""



class HttpServerSettings(TopicSettings):
    """Web access over HTTP and HTTPS, with the server's certificate (§5.2, §5.12)."""

    TOPIC: ClassVar[str] = "http_server"
    TITLE: ClassVar[str] = N_("Web access")
    SERVICE: ClassVar[str | None] = "web server"
    SERVICE_NOTE: ClassVar[str] = ("Every key applies at once: the web server restarts its "
                                   "listeners for ports, address and certificate; HSTS and "
                                   "the metrics token apply to the next request.")

    enabled: Toggle = False
    """Run the web server (Prometheus ``/metrics``); off by default, as every network face
    that serves machines."""
    port: Port = 80
    """TCP port for plain HTTP."""
    httpsEnabled: Toggle = True
    """Serve HTTPS; with no certificate below, the factory self-signed one is used."""
    httpsPort: Port = 443
    """TCP port for HTTPS."""
    insecureEnabled: Toggle = True
    """Serve pages over plain HTTP; when disabled, port 80 only redirects to HTTPS."""
    certificatePem: CertificatePem = ""
    """Server certificate in PEM (chain may follow); empty = factory self-signed
    certificate. A private key pasted with it is moved to ``privateKeyPem``."""
    privateKeyPem: Annotated[Secret, Field(max_length=65536)] = ""
    """Private key of the certificate in PEM."""
    privateKeyPassword: Annotated[Secret, Field(max_length=1024)] = ""
    """Password of the private key, if it is encrypted."""
    listenAddress: HostOrEmpty = ""
    """Address or host name the web server listens on; empty = all interfaces."""
    hsts: Toggle = True
    """Send Strict-Transport-Security (one year) with every HTTPS answer, so browsers
    refuse plain HTTP to this host afterwards."""
    metricsToken: Annotated[Secret, Field(max_length=256)] = ""
    """Bearer token a Prometheus scrape of ``/metrics`` must send
    (``Authorization: Bearer <token>``); empty = ``/metrics`` is open."""

    @model_validator(mode="before")
    @classmethod
    def _split_concatenated_pem(cls, data: Any) -> Any:
        # §5.2: certificate and key may come "concatenated into one file"
        if not isinstance(data, dict):
            return data
        cert = data.get("certificatePem")
        if isinstance(cert, str) and _PEM_KEY.search(cert):
            key = _PEM_KEY.search(cert)
            assert key is not None  # noqa: S101
            data = dict(data)
            data["certificatePem"] = _PEM_KEY.sub("", cert).strip()
            data["privateKeyPem"] = key.group(0).strip()  # the key pasted now wins
        return data

    @model_validator(mode="after")
    def _tls_rules(self) -> HttpServerSettings:
        key = self.privateKeyPem
        if key and not re.search(r"-----BEGIN [A-Z ]*PRIVATE KEY-----", key):
            raise fail("privateKeyPem", HIDDEN,
                       "PEM text containing -----BEGIN PRIVATE KEY----- (or RSA/EC/"
                       "ENCRYPTED PRIVATE KEY), or empty")
        if self.certificatePem and not key:
            raise fail("privateKeyPem", "",
                       "the certificate's private key in PEM (required when "
                       "certificatePem is set)")
        if key and not self.certificatePem:
            raise fail("certificatePem", "",
                       f"PEM text containing {_PEM_CERT} (required when privateKeyPem "
                       "is set)")
        if self.enabled and not self.insecureEnabled and not self.httpsEnabled:
            raise fail("insecureEnabled", "disabled",
                       "enabled while httpsEnabled is disabled (otherwise the web "
                       "interface cannot be reached)")
        if self.enabled and self.httpsEnabled and self.port == self.httpsPort:
            raise fail("httpsPort", self.httpsPort,
                       f"a port other than port ({self.port}), which serves plain HTTP")
        return self
