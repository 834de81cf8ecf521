"""The shell's full-screen, vim-like editor for a topic's ``_data`` JSON document.

Owns one editing session on a ``TermIO``: the buffer (a list of lines), the cursor,
the modes (normal, insert, ``:`` command line, ``/`` search), undo/redo snapshots, the
line register and the drawing of the visible window on the alternate screen.

Invariants:
    * Nothing leaves the editor unvalidated: ``:w``/``:wq``/``:x`` pass the whole
      text to ``validate``; only a ``None`` answer makes it the saved text, any
      string is shown on the status line and the session goes on.
    * The result's ``text`` is the last validated text (or the original when no
      write succeeded) and ``saved`` says whether any write succeeded, however the
      session ends (``:q``, ``:q!``, ``:wq``, end of input).
    * Each redraw reads ``io.size`` and rewrites only rows that changed; a new size
      clears and repaints everything.

Limits: no counts (``3dd``), no operators beyond ``dd``/``D``, literal (not regex)
search, the register holds whole lines only (``x`` does not yank); tabs show as one
space and Tab inserts two spaces; CR LF in the input text becomes LF; lines do not
wrap but scroll sideways together, one terminal cell per character assumed for the
cursor column except for wide characters counted as two.

Callers: the shell's ``edit`` command (``protocols.shell``), which passes the
document text and a validator that runs the topic's schema without applying it.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from .term import EOF, TEXT, TermIO, next_key, text_width

__all__ = ["EditResult", "Validator", "edit_document"]

log = logging.getLogger(__name__)

Validator = Callable[[str], Awaitable[str | None]]
"""``await validate(text)`` → None when ``text`` may be saved, else the reason."""

ENTER_SCREEN = "\x1b[?1049h\x1b[H\x1b[2J"
"""Switch to the alternate screen and clear it."""

LEAVE_SCREEN = "\x1b[?25h\x1b[?1049l"
"""Show the cursor and return to the normal screen."""

UNDO_LEVELS = 200
"""Most undo steps kept."""

NOT_SAVED = "No write since last change (add ! to override)"
"""The message of ``:q`` on a modified buffer."""

NORMAL, INSERT, COMMAND, SEARCH = "normal", "insert", "command", "search"
_VERTICAL = frozenset({"j", "k", "up", "down", "pageup", "pagedown", "ctrl-f", "ctrl-b"})
_TO_END = frozenset({"$", "end"})
_FAR = 1 << 30


@dataclass(frozen=True, slots=True)
class EditResult:
    """How an editing session ended."""

    saved: bool
    """True if at least one write passed validation during the session."""
    text: str
    """The last validated text, or the original text if nothing was saved."""


async def edit_document(io: TermIO, text: str, *, title: str, validate: Validator) -> EditResult:
    """Edit ``text`` full-screen on ``io`` until the operator quits or input ends.

    Args:
        io: The terminal (needs a pty: cursor addressing and the alternate screen).
        text: The document to edit, usually pretty-printed JSON.
        title: Shown on the status line, e.g. the topic path.
        validate: Awaited with the whole text on every write; returns None to accept
            or the message to show. An exception counts as a refusal and is logged.

    Returns:
        ``EditResult(saved, text)`` as described in the module docstring.
    """
    return await _Editor(io, text, title, validate).run()


def _first_nonblank(line: str) -> int:
    """Column of the first non-blank character of ``line`` (0 if blank)."""
    return len(line) - len(line.lstrip(" \t")) if line.strip() else 0


class _Editor:
    """One editing session; see ``edit_document``."""

    def __init__(self, io: TermIO, text: str, title: str, validate: Validator) -> None:
        body = text.replace("\r\n", "\n")
        self.eol = body.endswith("\n")
        self.lines = (body[:-1] if self.eol else body).split("\n")
        self.io, self.title, self.validate = io, title, validate
        self.cy = self.cx = self.want = self.top = self.left = 0
        self.mode, self.pending, self.cmdline = NORMAL, "", ""
        self.message, self.error = "", False
        self.undo: list[tuple[list[str], int, int]] = []
        self.redo: list[tuple[list[str], int, int]] = []
        self.insert_from: str | None = None
        self.register: list[str] = []
        self.pattern = ""
        self.clean = self.text()
        self.saved, self.saved_text = False, text
        self.frame: list[str] = []
        self.frame_size: tuple[int, int] | None = None

    def text(self) -> str:
        """The buffer as one text, with the original's final line end."""
        return "\n".join(self.lines) + ("\n" if self.eol else "")

    def result(self) -> EditResult:
        """What the session returns if it ends now."""
        return EditResult(self.saved, self.saved_text)

    async def run(self) -> EditResult:
        """Draw, read a key, apply it; until a quit command or end of input."""
        self.io.write(ENTER_SCREEN)
        try:
            while True:
                self.draw()
                key = await next_key(self.io)
                if key.name == EOF:
                    return self.result()
                for token in (key.text if key.name == TEXT else (key.name,)):
                    if await self.handle(token):
                        return self.result()
        finally:
            self.io.write(LEAVE_SCREEN)

    # -- drawing -----------------------------------------------------------------

    def draw(self) -> None:
        """Scroll to the cursor and rewrite the rows that changed since the last draw."""
        cols, rows = (max(1, n) for n in self.io.size)
        text_rows = max(1, rows - 1)
        line = self.lines[self.cy]
        self.top = min(max(self.top, self.cy - text_rows + 1), self.cy)
        self.left = min(self.left, self.cx)
        if text_width(line[self.left:self.cx]) >= cols:
            self.left = max(self.left, self.cx - cols + 1)
            while self.left < self.cx and text_width(line[self.left:self.cx]) >= cols:
                self.left += 1
        frame = [self.render_line(self.top + i, cols) for i in range(text_rows)]
        notes, status = self.status(cols)
        for i, note in enumerate(notes[-text_rows:][::-1]):
            frame[text_rows - 1 - i] = note
        if rows > 1:
            frame.append(status)
        out = ["\x1b[?25l"]
        if (cols, rows) != self.frame_size:
            out.append("\x1b[H\x1b[2J")
            self.frame, self.frame_size = [], (cols, rows)
        for i, row in enumerate(frame):
            if i >= len(self.frame) or self.frame[i] != row:
                out.append(f"\x1b[{i + 1};1H{row}\x1b[K")
        self.frame = frame
        if self.mode in (COMMAND, SEARCH):
            y, x = rows, min(cols, 2 + text_width(self.cmdline))
        else:
            y, x = self.cy - self.top + 1, text_width(line[self.left:self.cx]) + 1
        out.append(f"\x1b[{y};{x}H\x1b[?25h")
        self.io.write("".join(out))

    def render_line(self, y: int, cols: int) -> str:
        """Row text for buffer line ``y`` (``~`` past the end), cut to ``cols`` cells."""
        if y >= len(self.lines):
            return "~"
        shown, width = [], 0
        for ch in self.lines[y][self.left:]:
            ch = " " if ch == "\t" else ("?" if ch < " " else ch)
            width += text_width(ch)
            if width > cols:
                break
            shown.append(ch)
        return "".join(shown)

    def status(self, cols: int) -> tuple[list[str], str]:
        """Return (message rows shown above the status row, the status row)."""
        if self.mode in (COMMAND, SEARCH):
            shown = self.cmdline[max(0, len(self.cmdline) - cols + 2):]
            return [], (":" if self.mode == COMMAND else "/") + shown
        right = f"{self.title}{' [+]' if self.text() != self.clean else ''}  {self.cy + 1},{self.cx + 1}"
        left = self.message or ("-- INSERT --" if self.mode == INSERT else "")
        notes: list[str] = []
        if "\n" in left or text_width(left) > cols - 1:
            w = max(1, cols - 1)
            notes = [part[i:i + w] for part in left.split("\n") for i in range(0, max(1, len(part)), w)]
            left = notes.pop()
        room = cols - 1 - text_width(left)
        tail = f"{' ' * max(1, room - len(right))}{right}" if room > len(right) else ""
        if self.error:
            return [f"\x1b[31m{n}\x1b[0m" for n in notes], f"\x1b[31m{left}\x1b[0m{tail}"
        return notes, left + tail

    def say(self, message: str, error: bool = False) -> None:
        """Show ``message`` on the status line until the next normal-mode key."""
        self.message, self.error = message, error

    # -- dispatch ----------------------------------------------------------------

    async def handle(self, token: str) -> bool:
        """Apply one key (a character or a key name); True when the session ends."""
        if self.mode == INSERT:
            self.insert_key(token)
        elif self.mode in (COMMAND, SEARCH):
            return await self.cmdline_key(token)
        else:
            self.say("")
            self.normal_key(token)
            if self.mode == NORMAL:
                self.cx = max(0, min(self.cx, len(self.lines[self.cy]) - 1))
        return False

    def normal_key(self, token: str) -> None:
        """Apply a normal-mode key, collecting the two-key commands ``dd`` and ``gg``."""
        combo, self.pending = self.pending + token, ""
        if combo in ("d", "g"):
            self.pending = combo
            return
        action = _NORMAL.get(combo)
        if action is None:
            return
        action(self)
        if combo not in _VERTICAL:
            self.want = _FAR if combo in _TO_END else self.cx

    def insert_key(self, token: str) -> None:
        """Apply an insert-mode key."""
        if len(token) == 1:
            self.insert_text(token)
        elif token == "tab":
            self.insert_text("  ")
        elif token in ("escape", "ctrl-c"):
            self.leave_insert()
        elif action := _INSERT.get(token):
            action(self)
        self.want = self.cx

    async def cmdline_key(self, token: str) -> bool:
        """Edit the ``:``/``/`` line; on Enter run it. True when the session ends."""
        if len(token) == 1:
            self.cmdline += token
        elif token == "backspace" and self.cmdline:
            self.cmdline = self.cmdline[:-1]
        elif token == "ctrl-u":
            self.cmdline = ""
        elif token == "enter":
            line, mode = self.cmdline, self.mode
            self.mode, self.cmdline = NORMAL, ""
            if mode == SEARCH:
                self.search(line or self.pattern, forward=True)
                return False
            return await self.command(line.strip())
        elif token in ("escape", "ctrl-c", "backspace"):
            self.mode, self.cmdline = NORMAL, ""
        return False

    # -- commands ----------------------------------------------------------------

    async def command(self, cmd: str) -> bool:
        """Run an ex command (``w``, ``wq``, ``x``, ``q``, ``q!``, a line number)."""
        if not cmd:
            return False
        if cmd.isdigit():
            self.cy = min(max(int(cmd), 1), len(self.lines)) - 1
            self.cx = _first_nonblank(self.lines[self.cy])
        elif cmd in ("w", "w!"):
            await self.write()
        elif cmd in ("wq", "wq!", "x", "x!", "xit"):
            return await self.write()
        elif cmd == "q":
            if self.text() != self.clean:
                self.say(NOT_SAVED, error=True)
                return False
            return True
        elif cmd in ("q!", "qa!", "quit!"):
            return True
        else:
            self.say(f"Not an editor command: {cmd}", error=True)
        return False

    async def write(self) -> bool:
        """Validate the buffer and make it the saved text; True on success."""
        text = self.text()
        try:
            problem = await self.validate(text)
        except Exception as exc:
            log.exception("validator failed for %s", self.title)
            problem = f"Validation failed: {exc}"
        if problem is not None:
            self.say(str(problem), error=True)
            return False
        self.saved, self.saved_text, self.clean = True, text, text
        self.say(f'"{self.title}" {len(self.lines)}L, {len(text.encode())}B written')
        return True

    def search(self, pattern: str, *, forward: bool) -> None:
        """Move to the next (or previous) literal ``pattern``, wrapping at the ends."""
        if not pattern:
            self.say("No previous search pattern", error=True)
            return
        self.pattern, n = pattern, len(self.lines)
        for step in range(n + 1):
            y = (self.cy + step) % n if forward else (self.cy - step) % n
            line = self.lines[y]
            if forward:
                x = line.find(pattern, self.cx + 1 if step == 0 else 0)
                ok = x != -1 and (step < n or x <= self.cx)
            else:
                x = line.rfind(pattern, 0, self.cx + len(pattern) - 1 if step == 0 else len(line))
                ok = x != -1 and (step < n or x >= self.cx)
            if ok:
                wrapped = (self.cy + step >= n) if forward else (self.cy - step < 0)
                self.cy, self.cx = y, x
                if wrapped:
                    self.say("search hit BOTTOM, continuing at TOP" if forward
                             else "search hit TOP, continuing at BOTTOM", error=True)
                return
        self.say(f"Pattern not found: {pattern}", error=True)

    # -- changes and undo --------------------------------------------------------

    def checkpoint(self) -> None:
        """Record the buffer as an undo step before a change."""
        self.undo.append((list(self.lines), self.cy, self.cx))
        del self.undo[:-UNDO_LEVELS]
        self.redo.clear()

    def restore(self, source: list[tuple[list[str], int, int]],
                target: list[tuple[list[str], int, int]], empty: str) -> None:
        if not source:
            self.say(empty)
            return
        target.append((list(self.lines), self.cy, self.cx))
        self.lines, self.cy, self.cx = source.pop()
        self.cy = min(self.cy, len(self.lines) - 1)

    def enter_insert(self, cx: int | None = None, *, checkpointed: bool = False) -> None:
        """Start an insert session (one undo step), optionally at column ``cx``."""
        if not checkpointed:
            self.checkpoint()
        self.insert_from = self.text()
        self.mode, self.message = INSERT, ""
        if cx is not None:
            self.cx = cx

    def leave_insert(self) -> None:
        """End the insert session; drop its undo step if nothing changed."""
        if self.insert_from == self.text() and self.undo:
            self.undo.pop()                          # nothing typed: no undo step
        self.insert_from, self.mode = None, NORMAL
        self.cx = max(0, self.cx - 1)

    def insert_text(self, text: str) -> None:
        """Insert ``text`` at the cursor."""
        line = self.lines[self.cy]
        self.lines[self.cy] = line[:self.cx] + text + line[self.cx:]
        self.cx += len(text)

    def open_line(self, below: bool) -> None:
        """Open an empty line below or above and insert there (``o``/``O``)."""
        self.checkpoint()
        self.cy += 1 if below else 0
        self.lines.insert(self.cy, "")
        self.enter_insert(0, checkpointed=True)

    def delete_char(self) -> None:
        """Delete the character under the cursor (``x``)."""
        line = self.lines[self.cy]
        if line:
            self.checkpoint()
            self.lines[self.cy] = line[:self.cx] + line[self.cx + 1:]

    def delete_line(self) -> None:
        """Delete the cursor's line into the register (``dd``)."""
        self.checkpoint()
        self.register = [self.lines.pop(self.cy)]
        if not self.lines:
            self.lines = [""]
        self.cy = min(self.cy, len(self.lines) - 1)
        self.cx = _first_nonblank(self.lines[self.cy])

    def paste(self, below: bool) -> None:
        """Put the register's lines below or above (``p``/``P``)."""
        if not self.register:
            return
        self.checkpoint()
        self.cy += 1 if below else 0
        self.lines[self.cy:self.cy] = self.register
        self.cx = _first_nonblank(self.lines[self.cy])

    def backspace(self) -> None:
        """Delete left of the cursor, joining with the previous line at column 0."""
        if self.cx > 0:
            line = self.lines[self.cy]
            self.lines[self.cy] = line[:self.cx - 1] + line[self.cx:]
            self.cx -= 1
        elif self.cy > 0:
            self.cx = len(self.lines[self.cy - 1])
            self.lines[self.cy - 1] += self.lines.pop(self.cy)
            self.cy -= 1

    def delete_forward(self) -> None:
        """Delete under the cursor, joining with the next line at the end."""
        line = self.lines[self.cy]
        if self.cx < len(line):
            self.lines[self.cy] = line[:self.cx] + line[self.cx + 1:]
        elif self.cy + 1 < len(self.lines):
            self.lines[self.cy] += self.lines.pop(self.cy + 1)

    def split_line(self) -> None:
        """Break the line at the cursor (Enter in insert mode)."""
        line = self.lines[self.cy]
        self.lines[self.cy:self.cy + 1] = [line[:self.cx], line[self.cx:]]
        self.cy, self.cx = self.cy + 1, 0

    def kill_back(self, word: bool) -> None:
        """Delete back to the previous word start or the line start."""
        line, start = self.lines[self.cy], 0
        if word:
            start = len(line[:self.cx].rstrip(" "))
            while start > 0 and line[start - 1] not in " \t":
                start -= 1
        self.lines[self.cy] = line[:start] + line[self.cx:]
        self.cx = start

    # -- movement ----------------------------------------------------------------

    def move_v(self, dy: int) -> None:
        """Move ``dy`` lines, keeping the wanted column where possible."""
        self.cy = min(max(self.cy + dy, 0), len(self.lines) - 1)
        limit = len(self.lines[self.cy]) - (0 if self.mode == INSERT else 1)
        self.cx = max(0, min(self.want, limit))

    def page(self, direction: int) -> None:
        """Move a screenful down (1) or up (-1)."""
        self.move_v(direction * max(1, self.io.size[1] - 2))

    def move_h(self, dx: int) -> None:
        """Move ``dx`` columns within the line."""
        limit = len(self.lines[self.cy]) - (0 if self.mode == INSERT else 1)
        self.cx = max(0, min(self.cx + dx, limit))

    def goto(self, y: int) -> None:
        """Go to line ``y``'s first non-blank character."""
        self.cy = y
        self.cx = _first_nonblank(self.lines[y])


