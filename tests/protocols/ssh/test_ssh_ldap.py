"""Directory logins over SSH (issue 22), with OpenSSH against a real slapd: a directory
user gets the mapped role and shows as source ldap in ``whoami``/``users``/audit; wrong
password, unknown user, a user in no mapped group and injection strings are refused; a
stopped directory keeps nobody local out; ``ldap test`` reports without logging in."""

from __future__ import annotations

import json
import time

import asyncssh
import pytest

from enerteg_tui.core.permissions import SYSTEM
from tests.ldap_server import PASSWORD as DIR_PASSWORD
from tests.ldap_server import auth_settings, own_slapd, slapd, trust_ca  # noqa: F401
from tests.protocols.ssh.conftest import SSHEnv

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("slapd")]


async def _directory(env: SSHEnv, server, **over) -> None:
    await trust_ca(env.controller, server)
    await env.controller.config.put(SYSTEM, "auth", auth_settings(server, **over))


async def test_directory_user_logs_in_with_mapped_role(ssh_env: SSHEnv, slapd) -> None:
    await _directory(ssh_env, slapd)
    r = await ssh_env.ssh("alice", "format json; whoami", password=DIR_PASSWORD)
    assert r.code == 0, r.err
    me = json.loads(r.out)
    assert me["user"] == "alice" and me["roles"] == ["admin"] and me["source"] == "ldap"
    r = await ssh_env.ssh("bob", "format json; whoami; config", password=DIR_PASSWORD)
    me = json.loads(r.out.split("\n}\n")[0] + "\n}")
    assert me["roles"] == ["power"] and me["source"] == "ldap"
    async with await ssh_env.connect("dave", password=DIR_PASSWORD) as conn:
        r2 = await ssh_env.ssh("boss", "format json; users")
        rows = json.loads(r2.out)
        assert {"user": "dave", "source": "ldap"}.items() <= next(
            x for x in rows if x["user"] == "dave").items()
        assert next(x for x in rows if x["user"] == "boss")["source"] == "local"
        assert "readwrite" in (await conn.run("whoami")).stdout
    entries = await ssh_env.controller.audit.query(SYSTEM, limit=1000)
    logins = [e for e in entries if e.action == "login" and e.user == "alice"]
    assert logins and "(directory uid=alice,ou=people,dc=example,dc=com, role admin from " \
        "cn=pdu-admins,ou=groups,dc=example,dc=com)" in logins[0].message


@pytest.mark.parametrize("user,password", [
    ("alice", "not-her-password"),       # wrong password
    ("nobody-here", DIR_PASSWORD),       # unknown user
    ("carol", DIR_PASSWORD),             # in no mapped group
])
async def test_refused_over_openssh(ssh_env: SSHEnv, slapd, user: str, password: str) -> None:
    await _directory(ssh_env, slapd)
    r = await ssh_env.ssh(user, "whoami", password=password,
                          extra=("-o", "NumberOfPasswordPrompts=1"))
    assert r.code == 255 and "Permission denied" in r.err, (r.code, r.err)


@pytest.mark.parametrize("name", ["*)(uid=*", "*", "alice)(|(uid=*"])
async def test_injection_strings_are_refused(ssh_env: SSHEnv, slapd, name: str) -> None:
    await _directory(ssh_env, slapd)
    with pytest.raises(asyncssh.PermissionDenied):
        async with await ssh_env.connect(name, password=DIR_PASSWORD):
            pass


async def test_directory_stopped_local_admin_still_logs_in(ssh_env: SSHEnv, own_slapd) -> None:
    await _directory(ssh_env, own_slapd, ldapTimeoutSeconds=2)
    assert (await ssh_env.ssh("alice", "whoami", password=DIR_PASSWORD)).code == 0
    own_slapd.stop()
    t0 = time.monotonic()
    r = await ssh_env.ssh("boss", "format json; whoami")
    assert r.code == 0 and json.loads(r.out)["source"] == "local"
    r = await ssh_env.ssh("admin", "whoami", password="admin")
    assert "Permission denied" not in r.err      # factory admin admitted (must change pw)
    assert time.monotonic() - t0 < 30          # well within the login timeout (loaded CI)
    r = await ssh_env.ssh("alice", "whoami", password=DIR_PASSWORD,
                          extra=("-o", "NumberOfPasswordPrompts=1"))
    assert r.code == 255 and "Permission denied" in r.err


