"""Users: default account, password policy, lockout, back-off, roles, keys (manual §5.9)."""

from __future__ import annotations

import asyncssh
import pytest

from enerteg_tui.core.audit import AuditFilter
from enerteg_tui.core.errors import Conflict, Invalid, NotFound, PermissionDenied
from enerteg_tui.core.users import AuthFailed, LockedOut, public_key_fingerprint
from tests.conftest import ADMIN, principal


class Clock:
    def __init__(self) -> None:
        self.t = 1_700_000_000.0

    def __call__(self) -> float:
        return self.t


async def test_default_admin_must_change(controller) -> None:
    users = controller.users
    assert await users.must_change("admin")
    p = await users.authenticate("admin", "admin", "test", "127.0.0.1")
    assert p.user == "admin" and {r.value for r in p.roles} == {"admin"}
    with pytest.raises(Invalid) as err:
        await users.change_password(p, "admin", "admin", old="admin")
    assert "default" in str(err.value) or "short" in str(err.value)
    await users.change_password(p, "admin", "N3w-pass!", old="admin")
    assert not await users.must_change("admin")
    with pytest.raises(AuthFailed):
        await users.authenticate("admin", "admin", "test", "127.0.0.1")


async def test_password_policy_messages(controller) -> None:
    users = controller.users
    with pytest.raises(Invalid) as err:
        await users.add(ADMIN, "bob", "short", ["readonly"])
    assert str(err.value).startswith("Password too short")
    with pytest.raises(Invalid) as err:
        await users.add(ADMIN, "", "Long-enough-1", ["readonly"])
    assert str(err.value).startswith("Login name cannot be empty; allowed are 1 to 32")
    with pytest.raises(Invalid):
        await users.add(ADMIN, "bobby", "BOBBY", ["readonly"])  # too short anyway
    with pytest.raises(Invalid) as err:
        await users.add(ADMIN, "longname12", "longname12", ["readonly"])
    assert "login name" in str(err.value)
    with pytest.raises(Invalid) as err:
        await users.add(ADMIN, "bob", "Long-enough-1", ["superuser"])
    assert "superuser" in str(err.value)
    await users.add(ADMIN, "bob", "Long-enough-1", ["readonly", "power"])
    with pytest.raises(Conflict):
        await users.add(ADMIN, "bob", "Long-enough-1", ["readonly"])


async def test_lockout_after_five_failures(controller) -> None:
    users = controller.users
    await users.add(ADMIN, "carol", "Carol-pass-1", ["readonly"])
    await controller.config.put(ADMIN, "auth", {"addressBackoffSeconds": 0})
    for _ in range(5):
        with pytest.raises(AuthFailed):
            await users.authenticate("carol", "wrong", "ssh", "10.0.0.9")
    with pytest.raises(LockedOut) as err:
        await users.authenticate("carol", "Carol-pass-1", "ssh", "10.0.0.9")
    assert "locked for another 5 min" in str(err.value) and "unlock" in str(err.value)
    entries = await controller.audit.query(ADMIN, AuditFilter(text="carol"))
    actions = [e.action for e in entries]
    assert actions.count("login.failed") == 5 and "login.lockout" in actions
    assert "login.refused" in actions
    assert "Carol-pass" not in repr([(e.message, e.old, e.new) for e in entries])
    # only that source is locked: carol from elsewhere, and others from there, log in
    assert (await users.authenticate("carol", "Carol-pass-1", "ssh", "10.0.0.8")).user == "carol"
    assert (await users.authenticate("admin", "admin", "ssh", "10.0.0.9")).user == "admin"
    # the lock ends after lockoutMinutes
    users.lockout._streaks[("carol", "10.0.0.9")].locked_until = 0
    assert (await users.authenticate("carol", "Carol-pass-1", "ssh", "10.0.0.9")).user == "carol"


async def test_backoff_grows_per_account_and_source_and_resets(controller) -> None:
    users = controller.users
    assert users.login_delay("nobody", "10.9.9.9") == 0
    for _ in range(3):
        with pytest.raises(AuthFailed):
            await users.authenticate("nobody", "x", "ssh", "10.9.9.9")
    assert users.login_delay("nobody", "10.9.9.9") == 8  # 2 s, doubling
    assert users.login_delay("nobody", "10.9.9.8") == 0
    assert users.login_delay("admin", "10.9.9.9") == 0
    for _ in range(2):
        with pytest.raises(AuthFailed):
            await users.authenticate("admin", "x", "ssh", "10.9.9.9")
    await users.authenticate("admin", "admin", "ssh", "10.9.9.9")
    assert users.login_delay("admin", "10.9.9.9") == 0
    assert users.login_delay("nobody", "10.9.9.9") == 8


