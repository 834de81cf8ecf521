"""Certificates made in a test with ``cryptography``: a CA, leaves it signs, and every
file format the certificate store imports (PEM, DER, PKCS#12, encrypted PEM keys)."""

from __future__ import annotations

import datetime as dt
import ipaddress
from dataclasses import dataclass
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import NameOID

__all__ = ["Made", "make_ca", "make_leaf", "pkcs12_bytes", "key_pem"]


@dataclass
class Made:
    """A certificate and its key."""

    cert: Any
    key: Any

    @property
    def pem(self) -> str:
        return self.cert.public_bytes(serialization.Encoding.PEM).decode()

    @property
    def der(self) -> bytes:
        return self.cert.public_bytes(serialization.Encoding.DER)


def _name(cn: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def make_ca(cn: str = "Test CA", days: int = 365) -> Made:
    key = ec.generate_private_key(ec.SECP256R1())
    now = dt.datetime.now(dt.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(_name(cn)).issuer_name(_name(cn))
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(days=1)).not_valid_after(now + dt.timedelta(days=days))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True,
                                         content_commitment=False, key_encipherment=False,
                                         data_encipherment=False, key_agreement=False,
                                         encipher_only=False, decipher_only=False), critical=True)
            .sign(key, hashes.SHA256()))
    return Made(cert, key)


def make_leaf(ca: Made, cn: str = "localhost", days: int = 365,
              names: tuple[str, ...] = ("localhost",),
              ips: tuple[str, ...] = ("127.0.0.1",)) -> Made:
    key = ec.generate_private_key(ec.SECP256R1())
    now = dt.datetime.now(dt.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(_name(cn)).issuer_name(ca.cert.subject)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(days=1)).not_valid_after(now + dt.timedelta(days=days))
            .add_extension(x509.SubjectAlternativeName(
                [x509.DNSName(n) for n in names]
                + [x509.IPAddress(ipaddress.ip_address(i)) for i in ips]), critical=False)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .sign(ca.key, hashes.SHA256()))
    return Made(cert, key)


def key_pem(made: Made, passphrase: str = "") -> str:
    enc = (serialization.BestAvailableEncryption(passphrase.encode()) if passphrase
           else serialization.NoEncryption())
    return made.key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                  enc).decode()


def pkcs12_bytes(made: Made, passphrase: str, chain: tuple[Made, ...] = ()) -> bytes:
    enc = (serialization.BestAvailableEncryption(passphrase.encode()) if passphrase
           else serialization.NoEncryption())
    return pkcs12.serialize_key_and_certificates(b"test", made.key, made.cert,
                                                 [c.cert for c in chain] or None, enc)


def fixed_cert(cn: str, seed: int, not_before: float, not_after: float,
               issuer: Made | None = None, ca: bool = False,
               names: tuple[str, ...] = ()) -> Made:
    """A certificate that is the same on every run (Ed25519 signatures are deterministic;
    key, serial and dates are fixed): for snapshots, whose fingerprints must not move."""
    from cryptography.hazmat.primitives.asymmetric import ed25519

    key = ed25519.Ed25519PrivateKey.from_private_bytes(bytes([seed]) * 32)
    signer = issuer.key if issuer is not None else key
    builder = (x509.CertificateBuilder().subject_name(_name(cn))
               .issuer_name(issuer.cert.subject if issuer is not None else _name(cn))
               .public_key(key.public_key()).serial_number(1000 + seed)
               .not_valid_before(dt.datetime.fromtimestamp(not_before, dt.timezone.utc))
               .not_valid_after(dt.datetime.fromtimestamp(not_after, dt.timezone.utc))
               .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True))
    if names:
        builder = builder.add_extension(
            x509.SubjectAlternativeName([x509.DNSName(n) for n in names]), critical=False)
    return Made(builder.sign(signer, None), key)
