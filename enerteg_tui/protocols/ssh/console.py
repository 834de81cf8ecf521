"""The full-screen console on an SSH session: one ``ConsoleApp`` per channel, in-process.

``run_console`` owns the channel while the console runs: a reader task turns the
client's bytes into text for the driver (window changes become Resize events), and
``SSHConsoleTransport`` writes frames back. The operator can leave for the topic shell
(ctrl+t) and come back with ``exit``; Ctrl-D in the shell or ``q`` in the console
ends the session.

Back-pressure: the channel's send buffer is capped (``WRITE_HIGH``); while the client
does not read, frames are dropped instead of queued, and when it drains, the driver
asks the app for a full repaint. Memory per session therefore stays bounded however
slow the link. A disconnect ends the app (``app.exit``) and leaves no task behind.
"""

from __future__ import annotations

import asyncio
import codecs
import logging
from typing import Any

import asyncssh

from ..textual_driver import StreamDriver
from .terminal import SSHTerminal

__all__ = ["SSHConsoleTransport", "run_console", "WRITE_HIGH"]

log = logging.getLogger(__name__)

WRITE_HIGH = 256 * 1024
"""Bytes queued in the channel beyond which frames are dropped until it drains."""


class SSHConsoleTransport:
    """The console's side of an SSH channel: frame output with back-pressure, size."""

    def __init__(self, process: asyncssh.SSHServerProcess) -> None:
        self._process = process
        self._chan = process.channel
        self._chan.set_write_buffer_limits(high=WRITE_HIGH, low=WRITE_HIGH // 4)
        self.driver: StreamDriver | None = None
        self.dropped = 0
        """Frames dropped while the client was not reading."""
        self._waiting: asyncio.Task[None] | None = None
        self.closed = False

    @property
    def size(self) -> tuple[int, int]:
        """The client's terminal size ``(columns, rows)``."""
        cols, rows, *_ = self._process.get_terminal_size()
        return (cols or 80, rows or 24)

    def write(self, text: str) -> None:
        """Send a frame, or drop it while the channel is backed up."""
        if self.closed or self._process.is_closing():
            return
        if self._waiting is not None:
            self.dropped += 1
            return
        self._process.stdout.write(text.encode("utf-8", errors="replace"))
        if self._chan.get_write_buffer_size() > WRITE_HIGH:
            self._waiting = asyncio.get_running_loop().create_task(self._drain())

    async def _drain(self) -> None:
        try:
            await self._process.stdout.drain()
        except (asyncssh.Error, ConnectionError, BrokenPipeError):
            self.closed = True
            return
        finally:
            self._waiting = None
        if self.dropped and self.driver is not None:
            self.driver.repaint()

    def close(self) -> None:
        """Stop writing; cancel a pending drain."""
        self.closed = True
        if self._waiting is not None:
            self._waiting.cancel()


async def _pump_input(process: asyncssh.SSHServerProcess, transport: SSHConsoleTransport,
                      app: Any, on_input: Any) -> None:
    decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
    while True:
        try:
            data = await process.stdin.read(4096)
        except asyncssh.TerminalSizeChanged as change:
            if transport.driver is not None:
                transport.driver.resize(change.width, change.height)
            continue
        except (asyncssh.BreakReceived, asyncssh.SignalReceived):
            continue
        except (asyncssh.Error, ConnectionError, BrokenPipeError):
            data = b""
        if not data:
            transport.close()
            app.exit()
            return
        if on_input is not None:
            on_input()
        text = decoder.decode(data)
        if text and transport.driver is not None:
            transport.driver.feed(text)


async def run_console(service: Any, owner: Any, process: asyncssh.SSHServerProcess) -> int:
    """Run the console (and the shell when asked) on ``process``; returns the exit code."""
    from ..console_session import (INCIDENTS_PER_SESSION, ConsoleEnd, incident_text,
                                   run_console_once)
    from ..shell.session import ShellSession

    core = service.core
    principal = owner.principal
    session = owner.session
    touch = session.touch if session else None
    incidents = 0
    place = None                 # where to come back to from the topic shell
    while True:
        transport = SSHConsoleTransport(process)
        run = await run_console_once(
            core, principal, transport,
            pump=lambda app, t=transport: _pump_input(process, t, app, touch),
            term=process.get_terminal_type(), env=dict(process.env or {}),
            start_place=place)
        end, incident, place = run.end, run.incident, run.place
        if process.is_closing():
            return 0
        if end is ConsoleEnd.INCIDENT:
            incidents += 1
            left = INCIDENTS_PER_SESSION - incidents
            process.stdout.write(incident_text(str(incident), left).encode())
            if left <= 0:
                return 1
            await asyncio.sleep(1.0)            # the message stays readable a moment
            continue
        if end is not ConsoleEnd.SHELL:
            return 0
        shell_term = SSHTerminal(process, idle_timeout_s=service.idle_timeout_s(), on_input=touch)
        shell_term.write("Topic shell; type 'exit' to return to the console.\r\n")
        shell = ShellSession(core, principal)
        shell.session = session
        await shell.run_interactive(shell_term)
        if shell_term.at_eof or shell_term.timed_out or process.is_closing():
            return 0
