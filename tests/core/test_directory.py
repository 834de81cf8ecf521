"""Directory logins against a real slapd (issue 22): the one admission path
``UserService.authenticate`` asks LDAP for names without a local account.

Covers StartTLS and ldaps:// with the CA from the certificate store, a host name
mismatch, search as a bind DN or anonymously, a DN template, groups from groupOfNames,
posixGroup and memberOf (an AD-shaped tree), the highest mapped role, refusals (wrong
password, unknown user, no mapped group, injection), lockout, and a directory that is
down or silent while local accounts keep logging in."""

from __future__ import annotations

import asyncio
import socket
import time

import pytest

from enerteg_tui.core.audit import AuditFilter
from enerteg_tui.core.directory import DirectoryDown, DirectoryRefused, highest_role
from enerteg_tui.core.permissions import Role
from enerteg_tui.core.users import AuthFailed, LockedOut
from tests.conftest import ADMIN
from tests.ldap_server import (BASE, PASSWORD, ad_settings, auth_settings, own_slapd,  # noqa: F401
                               slapd, trust_ca)

pytestmark = pytest.mark.xdist_group("slapd")


async def _setup(controller, server, **over) -> None:
    await trust_ca(controller, server)
    await controller.config.put(ADMIN, "auth", auth_settings(server, **over))


async def _audit_texts(controller, action: str) -> list[str]:
    entries = await controller.audit.query(ADMIN, AuditFilter(), limit=1000)
    return [e.message for e in entries if e.action == action]


async def test_starttls_search_login_gets_mapped_role(controller, slapd) -> None:
    await _setup(controller, slapd)
    p = await controller.users.authenticate("alice", PASSWORD, "test", "10.0.0.9")
    assert p.user == "alice" and p.roles == frozenset({Role.ADMIN}) and p.source == "ldap"
    logins = await _audit_texts(controller, "login")
    assert any(f"directory uid=alice,ou=people,{BASE}, role admin from cn=pdu-admins" in m
               for m in logins), logins


async def test_several_groups_give_the_highest_role(controller, slapd) -> None:
    await _setup(controller, slapd)
    user = await controller.users.directory.lookup("dave")   # power, readwrite, readonly
    assert {r for _, r in user.mapped} == {Role.POWER, Role.READWRITE, Role.READONLY}
    assert user.role is Role.READWRITE
    p = await controller.users.authenticate("dave", PASSWORD, "test", "10.0.0.9")
    assert p.roles == frozenset({Role.READWRITE})
    # posixGroup memberUid, mapped by DN written in another case
    p = await controller.users.authenticate("bob", PASSWORD, "test", "10.0.0.9")
    assert p.roles == frozenset({Role.POWER})
    assert highest_role([Role.POWEROFF, Role.POWERON]) is Role.POWERON


async def test_refusals_are_audited_with_their_reason(controller, slapd) -> None:
    await _setup(controller, slapd)
    users = controller.users
    for name, pw in [("alice", "wrong-one"), ("nosuch", PASSWORD), ("carol", PASSWORD),
                     ("alice", "")]:
        with pytest.raises(AuthFailed) as err:
            await users.authenticate(name, pw, "test", "10.0.0.9")
        assert str(err.value).startswith("wrong user name or password")
    failed = await _audit_texts(controller, "login.failed")
    text = "\n".join(failed)
    assert "the directory refused the password of 'alice' (ldap)" in text
    assert "no user matches (&(objectClass=posixAccount)(uid=nosuch))" in text
    assert (f"the directory knows uid=carol,ou=people,{BASE} but none of its groups "
            f"(cn=staff,ou=groups,{BASE}) is mapped to a role in config/auth ldapRoleMap"
            in text)
    assert "empty password (refused before asking the directory)" in text


@pytest.mark.parametrize("name", ["*)(uid=*", "*", "alice)(|(uid=*", "al*", "alice\x00",
                                  "uid=alice,ou=people"])
