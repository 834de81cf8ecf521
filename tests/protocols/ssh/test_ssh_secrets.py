"""No secret leaks to logs, history, backups or a readonly user's downloads (issue 14, item 1).

A readonly user once read a new admin's password in ``logs/enerteg.log`` (asyncssh
logs every exec command) and logged in as admin. Here every path that takes a secret
gets a unique one: OpenSSH ``ssh`` exec of ``put`` for each secret key of every
settings schema (SMTP, LDAP, SNMP auth/priv and community, HTTPS key and its password,
SQL export, backup passphrase), ``user add``/``user passwd --password``, the
interactive shell (``put``, ``user add --password``, ``user passwd`` at its prompt), the
console's Users page and a backup with logs. Then every file under the data directory except the settings store
(``enerteg.db``, which must hold them) is searched, archives unpacked, plus the store's
audit log and shell history, plus everything the readonly user can download over
OpenSSH ``sftp``: no secret may appear anywhere. The backup's encrypted part, decrypted,
must not hold its own passphrase.
"""

from __future__ import annotations

import gzip
import io
import json
import logging
import sqlite3
import tarfile
import uuid
from pathlib import Path

import pytest

from enerteg_tui.core.backup import decrypt
from enerteg_tui.core.permissions import SYSTEM
from enerteg_tui.protocols.ssh.sftp import FOLDERS

from .conftest import PASSWORD, SSH_OPTS, SSHEnv, expect

PROMPT = r"@enerteg:[^\r\n]*> "
STORE = ("enerteg.db", "enerteg.db-wal", "enerteg.db-shm")
"""The settings store: it must hold the secrets (and is 0600 in a 0700 folder)."""


def _secret(tag: str) -> str:
    return f"Zq{tag}-{uuid.uuid4().hex[:12]}9!"


def _certificate_and_key() -> tuple[str, str]:
    """A self-signed certificate and its private key, both PEM."""
    import datetime as dt

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "enerteg")])
    now = dt.datetime.now(dt.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(key.public_key()).serial_number(1).not_valid_before(now)
            .not_valid_after(now + dt.timedelta(days=1)).sign(key, hashes.SHA256()))
    key_pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption()).decode()
    return cert.public_bytes(serialization.Encoding.PEM).decode(), key_pem


