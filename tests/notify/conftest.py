"""Real notification peers on loopback: rsyslogd (UDP + TCP) and an SMTP server (aiosmtpd)."""

from __future__ import annotations

import shutil
import socket
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.helpers import free_port, wait_for_blocking


class Rsyslog:
    """A ``rsyslogd -n`` writing every message it receives (RFC 5424 form) to ``out``."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.out = root / "messages.log"
        self.udp_port = free_port(socket.SOCK_DGRAM)
        self.tcp_port = free_port()
        self.proc: subprocess.Popen[bytes] | None = None
        (root / "work").mkdir(parents=True, exist_ok=True)
        self.conf = root / "rsyslog.conf"
        self.conf.write_text(f'''
global(workDirectory="{root / 'work'}")
module(load="imudp")
module(load="imtcp")
input(type="imudp" address="127.0.0.1" port="{self.udp_port}")
input(type="imtcp" address="127.0.0.1" port="{self.tcp_port}")
*.* action(type="omfile" file="{self.out}" template="RSYSLOG_SyslogProtocol23Format")
''')

    def start(self) -> None:
        """Start the daemon and wait until its TCP port answers."""
        self.proc = subprocess.Popen(
            [shutil.which("rsyslogd") or "rsyslogd", "-n", "-f", str(self.conf),
             "-i", str(self.root / "rsyslogd.pid")],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        wait_for_blocking(self._listening, timeout=10, what="rsyslogd opening its TCP port")

    def _listening(self) -> bool:
        """Whether rsyslogd accepts on its TCP port (it must not have exited)."""
        assert self.proc is not None
        if self.proc.poll() is not None:
            raise RuntimeError(f"rsyslogd exited: {self.proc.stderr.read().decode()}")
        try:
            socket.create_connection(("127.0.0.1", self.tcp_port), 0.2).close()
            return True
        except OSError:
            return False

    def stop(self) -> None:
        """Stop the daemon (it flushes its output file)."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(10)
        self.proc = None

    def lines(self) -> list[str]:
        """Messages received so far."""
        return self.out.read_text().splitlines() if self.out.exists() else []


@pytest.fixture
def rsyslog(tmp_path: Path) -> Iterator[Rsyslog]:
    """A running rsyslogd on loopback ports (``udp_port``, ``tcp_port``)."""
    if shutil.which("rsyslogd") is None:
        pytest.skip("rsyslogd not installed (apt-get install rsyslog)")
    r = Rsyslog(tmp_path / "rsyslog")
    r.start()
    yield r
    r.stop()


# ---------------------------------------------------------------- SMTP (aiosmtpd)
SMTP_USER, SMTP_PASSWORD = "mailer", "S3cret-pass"


def _self_signed(root: Path) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 / localhost (key, cert)."""
    import datetime
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([
                x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                critical=False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    key_path, cert_path = root / "smtp.key", root / "smtp.crt"
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                           serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return key_path, cert_path


class SmtpServer:
    """aiosmtpd on loopback with STARTTLS required and AUTH (``SMTP_USER``/``SMTP_PASSWORD``)."""

    def __init__(self, root: Path) -> None:
        import ssl

        root.mkdir(parents=True, exist_ok=True)
        key, cert = _self_signed(root)
        self.cert_path = cert
        self.server_ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        self.server_ctx.load_cert_chain(cert, key)
        self.client_ctx = ssl.create_default_context(cafile=str(cert))
        self.port = free_port()
        self.messages: list[str] = []
        self._ctl = None

    def start(self) -> None:
        """Listen (again) on ``port``."""
        from aiosmtpd.controller import Controller
        from aiosmtpd.smtp import AuthResult, LoginPassword

        received = self.messages

        class Handler:
            async def handle_DATA(self, server, session, envelope):  # noqa: N802
                received.append(envelope.content.decode("utf-8", "replace"))
                return "250 OK"

        def authenticator(server, session, envelope, mechanism, auth_data):
            ok = (isinstance(auth_data, LoginPassword) and auth_data.login == SMTP_USER.encode()
                  and auth_data.password == SMTP_PASSWORD.encode())
            # handled=False: aiosmtpd answers 535 itself (True would leave the client waiting)
            return AuthResult(success=ok, handled=False)

        self._ctl = Controller(Handler(), hostname="127.0.0.1", port=self.port,
                               tls_context=self.server_ctx, require_starttls=True,
                               authenticator=authenticator, auth_require_tls=True)
        self._ctl.start()

    def stop(self) -> None:
        """Stop listening (connections are refused until ``start``)."""
        if self._ctl is not None:
            self._ctl.stop()
            self._ctl = None


@pytest.fixture
def smtp_server(tmp_path: Path) -> Iterator[SmtpServer]:
    """A running SMTP server with STARTTLS and authentication on a loopback port."""
    s = SmtpServer(tmp_path / "smtp")
    s.start()
    yield s
    s.stop()
