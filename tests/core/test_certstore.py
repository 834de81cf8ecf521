"""Certificate store (issue 20 item 2): each format imported, refusals store nothing,
keys encrypted at rest and never in logs or audit, expiry alarm, backup and reset."""

from __future__ import annotations

import json
import logging
import shutil
import sqlite3
import time

import pytest

from enerteg_tui.core.certstore import EXPIRY_CONDITION, CertUsage
from enerteg_tui.core.errors import Invalid, PermissionDenied
from tests.certgen import key_pem, make_ca, make_leaf, pkcs12_bytes
from tests.conftest import ADMIN, READONLY


@pytest.fixture(scope="module")
def ca():
    return make_ca()


@pytest.fixture(scope="module")
def leaf(ca):
    return make_leaf(ca)


def _fp_hex(made) -> str:
    from cryptography.hazmat.primitives import hashes
    return ":".join(f"{b:02X}" for b in made.cert.fingerprint(hashes.SHA256()))


async def _audit_text(c) -> str:
    rows = await c.core.audit._store.fetchall("SELECT message, old, new FROM audit")
    return json.dumps(rows)


async def test_import_pem_ca_lists_subject_issuer_validity_fingerprint(controller, ca):
    info = await controller.core.certs.import_data(ADMIN, ca.pem, usage="smtp")
    assert info.subject == "CN=Test CA" and info.issuer == "CN=Test CA"
    assert info.is_ca and not info.has_key and info.usage is CertUsage.SMTP
    assert info.fingerprint == _fp_hex(ca)
    assert abs(info.not_after - ca.cert.not_valid_after_utc.timestamp()) < 1
    doc = info.document(time.time())
    assert doc["state"] == "valid" and doc["usage"] == "smtp" and doc["hasPrivateKey"] is False
    assert [c.id for c in controller.core.certs.all(ADMIN)] == [info.id]


async def test_import_der_crt(controller, leaf):
    info = await controller.core.certs.import_data(ADMIN, leaf.der, source="/upload/x.cer")
    assert info.sans == ("DNS:localhost", "IP:127.0.0.1")
    assert info.name == "localhost" and info.issuer == "CN=Test CA"


async def test_import_pkcs12_with_passphrase_keeps_key_and_chain(controller, ca, leaf):
    data = pkcs12_bytes(leaf, "p12-secret", chain=(ca,))
    info = await controller.core.certs.import_data(ADMIN, data, passphrase="p12-secret",
                                                    usage="web-server")
    assert info.has_key and info.chain_length == 2 and info.subject == "CN=localhost"
    chain, key = controller.core.certs.server_pem("web-server")
    assert chain.count("BEGIN CERTIFICATE") == 2 and "PRIVATE KEY" in key


async def test_import_certificate_with_encrypted_key(controller, leaf):
    info = await controller.core.certs.import_data(
        ADMIN, leaf.pem, key=key_pem(leaf, "key-secret"), passphrase="key-secret")
    assert info.has_key
    # one PEM holding both parts is read the same way
    await controller.core.certs.delete(ADMIN, info.id)
    info = await controller.core.certs.import_data(ADMIN, leaf.pem + key_pem(leaf))
    assert info.has_key


@pytest.mark.parametrize("case", ["p12-wrong", "p12-missing", "key-wrong", "key-missing",
                                  "garbage", "empty", "other-key", "bad-usage"])
async def test_refusals_name_the_problem_and_store_nothing(controller, ca, leaf, case):
    certs = controller.core.certs
    other = make_leaf(ca, "other")
    args = {
        "p12-wrong": (pkcs12_bytes(leaf, "right"), {"passphrase": "wrong-one"}, "passphrase is wrong"),
        "p12-missing": (pkcs12_bytes(leaf, "right"), {}, "give its passphrase"),
        "key-wrong": (leaf.pem, {"key": key_pem(leaf, "right"), "passphrase": "wrong-one"},
                      "passphrase of the private key is wrong"),
        "key-missing": (leaf.pem, {"key": key_pem(leaf, "right")}, "give its passphrase"),
        "garbage": (b"\x01\x02 not a certificate", {}, "neither PEM, a DER certificate nor PKCS#12"),
        "empty": ("", {}, "no data"),
        "other-key": (leaf.pem, {"key": key_pem(other)}, "belongs to none of the certificates"),
        "bad-usage": (leaf.pem, {"usage": "printer"}, "usage 'printer' is not known"),
    }[case]
    data, kw, words = args
    with pytest.raises(Invalid) as err:
        await certs.import_data(ADMIN, data, **kw)
    assert words in str(err.value)
    assert "wrong-one" not in str(err.value) and "BEGIN" not in str(err.value)
    assert err.value.allowed
    assert certs.all(ADMIN) == []
    assert (await controller.core.audit._store.fetchall(
        "SELECT id FROM audit WHERE action LIKE 'cert.%'")) == []


