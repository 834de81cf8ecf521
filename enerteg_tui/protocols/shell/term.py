"""The abstract terminal of the topic shell: ``TermIO``, key decoding, a test terminal.

Owns the boundary between a byte-ish transport (an SSH channel with a pty, a serial
line) and the shell's interactive components. ``TermIO`` is the three-member contract
they need; ``KeyParser`` turns decoded input chunks into ``Key`` events (text runs,
Enter, Backspace, control keys, CSI/SS3 cursor keys); ``next_key`` reads one key from
a terminal, resolving a lone ESC by a short timeout.

Invariants:
    * One ``KeyReader`` per terminal (``reader_for``), shared by every component that
      reads keys from it, so type-ahead, the LF of a CR LF and a half-received escape
      sequence survive from the line editor into the ``_data`` editor and back.
      Once keys are read through ``next_key`` nobody reads ``io.read()`` directly.
    * Unknown escape sequences and control characters are swallowed, never echoed.
    * After end of input every ``next_key`` returns the ``eof`` key.

Callers: ``protocols.shell.lineedit.LineEditor``, ``protocols.shell.editor``, the SSH
and serial terminal drivers (which implement ``TermIO``) and the tests (``MemoryTerm``).
"""

from __future__ import annotations

import asyncio
import unicodedata
import weakref
from collections import deque
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

__all__ = [
    "read_line",
    "read_secret",
    "TermIO", "Key", "KeyParser", "KeyReader", "MemoryTerm", "next_key", "reader_for",
    "char_width", "text_width", "ESC_TIMEOUT_S",
    "TEXT", "ENTER", "BACKSPACE", "TAB", "BACKTAB", "ESCAPE", "UP", "DOWN", "LEFT", "RIGHT",
    "HOME", "END", "INSERT", "DELETE", "PAGE_UP", "PAGE_DOWN", "EOF",
]

ESC_TIMEOUT_S = 0.05
"""How long a lone ESC waits for the rest of a sequence before it counts as Esc."""

MAX_SEQUENCE = 32
"""Longest CSI sequence kept; longer garbage is dropped."""

TEXT, ENTER, BACKSPACE, TAB, BACKTAB, ESCAPE = "text", "enter", "backspace", "tab", "backtab", "escape"
UP, DOWN, LEFT, RIGHT, HOME, END = "up", "down", "left", "right", "home", "end"
INSERT, DELETE, PAGE_UP, PAGE_DOWN, EOF = "insert", "delete", "pageup", "pagedown", "eof"

_ESC = "\x1b"
_CSI_FINAL = {"A": UP, "B": DOWN, "C": RIGHT, "D": LEFT, "H": HOME, "F": END, "Z": BACKTAB}
_SS3_FINAL = {"A": UP, "B": DOWN, "C": RIGHT, "D": LEFT, "H": HOME, "F": END}
_TILDE = {"1": HOME, "7": HOME, "4": END, "8": END, "2": INSERT, "3": DELETE,
          "5": PAGE_UP, "6": PAGE_DOWN}


@runtime_checkable
class TermIO(Protocol):
    """A terminal the shell talks to: decoded text in, raw text (with ANSI) out.

    ``read`` must return ``""`` at end of input and keep doing so. Output uses
    ``"\\r\\n"`` line ends. ``size`` is ``(columns, rows)`` and may change between reads.
    """

    async def read(self) -> str:
        """Return the next chunk of decoded input text, ``""`` at end of input."""
        ...

    def write(self, text: str) -> None:
        """Write raw output, which may contain ANSI escape sequences."""
        ...

    @property
    def size(self) -> tuple[int, int]:
        """The terminal's current ``(columns, rows)``."""
        ...


@dataclass(frozen=True, slots=True)
class Key:
    """One decoded key event.

    ``name`` is ``"text"`` for a run of printable characters (in ``text``; a paste may
    arrive as one run), else one of ``enter backspace tab backtab escape up down left
    right home end insert delete pageup pagedown eof`` or ``ctrl-<letter>`` for the
    other control characters (``ctrl-a`` … ``ctrl-z`` except Tab, Enter and Backspace).
    """

    name: str
    """The key's name, see the class docstring."""
    text: str = ""
    """The characters of a ``text`` key, empty for the others."""


