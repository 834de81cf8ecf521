"""A ``TermIO`` over an SSH session channel with a pty, for the topic shell.

The shell's line editor and ``_data`` editor read decoded text and write ANSI text;
this adapter turns the channel's bytes into that. Input is decoded incrementally as
UTF-8 (a character split across packets survives; invalid bytes become U+FFFD).
A window change from the client raises ``TerminalSizeChanged`` inside asyncssh's
read; it is swallowed here and the new size is read on demand. A break or signal
request reads as Ctrl-C (``"\x03"``), which is how a pty delivers an interrupt.

Idle timeout: ``read`` waits at most ``idle_timeout_s`` for input; when it passes,
the adapter says so on the terminal, sets ``timed_out`` and reports end of input, so
the shell ends the way it does on Ctrl-D.
"""

from __future__ import annotations

import asyncio
import codecs
from collections.abc import Callable

import asyncssh

__all__ = ["SSHTerminal"]

READ_CHUNK = 4096


class SSHTerminal:
    """``TermIO`` over an ``asyncssh.SSHServerProcess`` opened with ``encoding=None``.

    Args:
        process: the session's process (stdin/stdout as bytes).
        idle_timeout_s: end the session after this long without input; 0 = never.
        on_input: called on every chunk of input (resets idle time elsewhere).
    """

    def __init__(self, process: asyncssh.SSHServerProcess, *, idle_timeout_s: float = 0.0,
                 on_input: Callable[[], None] | None = None) -> None:
        self._process = process
        self._decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        self._idle = idle_timeout_s
        self._on_input = on_input
        self._eof = False
        self.timed_out = False
        """True once the session ended because of the idle timeout."""

    @property
    def at_eof(self) -> bool:
        """True once the client closed its input (or the connection went)."""
        return self._eof and not self.timed_out

    @property
    def size(self) -> tuple[int, int]:
        """The client's terminal size ``(columns, rows)``, clamped to a sane range."""
        cols, rows, *_ = self._process.get_terminal_size()
        return (min(max(cols or 80, 10), 500), min(max(rows or 24, 2), 200))

    def write(self, text: str) -> None:
        """Write text (with ANSI) to the client; dropped once the channel is closing."""
        if not self._process.is_closing():
            self._process.stdout.write(text.encode("utf-8", errors="replace"))

    async def read(self) -> str:
        """The next decoded chunk of input, ``""`` at end of input or idle timeout."""
        while not self._eof:
            try:
                if self._idle > 0:
                    data = await asyncio.wait_for(self._process.stdin.read(READ_CHUNK), self._idle)
                else:
                    data = await self._process.stdin.read(READ_CHUNK)
            except TimeoutError:
                self.timed_out = True
                self._eof = True
                self.write(f"\r\nSession closed after {self._idle / 60:g} min without input "
                           "(config/cli idleTimeoutMinutes).\r\n")
                return ""
            except asyncssh.TerminalSizeChanged:
                continue
            except (asyncssh.BreakReceived, asyncssh.SignalReceived):
                return "\x03"          # an interrupt, as Ctrl-C typed
            except (asyncssh.DisconnectError, asyncssh.ChannelOpenError, ConnectionError,
                    BrokenPipeError):
                self._eof = True
                return ""
            if not data:
                self._eof = True
                return self._decoder.decode(b"", final=True)
            if self._on_input is not None:
                self._on_input()
            text = self._decoder.decode(data)
            if text:
                return text
        return ""
