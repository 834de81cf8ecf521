"""Redfish CertificateService and the HTTPS certificate collection over the core's
certificate store, through a real HTTPS client on a simulated ring: import (POST),
read (public chain only), ReplaceCertificate, delete, the readonly 403, the audit
entries; a certificate with its key becomes the one HTTPS serves."""

from __future__ import annotations

import base64
import ssl

import httpx
import pytest

from enerteg_tui.core.permissions import SYSTEM
from tests.certgen import key_pem, make_ca, make_leaf, pkcs12_bytes
from tests.helpers import wait_for

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("redfish")]

PW = "Redfish-pass-2026!"
CS = "/redfish/v1/CertificateService"
CERTS = "/redfish/v1/Managers/Controller/NetworkProtocol/HTTPS/Certificates"
REPLACE = f"{CS}/Actions/CertificateService.ReplaceCertificate"


async def test_https_certificates_map_onto_the_certificate_store(make_controller,
                                                                 tmp_path) -> None:
    c = await make_controller(pdus=1, bind="127.0.0.1", interval=0.5)
    svc = c.service("http")
    await c.config.put(SYSTEM, "http_server", {"enabled": "enabled"})
    await wait_for(lambda: svc.status.running and svc.https_port, timeout=15)
    for name, roles in (("boss", ["admin"]), ("viewer", ["readonly"])):
        await c.core.users.add(SYSTEM, name, PW, roles)
    ca = make_ca("Redfish Test CA")
    trust = ssl.create_default_context(cadata=svc.certificate)
    trust.load_verify_locations(cadata=ca.pem)      # the served certificate will change
    boss, viewer = ("boss", PW), ("viewer", PW)
    a, b, served = make_leaf(ca, "first"), make_leaf(ca, "second"), make_leaf(ca, "localhost")
    async with httpx.AsyncClient(base_url=f"https://localhost:{svc.https_port}",
                                 verify=trust, timeout=30) as client:
        root = (await client.get("/redfish/v1/")).json()
        assert root["CertificateService"] == {"@odata.id": CS}
        r = await client.get("/redfish/v1/Managers/Controller/NetworkProtocol", auth=viewer)
        assert r.json()["HTTPS"]["Certificates"] == {"@odata.id": CERTS}
        r = await client.get(CS, auth=viewer)
        assert r.status_code == 200
        assert r.json()["Actions"]["#CertificateService.ReplaceCertificate"]["target"] == REPLACE
        # the store is administer-only: a readonly user reads and changes nothing
        for method, url, body in (("GET", CERTS, None), ("GET", f"{CS}/CertificateLocations",
                                                         None),
                                  ("POST", CERTS, {"CertificateString": a.pem,
                                                   "CertificateType": "PEM"})):
            r = await client.request(method, url, json=body, auth=viewer)
            assert r.status_code == 403, (method, url, r.text)
        assert c.core.certs.all(SYSTEM) == []
        # bad input: named, nothing stored
        r = await client.post(CERTS, json={"CertificateString": "hello",
                                           "CertificateType": "PEM"}, auth=boss)
        assert r.status_code == 400 and "PEM" in r.json()["error"]["message"]
        r = await client.post(CERTS, json={"CertificateString": a.pem,
                                           "CertificateType": "DER"}, auth=boss)
        assert r.status_code == 400 and "'DER'" in r.json()["error"]["message"]
        r = await client.post(CERTS, json={"CertificateString": a.pem, "CertificateType": "PEM",
                                           "Colour": 1}, auth=boss)
        assert r.status_code == 400 and "Colour" in r.json()["error"]["message"]
        assert c.core.certs.all(SYSTEM) == []
        # import (no key: listed, not served), read, list
        r = await client.post(CERTS, json={"CertificateString": a.pem,
                                           "CertificateType": "PEM"}, auth=boss)
        assert r.status_code == 201, r.text
        first = r.headers["Location"]
        doc = (await client.get(first, auth=boss)).json()
        assert doc["Subject"] == {"CommonName": "first"}
        assert doc["Issuer"] == {"CommonName": "Redfish Test CA"}
        assert doc["CertificateString"] == a.pem and doc["CertificateUsageTypes"] == ["Web"]
        assert doc["Fingerprint"] == c.core.certs.all(SYSTEM)[0].fingerprint
        r = await client.post(CERTS, json={"CertificateString": a.pem,
                                           "CertificateType": "PEM"}, auth=boss)
        assert r.status_code == 400 and "already stored" in r.json()["error"]["message"]
        listed = (await client.get(CERTS, auth=boss)).json()["Members"]
        assert listed == [{"@odata.id": first}]
        locations = (await client.get(f"{CS}/CertificateLocations", auth=boss)).json()
        assert locations["Links"]["Certificates"] == [{"@odata.id": first}]
        # ReplaceCertificate: the new one (PKCS12 with a password) in, the old one out
        p12 = base64.b64encode(pkcs12_bytes(b, "p12-pass")).decode()
        r = await client.post(REPLACE, json={"CertificateUri": {"@odata.id": first},
                                             "CertificateString": p12,
                                             "CertificateType": "PKCS12",
                                             "Password": "wrong"}, auth=boss)
        assert r.status_code == 400 and "passphrase" in r.json()["error"]["message"]
        r = await client.post(REPLACE, json={"CertificateUri": {"@odata.id": first},
                                             "CertificateString": p12,
                                             "CertificateType": "PKCS12",
                                             "Password": "p12-pass"}, auth=viewer)
        assert r.status_code == 403
        assert (await client.get(first, auth=boss)).status_code == 200
        r = await client.post(REPLACE, json={"CertificateUri": {"@odata.id": first},
                                             "CertificateString": p12,
                                             "CertificateType": "PKCS12",
                                             "Password": "p12-pass"}, auth=boss)
        assert r.status_code == 200, r.text
        second = r.headers["Location"]
        assert second != first and r.json()["Subject"] == {"CommonName": "second"}
        assert "PRIVATE" not in r.text              # its key is kept, never shown
        assert (await client.get(first, auth=boss)).status_code == 404
        [info] = c.core.certs.all(SYSTEM)
        assert info.has_key and info.name == "first" and info.usage.value == "web-server"
        # delete
        r = await client.delete(second, auth=viewer)
        assert r.status_code == 403
        r = await client.delete(second, auth=boss)
        assert r.status_code == 204
        assert c.core.certs.all(SYSTEM) == []
        # a certificate with its key (PEM bundle) is served by HTTPS from then on
        r = await client.post(CERTS, json={"CertificateString": served.pem + key_pem(served),
                                           "CertificateType": "PEM"}, auth=boss)
        assert r.status_code == 201 and "PRIVATE" not in r.text

        def serving() -> bool:
            return svc.certificate.strip() == served.pem.strip()
        await wait_for(serving, timeout=15)
    actions = [e.action for e in await c.audit.query(SYSTEM, limit=100)
               if e.user == "boss" and e.action.startswith("cert.")]
    assert actions.count("cert.import") == 3 and actions.count("cert.delete") == 2
