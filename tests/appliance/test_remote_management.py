"""Remote management (issue 23 item 7): the time-limited support access.

``config/core`` ``remoteManagement`` is its switch; ``support enable --hours N`` opens
the dedicated ``support`` account with a one-time password shown once; every command it
runs is audited; at the expiry (the clock faked forward) or at ``support disable`` the
account is disabled (OpenSSH: tests/protocols/ssh/test_ssh_support.py).
"""

from __future__ import annotations

import json
import time

import pytest

from enerteg_tui.core.audit import AuditFilter
from enerteg_tui.core.users import AuthFailed
from tests.appliance.test_time import shell
from tests.conftest import ADMIN, READONLY
from tests.helpers import wait_for


async def _actions(c, action: str) -> list[str]:
    entries = await c.audit.query(ADMIN, AuditFilter(), limit=1000)
    return [e.message for e in entries if e.action == action]


def _password(out: str) -> str:
    return next(line.split(": ", 1)[1] for line in out.splitlines()
                if line.startswith("One-time password: "))


async def test_switch_enable_status_disable_through_the_shell(make_controller) -> None:
    c = await make_controller(pdus=2)
    code, out, err = await shell(c, ADMIN, "support enable --hours 2")
    assert code != 0 and "config/core remoteManagement is disabled" in err
    assert "support" not in [u.name for u in await c.users.list(ADMIN)]
    code, out, err = await shell(c, ADMIN, "put config/core remoteManagement=enabled")
    assert code == 0 and "not active" not in err, err
    code, out, err = await shell(c, ADMIN, "support status")
    assert code == 0 and "Support access: disabled (account 'support' not created yet)" in out
    for bad, says in [("0", "allowed are 1 to 72 hours"), ("73", "allowed are 1 to 72 hours"),
                      ("soon", "'soon' is not a number")]:
        code, out, err = await shell(c, ADMIN, f"support enable --hours {bad}")
        assert code != 0 and says in err, (bad, err)
    code, out, err = await shell(c, READONLY, "support enable --hours 2")
    assert code != 0 and "support" not in [u.name for u in await c.users.list(ADMIN)]
    code, out, err = await shell(c, ADMIN, "support enable --hours 2 --role readwrite")
    assert code == 0, err
    password = _password(out)
    assert "Support access: enabled until" in out and "role readwrite" in out
    assert password not in json.dumps(await _actions(c, "support.enable"))
    p = await c.users.authenticate("support", password, "ssh", "10.1.2.3")
    assert p.source == "support" and {r.value for r in p.roles} == {"readwrite"}
    code, out, err = await shell(c, ADMIN, "user list")
    assert "support" in out and "(support access until " in out
    for cmd in ("user passwd support --password Other-Pass-9", "user del support",
                "user roles support admin"):
        code, out, err = await shell(c, ADMIN, cmd)
        assert code != 0 and "is the support account" in err, (cmd, err)
    code, out, err = await shell(c, ADMIN, "support disable")
    assert code == 0 and "Support access disabled" in out, err
    with pytest.raises(AuthFailed):
        await c.users.authenticate("support", password, "ssh", "10.1.2.3")
    code, out, err = await shell(c, ADMIN, "format json; support status")
    st = json.loads(out)
    assert st["enabled"] is False and st["exists"] is True
    code, out, err = await shell(c, ADMIN, "user list")
    assert "(support access disabled)" in out
    code, out, err = await shell(c, ADMIN, "support disable")
    assert code != 0 and "already disabled" in err
    # a new enabling gives a new password; the old one stays dead
    code, out, err = await shell(c, ADMIN, "support enable --hours 1")
    assert _password(out) != password
    with pytest.raises(AuthFailed):
        await c.users.authenticate("support", password, "ssh", "10.1.2.3")
    # switching remoteManagement off closes it at once
    await shell(c, ADMIN, "put config/core remoteManagement=disabled")

    async def closed() -> bool:
        return any("remoteManagement was disabled" in m
                   for m in await _actions(c, "support.disable"))

    await wait_for(closed, timeout=15)
    assert not c.core.support.enabled


async def test_expiry_by_the_clock_disables_the_account(make_controller) -> None:
    c = await make_controller(pdus=2)
    await c.config.put(ADMIN, "core", {"remoteManagement": True})
    support = c.core.support
    password, st = await support.enable(ADMIN, 3)
    assert st["enabled"] and st["secondsLeft"] > 3 * 3600 - 60
    assert (await c.users.authenticate("support", password, "ssh", "10.1.2.3")).user == "support"
    real = time.time
    support._clock = lambda: real() + 3 * 3600 + 1       # three hours later
    with pytest.raises(AuthFailed):                         # refused before the timer runs
        await c.users.authenticate("support", password, "ssh", "10.1.2.4")

    async def expired() -> bool:
        return any("expired at" in m and "disabled" in m
                   for m in await _actions(c, "support.expired"))

    await wait_for(expired, timeout=15)
    assert support.state is None
    row = await c.store.fetchone("SELECT hash FROM user WHERE name='support'")
    assert row[0] == "!"
    # a restart keeps it disabled; a backup never carries the account
    users, hashes = await c.users.backup_state()
    assert "support" not in hashes and "support" not in [u["name"] for u in users]


async def test_no_credential_opens_the_account_outside_its_window(make_controller) -> None:
    """A key or an API token given to the support account behind ``support``'s back (the
    offline ``enerteg user`` tool, a restored database) does not log it in while the
    access is closed."""
    from enerteg_tui.core.users import public_key_fingerprint

    c = await make_controller(pdus=2)
    await c.config.put(ADMIN, "core", {"remoteManagement": True})
    await c.core.support.enable(ADMIN, 1)
    await c.core.support.disable(ADMIN)
    key = ("ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl "
           "x@y")
    await c.store.execute("UPDATE user SET keys=? WHERE name='support'", (json.dumps([key]),))
    with pytest.raises(AuthFailed):
        await c.users.authenticate_key("support", public_key_fingerprint(key), "ssh", "10.0.0.1")
    with pytest.raises(AuthFailed):
        await c.users.principal_for("support", "rest", "10.0.0.1")