async def test_duplicate_refused(controller, ca):
    await controller.core.certs.import_data(ADMIN, ca.pem)
    with pytest.raises(Invalid, match="already stored as certificate"):
        await controller.core.certs.import_data(ADMIN, ca.der)


async def test_readonly_denied(controller, ca):
    with pytest.raises(PermissionDenied):
        await controller.core.certs.import_data(READONLY, ca.pem)
    with pytest.raises(PermissionDenied):
        controller.core.certs.all(READONLY)


async def test_private_key_encrypted_at_rest_and_never_logged_or_audited(controller, leaf, caplog):
    caplog.set_level(logging.DEBUG)
    planted = key_pem(leaf)
    body = planted.split("\n")[1]          # a line of the key's base64
    info = await controller.core.certs.import_data(ADMIN, leaf.pem + planted, usage="web-server")
    from cryptography.hazmat.primitives import serialization
    der = leaf.key.private_bytes(serialization.Encoding.DER, serialization.PrivateFormat.PKCS8,
                                 serialization.NoEncryption())
    db = controller.data_dir / "enerteg.db"
    raw = b"".join(p.read_bytes() for p in controller.data_dir.glob("enerteg.db*"))
    assert der not in raw and body.encode() not in raw and der[-32:] not in raw
    key_file = controller.data_dir / "secrets.key"
    assert key_file.stat().st_mode & 0o777 == 0o600 and len(key_file.read_bytes()) == 32
    con = sqlite3.connect(db)
    assert con.execute("SELECT key_blob IS NOT NULL FROM certs").fetchone() == (1,)
    con.close()
    assert body not in await _audit_text(controller)
    assert body not in caplog.text
    assert body not in json.dumps(info.document(time.time()))
    for f in controller.data_dir.glob("logs/*"):
        assert body not in f.read_text(errors="replace")
    await controller.core.certs.delete(ADMIN, info.id)
    assert body not in await _audit_text(controller)


async def test_expiry_alarm_warning_then_critical_and_cleared_on_delete(controller, ca):
    certs, alarms = controller.core.certs, controller.core.alarms
    soon = make_leaf(ca, "soon", days=10)
    info = await certs.import_data(ADMIN, soon.pem)
    [alarm] = alarms.conditions(EXPIRY_CONDITION)
    assert alarm.index == info.id and alarm.severity == "Warning" and "expires on" in alarm.text
    updated = alarm.updated
    certs._clock = lambda: time.time() + 86400              # the next daily check
    certs.check_expiry()
    [same] = alarms.conditions(EXPIRY_CONDITION)
    assert same.id == alarm.id and same.updated == updated   # not announced again
    certs._clock = lambda: time.time() + 11 * 86400        # eleven days on
    certs.check_expiry()
    [alarm] = alarms.conditions(EXPIRY_CONDITION)
    assert alarm.severity == "Critical" and "expired" in alarm.text
    certs._clock = time.time
    far = await certs.import_data(ADMIN, make_leaf(ca, "far", days=400).pem)
    assert [a.index for a in alarms.conditions(EXPIRY_CONDITION)] == [info.id]
    await certs.delete(ADMIN, info.id)
    assert alarms.conditions(EXPIRY_CONDITION) == []
    assert far.state(time.time()) == "valid"


async def test_ssl_context_trusts_store_cas_for_usage_only(controller, ca):
    certs = controller.core.certs
    await certs.import_data(ADMIN, ca.pem, usage="smtp")
    der = ca.der
    assert der in [c for c in certs.ssl_context("smtp").get_ca_certs(binary_form=True)]
    assert der not in certs.ssl_context("ldap").get_ca_certs(binary_form=True)
    info = certs.all(ADMIN)[0]
    await certs.set_usage(ADMIN, info.id, "unrestricted")
    assert der in certs.ssl_context("ldap").get_ca_certs(binary_form=True)


