"""Redfish's CertificateService and the HTTPS certificate collection, over the core's
certificate store (``core.certs``, core/certstore.py).

Why: the OCP baseline wants the Manager's ``NetworkProtocol`` ``HTTPS.Certificates`` and
a ``CertificateService``; a Redfish client rotates the web server's certificate with
them. Nothing is kept here: every read and change is a call of ``CertStore`` with its
permission check (``administer``), its checks of the data and its audit entries
(``cert.import``, ``cert.delete``, face ``redfish``).

What maps:

* ``…/NetworkProtocol/HTTPS/Certificates`` lists the stored certificates whose usage is
  ``web-server`` (the one HTTPS serves is the newest valid one with a key; while there
  is none it serves ``config/http_server``'s or its self-signed certificate, which are
  not in the store and so not listed). Other usages (LDAP, SMTP, …) have no Redfish
  collection of this service and are managed in ``certs/``.
* ``GET …/Certificates/<id>``: the Certificate; ``CertificateString`` is the public
  chain (PEM), never a key.
* ``POST …/Certificates`` ``{"CertificateString", "CertificateType"}``: ``import_data``
  with usage ``web-server``; a PEM string may hold the certificate's private key (not
  encrypted), ``PKCS12`` is base64 with ``Password`` (in ReplaceCertificate).
* ``DELETE …/Certificates/<id>``: ``CertStore.delete``.
* ``#CertificateService.ReplaceCertificate`` ``{"CertificateUri", "CertificateString",
  "CertificateType", "Password"}``: the new one is imported with the old one's usage and
  name, then the old one deleted (two audited core calls; a refused import changes
  nothing); the answer names the new certificate (its own id: the store numbers).
* ``CertificateLocations`` links every certificate listed here.

``GenerateCSR`` is not offered: the store imports keys, it does not make them.
"""

from __future__ import annotations

import base64
import binascii
from typing import Any

from fastapi.responses import Response

from ....core.certstore import CertInfo, CertUsage
from ....core.errors import Invalid
from ....core.permissions import Action, require
from .errors import RedfishError
from .root import MANAGER, V1, iso
from .tree import Ctx, collection, route

__all__ = ["CERTS", "CERT_SERVICE", "certificate_doc"]

CERT_SERVICE = f"{V1}/CertificateService"
LOCATIONS = f"{CERT_SERVICE}/CertificateLocations"
REPLACE = f"{CERT_SERVICE}/Actions/CertificateService.ReplaceCertificate"
CERTS = f"{MANAGER}/NetworkProtocol/HTTPS/Certificates"
TYPES = ("PEM", "PEMchain", "PKCS12")
"""``CertificateType`` values taken (PKCS12: base64 of the file)."""

_NAME_FIELDS = (("CommonName", "2.5.4.3"), ("Organization", "2.5.4.10"),
                ("OrganizationalUnit", "2.5.4.11"), ("City", "2.5.4.7"),
                ("State", "2.5.4.8"), ("Country", "2.5.4.6"),
                ("Email", "1.2.840.113549.1.9.1"))


def _identifier(name: Any) -> dict[str, str]:
    """A Redfish ``Identifier`` of an X.509 name (the fields it has)."""
    from cryptography.x509 import ObjectIdentifier

    out = {}
    for key, oid in _NAME_FIELDS:
        values = name.get_attributes_for_oid(ObjectIdentifier(oid))
        if values:
            out[key] = str(values[0].value)
    return out