async def test_injection_is_harmless(controller, slapd, name: str) -> None:
    await _setup(controller, slapd)
    with pytest.raises(AuthFailed):
        await controller.users.authenticate(name, PASSWORD, "test", "10.0.0.9")
    await controller.config.put(ADMIN, "auth", {
        "ldapBindDnTemplate": f"uid={{0}},ou=people,{BASE}"})
    with pytest.raises(AuthFailed):
        await controller.users.authenticate(name, PASSWORD, "test", "10.0.0.9")
    assert not await _audit_texts(controller, "login")


async def test_dn_template_and_anonymous_search(controller, slapd) -> None:
    await _setup(controller, slapd, ldapBindDn="", ldapBindPassword="",
                 ldapBindDnTemplate=f"uid={{0}},ou=people,{BASE}")
    p = await controller.users.authenticate("bob", PASSWORD, "test", "10.0.0.9")
    assert p.roles == frozenset({Role.POWER})
    await controller.config.put(ADMIN, "auth", {"ldapBindDnTemplate": "(uid={0})",
                                                "ldapUserObjectClass": ""})
    p = await controller.users.authenticate("eve", PASSWORD, "test", "10.0.0.9")
    assert p.roles == frozenset({Role.READONLY})


async def test_ldaps_and_hostname_mismatch(controller, slapd) -> None:
    await _setup(controller, slapd, ldapUrl=slapd.ldaps_url)
    p = await controller.users.authenticate("alice", PASSWORD, "test", "10.0.0.9")
    assert p.roles == frozenset({Role.ADMIN})
    mismatch = f"ldaps://127.0.0.1:{slapd.tls_port}"
    await controller.config.put(ADMIN, "auth", {"ldapUrl": mismatch})
    with pytest.raises(DirectoryDown) as err:
        await controller.users.directory.lookup("alice")
    assert str(err.value).startswith(f"TLS refused: the certificate of directory {mismatch} "
                                     "does not name 127.0.0.1")
    with pytest.raises(AuthFailed) as err2:
        await controller.users.authenticate("alice", PASSWORD, "test", "10.0.0.9")
    assert "the directory cannot be asked now" in str(err2.value)
    assert any("does not name 127.0.0.1" in m
               for m in await _audit_texts(controller, "login.failed"))


async def test_untrusted_certificate_is_refused(controller, slapd) -> None:
    await controller.config.put(ADMIN, "auth", auth_settings(slapd))   # CA not imported
    with pytest.raises(DirectoryDown) as err:
        await controller.users.directory.lookup("alice")
    assert "is not trusted" in str(err.value) and "usage ldap" in str(err.value)


async def test_active_directory_shaped_tree(controller, slapd) -> None:
    await trust_ca(controller, slapd)
    await controller.config.put(ADMIN, "auth", ad_settings(slapd))
    p = await controller.users.authenticate("jdoe", PASSWORD, "test", "10.0.0.9")
    assert p.roles == frozenset({Role.POWERON}) and p.source == "ldap"
    with pytest.raises(AuthFailed):             # only in "Domain Users": not mapped
        await controller.users.authenticate("asmith", PASSWORD, "test", "10.0.0.9")
    user = await controller.users.directory.lookup("asmith")
    assert user.groups == ["CN=Domain Users,OU=Groups,dc=corp,dc=test"] and user.role is None


async def test_lockout_applies_to_directory_users(controller, slapd) -> None:
    await _setup(controller, slapd)
    users = controller.users
    for _ in range(5):
        with pytest.raises(AuthFailed):
            await users.authenticate("bob", "wrong", "test", "10.0.0.9")
    with pytest.raises(LockedOut):
        await users.authenticate("bob", PASSWORD, "test", "10.0.0.9")
    assert await users.unlock(ADMIN, "bob") == 1
    assert (await users.authenticate("bob", PASSWORD, "test", "10.0.0.9")).user == "bob"