async def test_ldap_test_command(ssh_env: SSHEnv, slapd) -> None:
    await _directory(ssh_env, slapd)
    r = await ssh_env.ssh("boss", "ldap test dave")
    assert r.code == 0, r.err
    assert "uid=dave,ou=people,dc=example,dc=com" in r.out
    assert "Role       readwrite" in r.out and "Result     admitted" in r.out
    r = await ssh_env.ssh("boss", "format json; ldap test carol")
    assert r.code != 0
    report = json.loads(r.out)
    assert report["result"] == "refused" and report["groups"] == [
        "cn=staff,ou=groups,dc=example,dc=com"]
    assert "would not be admitted" in r.err
    r = await ssh_env.ssh("oper", "ldap test dave")
    assert r.code != 0 and "admin" in r.err          # admin only, checked in the core
    r = await ssh_env.ssh("boss", "ldap test")
    assert r.code != 0 and "Usage: ldap test USER" in r.err
    await ssh_env.controller.config.put(SYSTEM, "auth", {"ldapEnabled": False})
    r = await ssh_env.ssh("boss", "ldap test dave")
    assert r.code != 0 and "Directory logins are off" in r.err


async def test_directory_user_logs_in_with_a_key_from_the_directory(ssh_env: SSHEnv,
                                                                    slapd) -> None:
    """OpenSSH ``ssh -i`` with the key listed in alice's sshPublicKey: admitted as admin
    from her group; carol holds the same key but no mapped group; off by default."""
    await _directory(ssh_env, slapd)
    key = ("-o", "PubkeyAuthentication=yes", "-o", "PreferredAuthentications=publickey",
           "-o", "IdentitiesOnly=yes", "-o", "BatchMode=yes", "-i", str(slapd.key_path))
    r = await ssh_env.ssh("alice", "whoami", extra=key)
    assert r.code == 255 and "Permission denied" in r.err, (r.code, r.err)   # ldapSshKeys off
    await ssh_env.controller.config.put(SYSTEM, "auth", {"ldapSshKeys": True})
    r = await ssh_env.ssh("alice", "format json; whoami", extra=key)
    assert r.code == 0, r.err
    me = json.loads(r.out)
    assert me["user"] == "alice" and me["roles"] == ["admin"] and me["source"] == "ldap"
    r = await ssh_env.ssh("carol", "whoami", extra=key)   # disconnected once the key is
    assert r.code == 255 and r.out == "", (r.code, r.err)  # bound: no mapped group
    entries = await ssh_env.controller.audit.query(SYSTEM, limit=1000)
    assert any(e.action == "login" and e.user == "alice" and "public key SHA256:" in e.message
               for e in entries)
    assert any(e.action == "login.failed" and e.user == "carol" for e in entries)


async def test_ldap_test_shows_nested_groups_and_keys(ssh_env: SSHEnv, slapd) -> None:
    await _directory(ssh_env, slapd, ldapSshKeys=True)
    r = await ssh_env.ssh("boss", "ldap test frank")
    assert r.code == 0, r.err
    assert ("cn=pdu-setup,ou=groups,dc=example,dc=com (nested, via "
            "cn=team-b,ou=groups,dc=example,dc=com)") in r.out
    assert "Role       readwrite" in r.out and "SSH keys   (none)" in r.out
    r = await ssh_env.ssh("boss", "format json; ldap test alice")
    report = json.loads(r.out)
    assert report["keys"] and report["keys"][0].startswith("SHA256:")