def char_width(ch: str) -> int:
    """Return the number of terminal cells ``ch`` occupies (0, 1 or 2)."""
    if unicodedata.combining(ch) or ch < " ":
        return 0
    return 2 if unicodedata.east_asian_width(ch) in ("W", "F") else 1


def text_width(text: str) -> int:
    """Return the number of terminal cells ``text`` occupies on one line."""
    if text.isascii():
        return sum(1 for ch in text if ch >= " ")
    return sum(char_width(ch) for ch in text)


def _csi_key(body: str, final: str) -> Key | None:
    """Map a CSI sequence (parameters ``body``, final byte) to a key, None if unknown."""
    if body[:1] in ("<", "=", ">", "?"):
        return None                                  # private: mouse, replies, …
    if final == "~":
        name = _TILDE.get(body.split(";")[0])
    else:
        name = _CSI_FINAL.get(final)
    return Key(name) if name else None


class KeyParser:
    """Incremental decoder of terminal input chunks into ``Key`` events.

    Keeps the state a chunk boundary may cut: a partial escape sequence and whether
    the last character was a CR (so CR LF is one Enter even when split).
    """

    def __init__(self) -> None:
        """Start with no pending sequence."""
        self._esc = ""
        self._after_cr = False

    @property
    def pending(self) -> bool:
        """True while an escape sequence has started but not finished."""
        return bool(self._esc)

    def feed(self, chunk: str) -> list[Key]:
        """Decode ``chunk`` and return the complete keys it finishes, in order."""
        keys: list[Key] = []
        run: list[str] = []
        for ch in chunk:
            if self._esc:
                again = self._escape_step(ch, keys)
                if not again:
                    continue
            if ch == "\n" and self._after_cr:
                self._after_cr = False
                continue
            self._after_cr = ch == "\r"
            if ch >= " " and ch != "\x7f" and not "\x80" <= ch <= "\x9f":
                run.append(ch)
                continue
            if run:
                keys.append(Key(TEXT, "".join(run)))
                run.clear()
            if ch == _ESC:
                self._esc = _ESC
            elif key := self._control(ch):
                keys.append(key)
        if run:
            keys.append(Key(TEXT, "".join(run)))
        return keys

    def flush(self) -> list[Key]:
        """End a pending sequence (timeout or EOF): a lone ESC is Esc, the rest is dropped."""
        lone, self._esc = self._esc == _ESC, ""
        return [Key(ESCAPE)] if lone else []

    @staticmethod
    def _control(ch: str) -> Key | None:
        """Map a control character to its key, None to swallow it."""
        if ch in ("\r", "\n"):
            return Key(ENTER)
        if ch in ("\x7f", "\x08"):
            return Key(BACKSPACE)
        if ch == "\t":
            return Key(TAB)
        if "\x01" <= ch <= "\x1a":
            return Key(f"ctrl-{chr(ord(ch) + 96)}")
        return None

    def _escape_step(self, ch: str, keys: list[Key]) -> bool:
        """Advance the pending sequence by ``ch``; True if ``ch`` must be decoded afresh."""
        seq = self._esc
        if seq == _ESC:
            if ch in ("[", "O"):
                self._esc += ch
                return False
            self._esc = ""
            keys.append(Key(ESCAPE))                 # ESC + anything else: Esc, then it
            return True
        if seq[1] == "O":
            self._esc = ""
            if "\x40" <= ch <= "\x7e":
                if name := _SS3_FINAL.get(ch):
                    keys.append(Key(name))
                return False
            return True
        if "\x20" <= ch <= "\x3f":
            self._esc += ch
            if len(self._esc) > MAX_SEQUENCE:
                self._esc = ""
            return False
        self._esc = ""
        if "\x40" <= ch <= "\x7e":
            if key := _csi_key(seq[2:], ch):
                keys.append(key)
            return False
        return True                                  # broken sequence: drop it, keep ch


