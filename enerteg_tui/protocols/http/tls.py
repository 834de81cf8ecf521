"""The web server's TLS: its certificate (configured or self-signed) and the context.

Owns two things. ``server_context`` builds the one ``ssl.SSLContext`` the HTTPS listener
uses: TLS 1.2 at least, TLS 1.2 limited to the forward-secret AEAD suites of Mozilla's
"intermediate" profile (TLS 1.3 suites are OpenSSL's, all modern), no compression, no
renegotiation. ``self_signed`` makes, once, the certificate used while
``config/http_server`` names none: EC P-256, valid ten years, for the host name,
``localhost`` and the controller's addresses, kept in the data directory (``DataLayout``
names the files; the key is 0600). Delete both files to have a new one made at the next
start of HTTPS. A configured certificate and key (PEM, key optionally encrypted) go
through a private temporary folder only for the moment ``load_cert_chain`` reads them,
since Python's ``ssl`` reads files only.

Invariant: a certificate that cannot be used raises ``TlsProblem`` with words an
operator can act on; the key's text is never part of a message.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import os
import shutil
import socket
import ssl
import tempfile
from pathlib import Path

__all__ = ["TlsProblem", "CIPHERS_TLS12", "server_context", "self_signed",
           "certificate_summary"]

CIPHERS_TLS12 = ":".join((
    "ECDHE-ECDSA-AES128-GCM-SHA256", "ECDHE-RSA-AES128-GCM-SHA256",
    "ECDHE-ECDSA-AES256-GCM-SHA384", "ECDHE-RSA-AES256-GCM-SHA384",
    "ECDHE-ECDSA-CHACHA20-POLY1305", "ECDHE-RSA-CHACHA20-POLY1305",
    "DHE-RSA-AES128-GCM-SHA256", "DHE-RSA-AES256-GCM-SHA384",
    "DHE-RSA-CHACHA20-POLY1305",
))
"""TLS 1.2 suites offered (Mozilla intermediate, 2024): forward secrecy and AEAD only."""

VALID_DAYS = 3650
"""Lifetime of the self-signed certificate."""


class TlsProblem(Exception):
    """The certificate or key cannot be used (the message says why, never the key)."""


def server_context(cert_pem: str, key_pem: str, password: str = "",
                   scratch: Path | None = None) -> ssl.SSLContext:
    """A TLS 1.2+ server context serving ``cert_pem`` (chain may follow) with ``key_pem``.

    Args:
        cert_pem: the certificate, then any intermediates, in PEM.
        key_pem: its private key in PEM (encrypted when ``password`` is given).
        password: the key's password, or empty.
        scratch: folder for the private temporary copy (default: the system's).

    Raises:
        TlsProblem: the PEM cannot be read, the key is encrypted and the password is
            wrong or missing, or the key does not belong to the certificate.
    """
    _check(cert_pem, key_pem, password)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    ctx.set_ciphers(CIPHERS_TLS12)
    ctx.options |= ssl.OP_NO_COMPRESSION | ssl.OP_NO_RENEGOTIATION
    folder = tempfile.mkdtemp(prefix="enerteg-tls-", dir=scratch)
    try:
        cert_file, key_file = Path(folder, "cert.pem"), Path(folder, "key.pem")
        for path, text in ((cert_file, cert_pem), (key_file, key_pem)):
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w", encoding="ascii", errors="replace") as fh:
                fh.write(text)
        try:
            ctx.load_cert_chain(cert_file, key_file, password=password or None)
        except ssl.SSLError as exc:
            raise TlsProblem(_why(exc, bool(password))) from None
        except (TypeError, ValueError) as exc:
            raise TlsProblem(f"the private key cannot be read: {exc}") from None
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    return ctx


def _check(cert_pem: str, key_pem: str, password: str) -> None:
    """Read certificate and key with ``cryptography`` first: its errors say which part is
    wrong (OpenSSL's through ``ssl`` say "PEM lib" for all of them)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import serialization

    try:
        cert = x509.load_pem_x509_certificate(cert_pem.encode())
    except ValueError:
        raise TlsProblem("certificatePem is not a readable PEM certificate") from None
    try:
        key = serialization.load_pem_private_key(key_pem.encode(),
                                                 password.encode() if password else None)
    except TypeError:
        if password:
            raise TlsProblem("privateKeyPem is not encrypted: leave privateKeyPassword "
                             "empty") from None
        raise TlsProblem("privateKeyPem is encrypted: set privateKeyPassword") from None
    except ValueError as exc:
        if password and ("decrypt" in str(exc).lower() or "password" in str(exc).lower()):
            raise TlsProblem("privateKeyPem is encrypted and privateKeyPassword is "
                             "wrong") from None
        raise TlsProblem("privateKeyPem is not a readable PEM private key") from None
    except Exception:
        raise TlsProblem("privateKeyPem is not a readable PEM private key") from None
    pub = serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    if key.public_key().public_bytes(*pub) != cert.public_key().public_bytes(*pub):
        raise TlsProblem("privateKeyPem is not the key of certificatePem")


def _why(exc: ssl.SSLError, has_password: bool) -> str:
    reason = (exc.reason or str(exc)).lower()
    if "key values mismatch" in reason:
        return "privateKeyPem is not the key of certificatePem"
    if "bad decrypt" in reason or "bad password" in reason or "interrupted or cancelled" in reason:
        return ("privateKeyPem is encrypted and privateKeyPassword is wrong" if has_password
                else "privateKeyPem is encrypted: set privateKeyPassword")
    if "pem" in reason or "no start line" in reason or "asn1" in reason or "ca md" in reason:
        return f"certificatePem or privateKeyPem is not valid PEM ({exc.reason or exc})"
    return f"the certificate or key cannot be used: {exc.reason or exc}"


def _addresses() -> list[ipaddress.IPv4Address | ipaddress.IPv6Address]:
    """The host's own addresses (loopback included), as psutil lists them."""
    found: set[ipaddress.IPv4Address | ipaddress.IPv6Address] = {
        ipaddress.ip_address("127.0.0.1"), ipaddress.ip_address("::1")}
    try:
        import psutil
        for addrs in psutil.net_if_addrs().values():
            for a in addrs:
                if a.family in (socket.AF_INET, socket.AF_INET6):
                    try:
                        found.add(ipaddress.ip_address(a.address.split("%")[0]))
                    except ValueError:
                        continue
    except Exception:       # psutil missing or /proc unreadable: loopback only
        pass
    return sorted(found, key=lambda a: (a.version, int(a)))


def self_signed(cert_path: Path, key_path: Path, hostname: str,
                extra: list[str] | None = None) -> tuple[str, str, bool]:
    """The self-signed certificate and key in PEM, made now if the files are missing.

    Args:
        cert_path, key_path: where they are kept (``DataLayout.https_certificate/_key``).
        hostname: the controller's host name (subject and first DNS name).
        extra: further names or addresses (configured interface addresses).

    Returns:
        (certificate PEM, key PEM, whether it was made now).
    """
    if cert_path.exists() and key_path.exists():
        return cert_path.read_text(), key_path.read_text(), False
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    host = hostname or socket.gethostname() or "enerteg"
    dns = list(dict.fromkeys([host, "localhost"]))
    ips = _addresses()
    for word in extra or []:
        try:
            ip = ipaddress.ip_address(word)
        except ValueError:
            if word and word not in dns:
                dns.append(word)
        else:
            if ip not in ips:
                ips.append(ip)
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, host[:64]),
                      x509.NameAttribute(NameOID.ORGANIZATION_NAME, "EnerTEG controller")])
    now = dt.datetime.now(dt.timezone.utc)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name).issuer_name(name).public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=VALID_DAYS))
        .add_extension(x509.SubjectAlternativeName(
            [x509.DNSName(d) for d in dns] + [x509.IPAddress(i) for i in ips]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(x509.KeyUsage(
            digital_signature=True, key_cert_sign=True, content_commitment=False,
            key_encipherment=False, data_encipherment=False, key_agreement=False,
            crl_sign=False, encipher_only=False, decipher_only=False), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .sign(key, hashes.SHA256())
    )
    cert_pem = cert.public_bytes(serialization.Encoding.PEM).decode()
    key_pem = key.private_bytes(serialization.Encoding.PEM,
                                serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption()).decode()
    _write_private(key_path, key_pem, 0o600)
    _write_private(cert_path, cert_pem, 0o600)
    return cert_pem, key_pem, True


def _write_private(path: Path, text: str, mode: int) -> None:
    """Write ``text`` to ``path`` atomically, created with ``mode``."""
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with os.fdopen(fd, "w", encoding="ascii") as fh:
        fh.write(text)
        fh.flush()
        os.fsync(fh.fileno())
    os.chmod(tmp, mode)
    os.replace(tmp, path)


def certificate_summary(cert_pem: str) -> str:
    """``CN=host, valid until 2036-12-05`` for the status line (empty if unreadable)."""
    try:
        from cryptography import x509
        cert = x509.load_pem_x509_certificate(cert_pem.encode())
        return (f"{cert.subject.rfc4514_string()}, valid until "
                f"{cert.not_valid_after_utc.date().isoformat()}")
    except Exception:
        return ""
