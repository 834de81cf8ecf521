"""The full-screen console on the serial line, after login.

A serial terminal says nothing about itself, so after login the operator is asked for
the terminal type (default vt100, which gets no colours) or ``shell`` for the line
shell. The console then runs on a ``StreamDriver`` at 80×24 (the line cannot report
a size). The line is slow (115200 baud ≈ 11 kB/s): frames are dropped while more than
``BACKLOG_LIMIT`` bytes wait to be sent and the screen is repainted once the line has
caught up, so the picture is never more than a moment old. ctrl+t opens the shell,
``exit`` there comes back.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from ..shell.lineedit import LineEditor
from ..shell.session import ShellSession
from ..textual_driver import StreamDriver

__all__ = ["ask_terminal_type", "run_serial_console", "BACKLOG_LIMIT", "DEFAULT_TERM"]

log = logging.getLogger(__name__)

BACKLOG_LIMIT = 8 * 1024
"""Bytes waiting for the line beyond which frames are dropped."""
DEFAULT_TERM = "vt100"
SIZE = (80, 24)


async def ask_terminal_type(term: Any) -> str | None:
    """Ask for TERM; returns it, ``"shell"`` for the line shell, None at end of input."""
    editor = LineEditor(term)
    answer = await editor.readline(
        f"Terminal type [{DEFAULT_TERM}], e.g. xterm-256color, or 'shell' for the line shell: ")
    if answer is None:
        return None
    answer = answer.strip()
    return answer or DEFAULT_TERM


class _LineTransport:
    """``TerminalTransport`` over a ``SerialTerm`` with frame dropping."""

    def __init__(self, term: Any) -> None:
        self._term = term
        self.driver: StreamDriver | None = None
        self.dropped = 0
        self._watch: asyncio.TimerHandle | None = None

    @property
    def size(self) -> tuple[int, int]:
        return SIZE

    def write(self, text: str) -> None:
        if self._term.backlog > BACKLOG_LIMIT:
            self.dropped += 1
            if self._watch is None:
                self._watch = asyncio.get_running_loop().call_later(0.2, self._check)
            return
        self._term.write(text)

    def _check(self) -> None:
        self._watch = None
        if self._term.hung_up:
            return
        if self._term.backlog > BACKLOG_LIMIT // 4:
            self._watch = asyncio.get_running_loop().call_later(0.2, self._check)
        elif self.driver is not None:
            self.driver.repaint()

    def close(self) -> None:
        if self._watch is not None:
            self._watch.cancel()
            self._watch = None


async def _pump(term: Any, transport: _LineTransport, app: Any) -> None:
    while True:
        text = await term.read()
        if not text:
            app.exit()
            return
        if transport.driver is not None:
            transport.driver.feed(text)


async def run_serial_console(term: Any, core: Any, principal: Any, session: Any,
                             term_type: str) -> None:
    """Console (and shell on ctrl+t) until the operator quits or the line hangs up."""
    from ..console_session import (INCIDENTS_PER_SESSION, ConsoleEnd, incident_text,
                                   run_console_once)

    incidents = 0
    place = None                 # where to come back to from the topic shell
    while not term.hung_up:
        transport = _LineTransport(term)
        run = await run_console_once(
            core, principal, transport,
            pump=lambda app, t=transport: _pump(term, t, app), term=term_type, mouse=False,
            start_place=place)
        end, incident, place = run.end, run.incident, run.place
        if term.hung_up:
            return
        if end is ConsoleEnd.INCIDENT:
            incidents += 1
            left = INCIDENTS_PER_SESSION - incidents
            term.write(incident_text(str(incident), left))
            if left <= 0:
                return
            continue
        if end is not ConsoleEnd.SHELL:
            return
        term.write("Topic shell; type 'exit' to return to the console.\r\n")
        shell = ShellSession(core, principal)
        shell.session = session
        await shell.run_interactive(term)