def certificate_doc(info: CertInfo) -> dict[str, Any]:
    """The Certificate document of a stored certificate (public parts only)."""
    from cryptography import x509

    leaf = x509.load_pem_x509_certificates(info.chain_pem.encode())[0]
    serial = f"{leaf.serial_number:x}"
    serial = serial.zfill(len(serial) + len(serial) % 2)
    return {"@odata.id": f"{CERTS}/{info.id}", "@odata.type": "#Certificate.v1_10_1.Certificate",
            "Id": str(info.id), "Name": info.name,
            "Description": "Web server certificate" + (" with its private key (kept in the "
                                                      "controller, never shown)"
                                                      if info.has_key else " (no key)"),
            "CertificateString": info.chain_pem,
            "CertificateType": "PEMchain" if info.chain_length > 1 else "PEM",
            "CertificateUsageTypes": ["Web"],
            "Subject": _identifier(leaf.subject), "Issuer": _identifier(leaf.issuer),
            "ValidNotBefore": iso(info.not_before), "ValidNotAfter": iso(info.not_after),
            "SerialNumber": ":".join(serial[i:i + 2] for i in range(0, len(serial), 2)),
            "Fingerprint": info.fingerprint, "FingerprintHashAlgorithm": "TLS_HASH_ALG_SHA256"}


def _web_certs(ctx: Ctx) -> list[CertInfo]:
    return [c for c in ctx.core.certs.all(ctx.who) if c.usage is CertUsage.WEB_SERVER]


def _cert(ctx: Ctx, text: str) -> CertInfo:
    """The web-server certificate of id ``text`` (404 naming those there are)."""
    listed = _web_certs(ctx)
    for c in listed:
        if str(c.id) == text:
            return c
    have = ", ".join(str(c.id) for c in listed) or "none"
    raise RedfishError(404, "ResourceNotFound",
                       f"There is no web server certificate {text!r} (stored: {have})",
                       args=["Certificate", text])


def _data(body: dict[str, Any], action: str, allowed: set[str]) -> tuple[bytes, str]:
    """(certificate data, passphrase) of a request body; 400 naming what is wrong."""
    unknown = sorted(set(body) - allowed)
    if unknown:
        raise RedfishError(400, "ActionParameterUnknown" if action != "POST"
                           else "PropertyUnknown",
                           f"{action} has no parameter {unknown[0]!r}; it takes "
                           f"{', '.join(sorted(allowed))}", args=[action, unknown[0]]
                           if action != "POST" else [unknown[0]])
    text, kind = body.get("CertificateString"), body.get("CertificateType")
    for name, value in (("CertificateString", text), ("CertificateType", kind)):
        if not isinstance(value, str) or not value.strip():
            raise RedfishError(400, "ActionParameterMissing",
                               f"{action} needs {name} (a string)", args=[action, name])
    assert isinstance(text, str) and isinstance(kind, str)
    if kind not in TYPES:
        raise RedfishError(400, "ActionParameterValueNotInList",
                           f"CertificateType {kind!r} is not allowed; allowed: "
                           f"{', '.join(TYPES)}", args=[kind, "CertificateType", action])
    password = body.get("Password", "")
    if not isinstance(password, str):
        raise RedfishError(400, "ActionParameterValueTypeError",
                           "Password must be a string", args=["(hidden)", "Password", action])
    if kind == "PKCS12":
        try:
            return base64.b64decode(text, validate=True), password
        except (binascii.Error, ValueError):
            raise RedfishError(400, "ActionParameterValueFormatError",
                               "CertificateString of a PKCS12 certificate must be the "
                               "file in base64", args=["(data)", "CertificateString",
                                                       action]) from None
    if "-----BEGIN" not in text:
        raise RedfishError(400, "ActionParameterValueFormatError",
                           f"CertificateString of type {kind} must be PEM text "
                           "(-----BEGIN CERTIFICATE-----…)",
                           args=["(data)", "CertificateString", action])
    return text.encode(), password


async def _import(ctx: Ctx, data: bytes, password: str, usage: CertUsage,
                  name: str = "") -> CertInfo:
    try:
        return await ctx.core.certs.import_data(ctx.who, data, passphrase=password,
                                                usage=usage, name=name, source="redfish")
    except Invalid as exc:
        raise RedfishError(400, "ActionParameterValueError", str(exc),
                           args=["CertificateString", "(data)"]) from None


