"""The web server through real clients (curl, httpx, a raw TLS socket) on loopback:
started, changed and stopped by config/http_server without a restart, the shell's
report, TLS with the self-signed certificate (verified with --cacert) and with a
configured one, TLS 1.1 refused, the HTTP→HTTPS redirect, HSTS, a port in use, a
certificate that cannot be used, the Grafana dashboard in /docs."""

from __future__ import annotations

import asyncio
import json
import os
import socket
import ssl
import stat
import subprocess
from pathlib import Path
from typing import Any

import pytest

from enerteg_tui.core.permissions import SYSTEM
from enerteg_tui.protocols.http.service import DASHBOARD_NAME, DASHBOARD_PATH
from tests.helpers import wait_for

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]


async def web(make_controller: Any, pdus: int = 2, **settings: Any) -> tuple[Any, Any]:
    """A controller whose web server runs on free loopback ports."""
    c = await make_controller(pdus=pdus, bind="127.0.0.1",
                              **settings.pop("controller", {"interval": 0.2}))
    svc = c.service("http")
    await c.config.put(SYSTEM, "http_server", {"enabled": "enabled", **settings})
    await wait_for(lambda: svc.status.running, timeout=15)
    return c, svc


async def curl(*args: str, timeout: float = 30) -> tuple[int, str, str]:
    """Run curl; (exit code, stdout, stderr)."""
    proc = await asyncio.create_subprocess_exec(
        "curl", "-sS", "--max-time", "20", *args,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    out, err = await asyncio.wait_for(proc.communicate(), timeout)
    return proc.returncode or 0, out.decode(errors="replace"), err.decode(errors="replace")


def ca_file(tmp_path: Path, pem: str) -> str:
    path = tmp_path / "ca.pem"
    path.write_text(pem)
    return str(path)


# ------------------------------------------------------------------ lifecycle
async def test_disabled_by_default_then_enabled_changed_and_stopped_live(make_controller,
                                                                        tmp_path) -> None:
    c = await make_controller(pdus=2, bind="127.0.0.1")
    svc = c.service("http")
    assert not svc.status.running
    assert svc.status.text == "disabled (config/http_server enabled=disabled)"
    assert c.core.faces.text("http_server") == svc.status.text
    assert c.config.appliers.applied_by("http_server") == ["web server"]
    await c.config.put(SYSTEM, "http_server", {"enabled": "enabled"})
    await wait_for(lambda: svc.status.running, timeout=15)
    assert svc.status.text.startswith(f"running on HTTPS 127.0.0.1:{svc.https_port} "
                                      "(self-signed certificate, TLS 1.2+), HTTP 127.0.0.1:")
    code, out, err = await curl(f"http://127.0.0.1:{svc.port}/healthz")
    assert (code, out) == (0, "ok\n"), err
    # no HTTPS any more: its port closes, HTTP stays
    https_port = svc.https_port
    await c.config.put(SYSTEM, "http_server", {"httpsEnabled": "disabled"})
    # (port too: between closing and reopening the listeners both ports are None)
    await wait_for(lambda: svc.https_port is None and svc.port and svc.status.running,
                   timeout=15)
    code, _, _ = await curl("-k", f"https://127.0.0.1:{https_port}/healthz")
    assert code == 7                                   # connection refused
    code, out, _ = await curl(f"http://127.0.0.1:{svc.port}/healthz")
    assert out == "ok\n"
    http_port = svc.port
    await c.config.put(SYSTEM, "http_server", {"enabled": "disabled"})
    await wait_for(lambda: not svc.status.running, timeout=15)
    code, _, _ = await curl(f"http://127.0.0.1:{http_port}/healthz")
    assert code == 7


async def test_shell_put_reports_the_face_not_stored_only(make_controller) -> None:
    import json as _json

    from enerteg_tui.protocols.shell.session import ShellSession
    from tests.conftest import ADMIN

    c = await make_controller(pdus=2, bind="127.0.0.1")
    out: list[str] = []
    err: list[str] = []
    code = await ShellSession(c.core, ADMIN).run_script(
        "cd config/http_server\nput enabled=enabled\ncat", out.append, err.append)
    assert code == 0, err
    text = "".join(err)
    assert "Value at config/http_server updated successfully." in text
    assert "not active" not in text
    assert "Web access: running on HTTPS 127.0.0.1:" in text
    assert _json.loads("".join(out))["u"]["enabled"] == "enabled"


async def test_port_in_use_is_reported_and_audited(make_controller) -> None:
    blocker = socket.socket()
    blocker.bind(("127.0.0.1", 0))
    blocker.listen(1)
    port = blocker.getsockname()[1]
    try:
        c = await make_controller(pdus=2, bind="127.0.0.1", http_port=port)
        svc = c.service("http")
        await c.config.put(SYSTEM, "http_server", {"enabled": "enabled"})
        await wait_for(lambda: "not running" in svc.status.text, timeout=15)
        assert (f"cannot listen on TCP (HTTP) 127.0.0.1:{port}" in svc.status.text
                and "holds the port" in svc.status.text), svc.status.text

        async def audited() -> bool:                     # written after the status changes
            entries = await c.audit.query(SYSTEM, limit=20)
            return any(e.action == "http.error" and "Web server not started" in e.message
                       for e in entries)

        await wait_for(audited, timeout=15)
    finally:
        blocker.close()


# ------------------------------------------------------------------ TLS
async def test_self_signed_certificate_is_made_once_kept_and_verifies(make_controller,
                                                                      tmp_path) -> None:
    c, svc = await web(make_controller)
    paths = c.core.paths
    assert stat.S_IMODE(os.stat(paths.https_key).st_mode) == 0o600
    first = paths.https_certificate.read_text()
    assert svc.certificate == first
    ca = ca_file(tmp_path, first)
    code, out, err = await curl("-D", "-", "--cacert", ca,
                                f"https://localhost:{svc.https_port}/healthz")
    assert code == 0, err
    assert out.endswith("ok\n")
    assert "strict-transport-security: max-age=31536000" in out.lower()
    code, out, err = await curl("--cacert", ca, f"https://127.0.0.1:{svc.https_port}/healthz")
    assert (code, out) == (0, "ok\n"), err           # the address is in the SANs too
    from cryptography import x509
    cert = x509.load_pem_x509_certificate(first.encode())
    sans = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert {"enerteg", "localhost"} <= set(sans.get_values_for_type(x509.DNSName))
    # a restart of the listeners (new port) keeps the same certificate
    await c.config.put(SYSTEM, "http_server", {"insecureEnabled": "disabled"})
    await wait_for(lambda: "redirects" in svc.status.text, timeout=15)
    assert paths.https_certificate.read_text() == first


@pytest.mark.filterwarnings("ignore:ssl.TLSVersion.TLSv1_1 is deprecated")
async def test_tls_1_1_is_refused_and_1_2_accepted(make_controller, tmp_path) -> None:
    c, svc = await web(make_controller)
    ca = ca_file(tmp_path, svc.certificate)
    code, _, err = await curl("--cacert", ca, "--tls-max", "1.1",
                              f"https://localhost:{svc.https_port}/healthz")
    assert code == 35, err                          # handshake refused
    code, out, err = await curl("--cacert", ca, "--tlsv1.2", "--tls-max", "1.2",
                                f"https://localhost:{svc.https_port}/healthz")
    assert (code, out) == (0, "ok\n"), err

    def handshake(version: ssl.TLSVersion) -> str:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        ctx.set_ciphers("ALL:@SECLEVEL=0")
        ctx.minimum_version = ctx.maximum_version = version
        with socket.create_connection(("127.0.0.1", svc.https_port), timeout=10) as raw:
            try:
                with ctx.wrap_socket(raw) as tls:
                    return str(tls.version())
            except (ssl.SSLError, OSError) as exc:
                return f"refused: {exc}"

    # a client that offers only TLS 1.1 with every cipher is refused by the server
    assert (await asyncio.to_thread(handshake, ssl.TLSVersion.TLSv1_1)).startswith("refused")
    assert await asyncio.to_thread(handshake, ssl.TLSVersion.TLSv1_2) == "TLSv1.2"
    assert await asyncio.to_thread(handshake, ssl.TLSVersion.TLSv1_3) == "TLSv1.3"


def _make_ca_and_server(tmp_path: Path, password: bytes | None) -> tuple[str, str, str]:
    """A CA, and a server certificate for localhost it signed (key encrypted with
    ``password`` if given): (CA PEM, server cert PEM, server key PEM)."""
    import datetime as dt
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    now = dt.datetime.now(dt.timezone.utc)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Test CA")])
    ca = (x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name)
          .public_key(ca_key.public_key()).serial_number(1)
          .not_valid_before(now - dt.timedelta(days=1)).not_valid_after(now + dt.timedelta(days=30))
          .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
          .sign(ca_key, hashes.SHA256()))
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")]))
            .issuer_name(ca_name).public_key(key.public_key()).serial_number(2)
            .not_valid_before(now - dt.timedelta(days=1)).not_valid_after(now + dt.timedelta(days=30))
            .add_extension(x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                critical=False)
            .sign(ca_key, hashes.SHA256()))
    enc = (serialization.BestAvailableEncryption(password) if password
           else serialization.NoEncryption())
    pem = serialization.Encoding.PEM
    return (ca.public_bytes(pem).decode(), cert.public_bytes(pem).decode(),
            key.private_bytes(pem, serialization.PrivateFormat.PKCS8, enc).decode())