async def test_roles_and_last_admin(controller) -> None:
    users = controller.users
    await users.add(ADMIN, "dave", "Dave-pass-1", ["readonly"])
    info = await users.set_roles(ADMIN, "dave", ["poweron", "poweroff"])
    assert {r.value for r in info.roles} == {"poweron", "poweroff"}
    with pytest.raises(PermissionDenied):
        await users.set_roles(principal("readwrite"), "dave", ["admin"])
    with pytest.raises(Conflict):
        await users.set_roles(ADMIN, "admin", ["readonly"])
    with pytest.raises(Conflict):
        await users.delete(ADMIN, "admin")
    await users.delete(ADMIN, "dave")
    with pytest.raises(NotFound):
        await users.get("dave")


async def test_public_keys(controller) -> None:
    users = controller.users
    key = asyncssh.generate_private_key("ssh-ed25519")
    line = key.export_public_key().decode()
    fp = await users.add_key(ADMIN, "admin", line)
    assert fp == public_key_fingerprint(line) and fp.startswith("SHA256:")
    assert await users.has_key("admin", fp)
    p = await users.authenticate_key("admin", fp, "ssh", "127.0.0.1")
    assert p.user == "admin"
    with pytest.raises(Conflict):
        await users.add_key(ADMIN, "admin", line)
    with pytest.raises(Invalid):
        await users.add_key(ADMIN, "admin", "ssh-ed25519 garbage")
    await users.remove_key(ADMIN, "admin", fp)
    assert not await users.has_key("admin", fp)


async def test_sessions_limit(controller) -> None:
    reg = controller.users.sessions
    p1, p2 = principal("readonly", user="eve"), principal("readonly", user="eve")
    s1 = reg.open(p1, max_per_user=1)
    with pytest.raises(PermissionDenied) as err:
        reg.open(p2, max_per_user=1)
    assert "maxSessionsPerUser" in str(err.value)
    reg.close(s1)
    reg.open(p2, max_per_user=1)


async def test_history_is_per_user_and_bounded(controller) -> None:
    users = controller.users
    for i in range(7):
        await users.add_history("admin", f"cat {i}", keep=5)
    await users.add_history("bob", "pwd")
    assert await users.history("admin") == [f"cat {i}" for i in range(2, 7)]
    assert await users.history("bob") == ["pwd"]


async def test_one_session_admission_for_every_face(tmp_path) -> None:
    """Issue 15 item 2: the core admits a signed-in user on any face with the same limit
    and the same audit entries (refusal, timeout, logout)."""
    from enerteg_tui.core.audit import AuditFilter
    from enerteg_tui.core.errors import PermissionDenied
    from enerteg_tui.core.permissions import Principal, Role
    from tests.conftest import ADMIN
    from tests.helpers import build_controller

    c = await build_controller(tmp_path)
    try:
        await c.config.put(ADMIN, "cli", {"maxSessionsPerUser": 1})
        bob = Principal("bob", frozenset({Role.READONLY}), face="modbus", address="10.0.0.9")
        ended: list[str] = []
        first = await c.users.start_session(bob, end=ended.append)
        again = Principal("bob", frozenset({Role.READONLY}), face="snmp", address="10.0.0.8")
        with pytest.raises(PermissionDenied):
            await c.users.start_session(again)
        await c.users.end_session(first, timed_out_after=30)
        assert c.users.sessions.list() == []
        entries = await c.audit.query(ADMIN, AuditFilter(user="bob"), limit=20)
        got = {(e.action, e.face, e.address) for e in entries}
        assert ("login.refused", "snmp", "10.0.0.8") in got
        assert ("session.timeout", "modbus", "10.0.0.9") in got
        assert ("logout", "modbus", "10.0.0.9") in got
    finally:
        await c.stop()


async def test_a_password_set_by_an_admin_must_be_changed_by_its_owner(tmp_path) -> None:
    """Issue 18 item 10: a password an admin sets for someone else is known to two people."""
    from enerteg_tui.core.permissions import Principal, Role
    from tests.conftest import ADMIN
    from tests.helpers import build_controller

    c = await build_controller(tmp_path)
    try:
        await c.users.add(ADMIN, "carol", "Str0ng-pass-1", ["readonly"])
        assert not await c.users.must_change("carol")
        await c.users.change_password(ADMIN, "carol", "Adm1n-set-pass")
        assert await c.users.must_change("carol")
        carol = Principal("carol", frozenset({Role.READONLY}), face="ssh")
        await c.users.change_password(carol, "carol", "Her-own-pass-2", old="Adm1n-set-pass")
        assert not await c.users.must_change("carol")
    finally:
        await c.stop()