@pytest.fixture
async def env(make_controller, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> SSHEnv:
    """A controller as ``enerteg serve`` runs it: log file on, root logger at INFO."""
    caplog.set_level(logging.INFO)
    c = await make_controller(pdus=2, ssh_enabled=True, ssh_port=0, bind="127.0.0.1",
                              log_file=True)
    await c.users.add(SYSTEM, "boss", PASSWORD, ["admin"])
    await c.users.add(SYSTEM, "oper", PASSWORD, ["readonly"])
    await c.users.add(SYSTEM, "victim", PASSWORD, ["readonly"])
    await c.config.put(SYSTEM, "auth", {"addressBackoffSeconds": 0})
    return SSHEnv(c, c.service("ssh").port, tmp_path)


def _texts(path: Path, data: bytes) -> list[tuple[str, bytes]]:
    """(name, bytes) of a file, and of every member when it is a (gzip'd) tar."""
    out = [(str(path), data)]
    if data[:2] == b"\x1f\x8b":
        try:
            raw = gzip.decompress(data)
        except OSError:
            return out
        out.append((f"{path}!gunzip", raw))
        try:
            with tarfile.open(fileobj=io.BytesIO(raw)) as tar:
                for m in tar.getmembers():
                    f = tar.extractfile(m)
                    if f is not None:
                        out += _texts(Path(f"{path}!{m.name}"), f.read())
        except tarfile.TarError:
            pass
    return out


def _leaks(secrets: dict[str, str], files: list[Path]) -> list[str]:
    found = []
    for p in files:
        for name, data in _texts(p, p.read_bytes()):
            for tag, value in secrets.items():
                if value.encode() in data:
                    found.append(f"{tag} in {name}")
    return found


async def _plant(env: SSHEnv) -> dict[str, str]:
    s = {tag: _secret(tag) for tag in (
        "smtp", "ldap", "keypw", "pem", "db", "snmpauth", "snmppriv", "community", "backup",
        "useradd", "userpasswd", "shellput", "shelluser", "prompt")}
    cert, pem = _certificate_and_key()
    s["pem"] = pem.splitlines()[1]   # a line of the key's body: unique, and secret
    script = [
        f"put config/email password={s['smtp']}",
        f"put config/auth ldapBindPassword='{s['ldap']}'",
        f'put config/http_server privateKeyPassword="{s["keypw"]}" privateKeyPem="{pem}"'
        f' certificatePem="{cert}"',
        f"put config/sql_export dbPassword={s['db']}",
        f"put config/snmp_agent v3PasswordAuth={s['snmpauth']} v3PasswordPriv={s['snmppriv']}"
        f" v2cCommunity={s['community']}",
        f"put config/backup_settings passphrase={s['backup']} includeLogs=true",
        f"user add newadmin --role admin --password {s['useradd']}",
        f"user passwd victim --password {s['userpasswd']}",
    ]
    for line in script:   # one exec request each: asyncssh logs each command
        r = await env.ssh("boss", line)
        assert r.code == 0, (line, r.err)
    # the interactive shell: history is kept for these lines
    child = env.terminal("boss", "shell")
    await expect(child, "assword:")
    child.sendline(PASSWORD)
    await expect(child, "boss" + PROMPT)
    child.sendline(f"put config/email password={s['shellput']}")
    await expect(child, "updated successfully")
    child.sendline(f"user add shelly --role readonly --password {s['shelluser']}")
    await expect(child, "added")
    child.sendline("user passwd shelly")
    await expect(child, "New password for shelly: ")
    child.sendline(s["prompt"])
    await expect(child, "Repeat password: ")
    child.sendline(s["prompt"])
    await expect(child, "changed")
    child.sendline("backup create")
    await expect(child, "/backups/enerteg-backup-")
    child.sendline("logs archive")
    await expect(child, "enerteg-logs.tar.gz")
    child.sendcontrol("d")
    await expect(child, "logout")
    child.close(force=True)
    await _plant_in_console(env, s)
    return s


async def _plant_in_console(env: SSHEnv, s: dict[str, str]) -> None:
    """The console's Users page: an admin adds a user with a password."""
    from tests.console.conftest import make_app
    from tests.console.test_users_page import fill, open_users
    from enerteg_tui.screens.users_page import UserForm

    s["console"] = _secret("console")
    async with make_app(env.controller).run_test(size=(120, 40)) as pilot:
        await open_users(pilot)
        await pilot.press("n")
        await fill(pilot, {"name": "carol", "password": s["console"], "again": s["console"],
                           "roles": "admin"})
        assert not isinstance(pilot.app.screen, UserForm)


async def _readonly_downloads(env: SSHEnv, tmp_path: Path) -> list[Path]:
    """Everything user ``oper`` (readonly) can fetch with OpenSSH sftp, folder by folder."""
    dl = tmp_path / "dl"
    dl.mkdir()
    batch = tmp_path / "batch"
    batch.write_text("".join(f"-get -r /{f} {dl}/{f}\n" for f in FOLDERS))
    await env.tool("sftp", "-P", str(env.port), "-o", "BatchMode=no", *SSH_OPTS,
                   "-b", str(batch), "oper@127.0.0.1", timeout=60)
    return [p for p in dl.rglob("*") if p.is_file()]


async def test_no_secret_reaches_logs_history_backups_or_readonly_downloads(
        env: SSHEnv, tmp_path: Path) -> None:
    c = env.controller
    s = await _plant(env)
    # the planted values really are in effect (the test planted through working paths)
    assert c.config.get("email").password == s["shellput"]
    assert c.config.get("snmp_agent").v2cCommunity == s["community"]
    assert (await c.users.authenticate("newadmin", s["useradd"], "test", "127.0.0.1")).user
    assert (await c.users.authenticate("carol", s["console"], "test", "127.0.0.1")).user
    for h in logging.getLogger().handlers:
        h.flush()

    data_files = [p for p in Path(c.data_dir).rglob("*")
                  if p.is_file() and p.name not in STORE]
    leaks = _leaks(s, data_files)
    db = sqlite3.connect(Path(c.data_dir) / "enerteg.db")
    try:
        for table in ("audit", "shell_history"):
            for row in db.execute(f"SELECT * FROM {table}"):  # noqa: S608 (fixed names)
                text = json.dumps(row, default=str)
                leaks += [f"{tag} in {table} row {row[0]}" for tag, v in s.items() if v in text]
        history = [r[0] for r in db.execute("SELECT line FROM shell_history WHERE user='boss'")]
    finally:
        db.close()
    leaks += [f"{x} (readonly download)" for x in _leaks(s, await _readonly_downloads(
        env, tmp_path))]
    # the backup's encrypted part never holds its own passphrase
    backups = sorted((Path(c.data_dir) / "backups").glob("enerteg-backup-*.tar.gz"))
    assert backups
    with tarfile.open(backups[-1]) as tar:
        blob = tar.extractfile("secrets.enc").read()  # type: ignore[union-attr]
    inside = decrypt(blob, s["backup"]).decode()
    if s["backup"] in inside:
        leaks.append("backup in the backup's own secrets.enc")
    assert s["shellput"] in inside   # the other secrets are there, encrypted
    assert not leaks, f"{len(leaks)} leak(s):\n" + "\n".join(sorted(leaks))
    # lines with a secret are not kept (a masked copy run again would set "***");
    # the others are
    assert "backup create" in history and "logs archive" in history
    assert not [h for h in history if "password" in h.lower()], history


async def test_readonly_user_cannot_list_or_fetch_logs_backups_uploads(
        env: SSHEnv, tmp_path: Path) -> None:
    r = await env.ssh("boss", "backup create; logs archive")
    assert r.code == 0, r.err
    async with await env.connect("oper") as conn, conn.start_sftp_client() as sftp:
        assert sorted(await sftp.listdir("/")) == [".", "..", "docs", "reports"]
        for path in ("/logs", "/logs/enerteg.log", "/logs/enerteg-logs.tar.gz", "/backups",
                     "/upload"):
            with pytest.raises(Exception) as info:
                await sftp.listdir(path) if "." not in path else await sftp.open(path)
            assert "Permission denied" in str(info.value) and "administer" in str(info.value)
    async with await env.connect("boss") as conn, conn.start_sftp_client() as sftp:
        assert set(FOLDERS) <= set(await sftp.listdir("/"))
        assert "enerteg-logs.tar.gz" in await sftp.listdir("/logs")
    # the shell's logs archive is the administrator's too
    r = await env.ssh("oper", "logs archive")
    assert r.code == 1 and "administer" in r.err
    # scp, in SFTP mode and in legacy mode, goes through the same check
    for mode in ((), ("-O",)):
        got = tmp_path / f"got{len(mode)}"
        r = await env.tool("scp", *mode, "-P", str(env.port), *SSH_OPTS,
                           "oper@127.0.0.1:/logs/enerteg.log", str(got))
        assert r.code != 0 and not got.exists(), (mode, r.err)
        r = await env.tool("scp", *mode, "-P", str(env.port), *SSH_OPTS,
                           "boss@127.0.0.1:/logs/enerteg.log", str(got))
        assert r.code == 0 and got.exists(), (mode, r.err)


def test_enerteg_serve_masks_stderr_and_the_log_file(tmp_path: Path) -> None:
    """The process as operators run it: basicConfig's stderr handler and the log file
    both pass through the masking filter; the data directory is created 0700."""
    import os
    import subprocess

    from tests.helpers import add_user, ssh_port_of, start_serve, wait_ready

    from .conftest import askpass_env

    data = tmp_path / "d"
    add_user(data, "boss", PASSWORD)
    assert (os.stat(data).st_mode & 0o777, os.stat(data / "enerteg.db").st_mode & 0o777) == (
        0o700, 0o600)                         # offline `enerteg user` makes it private too
    proc = start_serve(data, "--simulate", "1", stdout=None)
    secret = _secret("serve")
    seen: list[str] = []
    try:
        port = str(ssh_port_of(wait_ready(proc, seen=seen)))
        r = subprocess.run(["ssh", "-p", port, *SSH_OPTS, "boss@127.0.0.1",
                            f"user add eve --role admin --password {secret}"],
                           env=askpass_env(PASSWORD), capture_output=True, text=True,
                           timeout=30, stdin=subprocess.DEVNULL)
        assert r.returncode == 0, r.stderr
    finally:
        proc.terminate()
        _, rest = proc.communicate(timeout=20)
    stderr = "".join(seen) + rest
    log = (data / "logs" / "enerteg.log").read_text()
    for text in (stderr, log):
        assert "Command: user add eve --role admin --password ***" in text
        assert secret not in text
    assert (os.stat(data).st_mode & 0o777) == 0o700
