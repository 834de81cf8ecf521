"""Support access over real OpenSSH (issue 23 item 7): the one-time password logs in,
``whoami``/``users`` show source ``support``, every command line is audited with the
source address, and at the expiry (the clock faked forward) its open session ends."""

from __future__ import annotations

import json
import time

import asyncssh
import pytest

from enerteg_tui.core.audit import AuditFilter
from enerteg_tui.core.permissions import SYSTEM
from tests.helpers import wait_for
from tests.protocols.ssh.conftest import SSH_OPTS, SSHEnv

pytestmark = pytest.mark.e2e


async def _actions(c, action: str) -> list[str]:
    entries = await c.audit.query(SYSTEM, AuditFilter(), limit=1000)
    return [e.message for e in entries if e.action == action]


def _password(out: str) -> str:
    return next(line.split(": ", 1)[1] for line in out.splitlines()
                if line.startswith("One-time password: "))


async def test_support_over_openssh_audited_and_ended_at_expiry(ssh_env: SSHEnv) -> None:
    c = ssh_env.controller
    await c.config.put(SYSTEM, "core", {"remoteManagement": True})
    r = await ssh_env.ssh("boss", "support enable --hours 1")
    assert r.code == 0, r.err
    password = _password(r.out)
    r = await ssh_env.ssh("support", "format json; whoami; ls config", password=password)
    assert r.code == 0, r.err
    me = json.loads(r.out.split("\n}\n")[0] + "\n}")
    assert me["user"] == "support" and me["source"] == "support"
    ran = await _actions(c, "support.command")
    assert any("'ls config' via ssh from 127.0.0.1" in m for m in ran), ran
    assert any("'whoami'" in m for m in ran)
    batch = ssh_env.tmp / "support.batch"
    batch.write_text("ls /\n")
    r = await ssh_env.tool("sftp", "-P", str(ssh_env.port), "-o", "BatchMode=no", *SSH_OPTS,
                           "-b", str(batch), "support@127.0.0.1", password=password)
    assert r.code == 0, r.err
    ran = await _actions(c, "support.command")
    assert any("'sftp ls /'" in m and "from 127.0.0.1" in m for m in ran), ran
    async with await ssh_env.connect("support", password=password) as conn:
        r2 = await ssh_env.ssh("boss", "format json; users")
        assert any(x["user"] == "support" and x["source"] == "support"
                   for x in json.loads(r2.out))
        real = time.time
        c.core.support._clock = lambda: real() + 3601
        c.core.support.wake()
        await wait_for(lambda: conn.is_closed(), timeout=20)
    assert not [s for s in c.users.sessions.list() if s.principal.user == "support"]
    with pytest.raises(asyncssh.PermissionDenied):
        async with await ssh_env.connect("support", password=password):
            pass
