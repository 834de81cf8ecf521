"""Nothing a session starts outlives it (issue 14 item 6): ``ping`` runs in the controller's
process (no child process, no iputils), a running command is interrupted by Ctrl-C at a
terminal and by SSH signal and break requests, and everything still running for a channel
is cancelled when the channel closes — so connect/ping/disconnect cycles leave no child,
no task and no session behind, and cannot get around the per-user session limit."""

from __future__ import annotations

import asyncio
import time

import psutil
import pytest

from enerteg_tui.core.permissions import SYSTEM

from .conftest import SSHEnv, expect
from .test_ssh_interactive import PROMPT, _close, _login


def _session_tasks() -> list[asyncio.Task]:
    return [t for t in asyncio.all_tasks()
            if t.get_coro().__qualname__ in ("_serve", "run_command", "ping")]


async def _settled(env: SSHEnv, timeout: float = 5.0) -> float:
    """Seconds until no session and no session task is left (at most ``timeout``)."""
    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout:
        if not env.controller.users.sessions.list() and not _session_tasks():
            break
        await asyncio.sleep(0.01)
    return time.monotonic() - t0


async def test_seven_ping_and_disconnect_cycles_leave_nothing_behind(ssh_env: SSHEnv) -> None:
    await ssh_env.controller.config.put(SYSTEM, "cli", {"maxSessionsPerUser": 2})
    me = psutil.Process()
    before = {p.pid for p in me.children(recursive=True)}  # other fixtures' peers (postgres)
    for _ in range(7):
        conn = await ssh_env.connect("oper")
        proc = await conn.create_process("ping 127.0.0.1 -c 100 -W 1")
        line = await asyncio.wait_for(proc.stdout.readline(), 10)
        assert line.startswith("PING 127.0.0.1")
        conn.abort()                           # the client goes away mid-ping
        assert await _settled(ssh_env) < 4
    assert {p.pid for p in me.children(recursive=True)} <= before
    assert _session_tasks() == []
    assert ssh_env.controller.users.sessions.list() == []
    # the session limit still holds with pings running
    conns = [await ssh_env.connect("oper") for _ in range(2)]
    procs = [await c.create_process("ping 127.0.0.1 -c 100") for c in conns]
    for p in procs:
        await asyncio.wait_for(p.stdout.readline(), 10)
    async with await ssh_env.connect("oper") as extra:
        r = await extra.run("pwd")
        assert r.exit_status == 1 and "already has 2 sessions" in r.stderr
    for c in conns:
        c.close()
    await _settled(ssh_env)
    assert _session_tasks() == [] and ssh_env.controller.users.sessions.list() == []


@pytest.mark.parametrize("how", ["signal", "break"])
async def test_signal_or_break_interrupts_the_running_command(ssh_env: SSHEnv, how: str) -> None:
    async with await ssh_env.connect("oper") as conn:
        proc = await conn.create_process("ping 127.0.0.1 -c 100; pwd")
        await asyncio.wait_for(proc.stdout.readline(), 10)
        t0 = time.monotonic()
        if how == "signal":
            proc.send_signal("INT")
        else:
            proc.send_break(100)
        await asyncio.wait_for(proc.wait_closed(), 5)
        assert time.monotonic() - t0 < 2
        assert proc.exit_status == 130
        assert "ping: interrupted" in await proc.stderr.read()
    await _settled(ssh_env)
    assert _session_tasks() == []


async def test_ctrl_c_at_a_terminal_interrupts_ping(ssh_env: SSHEnv) -> None:
    child = await _login(ssh_env, "oper")
    await expect(child, "oper" + PROMPT)
    child.sendline("ping 127.0.0.1 -c 100")
    await expect(child, "icmp_seq=2")
    t0 = time.monotonic()
    child.sendcontrol("c")
    await expect(child, "ping: interrupted")
    await expect(child, "oper" + PROMPT)
    assert time.monotonic() - t0 < 3
    child.sendline("pwd")             # the shell goes on
    await expect(child, "/\r\n")
    await _close(child)
    await _settled(ssh_env)
    assert _session_tasks() == []