async def test_a_configured_certificate_is_served_and_a_bad_one_explained(make_controller,
                                                                          tmp_path) -> None:
    ca, cert, key = _make_ca_and_server(tmp_path, b"key-secret-1")
    c, svc = await web(make_controller)
    await c.config.put(SYSTEM, "http_server", {"certificatePem": cert, "privateKeyPem": key,
                                               "privateKeyPassword": "key-secret-1"})
    await wait_for(lambda: "configured certificate" in svc.status.text, timeout=15)
    code, out, err = await curl("--cacert", ca_file(tmp_path, ca),
                                f"https://localhost:{svc.https_port}/healthz")
    assert (code, out) == (0, "ok\n"), err
    assert not list(c.core.paths.root.glob("enerteg-tls-*"))     # no key left on disk
    # a wrong key password: not running, and why, without the key
    await c.config.put(SYSTEM, "http_server", {"privateKeyPassword": "wrong-one"})
    await wait_for(lambda: not svc.status.running, timeout=15)
    assert svc.status.text == ("not running: HTTPS: privateKeyPem is encrypted and "
                               "privateKeyPassword is wrong"), svc.status.text
    # another certificate's key: named as such
    _, _, other_key = _make_ca_and_server(tmp_path, None)
    await c.config.put(SYSTEM, "http_server", {"privateKeyPem": other_key,
                                               "privateKeyPassword": ""})
    await wait_for(lambda: "not the key" in svc.status.text, timeout=15)
    assert svc.status.text == ("not running: HTTPS: privateKeyPem is not the key of "
                               "certificatePem")
    entries = await c.audit.query(SYSTEM, limit=50)
    assert not any("PRIVATE KEY" in e.message for e in entries)