async def test_local_account_wins_over_directory(controller, slapd) -> None:
    await _setup(controller, slapd)
    await controller.users.add(ADMIN, "alice", "Local-pass-1", ["readonly"])
    p = await controller.users.authenticate("alice", "Local-pass-1", "test", "10.0.0.9")
    assert p.roles == frozenset({Role.READONLY}) and p.source == "local"
    with pytest.raises(AuthFailed):
        await controller.users.authenticate("alice", PASSWORD, "test", "10.0.0.9")


async def test_directory_stopped_mid_run_local_admin_still_logs_in(controller,
                                                                   own_slapd) -> None:
    await _setup(controller, own_slapd, ldapTimeoutSeconds=2)
    users = controller.users
    assert (await users.authenticate("alice", PASSWORD, "test", "10.0.0.9")).source == "ldap"
    own_slapd.stop()
    t0 = time.monotonic()
    with pytest.raises(AuthFailed) as err:
        await users.authenticate("alice", PASSWORD, "test", "10.0.0.9")
    assert time.monotonic() - t0 < 2 * 2 + 1 + 5          # bounded (loaded CI: margin)
    assert "the directory cannot be asked now" in str(err.value)
    p = await users.authenticate("admin", "admin", "test", "10.0.0.9")
    assert p.roles == frozenset({Role.ADMIN}) and p.source == "local"
    texts = await _audit_texts(controller, "login.failed")
    assert any("unreachable" in t for t in texts), texts
    # an unreachable directory is not the user's failure: no lockout from it
    for _ in range(6):
        with pytest.raises(AuthFailed):
            await users.authenticate("alice", PASSWORD, "test", "10.0.0.9")
    assert not users.is_locked("alice", "10.0.0.9", "test")


async def test_silent_directory_is_bounded_and_local_logins_go_on(controller) -> None:
    """A server that accepts and never answers: the directory login gives up within
    ~2 × ldapTimeoutSeconds (3 s), and a local login meanwhile is not held up."""
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(8)
    port = silent.getsockname()[1]
    try:
        await controller.config.put(ADMIN, "auth", {
            "ldapEnabled": True, "ldapUrl": f"ldap://127.0.0.1:{port}", "ldapStartTls": False,
            "ldapSearchBase": BASE, "ldapTimeoutSeconds": 3, "addressBackoffSeconds": 0})
        users = controller.users
        t0 = time.monotonic()
        slow = asyncio.ensure_future(users.authenticate("alice", PASSWORD, "test", "10.0.0.9"))
        p = await users.authenticate("admin", "admin", "test", "10.0.0.9")
        assert p.source == "local" and not slow.done()   # not held up by the directory
        with pytest.raises(AuthFailed):
            await slow
        assert time.monotonic() - t0 < 3 * 2 + 1 + 5
        with pytest.raises(DirectoryDown) as err:
            await users.directory.lookup("alice")
        assert "did not answer" in str(err.value) or "unreachable" in str(err.value)
    finally:
        silent.close()


async def test_lookup_without_password_never_binds_as_the_user(controller, slapd) -> None:
    await _setup(controller, slapd)
    user = await controller.users.directory.lookup("alice")
    assert user.dn == f"uid=alice,ou=people,{BASE}" and user.role is Role.ADMIN
    with pytest.raises(DirectoryRefused):
        await controller.users.directory.lookup("nosuch")
    assert not await _audit_texts(controller, "login")


async def test_wrong_search_account_password_is_a_setting_not_a_user_failure(controller,
                                                                            slapd) -> None:
    await _setup(controller, slapd, ldapBindPassword="not-the-reader-password")
    with pytest.raises(DirectoryDown) as err:
        await controller.users.directory.lookup("alice")
    assert "refused the password of the search account cn=reader" in str(err.value)
    assert "ldapBindPassword" in str(err.value)
    for _ in range(6):
        with pytest.raises(AuthFailed):
            await controller.users.authenticate("alice", PASSWORD, "test", "10.0.0.9")
    assert not controller.users.is_locked("alice", "10.0.0.9", "test")


