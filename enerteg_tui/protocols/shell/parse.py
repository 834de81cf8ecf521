"""Splitting shell input into statements and words, in linear time and within limits.

A script is statements separated by ``;`` or newlines outside quotes; a statement is
words split like a POSIX shell (``put name="Rack 7 PDU"`` gives ``name=Rack 7 PDU``),
with the results of ``shlex.split(statement, posix=True)``. Nothing is ever handed to
a system shell.

Why not shlex: it grows each word one character at a time (quadratic: one 1 MB word
held the controller's loop for 15 s). Here one regular expression scans each piece
(a run of plain characters, a quoted string, an escaped character), so the cost is
linear, and a script is refused before any work when it is longer than
``MAX_SCRIPT_CHARS`` or has a line longer than ``MAX_LINE_CHARS``. ``parse_script_async``
parses input of ``OFF_LOOP_CHARS`` or more in a worker thread, so the loop (poller,
other sessions) never waits for it.
"""

from __future__ import annotations

import asyncio
import re
from dataclasses import dataclass

from ...core.errors import shown
from ...core.i18n import _

__all__ = ["split_statements", "split_words", "UsageError", "Statement", "check_size",
           "parse_script", "parse_script_async", "too_long", "MAX_LINE_CHARS",
           "MAX_SCRIPT_CHARS", "OFF_LOOP_CHARS"]

MAX_LINE_CHARS = 65_536
"""Longest line of a script or of the interactive shell (a PEM chain fits; 1 MB does not)."""
MAX_SCRIPT_CHARS = 1_048_576
"""Longest script (exec command, stdin, one interactive line)."""
OFF_LOOP_CHARS = 16_384
"""Input at least this long is parsed in a worker thread, not on the event loop."""


class UsageError(Exception):
    """A command line that cannot be run as typed (exit code 2).

    ``english``: the message in English for the ``format json`` error document (a
    machine format), when the message itself is in the session's language."""

    def __init__(self, message: str = "", english: str | None = None) -> None:
        super().__init__(message)
        self.english = message if english is None else english


def usage_error(message: str, **fields: object) -> UsageError:
    """A ``UsageError`` whose text (``message``, an English message id with named
    ``{fields}``) a person reads in the session's language while the JSON error
    document keeps the English (docs/language.md; ``scripts/i18n.py`` extracts it)."""
    return UsageError(_(message).format(**fields), english=message.format(**fields))


@dataclass(frozen=True, slots=True)
class Statement:
    """One statement of a script: its text, and its words or why it cannot be read."""

    text: str
    words: list[str]
    error: UsageError | None = None


def too_long(what: str, length: int, limit: int) -> str:
    """The one message for input over a limit: what, its length and the limit."""
    return (f"{what} is {length:,} characters long; the limit is {limit:,} characters. "
            "Split it into smaller scripts or lines")


def check_size(text: str) -> None:
    """Raise ``UsageError`` when ``text`` is over the script or the line limit."""
    if len(text) > MAX_SCRIPT_CHARS:
        raise UsageError(too_long("the script", len(text), MAX_SCRIPT_CHARS))
    if len(text) <= MAX_LINE_CHARS:
        return
    start = 0
    for number, match in enumerate(_LINE_END.finditer(text + "\n"), 1):
        if match.start() - start > MAX_LINE_CHARS:
            what = "the command line" if number == 1 and match.end() >= len(text) else \
                f"line {number} of the script"
            raise UsageError(too_long(what, match.start() - start, MAX_LINE_CHARS))
        start = match.end()


_LINE_END = re.compile(r"\r\n|[\r\n]")

# Statements: pieces that cannot contain an unquoted separator, or a separator.
_STATEMENT_PIECE = re.compile(
    r"""[^;\r\n'"\\]++              # plain text
      | \\.                         # an escaped character (kept as typed)
      | \\\Z                        # a backslash at the very end
      | '[^']*+(?:'|\Z)             # single quotes, or unclosed to the end
      | "(?:[^"\\]++|\\.|\\\Z)*+(?:"|\Z)  # double quotes, or unclosed to the end
      | (?P<sep>[;\r\n])            # a separator
    """, re.VERBOSE | re.DOTALL)


def split_statements(text: str) -> list[str]:
    """Statements of a script: split on ``;`` and newlines that are not quoted.

    Blank statements and those starting with ``#`` are dropped.
    """
    out: list[str] = []
    start = 0
    for match in _STATEMENT_PIECE.finditer(text):
        if match.lastgroup == "sep":
            out.append(text[start:match.start()])
            start = match.end()
    out.append(text[start:])
    return [s.strip() for s in out if s.strip() and not s.strip().startswith("#")]


# Words: whitespace as shlex's posix mode knows it (space, tab, CR, LF), then the
# pieces of one word. Unclosed quotes and a final backslash are recognised so that
# the error can say where.
_WORD_PIECE = re.compile(
    r"""(?P<ws>[ \t\r\n]++)
      | (?P<plain>[^ \t\r\n'"\\]++)
      | \\(?P<esc>.)
      | '(?P<single>[^']*+)'
      | "(?P<double>(?:[^"\\]++|\\.)*+)"
      | (?P<open>['"])
      | (?P<lone>\\)
    """, re.VERBOSE | re.DOTALL)
_DQ_ESCAPE = re.compile(r'\\([\\"])')


def split_words(statement: str) -> list[str]:
    """Words of one statement, as ``shlex.split(statement)`` gives them.

    Raises:
        UsageError: an unclosed quote or a final lone backslash, saying where.
    """
    words: list[str] = []
    parts: list[str] = []
    in_word = False
    for match in _WORD_PIECE.finditer(statement):
        kind = match.lastgroup
        if kind == "ws":
            if in_word:
                words.append("".join(parts))
                parts.clear()
                in_word = False
            continue
        in_word = True
        if kind == "plain" or kind == "esc" or kind == "single":
            parts.append(match.group(kind))
        elif kind == "double":
            body = match.group(kind)
            parts.append(_DQ_ESCAPE.sub(r"\1", body) if "\\" in body else body)
        elif kind == "open":
            quote = match.group(kind)
            name = "double" if quote == '"' else "single"
            raise UsageError(
                f"cannot read the command {shown(statement)}: the {name} quote ({quote}) at "
                f"character {match.start() + 1} is never closed; close it, or put a "
                f"backslash before it to mean the character itself")
        else:
            raise UsageError(
                f"cannot read the command {shown(statement)}: it ends with a lone backslash "
                "(\\), which escapes nothing; remove it, or write \\\\ for a backslash")
    if in_word:
        words.append("".join(parts))
    return words


def parse_script(text: str) -> list[Statement]:
    """Check the size of ``text`` and split it into statements and their words.

    A statement whose words cannot be read carries its ``UsageError``, so the
    statements before it still run. Raises ``UsageError`` when ``text`` is too long.
    """
    check_size(text)
    out: list[Statement] = []
    for stmt in split_statements(text):
        try:
            out.append(Statement(stmt, split_words(stmt)))
        except UsageError as exc:
            out.append(Statement(stmt, [], exc))
    return out


async def parse_script_async(text: str) -> list[Statement]:
    """``parse_script``, in a worker thread for input of ``OFF_LOOP_CHARS`` or more."""
    if len(text) > MAX_SCRIPT_CHARS:
        check_size(text)                  # refuse at once, no thread for it
    if len(text) < OFF_LOOP_CHARS:
        return parse_script(text)
    return await asyncio.to_thread(parse_script, text)