class KeyReader:
    """Reads keys from one terminal: a parser, decoded keys not yet taken, one read.

    A read still running when the ESC timeout fires is kept (not cancelled) and
    awaited again by the next call, so no input is lost.
    """

    def __init__(self, esc_timeout: float = ESC_TIMEOUT_S) -> None:
        """Create a reader whose lone ESC resolves after ``esc_timeout`` seconds."""
        self._parser = KeyParser()
        self._keys: deque[Key] = deque()
        self._read: asyncio.Future[str] | None = None
        self._eof = False
        self.esc_timeout = esc_timeout
        """Seconds a lone ESC waits for the rest of a sequence."""

    async def next_key(self, io: TermIO) -> Key:
        """Return the next key typed on ``io``; the ``eof`` key once input has ended."""
        while not self._keys:
            if self._eof:
                return Key(EOF)
            if self._read is None:
                self._read = asyncio.ensure_future(io.read())
            task = self._read
            try:
                if self._parser.pending:
                    chunk = await asyncio.wait_for(asyncio.shield(task), self.esc_timeout)
                else:
                    chunk = await task
            except TimeoutError:
                self._keys.extend(self._parser.flush())
                continue
            except BaseException:
                task.cancel()
                self._read = None
                raise
            self._read = None
            if chunk == "":
                self._keys.extend(self._parser.flush())
                self._eof = True
            else:
                self._keys.extend(self._parser.feed(chunk))
        return self._keys.popleft()


_readers: weakref.WeakKeyDictionary[TermIO, KeyReader] = weakref.WeakKeyDictionary()


def reader_for(io: TermIO) -> KeyReader:
    """Return the shared ``KeyReader`` of ``io``, creating it on first use.

    A terminal object that cannot be weakly referenced gets a fresh reader per call,
    which loses type-ahead between calls; give such classes ``__weakref__``.
    """
    try:
        reader = _readers.get(io)
        if reader is None:
            reader = _readers[io] = KeyReader()
        return reader
    except TypeError:
        return KeyReader()


async def next_key(io: TermIO) -> Key:
    """Return the next key typed on ``io`` (lone ESC after ``ESC_TIMEOUT_S``; ``eof`` at end)."""
    return await reader_for(io).next_key(io)


class _Screen:
    """A minimal VT100 screen model: enough to replay the shell's own output in tests."""

    def __init__(self, cols: int, rows: int) -> None:
        """Create a blank screen of ``cols`` × ``rows``."""
        self.cols, self.rows = max(1, cols), max(1, rows)
        self.main = self._blank()
        self.alt: list[list[str]] | None = None
        self.y = self.x = 0
        self.saved = (0, 0)
        self.wrap = False
        self.seq = ""

    def _blank(self) -> list[list[str]]:
        """A grid of spaces of the current size."""
        return [[" "] * self.cols for _ in range(self.rows)]

    @property
    def grid(self) -> list[list[str]]:
        """The grid being shown (alternate or main)."""
        return self.alt if self.alt is not None else self.main

    def resize(self, cols: int, rows: int) -> None:
        """Crop or pad both grids to the new size."""
        cols, rows = max(1, cols), max(1, rows)
        for name in ("main", "alt"):
            grid = getattr(self, name)
            if grid is not None:
                grid = [(r + [" "] * cols)[:cols] for r in grid[:rows]]
                setattr(self, name, grid + [[" "] * cols for _ in range(rows - len(grid))])
        self.cols, self.rows = cols, rows
        self.y, self.x, self.wrap = min(self.y, rows - 1), min(self.x, cols - 1), False

    def _newline(self) -> None:
        """Move down a row, scrolling at the bottom."""
        if self.y == self.rows - 1:
            self.grid.pop(0)
            self.grid.append([" "] * self.cols)
        else:
            self.y += 1

    def write(self, text: str) -> None:
        """Apply output ``text``: printable characters, CR, LF, BS, CSI sequences."""
        for ch in text:
            if self.seq:
                self.seq += ch
                if self.seq == "\x1b[" or (len(self.seq) > 2 and not "\x40" <= ch <= "\x7e"):
                    continue
                seq, self.seq = self.seq, ""
                if seq.startswith("\x1b["):
                    self._csi(seq[2:-1], seq[-1])
            elif ch == _ESC:
                self.seq = ch
            elif ch == "\r":
                self.x, self.wrap = 0, False
            elif ch == "\n":
                self._newline()
                self.wrap = False
            elif ch == "\x08":
                self.x, self.wrap = max(0, self.x - 1), False
            elif ch >= " ":
                if self.wrap:
                    self.x, self.wrap = 0, False
                    self._newline()
                self.grid[self.y][self.x] = ch
                if self.x == self.cols - 1:
                    self.wrap = True
                else:
                    self.x += 1

    def _csi(self, body: str, final: str) -> None:
        """Apply one CSI sequence (cursor moves, erases, the alternate screen)."""
        if body.startswith("?"):
            if body == "?1049" and final == "h":
                self.saved, self.alt = (self.y, self.x), self._blank()
            elif body == "?1049" and final == "l":
                self.alt = None
                self.y, self.x = self.saved
            return
        nums = [int(p) if p.isdigit() else 0 for p in body.split(";")] if body else []
        n = max(1, nums[0]) if nums else 1
        self.wrap = False
        if final in "Hf":
            row, col = (nums + [1, 1])[:2]
            self.y, self.x = min(max(row, 1), self.rows) - 1, min(max(col, 1), self.cols) - 1
        elif final in "ABCD":
            dy, dx = {"A": (-n, 0), "B": (n, 0), "C": (0, n), "D": (0, -n)}[final]
            self.y = min(max(self.y + dy, 0), self.rows - 1)
            self.x = min(max(self.x + dx, 0), self.cols - 1)
        elif final == "K":
            self.grid[self.y][self.x:] = [" "] * (self.cols - self.x)
        elif final == "J":
            if nums and nums[0] == 2:
                self.grid[:] = self._blank()
            else:
                self.grid[self.y][self.x:] = [" "] * (self.cols - self.x)
                for row in self.grid[self.y + 1:]:
                    row[:] = [" "] * self.cols