async def test_name_matching_several_users_is_refused(controller, slapd) -> None:
    await _setup(controller, slapd, ldapBindDnTemplate="(|(uid={0})(uid=bob))",
                 ldapUserObjectClass="")
    with pytest.raises(DirectoryRefused) as err:
        await controller.users.directory.lookup("alice")
    assert "2 users match" in str(err.value) and "a login needs exactly one" in str(err.value)


# ------------------------------------------------------------------ nested groups
async def test_nested_groups_give_the_role_cycle_safe_and_bounded(controller, slapd) -> None:
    """frank ∈ team-a ∈ team-b ∈ pdu-setup (readwrite), team-a and team-b contain each
    other: the role comes through two levels, the cycle ends, one level is not enough."""
    await _setup(controller, slapd)
    user = await controller.users.directory.lookup("frank")
    groups = f"ou=groups,{BASE}"
    assert set(user.groups) == {f"cn=team-a,{groups}", f"cn=team-b,{groups}",
                                f"cn=pdu-setup,{groups}"}
    assert user.role is Role.READWRITE
    assert user.chain(f"cn=pdu-setup,{groups}") == [f"cn=pdu-setup,{groups}",
                                                    f"cn=team-b,{groups}", f"cn=team-a,{groups}"]
    p = await controller.users.authenticate("frank", PASSWORD, "test", "10.0.0.9")
    assert p.roles == frozenset({Role.READWRITE})
    logins = await _audit_texts(controller, "login")
    assert any(f"role readwrite from cn=pdu-setup,{groups} (nested: cn=team-a,{groups} ∈ "
               f"cn=team-b,{groups} ∈ cn=pdu-setup,{groups})" in m for m in logins), logins
    await controller.config.put(ADMIN, "auth", {"ldapNestedGroupDepth": 1})
    user = await controller.users.directory.lookup("frank")
    assert user.role is None and f"cn=pdu-setup,{groups}" not in user.groups
    await controller.config.put(ADMIN, "auth", {"ldapNestedGroupDepth": 0})
    assert (await controller.users.directory.lookup("frank")).groups == [f"cn=team-a,{groups}"]
    # users in no nested group are unchanged
    assert (await controller.users.directory.lookup("carol")).groups == [f"cn=staff,{groups}"]


async def test_nested_groups_active_directory_memberof(controller, slapd) -> None:
    """AD shape: groups carry memberOf; kim ∈ Helpdesk ∈ PDU Operators (poweron), and PDU
    Operators ∈ Helpdesk closes a cycle."""
    await trust_ca(controller, slapd)
    await controller.config.put(ADMIN, "auth", ad_settings(slapd))
    groups = "OU=Groups,dc=corp,dc=test"
    user = await controller.users.directory.lookup("kim")
    assert user.groups == [f"CN=Helpdesk,{groups}", f"CN=PDU Operators,{groups}"]
    assert user.role is Role.POWERON
    p = await controller.users.authenticate("kim", PASSWORD, "test", "10.0.0.9")
    assert p.roles == frozenset({Role.POWERON})
    await controller.config.put(ADMIN, "auth", {"ldapNestedGroupDepth": 0})
    with pytest.raises(AuthFailed):
        await controller.users.authenticate("kim", PASSWORD, "test", "10.0.0.9")


# ------------------------------------------------------------------ SSH keys
async def test_ssh_keys_come_from_the_directory_only_when_enabled(controller, slapd) -> None:
    from enerteg_tui.core.users import public_key_fingerprint

    await _setup(controller, slapd)
    public = (slapd.key_path.parent / "user_key.pub").read_text()
    fp = public_key_fingerprint(public)
    users = controller.users
    assert (await users.directory.lookup("alice")).keys == []
    assert not await users.has_key("alice", fp)
    await controller.config.put(ADMIN, "auth", {"ldapSshKeys": True})
    assert (await users.directory.lookup("alice")).keys == [public.strip()]
    assert await users.has_key("alice", fp) and not await users.has_key("bob", fp)
    p = await users.authenticate_key("alice", fp, "test", "10.0.0.9")
    assert p.roles == frozenset({Role.ADMIN}) and p.source == "ldap"
    with pytest.raises(AuthFailed):                 # the key is listed, but no mapped group
        await users.authenticate_key("carol", fp, "test", "10.0.0.9")
    with pytest.raises(AuthFailed):                 # bob's entry lists no key
        await users.authenticate_key("bob", fp, "test", "10.0.0.9")
    failed = "\n".join(await _audit_texts(controller, "login.failed"))
    assert f"public key {fp} is not in sshPublicKey of uid=bob,ou=people,{BASE} (ldap)" in failed
    assert "none of its groups" in failed and "carol" in failed
    logins = await _audit_texts(controller, "login")
    assert any(f"role admin from cn=pdu-admins,ou=groups,{BASE}, public key {fp}" in m
               for m in logins), logins


