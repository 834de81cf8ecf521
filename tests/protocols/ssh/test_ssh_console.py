"""The full-screen console over SSH, seen through asyncssh's client with a pty and pyte
as the terminal: it appears, follows resizes, hands over to the shell and back, quits,
leaves no task behind on disconnect, honours NO_COLOR, and stays bounded for a client
that stops reading."""

from __future__ import annotations

import asyncio
import re
from typing import Any

import pyte

import pytest

from enerteg_tui.core.permissions import SYSTEM

from tests.helpers import wait_for

from .conftest import PASSWORD, SSHEnv

pytestmark = pytest.mark.e2e
"""Through a real peer (OpenSSH, tmux, the enerteg command): see pyproject's markers."""


class Screen:
    """A pyte terminal fed by an asyncssh process's stdout."""

    def __init__(self, process: Any, cols: int, rows: int) -> None:
        self.screen = pyte.Screen(cols, rows)
        self.stream = pyte.ByteStream(self.screen)
        self.raw = bytearray()
        self.process = process
        self.task = asyncio.get_running_loop().create_task(self._read())

    async def _read(self) -> None:
        while True:
            data = await self.process.stdout.read(65536)
            if not data:
                return
            self.raw += data
            self.stream.feed(data)

    @property
    def text(self) -> str:
        return "\n".join(self.screen.display)

    async def wait_for(self, pattern: str, timeout: float = 10) -> None:
        try:
            await wait_for(lambda: re.search(pattern, self.text), timeout=timeout, step=0.05)
        except AssertionError:
            raise AssertionError(f"{pattern!r} not on screen:\n{self.text}") from None

    def resize(self, cols: int, rows: int) -> None:
        self.screen.resize(rows, cols)
        self.process.change_terminal_size(cols, rows)


async def _console(env: SSHEnv, user: str = "oper", *, cols: int = 100, rows: int = 30,
                   term: str = "xterm-256color", password: str = PASSWORD,
                   env_vars: dict[str, str] | None = None) -> tuple[Any, Any, Screen]:
    conn = await env.connect(user, password=password)
    process = await conn.create_process(term_type=term, term_size=(cols, rows), encoding=None,
                                        env=env_vars or {})
    return conn, process, Screen(process, cols, rows)


async def test_console_appears_and_follows_resize(ssh_env: SSHEnv) -> None:
    conn, process, screen = await _console(ssh_env)
    try:
        await screen.wait_for(r"oper\(readonly\)")
        await screen.wait_for(r"Site dashboard")
        screen.resize(130, 40)
        await screen.wait_for(r"Site dashboard")
        await asyncio.sleep(0.5)
        header = screen.screen.display[0]
        assert header.rstrip().endswith("Z")             # the clock moved to column 130
        assert len(header.rstrip()) > 100
    finally:
        conn.close()


async def test_shell_from_the_console_and_back_then_quit(ssh_env: SSHEnv) -> None:
    conn, process, screen = await _console(ssh_env)
    try:
        await screen.wait_for(r"Site dashboard")
        process.stdin.write(b"\x14")                      # ctrl+t
        await screen.wait_for(r"oper@enerteg:> ")
        process.stdin.write(b"cd config\r")
        await screen.wait_for(r"Changed to: /config")
        process.stdin.write(b"exit\r")
        await screen.wait_for(r"Site dashboard")
        process.stdin.write(b"q")
        await screen.wait_for(r"Leave the EnerTEG console\?")
        process.stdin.write(b"y")
        await asyncio.wait_for(process.wait_closed(), 5)
        assert process.exit_status == 0
        assert screen.raw.endswith(b"\x1b[?25h\x1b[0m")   # terminal modes restored
    finally:
        conn.close()


async def test_disconnect_leaves_no_task_and_logs_out(ssh_env: SSHEnv) -> None:
    await asyncio.sleep(0.2)
    before = {t for t in asyncio.all_tasks()}
    conn, process, screen = await _console(ssh_env)
    await screen.wait_for(r"Site dashboard")
    conn.close()
    await conn.wait_closed()
    # the poller's timed waits come and go every sweep; a task of the session would stay
    extra: set[asyncio.Task[Any]] = set()
    for _ in range(100):
        await asyncio.sleep(0.5)
        now = {t for t in asyncio.all_tasks() - before
               if t is not asyncio.current_task() and not t.done()}
        extra = now & extra if extra else now
        if not extra:
            break
    assert not extra, [repr(t.get_coro()) for t in extra]
    entries = await ssh_env.controller.audit.query(SYSTEM, limit=20)
    assert any(e.action == "logout" and e.user == "oper" for e in entries)


