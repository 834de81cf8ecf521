"""The password policy over OpenSSH (issue 19 item 8): character classes, minimum length,
no reuse of the last N (hashes only kept) and expiry, each refusal naming its rule; the
same rules at the forced change of an interactive login."""

from __future__ import annotations

import pytest

from enerteg_tui.core.permissions import SYSTEM

from .conftest import PASSWORD, SSHEnv, expect

pytestmark = pytest.mark.e2e
"""Through a real peer (OpenSSH): see pyproject's markers."""

POLICY = ("put config/auth minPasswordLength=10 passwordNeedsUppercase=true "
          "passwordNeedsDigit=true passwordNeedsSpecial=true passwordHistory=2")


async def test_rules_named_and_reuse_refused(ssh_env: SSHEnv) -> None:
    c = ssh_env.controller
    assert (await ssh_env.ssh("boss", POLICY)).code == 0
    cases = {"Ab1-xyz": "minPasswordLength", "abcdefgh1-": "passwordNeedsUppercase",
             "Abcdefghi-": "passwordNeedsDigit", "Abcdefghi1": "passwordNeedsSpecial"}
    for pw, rule in cases.items():
        r = await ssh_env.ssh("boss", f"user add alice --role readonly --password '{pw}'")
        assert r.code == 1 and rule in r.err, (pw, r.err)
    assert "alice" not in {u.name for u in await c.users.list(SYSTEM)}

    first, second, third = "First-pass-1", "Second-pass-2", "Third-pass-3"
    assert (await ssh_env.ssh("boss", f"user add alice --role readonly --password {first}")).code == 0
    again = await ssh_env.ssh("boss", f"user passwd alice --password {first}")
    assert again.code == 1 and "passwordHistory" in again.err and "last 2" in again.err
    assert (await ssh_env.ssh("boss", f"user passwd alice --password {second}")).code == 0
    back = await ssh_env.ssh("boss", f"user passwd alice --password {first}")
    assert back.code == 1 and "passwordHistory" in back.err   # still among the last 2
    assert (await ssh_env.ssh("boss", f"user passwd alice --password {third}")).code == 0
    ok = await ssh_env.ssh("boss", f"user passwd alice --password {first}")
    assert ok.code == 0, ok.err                                # 3 passwords ago: allowed

    rows = await c.store.fetchall("SELECT hash FROM password_history WHERE name='alice'")
    assert len(rows) == 4 and all(h.startswith("$argon2") for (h,) in rows)
    assert not any(pw in h for (h,) in rows for pw in (first, second, third))


async def test_expired_password_must_be_changed_at_login(ssh_env: SSHEnv) -> None:
    c = ssh_env.controller
    r = await ssh_env.ssh("boss", "put config/auth passwordMaxAgeDays=30 passwordHistory=1")
    assert r.code == 0, r.err
    assert (await ssh_env.ssh("oper", "pwd")).code == 0
    # the password was set 31 days ago
    await c.store.execute("UPDATE password_history SET ts = ts - 31 * 86400 WHERE name='oper'")
    refused = await ssh_env.ssh("oper", "pwd")
    assert refused.code == 1
    assert "has expired (rule passwordMaxAgeDays" in refused.err and "31 days" in refused.err

    assert await c.users.must_change("oper")
    child = ssh_env.terminal("oper", "shell")
    try:
        await expect(child, "assword:")
        child.sendline(PASSWORD)
        await expect(child, "has expired")
        await expect(child, "A password needs at least 8 characters; it may not repeat any "
                            "of the last 1; it expires after 30 days.")
        await expect(child, "New password: ")
        child.sendline(PASSWORD)                 # the same one again: the history says no
        await expect(child, "Repeat password: ")
        child.sendline(PASSWORD)
        await expect(child, "passwordHistory")
        await expect(child, "New password: ")
        child.sendline("Fresh-pass-7")
        await expect(child, "Repeat password: ")
        child.sendline("Fresh-pass-7")
        await expect(child, "Password changed")
        child.sendcontrol("d")
    finally:
        child.close(force=True)
    assert (await ssh_env.ssh("oper", "pwd", password="Fresh-pass-7")).code == 0