class MemoryTerm:
    """A ``TermIO`` for tests: input fed through an ``asyncio.Queue``, output recorded.

    ``output`` is everything written; ``screen()`` replays it on a small VT100 model
    so a test can assert what the operator would see. ``size`` is settable (resize).
    """

    def __init__(self, size: tuple[int, int] = (80, 24)) -> None:
        """Create an open terminal of ``size`` (columns, rows) with no input yet."""
        self._queue: asyncio.Queue[str] = asyncio.Queue()
        self._chunks: list[str] = []
        self._size = size
        self._screen = _Screen(*size)
        self._eof = False
        self.closed = False
        """True once ``close()`` has been called."""

    def feed(self, text: str) -> None:
        """Queue ``text`` as one input chunk (empty text is ignored)."""
        if text:
            self._queue.put_nowait(text)

    def close(self) -> None:
        """End the input: once queued chunks are read, ``read()`` returns ``""``."""
        if not self.closed:
            self.closed = True
            self._queue.put_nowait("")

    async def read(self) -> str:
        """Return the next fed chunk, ``""`` (forever) after ``close()``."""
        if self._eof:
            return ""
        chunk = await self._queue.get()
        self._eof = chunk == ""
        return chunk

    def write(self, text: str) -> None:
        """Record ``text`` and apply it to the screen model."""
        self._chunks.append(text)
        self._screen.write(text)

    @property
    def output(self) -> str:
        """Everything written so far."""
        return "".join(self._chunks)

    def clear_output(self) -> None:
        """Forget the recorded output (the screen model keeps its contents)."""
        self._chunks.clear()

    @property
    def size(self) -> tuple[int, int]:
        """The terminal's ``(columns, rows)``; assign to simulate a resize."""
        return self._size

    @size.setter
    def size(self, value: tuple[int, int]) -> None:
        self._size = value
        self._screen.resize(*value)

    def screen(self) -> list[str]:
        """Return the visible screen as one right-stripped string per row."""
        return ["".join(row).rstrip() for row in self._screen.grid]

    @property
    def cursor(self) -> tuple[int, int]:
        """The screen model's cursor as ``(row, column)``, zero-based."""
        return self._screen.y, self._screen.x


async def read_line(io: TermIO, *, echo: bool = True) -> str | None:
    """Read one line with the simplest editing (backspace), echoed or not; None at EOF,
    "" after Ctrl-C. For prompts before a shell exists (login name, passwords)."""
    buf: list[str] = []
    while True:
        key = await next_key(io)
        if key.name == EOF:
            return None
        if key.name == ENTER:
            io.write("\r\n")
            return "".join(buf)
        if key.name == "ctrl-c":
            io.write("^C\r\n")
            return ""
        if key.name == BACKSPACE and buf:
            buf.pop()
            if echo:
                io.write("\b \b")
        elif key.name == TEXT:
            buf.append(key.text)
            if echo:
                io.write(key.text)


async def read_secret(io: TermIO, prompt: str) -> str | None:
    """Read a line without echo (passwords); None at EOF, "" after Ctrl-C."""
    io.write(prompt)
    return await read_line(io, echo=False)