async def test_no_color_and_vt100_get_no_colours(ssh_env: SSHEnv) -> None:
    for term, env_vars in (("xterm-256color", {"NO_COLOR": "1"}), ("vt100", {})):
        conn, process, screen = await _console(ssh_env, cols=80, rows=24, term=term,
                                               env_vars=env_vars)
        try:
            await screen.wait_for(r"Site dashboard")
            raw = screen.raw.decode(errors="replace")
            for m in re.finditer(r"\x1b\[([0-9;]*)m", raw):
                for rgb in re.finditer(r"[34]8;2;(\d+);(\d+);(\d+)", m.group(1)):
                    assert rgb.group(1) == rgb.group(2) == rgb.group(3), (term, m.group(0))
                assert not re.search(r"(^|;)[34]8;5;", m.group(1)), (term, m.group(0))
        finally:
            conn.close()


async def test_default_password_changes_before_the_console(ssh_env: SSHEnv) -> None:
    conn, process, screen = await _console(ssh_env, "admin", password="admin")
    try:
        await screen.wait_for("New password: ")
        process.stdin.write(b"An0ther-pass\r")
        await screen.wait_for("Repeat password: ")
        process.stdin.write(b"An0ther-pass\r")
        await screen.wait_for(r"admin\(admin\)")
    finally:
        conn.close()
    assert not await ssh_env.controller.users.must_change("admin")


async def test_slow_client_does_not_grow_memory(ssh_env: SSHEnv) -> None:
    from enerteg_tui.protocols.ssh.console import WRITE_HIGH

    conn = await ssh_env.connect("oper")
    process = await conn.create_process(term_type="xterm-256color", term_size=(200, 60),
                                        encoding=None)
    try:
        await asyncio.sleep(0.5)
        # the client never reads: pause its receive side entirely
        process.channel.pause_reading()
        for _ in range(40):                    # force many full repaints
            process.change_terminal_size(200 - _ % 2, 60)
            await asyncio.sleep(0.05)
        server_procs = [c for c in ssh_env.controller.service("ssh").connections
                        if c.principal and c.principal.user == "oper"]
        assert server_procs
        await asyncio.sleep(0.5)
        # the server side queued at most the high-water mark plus one frame
        from enerteg_tui.protocols.ssh import console as console_mod
        assert console_mod.WRITE_HIGH == WRITE_HIGH
        transports = [t for t in _transports()]
        assert transports and all(t.dropped > 0 for t in transports)
        assert all(t._chan.get_write_buffer_size() < WRITE_HIGH + 512 * 1024
                   for t in transports)
        process.channel.resume_reading()
        screen = Screen(process, 200, 60)
        await screen.wait_for(r"Site dashboard")
    finally:
        conn.close()


def _transports() -> list[Any]:
    import gc

    from enerteg_tui.protocols.ssh.console import SSHConsoleTransport
    return [o for o in gc.get_objects() if isinstance(o, SSHConsoleTransport) and not o.closed]


async def test_twenty_console_sessions(ssh_env: SSHEnv) -> None:
    await ssh_env.controller.config.put(SYSTEM, "cli", {"maxSessionsPerUser": 25})
    sessions = await asyncio.gather(*(_console(ssh_env, cols=80, rows=24) for _ in range(20)))
    try:
        await asyncio.gather(*(s[2].wait_for(r"Site dashboard", timeout=30) for s in sessions))
    finally:
        for conn, _, _ in sessions:
            conn.close()



async def test_back_from_the_shell_to_the_page_it_came_from(ssh_env: SSHEnv) -> None:
    """Issue 18 item 9: ctrl+t then exit returns to the page it came from (here the
    device list), not to the site dashboard."""
    conn, process, screen = await _console(ssh_env, cols=130, rows=40)
    try:
        await screen.wait_for(r"Site dashboard")
        name = ssh_env.controller.live.ordered()[0].info.display_name
        process.stdin.write(b"\x1bOR")                     # F3: devices
        await screen.wait_for(r"Show: all")
        await screen.wait_for(re.escape(name))
        process.stdin.write(b"\x14")                       # ctrl+t
        await screen.wait_for(r"oper@enerteg:> ")
        process.stdin.write(b"exit\r")
        await screen.wait_for(r"Show: all")
        assert "Site dashboard" not in screen.text
    finally:
        conn.close()