_Action = Callable[[_Editor], None]

_MOVES: dict[str, _Action] = {
    "left": lambda e: e.move_h(-1), "right": lambda e: e.move_h(1),
    "up": lambda e: e.move_v(-1), "down": lambda e: e.move_v(1),
    "home": lambda e: setattr(e, "cx", 0), "end": lambda e: setattr(e, "cx", len(e.lines[e.cy])),
    "pageup": lambda e: e.page(-1), "pagedown": lambda e: e.page(1),
}
"""Cursor keys, shared by normal and insert mode."""

_NORMAL: dict[str, _Action] = {
    **_MOVES,
    "h": lambda e: e.move_h(-1), "backspace": lambda e: e.move_h(-1),
    "l": lambda e: e.move_h(1), " ": lambda e: e.move_h(1),
    "j": lambda e: e.move_v(1), "k": lambda e: e.move_v(-1),
    "enter": lambda e: (e.move_v(1), setattr(e, "cx", _first_nonblank(e.lines[e.cy])))[0],
    "ctrl-f": lambda e: e.page(1), "ctrl-b": lambda e: e.page(-1),
    "0": lambda e: setattr(e, "cx", 0), "^": lambda e: setattr(e, "cx", _first_nonblank(e.lines[e.cy])),
    "$": lambda e: setattr(e, "cx", len(e.lines[e.cy])),
    "gg": lambda e: e.goto(0), "G": lambda e: e.goto(len(e.lines) - 1),
    "x": _Editor.delete_char, "delete": _Editor.delete_char, "dd": _Editor.delete_line,
    "D": lambda e: (e.checkpoint(), e.lines.__setitem__(e.cy, e.lines[e.cy][:e.cx]))[0],
    "p": lambda e: e.paste(True), "P": lambda e: e.paste(False),
    "u": lambda e: e.restore(e.undo, e.redo, "Already at oldest change"),
    "ctrl-r": lambda e: e.restore(e.redo, e.undo, "Already at newest change"),
    "i": lambda e: e.enter_insert(), "insert": lambda e: e.enter_insert(),
    "a": lambda e: e.enter_insert(min(e.cx + 1, len(e.lines[e.cy]))),
    "A": lambda e: e.enter_insert(len(e.lines[e.cy])),
    "I": lambda e: e.enter_insert(_first_nonblank(e.lines[e.cy])),
    "o": lambda e: e.open_line(True), "O": lambda e: e.open_line(False),
    "/": lambda e: setattr(e, "mode", SEARCH), ":": lambda e: setattr(e, "mode", COMMAND),
    "n": lambda e: e.search(e.pattern, forward=True), "N": lambda e: e.search(e.pattern, forward=False),
    "ctrl-l": lambda e: setattr(e, "frame_size", None),
}
"""Normal-mode keys (characters, key names, ``dd``/``gg``) → action; others are ignored."""

_INSERT: dict[str, _Action] = {
    **_MOVES,
    "enter": _Editor.split_line, "backspace": _Editor.backspace, "delete": _Editor.delete_forward,
    "ctrl-w": lambda e: e.kill_back(word=True), "ctrl-u": lambda e: e.kill_back(word=False),
    "ctrl-l": lambda e: setattr(e, "frame_size", None),
}
"""Insert-mode key names → action; characters are inserted, Esc/Ctrl-C leave the mode."""

