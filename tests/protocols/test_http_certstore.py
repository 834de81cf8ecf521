"""HTTPS serves a certificate from the certificate store (usage "web server"), verified
by curl against the CA that signed it; the store's key never reaches the disk in clear."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from enerteg_tui.core.permissions import SYSTEM
from tests.certgen import make_ca, make_leaf, pkcs12_bytes
from tests.conftest import ADMIN
from tests.helpers import wait_for
from tests.protocols.test_http import curl

pytestmark = pytest.mark.e2e


async def test_https_serves_the_store_web_server_certificate(make_controller: Any,
                                                             tmp_path: Path) -> None:
    ca = make_ca("Store test CA")
    leaf = make_leaf(ca, "localhost")
    c = await make_controller(pdus=2, bind="127.0.0.1", interval=0.2)
    info = await c.core.certs.import_data(ADMIN, pkcs12_bytes(leaf, "pfx-pass"),
                                          passphrase="pfx-pass", usage="web-server")
    svc = c.service("http")
    await c.config.put(SYSTEM, "http_server", {"enabled": "enabled"})
    await wait_for(lambda: svc.status.running, timeout=15)
    assert "certificate store" in svc.status.text, svc.status.text
    assert svc.certificate.startswith(leaf.pem.strip().split("\n")[0])
    ca_path = tmp_path / "ca.pem"
    ca_path.write_text(ca.pem)
    code, out, err = await curl("--cacert", str(ca_path),
                                f"https://localhost:{svc.https_port}/healthz")
    assert (code, out) == (0, "ok\n"), err
    assert not list(c.core.paths.root.glob("enerteg-tls-*"))
    # deleted from the store: the next apply serves the self-signed certificate again
    await c.core.certs.delete(ADMIN, info.id)
    await c.config.put(SYSTEM, "http_server", {"hsts": "disabled"})
    await wait_for(lambda: "self-signed" in svc.status.text, timeout=15)


async def test_import_and_delete_apply_live_without_a_restart(make_controller: Any,
                                                             tmp_path: Path) -> None:
    """No put, no restart: the store's event makes HTTPS serve the imported certificate
    from the next handshake on; an /events stream open over HTTPS meanwhile stays open."""
    import asyncio
    import ssl

    import httpx

    c = await make_controller(pdus=2, bind="127.0.0.1", interval=0.2)
    svc = c.service("http")
    await c.config.put(SYSTEM, "http_server", {"enabled": "enabled"})
    await wait_for(lambda: svc.status.running, timeout=15)
    port = svc.https_port
    own = tmp_path / "self.pem"
    own.write_text(svc.certificate)
    url = f"https://localhost:{port}/healthz"
    assert (await curl("--cacert", str(own), url))[:2] == (0, "ok\n")
    async with httpx.AsyncClient(verify=ssl.create_default_context(cafile=str(own)),
                                 timeout=30) as client:
        _, token = await c.core.tokens.create(ADMIN, "events", days=1)   # /events signs in
        async with client.stream("GET", f"https://localhost:{port}/events",
                                 headers={"Authorization": f"Bearer {token}"}) as stream:
            lines = stream.aiter_lines()
            assert (await asyncio.wait_for(lines.__anext__(), 15)).startswith("retry: ")
            ca = make_ca("Live CA")
            ca_path = tmp_path / "ca.pem"
            ca_path.write_text(ca.pem)
            info = await c.core.certs.import_data(ADMIN, pkcs12_bytes(make_leaf(ca), "pw"),
                                                  passphrase="pw", usage="web-server")
            await wait_for(lambda: "certificate store" in svc.status.text, timeout=15)
            code, out, err = await curl("--cacert", str(ca_path), url)
            assert (code, out) == (0, "ok\n"), err
            code, _, _ = await curl("--cacert", str(own), url)
            assert code == 60                          # the self-signed one is not served
            assert svc.https_port == port and len(svc.events_hub.streams) == 1
            await c.core.certs.delete(ADMIN, info.id)
            await wait_for(lambda: "self-signed" in svc.status.text, timeout=15)
            assert (await curl("--cacert", str(own), url))[:2] == (0, "ok\n")
            assert (await curl("--cacert", str(ca_path), url))[0] == 60
            assert len(svc.events_hub.streams) == 1 and not stream.is_closed