# ------------------------------------------------------------------ credential cache
async def test_no_credential_is_cached_unless_turned_on(controller, slapd) -> None:
    await _setup(controller, slapd)
    await controller.users.authenticate("alice", PASSWORD, "test", "10.0.0.9")
    assert not controller.users.cache.entries
    row = await controller.store.fetchone("SELECT value FROM meta WHERE key='ldap_cache'")
    assert row is None


async def test_credential_cache_only_while_the_directory_is_down(controller,
                                                                 own_slapd) -> None:
    """ldapCacheHours=1: bob's and alice's logins are cached as argon2 hashes; alice's
    wrong password refused by the directory forgets hers; with slapd stopped bob logs in
    from the cache (audited as such), a wrong password fails and counts, alice and a
    never-seen user are refused; an entry older than the max age is not used; 0 clears."""
    await _setup(controller, own_slapd, ldapTimeoutSeconds=2, ldapCacheHours=1)
    users = controller.users
    for name in ("alice", "bob"):
        await users.authenticate(name, PASSWORD, "test", "10.0.0.9")
    assert set(users.cache.entries) == {"alice", "bob"}
    assert users.cache.entries["bob"].hash.startswith("$argon2id$")
    assert PASSWORD not in str(await controller.store.fetchone(
        "SELECT value FROM meta WHERE key='ldap_cache'"))
    with pytest.raises(AuthFailed):                  # refused by the directory: forgotten
        await users.authenticate("alice", "not-alices", "test", "10.0.0.9")
    assert set(users.cache.entries) == {"bob"}
    own_slapd.stop()
    p = await users.authenticate("bob", PASSWORD, "test", "10.0.0.9")
    assert p.roles == frozenset({Role.POWER}) and p.source == "ldap"
    logins = await _audit_texts(controller, "login")
    assert any("cached credential of" in m and "the directory cannot be asked" in m
               for m in logins), logins
    for name, pw in [("bob", "wrong"), ("alice", PASSWORD), ("eve", PASSWORD)]:
        with pytest.raises(AuthFailed):
            await users.authenticate(name, pw, "test", "10.0.0.8")
    failed = "\n".join(await _audit_texts(controller, "login.failed"))
    assert "wrong password against the cached credential" in failed
    # survives a reload of the store's copy
    await users.cache.load()
    assert set(users.cache.entries) == {"bob"}
    # older than ldapCacheHours: not used, and dropped
    users.cache._clock = lambda: time.time() + 3601
    with pytest.raises(AuthFailed):
        await users.authenticate("bob", PASSWORD, "test", "10.0.0.7")
    assert not users.cache.entries
    users.cache._clock = time.time
    users.cache.entries["bob"] = users.cache.entries.get("bob") or _cached(users)
    await controller.config.put(ADMIN, "auth", {"ldapCacheHours": 0})
    with pytest.raises(AuthFailed):
        await users.authenticate("bob", PASSWORD, "test", "10.0.0.6")
    assert not users.cache.entries


def _cached(users):
    from enerteg_tui.core.directory_cache import CachedLogin

    return CachedLogin(hash="$argon2id$v=19$m=8,t=1,p=1$x$y", role="power", dn="uid=bob",
                       origin="g", url=users.directory.url, ts=time.time())