async def test_backup_restore_keeps_certificates_and_keys(controller, ca, leaf, tmp_path):
    from tests.core.test_backup import run
    certs = controller.core.certs
    await controller.config.put(ADMIN, "backup_settings", {"passphrase": "correct horse"})
    await certs.import_data(ADMIN, ca.pem, usage="smtp")
    await certs.import_data(ADMIN, pkcs12_bytes(leaf, "x"), passphrase="x", usage="web-server")
    before = [(i.fingerprint, i.usage, i.has_key) for i in certs.all(ADMIN)]
    code, out, err = await run(controller, "backup create")
    assert code == 0, err
    path = controller.data_dir / out.strip().lstrip("/")
    assert key_pem(leaf).split("\n")[1].encode() not in path.read_bytes()
    for i in certs.all(ADMIN):
        await certs.delete(ADMIN, i.id)
    (controller.data_dir / "upload").mkdir(exist_ok=True)
    shutil.copy(path, controller.data_dir / "upload" / path.name)
    code, out, err = await run(controller, f"restore /upload/{path.name}")
    assert code == 0, err
    assert [(i.fingerprint, i.usage, i.has_key) for i in certs.all(ADMIN)] == before
    chain, key = certs.server_pem("web-server")
    assert "PRIVATE KEY" in key
    await controller.core.backup.factory_reset(ADMIN, "factory-reset")
    assert certs.all(ADMIN) == []


async def test_store_and_expiry_alarm_survive_a_restart_key_file_outside_the_db(
        make_controller, ca, tmp_path):
    c = await make_controller(pdus=2)
    leaf = make_leaf(ca, "soon", days=5)
    await c.core.certs.import_data(ADMIN, pkcs12_bytes(leaf, "x"), passphrase="x",
                                   usage="web-server")
    assert len(c.core.alarms.conditions(EXPIRY_CONDITION)) == 1
    await c.stop()
    c2 = await make_controller(pdus=2)
    [info] = c2.core.certs.all(ADMIN)
    assert info.has_key and c2.core.certs.server_pem("web-server") is not None
    assert len(c2.core.alarms.conditions(EXPIRY_CONDITION)) == 1     # not raised twice
    await c2.stop()
    # the database without its key file: the certificate is listed, its key unusable
    (tmp_path / "data" / "secrets.key").unlink()
    c3 = await make_controller(pdus=2)
    assert c3.core.certs.all(ADMIN)[0].has_key
    assert c3.core.certs.server_pem("web-server") is None


async def test_backup_without_passphrase_holds_no_key(controller, ca, leaf):
    from tests.core.test_backup import run
    certs = controller.core.certs
    await certs.import_data(ADMIN, pkcs12_bytes(leaf, "x"), passphrase="x", usage="web-server")
    code, out, err = await run(controller, "backup create")
    assert code == 0, err
    path = controller.data_dir / out.strip().lstrip("/")
    (controller.data_dir / "upload").mkdir(exist_ok=True)
    shutil.copy(path, controller.data_dir / "upload" / path.name)
    # restored over the same certificate: its current key is kept
    code, out, err = await run(controller, f"restore /upload/{path.name}")
    assert code == 0, err
    assert certs.all(ADMIN)[0].has_key and certs.server_pem("web-server") is not None
    # restored after the certificate was deleted: back without a key
    await certs.delete(ADMIN, certs.all(ADMIN)[0].id)
    code, out, err = await run(controller, f"restore /upload/{path.name}")
    assert code == 0, err
    [info] = certs.all(ADMIN)
    assert not info.has_key and info.fingerprint == _fp_hex(leaf)


async def test_topic_refusals_never_repeat_key_material(controller, leaf):
    planted = key_pem(leaf)
    big = planted + "A" * (300 * 1024)
    with pytest.raises(Invalid) as err:
        await controller.topics.put(ADMIN, "certs/new", {"pem": leaf.pem, "key": big})
    assert "larger than 256 KiB" in str(err.value)
    assert planted.split("\n")[1][:12] not in str(err.value) and "BEGIN" not in str(err.value)
    with pytest.raises(Invalid, match="unknown key 'colour'"):
        await controller.topics.put(ADMIN, "certs/new", {"pem": leaf.pem, "colour": "red"})
    with pytest.raises(Invalid, match="usage 'printer' is not known"):
        await controller.topics.put(ADMIN, "certs/new", {"pem": leaf.pem, "usage": "printer"})
    with pytest.raises(Invalid, match="/upload/NAME"):
        await controller.topics.put(ADMIN, "certs/new", {"file": "/etc/passwd"})
    assert controller.core.certs.ids() == []
