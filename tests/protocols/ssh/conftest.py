"""Fixtures for the SSH face: a controller with its SSH server on a loopback port, users,
and clients — OpenSSH's ``ssh``/``sftp``/``scp`` and asyncssh's client. OpenSSH runs as
an asyncio subprocess so the controller, on the test's loop, keeps serving while it runs.

The password reaches OpenSSH through ``SSH_ASKPASS`` (``SSH_ASKPASS_REQUIRE=force``),
not sshpass: sshpass types into a pty and loses the race against ssh flushing the
terminal now and then on a loaded machine, which fails a login at random."""

from __future__ import annotations

import asyncio
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncssh
import pexpect
import pytest

from enerteg_tui.core.permissions import SYSTEM

PASSWORD = "Corr3ct-horse"
"""Password of the test users (policy-compliant)."""
SSH_OPTS = ["-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null",
            "-o", "PubkeyAuthentication=no", "-o", "LogLevel=ERROR",
            "-o", "PreferredAuthentications=password,keyboard-interactive"]


_ASKPASS = Path(__file__).with_name("askpass.sh")


def askpass_env(password: str) -> dict[str, str]:
    """Environment that makes OpenSSH take ``password`` from our askpass helper."""
    return {**os.environ, "SSH_ASKPASS": str(_ASKPASS), "SSH_ASKPASS_REQUIRE": "force",
            "DISPLAY": ":0", "ENERTEG_TEST_PASSWORD": password}


@dataclass
class Result:
    """What an OpenSSH client run returned."""

    code: int
    out: str
    err: str


@dataclass
class SSHEnv:
    """A controller serving SSH on ``127.0.0.1:port`` with users ``boss`` (admin),
    ``oper`` (readonly), ``power`` (power) and the factory ``admin``/``admin``."""

    controller: Any
    port: int
    tmp: Path

    async def ssh(self, user: str, command: str | None = None, *, password: str = PASSWORD,
                  stdin: str | None = None, extra: tuple[str, ...] = (),
                  timeout: float = 30) -> Result:
        """Run OpenSSH ``ssh`` non-interactively (askpass gives the password)."""
        args = ["ssh", "-p", str(self.port), *extra, *SSH_OPTS, f"{user}@127.0.0.1"]
        if command is not None:
            args.append(command)
        proc = await asyncio.create_subprocess_exec(
            *args, stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE, env=askpass_env(password), start_new_session=True)
        out, err = await asyncio.wait_for(
            proc.communicate(stdin.encode() if stdin is not None else b""), timeout)
        return Result(proc.returncode or 0, out.decode(), err.decode())

    async def tool(self, *args: str, password: str = PASSWORD, timeout: float = 30) -> Result:
        """Run another OpenSSH tool (``sftp``, ``scp``) with the password."""
        proc = await asyncio.create_subprocess_exec(
            *args, stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE, env=askpass_env(password), start_new_session=True)
        out, err = await asyncio.wait_for(proc.communicate(), timeout)
        return Result(proc.returncode or 0, out.decode(), err.decode())

    def terminal(self, user: str, command: str | None = None, *,
                 size: tuple[int, int] = (100, 30)) -> pexpect.spawn:
        """OpenSSH with a pty (``ssh -tt``) under pexpect; answer the password yourself."""
        args = ["-tt", "-p", str(self.port), *SSH_OPTS, f"{user}@127.0.0.1"]
        if command:
            args.append(command)
        child = pexpect.spawn("ssh", args, encoding="utf-8", timeout=15,
                              dimensions=(size[1], size[0]),
                              env={**os.environ, "TERM": "xterm-256color"})
        return child

    async def connect(self, user: str, password: str | None = PASSWORD,
                      **kw: Any) -> asyncssh.SSHClientConnection:
        """An asyncssh client connection."""
        kw.setdefault("known_hosts", None)
        if password is not None:
            kw.setdefault("client_keys", None)
        return await asyncssh.connect("127.0.0.1", self.port, username=user, password=password,
                                      **kw)


async def expect(child: pexpect.spawn, pattern: Any, timeout: float = 15) -> int:
    """``child.expect`` without blocking the event loop the controller runs on."""
    return await child.expect(pattern, timeout=timeout, async_=True)


@pytest.fixture
async def ssh_env(make_controller, tmp_path: Path) -> SSHEnv:
    """A controller with SSH on a free loopback port and the test users."""
    c = await make_controller(pdus=4, ssh_enabled=True, ssh_port=0, bind="127.0.0.1")
    users = c.users
    await users.add(SYSTEM, "boss", PASSWORD, ["admin"])
    await users.add(SYSTEM, "oper", PASSWORD, ["readonly"])
    await users.add(SYSTEM, "power", PASSWORD, ["power"])
    await c.config.put(SYSTEM, "auth", {"addressBackoffSeconds": 0})
    return SSHEnv(c, c.service("ssh").port, tmp_path)
