"""A Textual driver over a byte stream owned by the controller's loop (SSH channel, serial line).

Textual's own drivers own the process's terminal: signal handlers, a reader thread,
a writer thread. Here one process serves many consoles on one asyncio loop, so each
session gets a ``StreamDriver`` bound to its ``TerminalTransport``:

* output: ``write`` hands frames to the transport, which drops them while the peer is
  not reading (a slow client must not grow memory) and asks for a full repaint when
  it reads again;
* input: the transport feeds decoded text to ``feed``; Textual's ``XTermParser`` turns
  it into key, mouse and paste events; a lone ESC is released by a timer after
  Textual's escape delay;
* size: ``resize`` posts a ``Resize`` (window-change requests, the serial TERM answer);
* no suspend (Ctrl+Z must not stop the controller), no signal handlers, no threads.

Textual's driver API and ``XTermParser`` are private and change between minors: the
version is pinned to a minor range in pyproject.toml and tests/protocols/
test_textual_driver.py is the contract test to run on every upgrade.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any, Protocol

import textual.app
from textual import constants, events
from textual._xterm_parser import XTermParser
from textual.driver import Driver
from textual.geometry import Size
from textual.message import Message

from .sgr import squeeze_sgr

# Textual redirects the process's stdout/stderr while an app runs; with many sessions
# in one process they would fight over sys.stdout (and the controller's log).
textual.app.redirect_stdout = textual.app.redirect_stderr = contextlib.nullcontext  # type: ignore[assignment]

__all__ = ["StreamDriver", "TerminalTransport", "driver_for", "ENTER_SEQUENCE", "LEAVE_SEQUENCE"]

ENTER_SEQUENCE = "\x1b[?1049h\x1b[?25l\x1b[?2004h\x1b[?7l"
"""Alternate screen, hide cursor, bracketed paste, no line wrap."""
LEAVE_SEQUENCE = "\x1b[?2004l\x1b[?7h\x1b[?1049l\x1b[?25h\x1b[0m"
"""The reverse, and attributes reset, so the user's terminal is left usable."""
MOUSE_ON = "\x1b[?1000h\x1b[?1003h\x1b[?1015h\x1b[?1006h"
MOUSE_OFF = "\x1b[?1000l\x1b[?1003l\x1b[?1015l\x1b[?1006l"


class TerminalTransport(Protocol):
    """What a ``StreamDriver`` needs from the session that carries it."""

    driver: StreamDriver | None
    """Set by the driver when Textual creates it, so input and resizes reach it."""

    def write(self, text: str) -> None:
        """Send text (with escape sequences) to the terminal, or drop it when paused."""
        ...

    @property
    def size(self) -> tuple[int, int]:
        """The terminal's ``(columns, rows)``."""
        ...


class StreamDriver(Driver):
    """Textual driver of one console session; built by ``driver_for(transport)``."""

    transport: TerminalTransport

    def __init__(self, app: Any, *, debug: bool = False, mouse: bool = True,
                 size: tuple[int, int] | None = None) -> None:
        super().__init__(app, debug=debug, mouse=mouse, size=size)
        self._parser = XTermParser(debug)
        self._tick: asyncio.TimerHandle | None = None
        self._input = False
        self._started = False
        self.transport.driver = self

    @property
    def can_suspend(self) -> bool:
        """Never: Ctrl+Z must not stop the controller's process."""
        return False

    # ------------------------------------------------------------------ output
    def write(self, data: str) -> None:
        """Send a frame to the transport, without style codes that change nothing
        (``protocols.sgr``: about a quarter of a live table's bytes)."""
        self.transport.write(squeeze_sgr(data))

    def flush(self) -> None:
        """Nothing to flush: the transport sends at once."""

    # ------------------------------------------------------------------ modes
    def start_application_mode(self) -> None:
        """Alternate screen, mouse, paste mode; then the first Resize."""
        self.write(ENTER_SEQUENCE + (MOUSE_ON if self._mouse else ""))
        self._started = True
        self._input = True
        self.resize(*self.transport.size)

    def disable_input(self) -> None:
        """Stop turning input into events."""
        self._input = False
        if self._tick is not None:
            self._tick.cancel()
            self._tick = None

    def stop_application_mode(self) -> None:
        """Leave the alternate screen and restore the terminal's modes."""
        self.disable_input()
        if self._started:
            self._started = False
            self.write((MOUSE_OFF if self._mouse else "") + LEAVE_SEQUENCE)

    def close(self) -> None:
        """Release the escape timer."""
        self.disable_input()

    # ------------------------------------------------------------------ input
    def feed(self, text: str) -> None:
        """Decoded terminal input from the transport."""
        if not self._input:
            return
        for message in self._parser.feed(text):
            self._deliver(message)
        self._schedule_tick()

    def _schedule_tick(self) -> None:
        if self._tick is not None:
            self._tick.cancel()
        # a lone ESC (or an unfinished sequence) is released after the escape delay
        self._tick = self._loop.call_later(constants.ESCAPE_DELAY + 0.01, self._on_tick)

    def _on_tick(self) -> None:
        self._tick = None
        if self._input:
            for message in self._parser.tick():
                self._deliver(message)

    def _deliver(self, message: Message) -> None:
        self.process_message(message)

    def send_message(self, message: Message) -> None:
        """Post to the app on this loop (the base class assumes another thread)."""
        self._app.post_message(message)

    def resize(self, columns: int, rows: int) -> None:
        """The terminal changed size: tell the app (clamped to a sane range)."""
        columns = min(max(columns, 10), 500)
        rows = min(max(rows, 4), 200)
        self._size = (columns, rows)
        size = Size(columns, rows)
        self.send_message(events.Resize(size, size))

    def repaint(self) -> None:
        """Ask the app to draw the whole screen again (after frames were dropped)."""
        self.resize(*self.transport.size)


def driver_for(transport: TerminalTransport) -> type[StreamDriver]:
    """A ``StreamDriver`` class bound to ``transport`` (Textual instantiates the class)."""
    return type("BoundStreamDriver", (StreamDriver,), {"transport": transport})