# ------------------------------------------------------------------ redirect, HSTS
async def test_plain_http_redirects_to_https_while_insecure_is_off(make_controller,
                                                                   tmp_path) -> None:
    c, svc = await web(make_controller, insecureEnabled="disabled")
    assert "(redirects to HTTPS)" in svc.status.text
    code, out, err = await curl("-D", "-", "-o", "/dev/null",
                                f"http://localhost:{svc.port}/metrics?x=1")
    assert code == 0, err
    assert out.startswith("HTTP/1.1 301")
    assert f"location: https://localhost:{svc.https_port}/metrics?x=1" in out.lower()
    code, out, err = await curl("-X", "POST", "-D", "-", "-o", "/dev/null",
                                f"http://127.0.0.1:{svc.port}/x")
    assert out.startswith("HTTP/1.1 308")
    # curl follows the redirect onto HTTPS with the self-signed certificate
    code, out, err = await curl("-L", "--cacert", ca_file(tmp_path, svc.certificate),
                                f"http://localhost:{svc.port}/healthz")
    assert (code, out) == (0, "ok\n"), err
    # plain HTTP carries no HSTS (RFC 6797 §7.2); turning hsts off applies to the next request
    code, out, _ = await curl("-D", "-", "-o", "/dev/null", "--cacert",
                              ca_file(tmp_path, svc.certificate),
                              f"https://localhost:{svc.https_port}/healthz")
    assert "strict-transport-security" in out.lower()
    await c.config.put(SYSTEM, "http_server", {"hsts": "disabled"})
    code, out, _ = await curl("-D", "-", "-o", "/dev/null", "--cacert",
                              ca_file(tmp_path, svc.certificate),
                              f"https://localhost:{svc.https_port}/healthz")
    assert out.startswith("HTTP/1.1 200") and "strict-transport-security" not in out.lower()


async def test_plain_http_serves_without_hsts_while_insecure_is_on(make_controller) -> None:
    c, svc = await web(make_controller)
    code, out, err = await curl("-D", "-", f"http://127.0.0.1:{svc.port}/healthz")
    assert code == 0, err
    assert out.startswith("HTTP/1.1 200") and "strict-transport-security" not in out.lower()
    code, out, _ = await curl(f"http://127.0.0.1:{svc.port}/")
    assert "/metrics" in out and "/healthz" in out
    code, out, _ = await curl(f"http://127.0.0.1:{svc.port}/openapi.json")
    assert set(json.loads(out)["paths"]) == {"/", "/events", "/healthz", "/metrics"}


# ------------------------------------------------------------------ docs
async def test_grafana_dashboard_is_in_docs_and_sftp_docs(make_controller) -> None:
    c = await make_controller(pdus=2, bind="127.0.0.1")
    shipped = (c.core.paths.root / "docs" / DASHBOARD_NAME).read_text()
    assert shipped == DASHBOARD_PATH.read_text() == (ROOT / "docs" / "grafana-dashboard.json").read_text()
    dash = json.loads(shipped)
    exprs = [t["expr"] for p in dash["panels"] for t in p.get("targets", [])]
    assert any("enerteg_total_active_power_watts" in e for e in exprs)
    assert {v["name"] for v in dash["templating"]["list"]} >= {"room", "row", "rack", "device"}


async def test_kept_alive_connections_have_no_nagle_delay(make_controller) -> None:
    """Headers and body are two writes: without TCP_NODELAY on the server's side every
    answer after the first on a kept-alive connection waited ~40 ms for a delayed ACK."""
    c, svc = await web(make_controller, httpsEnabled="disabled")
    reader, writer = await asyncio.open_connection("127.0.0.1", svc.port)
    try:
        for _ in range(2):
            writer.write(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
            head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 10)
            assert head.startswith(b"HTTP/1.1 200")
            assert await asyncio.wait_for(reader.readexactly(3), 10) == b"ok\n"
        server = svc._servers[0][0]
        socks = [conn.transport.get_extra_info("socket")
                 for conn in server.server_state.connections]
        assert socks and all(s.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) for s in socks)
    finally:
        writer.close()
