"""Factory reset and restore through the real shell over OpenSSH (issue 14 item 8).

A factory reset goes through every service's own reset: no alarm of a deleted rule
comes back, every other session is ended, and the next login is admin/admin with the
forced change. A restore keeps rule ids, so scripts naming ``rules/<id>`` keep working.
"""

from __future__ import annotations

import asyncio
import json

import asyncssh

from enerteg_tui.core.permissions import SYSTEM
from tests.helpers import wait_for

from .conftest import SSHEnv


async def _alarming_rules(c, n: int) -> list[int]:
    """``n`` rules that raise an alarm on every PDU at once (total voltage above 1 V)."""
    ids = []
    for i in range(n):
        rule = await c.rules.create(SYSTEM, {
            "name": f"always {i}", "quantity": "voltage", "component": "i",
            "minDurationSeconds": 0, "warningAbove": {"enabled": True, "value": 1 + i}})
        ids.append(rule.id)
    return ids


async def test_factory_reset_ends_sessions_and_no_old_alarm_comes_back(ssh_env: SSHEnv) -> None:
    c = ssh_env.controller
    for rule in c.rules.all():
        await c.rules.delete(SYSTEM, rule.id)
    old = set(await _alarming_rules(ssh_env.controller, 3))
    await wait_for(lambda: len([a for a in c.alarms.open_alarms() if a.rule_id in old]) >= 4)
    await c.alarms.flush()
    other = await ssh_env.connect("oper")          # another user's session, left open

    r = await ssh_env.ssh("boss", "factory-reset --confirm factory-reset")
    assert r.code == 0, r.err
    assert "log in again as admin/admin" in r.err
    await asyncio.wait_for(other.wait_closed(), 5)  # ended by the reset, not by us
    assert c.users.sessions.list() == []

    sweeps = c.live.bus.sweeps
    await wait_for(lambda: c.live.bus.sweeps >= sweeps + 5)
    await c.alarms.flush()
    current = {rule.id for rule in c.rules.all()}
    assert not [a for a in c.alarms.open_alarms() if a.rule_id not in current]
    rows = await c.store.fetchall("SELECT rule_id FROM alarm")
    assert not [rid for (rid,) in rows if rid not in current]

    await c.config.put(SYSTEM, "auth", {"addressBackoffSeconds": 0})  # test speed only
    r = await ssh_env.ssh("boss", "ls", extra=("-o", "NumberOfPasswordPrompts=1"))
    assert r.code == 255                            # the old admin is gone
    r = await ssh_env.ssh("admin", "ls", password="admin")
    assert r.code == 1 and "factory default" in r.err  # admin/admin, password change forced


async def test_the_reset_caller_is_logged_out_too(ssh_env: SSHEnv) -> None:
    conn = await ssh_env.connect("boss")
    r = await conn.run("factory-reset --confirm factory-reset")
    assert r.exit_status == 0 and "log in again" in str(r.stderr)
    await asyncio.wait_for(conn.wait_closed(), 5)
    try:
        await conn.run("ls", check=True)
        raise AssertionError("the caller's connection still runs commands")
    except (asyncssh.Error, OSError):
        pass


async def test_restore_keeps_rule_ids(ssh_env: SSHEnv) -> None:
    c = ssh_env.controller
    await c.config.put(SYSTEM, "backup_settings", {"passphrase": "correct horse"})
    ids = [rule.id for rule in c.rules.all()]
    assert len(ids) >= 3
    r = await ssh_env.ssh("boss", "backup create")
    assert r.code == 0, r.err
    name = r.out.strip()
    for rid in ids[:3]:                           # delete some, add others (new ids)
        await c.rules.delete(SYSTEM, rid)
    await _alarming_rules(c, 2)
    upload = c.data_dir / "upload"
    upload.mkdir(exist_ok=True)
    (upload / "b.tar.gz").write_bytes((c.data_dir / name.lstrip("/")).read_bytes())

    r = await ssh_env.ssh("boss", "restore /upload/b.tar.gz")
    assert r.code == 0, r.err
    assert [rule.id for rule in c.rules.all()] == ids
    r = await ssh_env.ssh("boss", f"format json; cat rules/{ids[0]}/_data")
    assert r.code == 0, r.err
    assert json.loads(r.out)
