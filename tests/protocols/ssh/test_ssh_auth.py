"""Authentication and admission of the SSH server, driven by asyncssh's client: lockout,
back-off per account and address, failures per connection, unauthenticated-connection cap, public
keys bound to their user, the per-user session limit, 20 concurrent sessions."""

from __future__ import annotations

import asyncio
import socket
import time

import asyncssh
import pytest

from enerteg_tui.core.permissions import SYSTEM
from enerteg_tui.protocols.ssh.server import MAX_AUTH_TRIES, MAX_UNAUTHENTICATED

from tests.helpers import free_port

from .conftest import PASSWORD, SSHEnv

pytestmark = pytest.mark.e2e
"""Through a real peer (OpenSSH, tmux, the enerteg command): see pyproject's markers."""


async def _actions(env: SSHEnv) -> list[str]:
    return [e.action for e in await env.controller.audit.query(SYSTEM, limit=200)]


async def test_login_and_logout_are_audited(ssh_env: SSHEnv) -> None:
    async with await ssh_env.connect("oper") as conn:
        r = await conn.run("pwd")
        assert r.exit_status == 0 and r.stdout == "/\n"
    for _ in range(100):
        if "logout" in await _actions(ssh_env):
            break
        await asyncio.sleep(0.02)
    entries = await ssh_env.controller.audit.query(SYSTEM, limit=50)
    login = next(e for e in entries if e.action == "login")
    assert login.user == "oper" and login.face == "ssh" and login.address == "127.0.0.1"
    assert any(e.action == "logout" and e.user == "oper" for e in entries)
    assert ssh_env.controller.users.sessions.list() == []


async def test_lockout_after_five_failures_even_with_right_password_from_that_address(
        ssh_env: SSHEnv) -> None:
    for _ in range(5):
        with pytest.raises(asyncssh.PermissionDenied):
            await ssh_env.connect("oper", password="wrong-one")
    with pytest.raises(asyncssh.PermissionDenied):
        await ssh_env.connect("oper", password=PASSWORD)
    actions = await _actions(ssh_env)
    assert actions.count("login.failed") == 5
    assert "login.lockout" in actions and "login.refused" in actions
    # another user is not affected
    async with await ssh_env.connect("boss") as conn:
        assert (await conn.run("whoami")).exit_status == 0


async def test_address_backoff_delays_the_next_attempt(ssh_env: SSHEnv) -> None:
    await ssh_env.controller.config.put(SYSTEM, "auth", {"addressBackoffSeconds": 1})
    with pytest.raises(asyncssh.PermissionDenied):
        await ssh_env.connect("oper", password="wrong-one")
    t0 = time.monotonic()
    async with await ssh_env.connect("oper"):
        pass
    assert time.monotonic() - t0 >= 1.0


class _Guesser(asyncssh.SSHClient):
    """Offers a wrong password again and again, counting the attempts."""

    attempts = 0

    def password_auth_requested(self) -> str | None:
        _Guesser.attempts += 1
        return f"wrong-{_Guesser.attempts}" if _Guesser.attempts < 50 else None


async def test_connection_is_closed_after_max_auth_tries(ssh_env: SSHEnv) -> None:
    await ssh_env.controller.config.put(SYSTEM, "auth", {"lockoutFailures": 100})
    _Guesser.attempts = 0
    with pytest.raises((asyncssh.DisconnectError, asyncssh.PermissionDenied, ConnectionError)):
        await asyncssh.connect("127.0.0.1", ssh_env.port, username="oper", known_hosts=None,
                               client_keys=None, client_factory=_Guesser,
                               preferred_auth="password")
    assert MAX_AUTH_TRIES <= _Guesser.attempts <= MAX_AUTH_TRIES + 1


class _NeverUnlucky:
    """MaxStartups' random early drop never fires (so only the full limit refuses)."""

    def random(self) -> float:
        return 0.999999


