"""The certificate store (manual §5.12): certificates the controller serves and trusts.

Owns the ``certs`` table (made here, ``CREATE TABLE IF NOT EXISTS``), the import of
every format the manual names (PEM/CRT/CER, DER, PKCS#12 with passphrase, certificate
plus key with a key passphrase), the listing, deletion, the expiry alarm and the TLS
contexts built from the store:

* ``ssl_context(usage)``: a client context trusting the system's CAs plus every stored
  certificate *without* a private key whose usage is ``usage`` or ``unrestricted``
  (SMTP, syslog over TLS, LDAP, PostgreSQL export, device connections);
* ``server_pem(usage)``: certificate chain and key, in PEM, of the newest valid stored
  certificate with a key for ``usage`` (``web-server`` for HTTPS).

Private keys are secrets: kept as PKCS#8 encrypted with ``SecretBox`` (key file outside
the database), never part of a listing, message, log line or audit entry. Every change
needs ``administer`` and is audited. A refused import names the thing, the value and
what is allowed, and stores nothing.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
import ssl
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

import aiosqlite

from .alarm_texts import CERT_EXPIRED, CERT_EXPIRING, compose
from .audit import AuditLog, Severity
from .errors import Invalid, NotFound
from .events import Event, EventBus
from .permissions import Action, Principal, require
from .secretbox import SecretBox
from .store import Store
from .waiting import cancel_and_wait, run_every

__all__ = ["CertUsage", "CertInfo", "CertStore", "EXPIRY_WARNING_DAYS", "EXPIRY_CONDITION",
           "MAX_IMPORT_BYTES"]

log = logging.getLogger(__name__)

EXPIRY_WARNING_DAYS = 30
"""A certificate this close to its end raises a Warning alarm (Critical once expired)."""
EXPIRY_CONDITION = "certificateExpiry"
"""Name of the condition alarm (index = certificate id)."""
MAX_IMPORT_BYTES = 256 * 1024
"""Largest certificate file accepted (a long chain is a few KB)."""
CHECK_PERIOD_S = 86400.0
"""Expiry is checked at start, after every change and this often."""

_DDL = """CREATE TABLE IF NOT EXISTS certs (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL,
    usage TEXT NOT NULL,
    chain_pem TEXT NOT NULL,
    key_blob BLOB,
    created REAL NOT NULL
)"""


class CertUsage(str, Enum):
    """What a certificate may be used for (manual §5.12 usage restriction)."""

    UNRESTRICTED = "unrestricted"
    WEB_SERVER = "web-server"
    LDAP = "ldap"
    DEVICE_CONNECTIONS = "device-connections"
    SMTP = "smtp"
    SYSLOG_TLS = "syslog-tls"

    @property
    def label(self) -> str:
        """The words a console shows."""
        return _LABELS[self]

    @classmethod
    def parse(cls, text: str) -> CertUsage:
        """``CertUsage`` from its value or label (case and ``_``/space insensitive)."""
        want = str(text).strip().lower().replace("_", "-").replace(" ", "-")
        for u in cls:
            if want in (u.value, u.label.lower().replace(" ", "-")):
                return u
        raise Invalid(f"certificate usage {text!r} is not known", thing="usage", value=text,
                      allowed=", ".join(u.value for u in cls))


_LABELS = {CertUsage.UNRESTRICTED: "unrestricted", CertUsage.WEB_SERVER: "web server",
           CertUsage.LDAP: "LDAP", CertUsage.DEVICE_CONNECTIONS: "device connections",
           CertUsage.SMTP: "SMTP", CertUsage.SYSLOG_TLS: "syslog TLS"}


@dataclass(frozen=True, slots=True)
class CertInfo:
    """One stored certificate as listed (never its key)."""

    id: int
    name: str
    usage: CertUsage
    subject: str
    issuer: str
    sans: tuple[str, ...]
    not_before: float
    not_after: float
    fingerprint: str
    """SHA-256 of the DER certificate, colon-separated upper-case hex."""
    has_key: bool
    is_ca: bool
    chain_length: int
    created: float
    chain_pem: str = field(repr=False)

    def state(self, now: float) -> str:
        """``valid``, ``expiring`` (≤ 30 days left), ``expired`` or ``not yet valid``."""
        if now >= self.not_after:
            return "expired"
        if now < self.not_before:
            return "not yet valid"
        if self.not_after - now <= EXPIRY_WARNING_DAYS * 86400:
            return "expiring"
        return "valid"

    def document(self, now: float) -> dict[str, Any]:
        """The JSON form (topics ``certs/<id>``; the console's details)."""
        def iso(t: float) -> str:
            return dt.datetime.fromtimestamp(t, dt.timezone.utc).isoformat(timespec="seconds")
        return {"id": self.id, "name": self.name, "usage": self.usage.value,
                "subject": self.subject, "issuer": self.issuer, "sans": list(self.sans),
                "notBefore": iso(self.not_before), "notAfter": iso(self.not_after),
                "daysLeft": int((self.not_after - now) // 86400), "state": self.state(now),
                "fingerprintSha256": self.fingerprint, "hasPrivateKey": self.has_key,
                "isCa": self.is_ca, "chainLength": self.chain_length,
                "certificatePem": self.chain_pem}


@dataclass(slots=True)
class _Parsed:
    certs: list[Any]
    key: Any | None


def _bad(what: str, why: str, value: str = "") -> Invalid:
    return Invalid(f"{what}: {why}; nothing was stored", thing=what, value=value or "(data)",
                   allowed="a certificate in PEM/CRT/CER or DER, a PKCS#12 file (.p12/.pfx) "
                           "with its passphrase, or a PEM certificate with its PEM private key "
                           "(and the key's passphrase when it is encrypted)")


def _looks_pkcs12(data: bytes) -> bool:
    """A PFX is ``SEQUENCE { INTEGER 3, ... }``: enough to tell it from a DER certificate."""
    if len(data) < 8 or data[0] != 0x30:
        return False
    n = data[1]
    off = 2 + (n & 0x7F if n & 0x80 else 0)
    return data[off:off + 3] == b"\x02\x01\x03"


def _load_key(pem: bytes, passphrase: str, what: str) -> Any:
    from cryptography.hazmat.primitives import serialization

    try:
        return serialization.load_pem_private_key(pem, passphrase.encode() or None)
    except TypeError:
        if passphrase:
            raise _bad(what, "the private key is not encrypted: give no passphrase") from None
        raise _bad(what, "the private key is encrypted: give its passphrase "
                         "(passphrase=...)") from None
    except ValueError as exc:
        if passphrase and ("decrypt" in str(exc).lower() or "password" in str(exc).lower()):
            raise _bad(what, "the passphrase of the private key is wrong", "***") from None
        raise _bad(what, "the private key is not a readable PEM private key") from None
    except Exception:
        raise _bad(what, "the private key is not a readable PEM private key") from None


def parse(data: bytes, passphrase: str = "", key: bytes = b"", what: str = "certificate") -> _Parsed:
    """Certificates (leaf first) and the private key found in ``data`` (and ``key``).

    Raises:
        Invalid: unreadable data, a wrong or missing passphrase, a key that belongs to
            none of the certificates; the message never holds key material.
    """
    from cryptography import x509
    from cryptography.hazmat.primitives.serialization import pkcs12

    if not data.strip():
        raise _bad(what, "no data was given")
    if len(data) > MAX_IMPORT_BYTES or len(key) > MAX_IMPORT_BYTES:
        raise _bad(what, f"the data is larger than {MAX_IMPORT_BYTES // 1024} KiB")
    certs: list[Any]
    private: Any = None
    if b"-----BEGIN" in data:
        try:
            certs = list(x509.load_pem_x509_certificates(data))
        except ValueError:
            certs = []
        if not certs:
            raise _bad(what, "the PEM text holds no readable CERTIFICATE block")
        key_pem = key if key.strip() else (data if b"PRIVATE KEY-----" in data else b"")
        if key_pem:
            private = _load_key(key_pem, passphrase, what)
        elif passphrase:
            raise _bad(what, "a passphrase was given but there is no private key to decrypt")
    elif _looks_pkcs12(data):
        try:
            private, leaf, extra = pkcs12.load_key_and_certificates(
                data, passphrase.encode() or None)
        except ValueError:
            raise _bad(what, "the PKCS#12 passphrase is wrong" if passphrase else
                       "the PKCS#12 file is encrypted: give its passphrase (passphrase=...)",
                       "***" if passphrase else "") from None
        except Exception:
            raise _bad(what, "the PKCS#12 file cannot be read") from None
        certs = ([leaf] if leaf is not None else []) + list(extra or [])
        if not certs:
            raise _bad(what, "the PKCS#12 file holds no certificate")
        if key.strip():
            raise _bad(what, "a PKCS#12 file carries its own key: give no separate key")
    else:
        try:
            certs = [x509.load_der_x509_certificate(data)]
        except ValueError:
            raise _bad(what, "the data is neither PEM, a DER certificate nor PKCS#12") from None
        if key.strip():
            private = _load_key(key, passphrase, what)
    if private is not None:
        certs = _leaf_first(certs, private, what)
    return _Parsed(certs, private)


def _spki(obj: Any) -> bytes:
    from cryptography.hazmat.primitives import serialization

    return obj.public_bytes(serialization.Encoding.DER,
                            serialization.PublicFormat.SubjectPublicKeyInfo)


def _leaf_first(certs: list[Any], private: Any, what: str) -> list[Any]:
    try:
        mine = _spki(private.public_key())
    except Exception:
        raise _bad(what, "the private key's type is not supported") from None
    for i, c in enumerate(certs):
        if _spki(c.public_key()) == mine:
            return [c, *certs[:i], *certs[i + 1:]]
    raise _bad(what, "the private key belongs to none of the certificates")


def _describe(cert: Any) -> tuple[str, str, tuple[str, ...], bool]:
    from cryptography import x509

    sans: list[str] = []
    with contextlib.suppress(x509.ExtensionNotFound, ValueError):
        ext = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        sans += [f"DNS:{n}" for n in ext.get_values_for_type(x509.DNSName)]
        sans += [f"IP:{a}" for a in ext.get_values_for_type(x509.IPAddress)]
        sans += [f"email:{m}" for m in ext.get_values_for_type(x509.RFC822Name)]
        sans += [f"URI:{u}" for u in ext.get_values_for_type(x509.UniformResourceIdentifier)]
    is_ca = False
    with contextlib.suppress(x509.ExtensionNotFound, ValueError):
        is_ca = bool(cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca)
    return cert.subject.rfc4514_string(), cert.issuer.rfc4514_string(), tuple(sans), is_ca


def _fingerprint(cert: Any) -> str:
    from cryptography.hazmat.primitives import hashes

    return ":".join(f"{b:02X}" for b in cert.fingerprint(hashes.SHA256()))


def _info(row: tuple[Any, ...]) -> CertInfo:
    from cryptography import x509

    cid, name, usage, chain_pem, key_blob, created = row
    certs = x509.load_pem_x509_certificates(chain_pem.encode())
    leaf = certs[0]
    subject, issuer, sans, is_ca = _describe(leaf)
    return CertInfo(id=int(cid), name=name, usage=CertUsage(usage), subject=subject,
                    issuer=issuer, sans=sans,
                    not_before=leaf.not_valid_before_utc.timestamp(),
                    not_after=leaf.not_valid_after_utc.timestamp(),
                    fingerprint=_fingerprint(leaf), has_key=key_blob is not None, is_ca=is_ca,
                    chain_length=len(certs), created=float(created), chain_pem=chain_pem)


def _aad(fingerprint: str) -> bytes:
    return b"enerteg-cert-key:" + fingerprint.encode()


class CertStore:
    """Import, list, delete certificates; TLS contexts; the expiry alarm.

    Args:
        store: the controller database (table ``certs``).
        audit: every change is audited (never with key material).
        events: ``Event("certs", id, info|None)`` after every change (faces refresh).
        box: encrypts private keys (key file outside the database).
        alarms: the alarm service (``raise_condition``/``clear_condition``), or None.
        clock: wall clock.
    """

    def __init__(self, store: Store, audit: AuditLog, events: EventBus, box: SecretBox,
                 alarms: Any = None, clock: Callable[[], float] = time.time) -> None:
        self._store = store
        self._audit = audit
        self._events = events
        self._box = box
        self._alarms = alarms
        self._clock = clock
        self._certs: dict[int, CertInfo] = {}
        self._blobs: dict[int, bytes] = {}
        """Encrypted private keys by certificate id (decrypted only when used)."""
        self._contexts: dict[CertUsage, ssl.SSLContext] = {}
        self._task: asyncio.Task[None] | None = None

    # ------------------------------------------------------------------ lifecycle
    async def load(self) -> None:
        """Create the table when missing and read every certificate."""
        await self._store.execute(_DDL)
        rows = await self._store.fetchall(
            "SELECT id, name, usage, chain_pem, key_blob, created FROM certs ORDER BY id")
        self._certs, self._blobs = {}, {}
        for r in rows:
            try:
                info = _info(r)
            except Exception:
                log.error("certificate %s in the database cannot be read; it is skipped", r[0])
                continue
            self._certs[info.id] = info
            if r[4] is not None:
                self._blobs[info.id] = bytes(r[4])
        self._contexts.clear()

    async def start(self) -> None:
        """Check expiry now and then daily."""
        self.check_expiry()
        self._task = asyncio.create_task(self._run(), name="cert-expiry")

    async def stop(self) -> None:
        """Stop the daily check."""
        await cancel_and_wait(self._task)
        self._task = None

    async def _run(self) -> None:
        await run_every(CHECK_PERIOD_S, self.check_expiry, logger=log,
                        failure="certificate expiry check failed")

    # ------------------------------------------------------------------ reading
    def all(self, principal: Principal) -> list[CertInfo]:
        """Every stored certificate, by id (``administer``)."""
        require(principal, Action.ADMINISTER, "certs")
        return list(self._certs.values())

    def ids(self) -> list[int]:
        """Ids of the stored certificates (for a topic tree)."""
        return list(self._certs)

    def get(self, principal: Principal, cert_id: int) -> CertInfo:
        """One certificate; ``NotFound`` names the id and the ids that exist."""
        require(principal, Action.ADMINISTER, f"certs/{cert_id}")
        info = self._certs.get(cert_id)
        if info is None:
            have = ", ".join(str(i) for i in self._certs) or "none"
            raise NotFound(f"certificate {cert_id} does not exist (stored: {have})",
                           thing="certificate", value=cert_id, allowed=have)
        return info

    # ------------------------------------------------------------------ changing
    async def import_data(self, principal: Principal, data: bytes | str, *,
                          passphrase: str = "", key: bytes | str = b"",
                          usage: CertUsage | str = CertUsage.UNRESTRICTED, name: str = "",
                          source: str = "") -> CertInfo:
        """Store a certificate (with its chain and key, if any).

        Args:
            data: PEM/CRT/CER text, DER, or PKCS#12 bytes.
            passphrase: of the PKCS#12 file or of the encrypted PEM key.
            key: a separate PEM private key (when ``data`` holds only the certificate).
            usage: what it may be used for.
            name: a label (default: the subject's common name, else the source file name).
            source: where it came from (``/upload/x.p12``), for the audit entry.

        Raises:
            PermissionDenied, Invalid: nothing stored.
        """
        require(principal, Action.ADMINISTER, "certs")
        use = usage if isinstance(usage, CertUsage) else CertUsage.parse(usage)
        what = f"certificate {source}" if source else "certificate"
        raw = data.encode() if isinstance(data, str) else bytes(data)
        key_raw = key.encode() if isinstance(key, str) else bytes(key)
        name = name.strip()
        if len(name) > 64 or any(ord(c) < 32 for c in name):
            raise Invalid(f"certificate name {name[:64]!r} is too long or holds control "
                          "characters", thing="name", value=name[:64],
                          allowed="up to 64 printable characters")
        parsed = await asyncio.to_thread(parse, raw, passphrase, key_raw, what)
        from cryptography.hazmat.primitives import serialization
        from cryptography.x509.oid import NameOID

        leaf = parsed.certs[0]
        fp = _fingerprint(leaf)
        for other in self._certs.values():
            if other.fingerprint == fp:
                raise Invalid(f"{what}: it is already stored as certificate {other.id} "
                              f"({other.name}); delete that one first; nothing was stored",
                              thing="certificate", value=fp, allowed="a certificate not yet stored")
        if not name:
            cns = leaf.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
            name = (str(cns[0].value) if cns else source.rsplit("/", 1)[-1] or "certificate")[:64]
        chain_pem = "".join(c.public_bytes(serialization.Encoding.PEM).decode()
                            for c in parsed.certs)
        blob = None
        if parsed.key is not None:
            der = parsed.key.private_bytes(serialization.Encoding.DER,
                                           serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption())
            blob = await asyncio.to_thread(self._box.encrypt, der, _aad(fp))
        now = self._clock()
        async with self._store.transaction() as tx:
            cur = await tx.execute(
                "INSERT INTO certs (name, usage, chain_pem, key_blob, created) VALUES (?,?,?,?,?)",
                (name, use.value, chain_pem, blob, now))
            cid = int(cur.lastrowid or 0)
            info = _info((cid, name, use.value, chain_pem, blob, now))
            entry = await self._audit.insert(
                tx, principal, "cert.import", f"certs/{cid}",
                f"Certificate {cid} ({name}) imported{' from ' + source if source else ''}: "
                f"{info.subject}, usage {use.label}, "
                f"{'with' if blob is not None else 'without'} private key, valid until "
                f"{dt.datetime.fromtimestamp(info.not_after, dt.timezone.utc).date()}, "
                f"SHA-256 {fp}")
        self._audit.announce(entry)
        if blob is not None:
            self._blobs[info.id] = blob
        self._changed(info.id, info)
        return info

    async def set_usage(self, principal: Principal, cert_id: int,
                        usage: CertUsage | str) -> CertInfo:
        """Change what a stored certificate may be used for."""
        old = self.get(principal, cert_id)
        use = usage if isinstance(usage, CertUsage) else CertUsage.parse(usage)
        if use == old.usage:
            return old
        async with self._store.transaction() as tx:
            await tx.execute("UPDATE certs SET usage=? WHERE id=?", (use.value, cert_id))
            entry = await self._audit.insert(
                tx, principal, "cert.usage", f"certs/{cert_id}",
                f"Certificate {cert_id} ({old.name}) usage {old.usage.label} → {use.label}",
                old={"usage": old.usage.value}, new={"usage": use.value})
        self._audit.announce(entry)
        row = await self._store.fetchone("SELECT id, name, usage, chain_pem, key_blob, created "
                                         "FROM certs WHERE id=?", (cert_id,))
        assert row is not None
        info = _info(row)
        self._changed(cert_id, info)
        return info

    async def delete(self, principal: Principal, cert_id: int) -> CertInfo:
        """Delete a certificate and its key; its expiry alarm ends."""
        info = self.get(principal, cert_id)
        async with self._store.transaction() as tx:
            await tx.execute("DELETE FROM certs WHERE id=?", (cert_id,))
            entry = await self._audit.insert(
                tx, principal, "cert.delete", f"certs/{cert_id}",
                f"Certificate {cert_id} ({info.name}) deleted: {info.subject}, SHA-256 "
                f"{info.fingerprint}", severity=Severity.WARNING)
        self._audit.announce(entry)
        self._changed(cert_id, None)
        return info

    def _changed(self, cert_id: int, info: CertInfo | None) -> None:
        if info is None:
            self._certs.pop(cert_id, None)
            self._blobs.pop(cert_id, None)
        else:
            self._certs[cert_id] = info
        self._contexts.clear()
        self.check_expiry()
        self._events.publish(Event("certs", str(cert_id), info))

    # ------------------------------------------------------------------ expiry
    def check_expiry(self) -> None:
        """Raise, update or clear the ``certificateExpiry`` alarm of every certificate."""
        if self._alarms is None:
            return
        now = self._clock()
        for info in self._certs.values():
            state = info.state(now)
            day = dt.datetime.fromtimestamp(info.not_after, dt.timezone.utc).date()
            if state == "expired":
                self._alarms.raise_condition(
                    EXPIRY_CONDITION, compose(CERT_EXPIRED, id=info.id, name=info.name, day=day),
                    index=info.id, severity="Critical")
            elif state == "expiring":
                # the text names the day, not the days left: a daily check that changed
                # it would announce the alarm again every day
                self._alarms.raise_condition(
                    EXPIRY_CONDITION, compose(CERT_EXPIRING, id=info.id, name=info.name, day=day,
                                              days=EXPIRY_WARNING_DAYS),
                    index=info.id, severity="Warning")
            else:
                self._alarms.clear_condition(EXPIRY_CONDITION, f"Certificate {info.id} is "
                                             f"{state}", index=info.id)
        for alarm in self._alarms.conditions(EXPIRY_CONDITION):
            if alarm.index not in self._certs:
                self._alarms.clear_condition(EXPIRY_CONDITION, f"Certificate {alarm.index} "
                                             "was deleted", index=alarm.index)

    # ------------------------------------------------------------------ TLS
    def trusted_pem(self, usage: CertUsage | str) -> str:
        """PEM of every certificate trusted for ``usage``: the certificates stored without
        a private key (CAs, pinned peers) for ``usage`` or ``unrestricted``."""
        use = usage if isinstance(usage, CertUsage) else CertUsage.parse(usage)
        return "".join(c.chain_pem for c in self._certs.values()
                       if not c.has_key and c.usage in (use, CertUsage.UNRESTRICTED))

    def ssl_context(self, usage: CertUsage | str) -> ssl.SSLContext:
        """A TLS client context for ``usage``: the system's CAs plus the store's
        (``trusted_pem``), host names checked, TLS 1.2 at least. Kept until the store
        changes (a caller must not modify it; ``client_context`` makes a new one)."""
        use = usage if isinstance(usage, CertUsage) else CertUsage.parse(usage)
        ctx = self._contexts.get(use)
        if ctx is None:
            ctx = self._contexts[use] = self.client_context(use)
        return ctx

    def client_context(self, usage: CertUsage | str, *,
                       check_hostname: bool = True) -> ssl.SSLContext:
        """A new context as ``ssl_context`` gives; ``check_hostname`` False still
        verifies the chain (PostgreSQL's ``verify-ca``)."""
        ctx = ssl.create_default_context()
        ctx.minimum_version = ssl.TLSVersion.TLSv1_2
        ctx.check_hostname = check_hostname
        cadata = self.trusted_pem(usage)
        if cadata:
            ctx.load_verify_locations(cadata=cadata)
        return ctx

    def serving_id(self, usage: CertUsage | str = CertUsage.WEB_SERVER) -> str:
        """Fingerprint of the certificate ``server_pem`` would give now ('' for none): a
        server compares it to know when to load another."""
        info = self._serving(usage)
        return info.fingerprint if info is not None else ""

    def _serving(self, usage: CertUsage | str) -> CertInfo | None:
        use = usage if isinstance(usage, CertUsage) else CertUsage.parse(usage)
        now = self._clock()
        for info in sorted(self._certs.values(), key=lambda c: c.created, reverse=True):
            if info.usage == use and info.has_key and info.state(now) in ("valid", "expiring"):
                return info
        return None

    def server_pem(self, usage: CertUsage | str = CertUsage.WEB_SERVER) -> tuple[str, str] | None:
        """(chain PEM, unencrypted key PEM) of the newest currently valid certificate with
        a key stored for ``usage``; None when there is none. The key stays in memory."""
        from cryptography.hazmat.primitives import serialization

        info = self._serving(usage)
        if info is None:
            return None
        try:
            key = self._private_key(info)
        except Invalid as exc:
            log.error("certificate %s (%s) cannot be served: %s", info.id, info.name, exc)
            return None
        pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption()).decode()
        return info.chain_pem, pem

    def _private_key(self, info: CertInfo) -> Any:
        from cryptography.hazmat.primitives import serialization

        blob = self._blob(info.id)
        return serialization.load_der_private_key(self._box.decrypt(blob, _aad(info.fingerprint)),
                                                  None)

    def _blob(self, cert_id: int) -> bytes:
        """The encrypted key of a certificate (held encrypted in memory, as stored)."""
        blob = self._blobs.get(cert_id)
        if blob is None:
            raise NotFound(f"certificate {cert_id} has no private key", thing="certificate",
                           value=cert_id, allowed="a certificate imported with its key")
        return blob

    # ------------------------------------------------------------------ backup
    async def backup_state(self) -> tuple[list[dict[str, Any]], dict[str, str]]:
        """(public part: one entry per certificate, secrets: PKCS#8 PEM keys by
        fingerprint). The backup puts the secrets only into its encrypted member."""
        from cryptography.hazmat.primitives import serialization

        public, keys = [], {}
        for info in self._certs.values():
            public.append({"name": info.name, "usage": info.usage.value,
                           "chainPem": info.chain_pem, "created": info.created})
            if info.has_key:
                try:
                    key = self._private_key(info)
                except Exception:
                    log.error("certificate %s: its key cannot be decrypted; the backup lacks it",
                              info.id)
                    continue
                keys[info.fingerprint] = key.private_bytes(
                    serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                    serialization.NoEncryption()).decode()
        return public, keys

    def validate_backup(self, entries: Any) -> None:
        """Raise ``Invalid`` unless ``entries`` is a backup's certificate list."""
        if not isinstance(entries, list):
            raise Invalid("the backup's certificate list is not a list", thing="certs",
                          value=type(entries).__name__, allowed="a list")
        for e in entries:
            if not isinstance(e, dict) or not isinstance(e.get("chainPem"), str):
                raise Invalid("a certificate of the backup lacks chainPem", thing="certs",
                              value=str(e)[:40], allowed="entries with chainPem")
            CertUsage.parse(e.get("usage", "unrestricted"))
            parse(e["chainPem"].encode())

    async def restore_state(self, tx: aiosqlite.Connection, entries: list[dict[str, Any]],
                            keys: dict[str, str] | None) -> None:
        """Replace the table inside the restore's transaction. A key comes from the
        backup's secrets, else (secrets excluded) from the current store for the same
        certificate; without either the certificate is restored without its key."""
        from cryptography.hazmat.primitives import serialization

        current: dict[str, bytes] = {}
        for info in self._certs.values():
            if info.has_key:
                with contextlib.suppress(Exception):
                    current[info.fingerprint] = self._blob(info.id)
        await tx.execute(_DDL)
        await tx.execute("DELETE FROM certs")
        for e in entries:
            parsed = parse(e["chainPem"].encode())
            fp = _fingerprint(parsed.certs[0])
            blob = current.get(fp)
            pem = (keys or {}).get(fp)
            if pem:
                key = serialization.load_pem_private_key(pem.encode(), None)
                der = key.private_bytes(serialization.Encoding.DER,
                                        serialization.PrivateFormat.PKCS8,
                                        serialization.NoEncryption())
                blob = self._box.encrypt(der, _aad(fp))
            await tx.execute(
                "INSERT INTO certs (name, usage, chain_pem, key_blob, created) VALUES (?,?,?,?,?)",
                (str(e.get("name", ""))[:64], CertUsage.parse(e.get("usage", "unrestricted")).value,
                 e["chainPem"], blob, float(e.get("created", self._clock()))))

    async def reload(self) -> None:
        """Read the table again (after a restore) and re-check expiry."""
        await self.load()
        self.check_expiry()
        self._events.publish(Event("certs", "", "restored"))

    async def reset(self) -> None:
        """Factory reset: every certificate and key deleted, their alarms ended."""
        await self._store.execute("DELETE FROM certs")
        self._certs.clear()
        self._blobs.clear()
        self._contexts.clear()
        self.check_expiry()
        self._events.publish(Event("certs", "", "reset"))
