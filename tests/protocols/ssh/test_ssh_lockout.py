"""Lockout and admission through the SSH face (issue 14 item 5), with asyncssh clients from
several loopback source addresses (127.0.0.x): a failure streak locks one account from one
address only, says so without revealing whether the user exists, never waits as long as the
login timeout, is cleared by an admin's ``unlock``; rotating source addresses cannot buy more
password checks than the controller's budget; a source that keeps failing is refused new
connections for a while."""

from __future__ import annotations

import asyncio
import time

import asyncssh
import pytest

from enerteg_tui.core.admission import VerifyBudget
from enerteg_tui.core.lockout import BACKOFF_CAP_S
from enerteg_tui.core.permissions import SYSTEM
from enerteg_tui.core.users import AuthFailed
from enerteg_tui.protocols.ssh.server import LOGIN_TIMEOUT_S

from .conftest import PASSWORD, SSHEnv


class _Banner(asyncssh.SSHClient):
    """Keeps the banners the server sends during authentication."""

    banners: list[str] = []

    def auth_banner_received(self, msg: str, lang: str) -> None:
        _Banner.banners.append(msg)


async def _login(env: SSHEnv, user: str, password: str, source: str = "127.0.0.1",
                 **kw) -> asyncssh.SSHClientConnection:
    return await env.connect(user, password, local_addr=(source, 0), **kw)


async def _fail(env: SSHEnv, user: str, source: str, times: int = 1) -> None:
    for _ in range(times):
        with pytest.raises(asyncssh.PermissionDenied):
            await _login(env, user, "wrong-guess", source)


async def _banner_of_refused_login(env: SSHEnv, user: str, source: str) -> str:
    _Banner.banners = []
    with pytest.raises(asyncssh.PermissionDenied):
        await _login(env, user, PASSWORD, source, client_factory=_Banner)
    return "".join(_Banner.banners)


async def test_a_locked_account_is_locked_from_that_address_only(ssh_env: SSHEnv) -> None:
    await _fail(ssh_env, "boss", "127.0.0.1", 5)
    banner = await _banner_of_refused_login(ssh_env, "boss", "127.0.0.1")
    assert "Too many failed logins for 'boss' from 127.0.0.1: locked for another 5 min" in banner
    assert "unlock" in banner
    # OpenSSH shows the same words (banners are shown at its default log level)
    r = await ssh_env.ssh("boss", "whoami", extra=("-o", "LogLevel=INFO", "-o",
                                                   "BindAddress=127.0.0.1",
                                                   "-o", "NumberOfPasswordPrompts=1"))
    assert r.code == 255 and "Too many failed logins for 'boss' from 127.0.0.1" in r.err
    # the right password from another address, and another account from the same one
    async with await _login(ssh_env, "boss", PASSWORD, "127.0.0.2") as conn:
        assert (await conn.run("whoami")).exit_status == 0
    async with await _login(ssh_env, "oper", PASSWORD, "127.0.0.1") as conn:
        assert (await conn.run("whoami")).exit_status == 0
    # an admin clears it in the shell; then the right password works from there again
    async with await _login(ssh_env, "boss", PASSWORD, "127.0.0.2") as conn:
        r = await conn.run("unlock boss")
        assert (r.exit_status, r.stdout + r.stderr) == (0, "User boss unlocked "
                                                            "(1 locked address cleared).\n")
        r = await conn.run("unlock nobody-here")
        assert r.exit_status == 1 and "user 'nobody-here' does not exist" in r.stderr
    async with await _login(ssh_env, "boss", PASSWORD, "127.0.0.1") as conn:
        assert (await conn.run("whoami")).exit_status == 0
    # a readonly user may not unlock
    async with await _login(ssh_env, "oper", PASSWORD, "127.0.0.1") as conn:
        r = await conn.run("unlock boss")
        assert r.exit_status == 1 and "boss" in r.stderr


async def test_locked_message_does_not_reveal_whether_the_user_exists(ssh_env: SSHEnv) -> None:
    await _fail(ssh_env, "oper", "127.0.0.5", 5)
    await _fail(ssh_env, "ghost", "127.0.0.15", 5)
    real = await _banner_of_refused_login(ssh_env, "oper", "127.0.0.5")
    ghost = await _banner_of_refused_login(ssh_env, "ghost", "127.0.0.15")
    assert (real.replace("'oper' from 127.0.0.5", "NAME")
            == ghost.replace("'ghost' from 127.0.0.15", "NAME"))
    assert "locked" in real


async def test_backoff_stays_well_below_the_login_timeout(ssh_env: SSHEnv) -> None:
    await ssh_env.controller.config.put(SYSTEM, "auth", {"addressBackoffSeconds": 60,
                                                         "lockoutFailures": 100})
    users = ssh_env.controller.users
    for _ in range(3):
        with pytest.raises(AuthFailed):
            await users.authenticate("oper", "wrong", "ssh", "127.0.0.6")
    assert users.login_delay("oper", "127.0.0.6") == BACKOFF_CAP_S < LOGIN_TIMEOUT_S / 3
    t0 = time.monotonic()
    async with await _login(ssh_env, "oper", PASSWORD, "127.0.0.6") as conn:
        assert (await conn.run("whoami")).exit_status == 0
    assert BACKOFF_CAP_S <= time.monotonic() - t0 < BACKOFF_CAP_S + 10


async def test_rotating_source_addresses_cannot_exceed_the_password_check_budget(
        ssh_env: SSHEnv) -> None:
    users = ssh_env.controller.users
    users.budget = VerifyBudget(rate=5, burst=5)
    tries = 20

    async def guess(i: int) -> None:
        with pytest.raises(asyncssh.PermissionDenied):
            await _login(ssh_env, f"guess{i}", "wrong", f"127.0.1.{i + 1}")

    t0 = time.monotonic()
    await asyncio.gather(*(guess(i) for i in range(tries)))
    elapsed = time.monotonic() - t0
    assert elapsed >= (tries - 5) / 5 * 0.9, elapsed   # 5 a second after a burst of 5
    async with await _login(ssh_env, "oper", PASSWORD) as conn:
        assert (await conn.run("whoami")).exit_status == 0


async def test_a_source_that_keeps_failing_is_refused_new_connections(ssh_env: SSHEnv) -> None:
    await ssh_env.controller.config.put(SYSTEM, "auth", {"lockoutFailures": 100})
    svc = ssh_env.controller.service("ssh")
    for i in range(8):  # 8 x 2 s of penalty passes the 15 s threshold
        await _fail(ssh_env, f"name{i}", "127.0.0.7")
    with pytest.raises((asyncssh.DisconnectError, ConnectionError)):
        await _login(ssh_env, "oper", PASSWORD, "127.0.0.7")
    assert svc.refused >= 1 and "too many failed logins from 127.0.0.7" in svc.last_refusal
    # what the client is told: one line, then the connection closes (no SSH at all)
    reader, writer = await asyncio.open_connection("127.0.0.1", ssh_env.port,
                                                   local_addr=("127.0.0.7", 0))
    said = await asyncio.wait_for(reader.read(), 5)
    writer.close()
    assert said.startswith(b"Refused: too many failed logins from 127.0.0.7 (new connections "
                           b"refused for another ") and said.endswith(b"; try again later\r\n")
    async with await _login(ssh_env, "oper", PASSWORD, "127.0.0.8") as conn:
        assert (await conn.run("whoami")).exit_status == 0