async def test_unauthenticated_connections_are_capped(ssh_env: SSHEnv) -> None:
    loop = asyncio.get_running_loop()
    ssh_env.controller.service("ssh").admission.rng = _NeverUnlucky()
    idle = []
    for _ in range(MAX_UNAUTHENTICATED):
        s = socket.create_connection(("127.0.0.1", ssh_env.port))
        s.setblocking(False)
        idle.append(s)
        await loop.sock_recv(s, 256)          # the server's version line
    try:
        extra = socket.create_connection(("127.0.0.1", ssh_env.port))
        extra.setblocking(False)
        data = b""
        end = loop.time() + 5
        while loop.time() < end:
            chunk = await asyncio.wait_for(loop.sock_recv(extra, 4096), 5)
            if not chunk:
                break
            data += chunk
        assert loop.time() < end, "the extra connection was not closed"
        extra.close()
        assert ssh_env.controller.service("ssh").refused >= 1
        # once the idle ones go, logins work again
    finally:
        for s in idle:
            s.close()
    await asyncio.sleep(0.2)
    async with await ssh_env.connect("oper") as conn:
        assert (await conn.run("pwd")).exit_status == 0


async def test_public_key_login_is_bound_to_its_user(ssh_env: SSHEnv) -> None:
    key = asyncssh.generate_private_key("ssh-ed25519")
    public = key.export_public_key().decode()
    await ssh_env.controller.users.add_key(SYSTEM, "power", public)
    async with await ssh_env.connect("power", password=None, client_keys=[key]) as conn:
        r = await conn.run("format json; whoami")
        assert r.exit_status == 0
        assert '"user": "power"' in r.stdout
    # the same key does not open another user's account
    with pytest.raises(asyncssh.PermissionDenied):
        await ssh_env.connect("boss", password=None, client_keys=[key])
    other = asyncssh.generate_private_key("ssh-ed25519")
    with pytest.raises(asyncssh.PermissionDenied):
        await ssh_env.connect("power", password=None, client_keys=[other])
    actions = await _actions(ssh_env)
    assert "login" in actions


async def test_session_limit_per_user(ssh_env: SSHEnv) -> None:
    await ssh_env.controller.config.put(SYSTEM, "cli", {"maxSessionsPerUser": 2})
    a = await ssh_env.connect("oper")
    b = await ssh_env.connect("oper")
    c = await ssh_env.connect("oper")
    try:
        assert (await a.run("pwd")).exit_status == 0
        refused = await c.run("pwd")
        assert refused.exit_status == 1
        assert "maximum is 2" in refused.stderr
        users = await a.run("users")
        assert users.stdout.count("oper") == 2
    finally:
        for conn in (a, b, c):
            conn.close()


async def test_twenty_concurrent_sessions(ssh_env: SSHEnv) -> None:
    await ssh_env.controller.config.put(SYSTEM, "cli", {"maxSessionsPerUser": 25})
    hexid = sorted(ssh_env.controller.live.devices)[0]
    conns = await asyncio.gather(*(ssh_env.connect("oper") for _ in range(20)))
    try:
        results = await asyncio.gather(
            *(c.run(f"cat sensor/{hexid}/t/_data") for c in conns for _ in range(3)))
        assert all(r.exit_status == 0 for r in results)
        assert all('"ts"' in r.stdout for r in results)
        assert len(ssh_env.controller.users.sessions.list()) == 20
    finally:
        for c in conns:
            c.close()


async def test_no_port_forwarding_or_agent(ssh_env: SSHEnv) -> None:
    async with await ssh_env.connect("boss") as conn:
        with pytest.raises(asyncssh.ChannelOpenError):
            await conn.open_connection("127.0.0.1", ssh_env.port)
        with pytest.raises(asyncssh.ChannelListenError):
            await conn.forward_remote_port("127.0.0.1", 0, "127.0.0.1", 22)


async def test_listener_follows_config_cli(ssh_env: SSHEnv) -> None:
    new_port = free_port()
    svc = ssh_env.controller.service("ssh")
    svc.options.port = svc.options.enabled = None    # let config/cli decide
    await ssh_env.controller.config.put(SYSTEM, "cli", {"port": new_port,
                                                        "listenAddress": "127.0.0.1"})
    for _ in range(100):
        if svc.port == new_port:
            break
        await asyncio.sleep(0.02)
    assert svc.port == new_port
    ssh_env.port = new_port
    async with await ssh_env.connect("oper") as conn:
        assert (await conn.run("pwd")).exit_status == 0
    await ssh_env.controller.config.put(SYSTEM, "cli", {"enabled": False})
    for _ in range(100):
        if svc.port is None:
            break
        await asyncio.sleep(0.02)
    with pytest.raises(OSError):
        await ssh_env.connect("oper")
