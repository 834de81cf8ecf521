"""The certificate store over OpenSSH (issue 20 item 2): a PKCS#12 file uploaded with
``sftp`` into /upload and imported with ``put certs/new file=...``, a PEM with an
encrypted key given inline, listed with ``ls``/``cat``, deleted with ``rm``; a wrong
passphrase refused with nothing stored; readonly users never see the folder; the
passphrases and the key never reach the log files or the audit log."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest

from enerteg_tui.core.permissions import SYSTEM
from tests.certgen import key_pem, make_ca, make_leaf, pkcs12_bytes

from .conftest import PASSWORD, SSH_OPTS, SSHEnv

pytestmark = pytest.mark.e2e


@pytest.fixture
async def ssh_env(make_controller, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> SSHEnv:
    """As ``enerteg serve`` runs: the log file on, the root logger at INFO."""
    caplog.set_level(logging.INFO)
    c = await make_controller(pdus=2, ssh_enabled=True, ssh_port=0, bind="127.0.0.1",
                              log_file=True)
    await c.users.add(SYSTEM, "boss", PASSWORD, ["admin"])
    await c.users.add(SYSTEM, "oper", PASSWORD, ["readonly"])
    await c.config.put(SYSTEM, "auth", {"addressBackoffSeconds": 0})
    return SSHEnv(c, c.service("ssh").port, tmp_path)


async def test_import_list_delete_certificates_through_ssh_and_sftp(
        ssh_env: SSHEnv, caplog: pytest.LogCaptureFixture) -> None:
    c = ssh_env.controller
    ca = make_ca("Site CA")
    web = make_leaf(ca, "pdu-ctl.example", names=("pdu-ctl.example",))
    mail = make_leaf(ca, "mail-client")
    p12 = ssh_env.tmp / "web.p12"
    p12.write_bytes(pkcs12_bytes(web, "Pfx-Secret-77", chain=(ca,)))
    batch = ssh_env.tmp / "batch"
    batch.write_text(f"put {p12} /upload/web.p12\n")
    up = await ssh_env.tool("sftp", "-P", str(ssh_env.port), "-o", "BatchMode=no", *SSH_OPTS,
                            "-b", str(batch), "boss@127.0.0.1")
    assert up.code == 0, up.err

    wrong = await ssh_env.ssh("boss", "put certs/new file=/upload/web.p12 "
                                      "passphrase=Not-The-One-55 usage=web-server")
    assert wrong.code == 1
    assert "PKCS#12 passphrase is wrong" in wrong.err and "nothing was stored" in wrong.err
    assert c.core.certs.ids() == []

    ok = await ssh_env.ssh("boss", "put certs/new file=/upload/web.p12 passphrase=Pfx-Secret-77 "
                                   "usage=web-server; ls certs")
    assert ok.code == 0, ok.err
    assert ok.out.split()[-3:] == ["_data", "new/", "1/"]
    planted = key_pem(mail, "Key-Secret-88")
    inline = await ssh_env.ssh("boss", f"put certs/new pem='{mail.pem}' key='{planted}' "
                                       "passphrase=Key-Secret-88 usage=smtp name=mailer; "
                                       "format json; cat certs")
    assert inline.code == 0, inline.err
    rows = json.loads(inline.out)["u"]["certificates"]
    assert [(r["id"], r["usage"], r["hasPrivateKey"], r["chainLength"]) for r in rows] == [
        (1, "web-server", True, 2), (2, "smtp", True, 1)]
    assert rows[0]["subject"] == "CN=pdu-ctl.example" and rows[0]["issuer"] == "CN=Site CA"
    assert rows[0]["sans"] == ["DNS:pdu-ctl.example", "IP:127.0.0.1"]
    one = await ssh_env.ssh("boss", "format json; cat certs/2")
    doc = json.loads(one.out)["u"]
    assert doc["name"] == "mailer" and doc["certificatePem"].startswith("-----BEGIN CERTIFICATE")
    assert "PRIVATE KEY" not in one.out

    denied = await ssh_env.ssh("oper", "ls certs")
    assert denied.code == 1 and "may not administer" in denied.err
    assert "certs/" not in (await ssh_env.ssh("oper", "ls /")).out

    gone = await ssh_env.ssh("boss", "rm certs/2; rm config/core; ls certs")
    assert gone.code == 1 and "Deleted /certs/2" in gone.err
    assert "rm deletes a stored certificate" in gone.err
    assert c.core.certs.ids() == [1]

    body = planted.split("\n")[1]
    secrets = ("Pfx-Secret-77", "Not-The-One-55", "Key-Secret-88", body)
    entries = await c.audit.query(SYSTEM, limit=200)
    audit_text = json.dumps([[e.message, e.old, e.new] for e in entries])
    assert "cert.import" in {e.action for e in entries}
    logs = "".join(p.read_text(errors="replace") for p in (c.data_dir / "logs").glob("*")
                   if p.is_file())
    assert "certs/new" in logs          # the commands were logged, masked
    for secret in secrets:
        assert secret not in audit_text, secret
        assert secret not in logs, secret
        assert secret not in caplog.text, secret