# ------------------------------------------------------------------ the service
@route(CERT_SERVICE)
async def certificate_service(ctx: Ctx) -> dict[str, Any]:
    require(ctx.who, Action.READ, "CertificateService")
    return {"@odata.id": CERT_SERVICE,
            "@odata.type": "#CertificateService.v1_2_1.CertificateService",
            "Id": "CertificateService", "Name": "Certificate service",
            "Description": "The controller's certificate store (administer); HTTPS "
                           "certificates under the Manager's NetworkProtocol",
            "CertificateLocations": {"@odata.id": LOCATIONS},
            "Actions": {"#CertificateService.ReplaceCertificate": {
                "target": REPLACE,
                "CertificateType@Redfish.AllowableValues": list(TYPES)}}}


@route(LOCATIONS)
async def certificate_locations(ctx: Ctx) -> dict[str, Any]:
    links = [{"@odata.id": f"{CERTS}/{c.id}"} for c in _web_certs(ctx)]
    return {"@odata.id": LOCATIONS,
            "@odata.type": "#CertificateLocations.v1_0_3.CertificateLocations",
            "Id": "CertificateLocations", "Name": "Certificate locations",
            "Links": {"Certificates": links, "Certificates@odata.count": len(links)}}


@route(REPLACE, "POST")
async def replace_certificate(ctx: Ctx) -> Any:
    action = "ReplaceCertificate"
    require(ctx.who, Action.ADMINISTER, "certs")
    uri = ctx.body.get("CertificateUri")
    target = uri.get("@odata.id") if isinstance(uri, dict) else None
    if not isinstance(target, str):
        raise RedfishError(400, "ActionParameterMissing",
                           f'{action} needs CertificateUri: {{"@odata.id": "{CERTS}/<id>"}}',
                           args=[action, "CertificateUri"])
    head, _, cert_id = target.rstrip("/").rpartition("/")
    if head != CERTS:
        raise RedfishError(400, "ActionParameterValueError",
                           f"CertificateUri {target!r} is not a certificate of this "
                           f"service; allowed: {CERTS}/<id>", args=["CertificateUri", action])
    old = _cert(ctx, cert_id)
    data, password = _data(ctx.body, action, {"CertificateUri", "CertificateString",
                                              "CertificateType", "Password"})
    new = await _import(ctx, data, password, old.usage, old.name)
    await ctx.core.certs.delete(ctx.who, old.id)
    doc = certificate_doc(new)
    return 200, doc, {"Location": doc["@odata.id"]}


# ------------------------------------------------------------------ HTTPS certificates
@route(CERTS)
async def https_certificates(ctx: Ctx) -> dict[str, Any]:
    doc = collection(CERTS, "#CertificateCollection.CertificateCollection",
                     "HTTPS certificates", [f"{CERTS}/{c.id}" for c in _web_certs(ctx)])
    doc["@Redfish.SupportedCertificates"] = list(TYPES)
    return doc


@route(CERTS, "POST")
async def https_certificate_add(ctx: Ctx) -> Any:
    require(ctx.who, Action.ADMINISTER, "certs")
    data, password = _data(ctx.body, "POST", {"CertificateString", "CertificateType"})
    info = await _import(ctx, data, password, CertUsage.WEB_SERVER)
    doc = certificate_doc(info)
    return 201, doc, {"Location": doc["@odata.id"]}


@route(f"{CERTS}/{{cert}}")
async def https_certificate(ctx: Ctx) -> dict[str, Any]:
    return certificate_doc(_cert(ctx, ctx.params["cert"]))


@route(f"{CERTS}/{{cert}}", "DELETE")
async def https_certificate_delete(ctx: Ctx) -> Response:
    info = _cert(ctx, ctx.params["cert"])
    await ctx.core.certs.delete(ctx.who, info.id)
    return Response(status_code=204, headers={"OData-Version": "4.0"})
