"""Line editing for the topic shell: one command line with history and Tab completion.

Owns the line being typed, its cursor, the history list handed in by the session and
the redraw of prompt plus line on a ``TermIO``. Emacs-style keys as in bash/readline.

Invariants:
    * The terminal shows ``prompt + line`` with the cursor at ``cursor``; every edit
      redraws from the prompt (``"\\r"``, prompt, text, ``ESC[K``, ``ESC[nD``), except
      typing at the end of a line that fits, which only echoes the typed text.
    * ``readline`` never adds to the history; ``add_history`` does.
    * Keys are read through ``term.next_key``, so type-ahead after Enter is kept for
      the next ``readline`` (or the ``_data`` editor).

Limits: widths are counted in terminal cells (wide CJK characters count two). Lines
longer than the terminal width are redrawn with relative cursor moves, which stays
right until the terminal is resized while such a line is shown.

Callers: the shell session of ``protocols.shell`` (one ``LineEditor`` per session,
one ``readline`` at a time).
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from ...core.masking import mask_text

from .term import (
    BACKSPACE, DELETE, DOWN, END, ENTER, EOF, HOME, LEFT, RIGHT, TAB, TEXT, UP,
    TermIO, next_key, text_width,
)

__all__ = ["LineEditor", "Completer", "HISTORY_MAX", "longest_common_prefix"]

log = logging.getLogger(__name__)

Completer = Callable[[str, int], list[str]]
"""``completer(line, cursor)`` → candidate words for the word under the cursor."""

HISTORY_MAX = 500
"""Most history entries kept; the oldest are dropped first."""

BELL = "\x07"
"""Written when a key can do nothing (no completion, history end)."""

CLEAR_SCREEN = "\x1b[H\x1b[2J"
"""Home the cursor and clear the screen (Ctrl-L)."""


def longest_common_prefix(words: list[str]) -> str:
    """Return the longest prefix shared by all ``words`` (``""`` for none)."""
    if not words:
        return ""
    low, high = min(words), max(words)
    n = 0
    while n < len(low) and low[n] == high[n]:
        n += 1
    return low[:n]


class LineEditor:
    """Reads one line at a time from a terminal, with editing, history and completion.

    Keys: printable text inserts at the cursor; Left/Right, Ctrl-B/Ctrl-F move;
    Home/End, Ctrl-A/Ctrl-E jump; Backspace deletes left, Delete deletes under the
    cursor; Ctrl-K kills to the end, Ctrl-U to the start, Ctrl-W the previous word,
    Ctrl-Y yanks the last kill; Ctrl-L clears the screen; Up/Down (Ctrl-P/Ctrl-N)
    browse the history; Tab completes; Enter accepts; Ctrl-C abandons the line;
    Ctrl-D exits on an empty line, else deletes under the cursor.
    """

    def __init__(self, io: TermIO, history: list[str] | None = None,
                 completer: Completer | None = None, max_length: int | None = None) -> None:
        """Edit lines on ``io``.

        Args:
            io: The terminal.
            history: The session's history, oldest first; kept by reference and
                appended to by ``add_history``.
            completer: Called on Tab as ``completer(line, cursor)``; returns the
                candidate words for the current word (the text since the last
                unquoted space before the cursor). Exceptions are logged and beep.
            max_length: Longest line taken. A line that grows past it (a huge
                paste) is discarded at once with a message saying the limit; what
                follows up to the next Enter is dropped unseen, and ``readline``
                returns ``""`` (no command runs on a cut line).
        """
        self._io = io
        self.history: list[str] = history if history is not None else []
        """The history, oldest first."""
        self._completer = completer
        self._prompt = ""
        self._buf = ""
        self._pos = 0
        self._row = 0            # cursor row, relative to the prompt's first row
        self._rows = 1           # rows the prompt and line occupied at the last draw
        self._hist_index = 0
        self._draft = ""
        self._killed = ""
        self._last_tab = False
        self._result: str | None = None
        self._max_length = max_length
        self._overflow = 0       # characters dropped since the line went over the limit

    def add_history(self, line: str) -> None:
        """Append ``line`` to the history unless it is blank or repeats the newest entry."""
        if not line.strip() or (self.history and self.history[-1] == line):
            return
        self.history.append(line)
        del self.history[:-HISTORY_MAX]

    async def readline(self, prompt: str) -> str | None:
        """Show ``prompt`` and return the line typed, without its line end.

        Returns:
            The line on Enter; ``""`` after Ctrl-C (``^C`` is shown and the typed
            text discarded); ``None`` on Ctrl-D on an empty line or at end of input
            (EOF always gives ``None``, even with a partial line typed).
        """
        self._prompt, self._buf, self._pos = prompt, "", 0
        self._row, self._rows = 0, 1
        self._hist_index, self._draft, self._last_tab = len(self.history), "", False
        self._overflow = 0
        self._refresh()
        while True:
            key = await next_key(self._io)
            if key.name == EOF:
                return None
            tab = key.name == TAB
            if self._overflow:
                if key.name == TEXT:
                    self._overflow += len(key.text)
                elif key.name in (ENTER, "ctrl-c"):
                    self._end_overflow()
                    return ""
                continue
            if key.name == TEXT and self._max_length is not None \
                    and len(self._buf) + len(key.text) > self._max_length:
                self._start_overflow(len(self._buf) + len(key.text))
            elif key.name == TEXT:
                self._insert(key.text)
            else:
                handler = self._BINDINGS.get(key.name)
                if handler is not None and handler(self):
                    return self._result
            self._last_tab = tab

    # -- a line over the limit -------------------------------------------------

    def _start_overflow(self, length: int) -> None:
        """Discard the line, say why once, and drop input until Enter."""
        self._to_end()
        self._io.write(f"\r\nError: the line is longer than {self._max_length:,} characters, "
                       "the limit; it is discarded up to the next Enter\r\n")
        self._buf, self._pos, self._row, self._rows = "", 0, 0, 1
        self._overflow = length

    def _end_overflow(self) -> None:
        """At Enter after an overlong line: say how long it was."""
        self._io.write(f"Error: a line of {self._overflow:,} characters was discarded; the limit "
                       f"is {self._max_length:,} characters\r\n")
        self._overflow = 0

    # -- drawing -----------------------------------------------------------------

    def _refresh(self) -> None:
        """Redraw prompt and line and place the cursor."""
        cols = max(1, self._io.size[0])
        plen = text_width(self._prompt)
        total = plen + text_width(self._buf)
        cur = plen + text_width(self._buf[:self._pos])
        if total < cols and self._rows == 1:
            back = total - cur
            self._io.write(f"\r{self._prompt}{self._buf}\x1b[K" + (f"\x1b[{back}D" if back else ""))
            self._row = 0
            return
        out = [f"\x1b[{self._row}A" if self._row else "", f"\r{self._prompt}{self._buf}\x1b[J"]
        end_row = total // cols
        if total % cols == 0:
            out.append("\r\n")   # leave the pending-wrap state: cursor to the next row
        cur_row = cur // cols
        if end_row > cur_row:
            out.append(f"\x1b[{end_row - cur_row}A")
        out.append("\r" + (f"\x1b[{cur % cols}C" if cur % cols else ""))
        self._io.write("".join(out))
        self._row, self._rows = cur_row, end_row + 1

    def _to_end(self) -> None:
        """Put the cursor after the line's last character (before output below it)."""
        if self._pos != len(self._buf) or self._rows > 1:
            self._pos = len(self._buf)
            self._refresh()

    def _set(self, buf: str, pos: int) -> None:
        """Replace the line and cursor, then redraw."""
        self._buf, self._pos = buf, max(0, min(pos, len(buf)))
        self._refresh()

    # -- editing -----------------------------------------------------------------

    def _insert(self, text: str) -> None:
        """Insert ``text`` at the cursor; echo only when appending to a short line."""
        at_end = self._pos == len(self._buf)
        self._buf = self._buf[:self._pos] + text + self._buf[self._pos:]
        self._pos += len(text)
        cols = max(1, self._io.size[0])
        if at_end and self._rows == 1 and text_width(self._prompt + self._buf) < cols:
            self._io.write(text)
        else:
            self._refresh()

    def _left(self) -> bool:
        if self._pos > 0:
            self._set(self._buf, self._pos - 1)
        return False

    def _right(self) -> bool:
        if self._pos < len(self._buf):
            self._set(self._buf, self._pos + 1)
        return False

    def _home(self) -> bool:
        self._set(self._buf, 0)
        return False

    def _end(self) -> bool:
        self._set(self._buf, len(self._buf))
        return False

    def _backspace(self) -> bool:
        if self._pos > 0:
            self._set(self._buf[:self._pos - 1] + self._buf[self._pos:], self._pos - 1)
        return False

    def _delete(self) -> bool:
        if self._pos < len(self._buf):
            self._set(self._buf[:self._pos] + self._buf[self._pos + 1:], self._pos)
        return False

    def _kill_end(self) -> bool:
        self._killed = self._buf[self._pos:] or self._killed
        self._set(self._buf[:self._pos], self._pos)
        return False

    def _kill_start(self) -> bool:
        self._killed = self._buf[:self._pos] or self._killed
        self._set(self._buf[self._pos:], 0)
        return False

    def _kill_word(self) -> bool:
        start = self._pos
        while start > 0 and self._buf[start - 1] == " ":
            start -= 1
        while start > 0 and self._buf[start - 1] != " ":
            start -= 1
        if start < self._pos:
            self._killed = self._buf[start:self._pos]
            self._set(self._buf[:start] + self._buf[self._pos:], start)
        return False

    def _yank(self) -> bool:
        if self._killed:
            self._insert(self._killed)
        return False

    def _clear_screen(self) -> bool:
        self._io.write(CLEAR_SCREEN)
        self._row, self._rows = 0, 1
        self._refresh()
        return False

    # -- history -----------------------------------------------------------------

    def _history_up(self) -> bool:
        if self._hist_index == 0:
            self._io.write(BELL)
            return False
        if self._hist_index == len(self.history):
            self._draft = self._buf
        self._hist_index -= 1
        entry = self.history[self._hist_index]
        self._set(entry, len(entry))
        return False

    def _history_down(self) -> bool:
        if self._hist_index >= len(self.history):
            self._io.write(BELL)
            return False
        self._hist_index += 1
        entry = self.history[self._hist_index] if self._hist_index < len(self.history) else self._draft
        self._set(entry, len(entry))
        return False

    # -- completion --------------------------------------------------------------

    def _word_start(self) -> int:
        """Index where the word under the cursor starts: after the last unquoted space."""
        start, quote = 0, ""
        for i, ch in enumerate(self._buf[:self._pos]):
            if quote:
                quote = "" if ch == quote else quote
            elif ch in "'\"":
                quote = ch
            elif ch == " ":
                start = i + 1
        return start

    def _complete(self) -> bool:
        if self._completer is None:
            self._io.write(BELL)
            return False
        try:
            candidates = sorted(set(self._completer(self._buf, self._pos)))
        except Exception:
            log.exception("completer failed on %r", mask_text(self._buf))
            candidates = []
        if not candidates:
            self._io.write(BELL)
            return False
        start = self._word_start()
        word = self._buf[start:self._pos]
        if len(candidates) == 1:
            new = candidates[0]
            if not new.endswith(("/", "=")):
                new += " "
        else:
            new = longest_common_prefix(candidates)
            if new == word or len(new) < len(word):
                if self._last_tab:
                    self._list(candidates)
                else:
                    self._io.write(BELL)
                return False
        self._set(self._buf[:start] + new + self._buf[self._pos:], start + len(new))
        return False

    def _list(self, candidates: list[str]) -> None:
        """Print ``candidates`` in columns below the line, then redraw prompt and line."""
        cols = max(1, self._io.size[0])
        cell = max(text_width(c) for c in candidates) + 2
        per_row = max(1, cols // cell)
        nrows = -(-len(candidates) // per_row)
        self._to_end()
        out = ["\r\n"]
        for r in range(nrows):
            row = candidates[r::nrows]
            line = "".join(c + " " * (cell - text_width(c)) for c in row[:-1]) + row[-1]
            out.append(line + "\r\n")
        self._io.write("".join(out))
        self._row, self._rows = 0, 1
        self._refresh()

    # -- finishing ---------------------------------------------------------------

    def _accept(self) -> bool:
        self._to_end()
        self._io.write("\r\n")
        self._result = self._buf
        return True

    def _interrupt(self) -> bool:
        self._to_end()
        self._io.write("^C\r\n")
        self._result = ""
        return True

    def _ctrl_d(self) -> bool:
        if self._buf:
            return self._delete()
        self._io.write("\r\n")
        self._result = None
        return True

    _BINDINGS: dict[str, Callable[[LineEditor], bool]] = {
        ENTER: _accept, "ctrl-c": _interrupt, "ctrl-d": _ctrl_d,
        LEFT: _left, "ctrl-b": _left, RIGHT: _right, "ctrl-f": _right,
        HOME: _home, "ctrl-a": _home, END: _end, "ctrl-e": _end,
        BACKSPACE: _backspace, DELETE: _delete,
        "ctrl-k": _kill_end, "ctrl-u": _kill_start, "ctrl-w": _kill_word, "ctrl-y": _yank,
        "ctrl-l": _clear_screen, UP: _history_up, "ctrl-p": _history_up,
        DOWN: _history_down, "ctrl-n": _history_down, TAB: _complete,
    }
    """Key name → handler; a handler returns True when ``readline`` should return."""

