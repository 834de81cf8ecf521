"""Splitting shell input into statements and words.

A script is statements separated by ``;`` or newlines outside quotes; a statement is
words split like a POSIX shell (``put name="Rack 7 PDU"`` gives ``name=Rack 7 PDU``).
Nothing is ever handed to a system shell.
"""

from __future__ import annotations

import shlex

__all__ = ["split_statements", "split_words", "UsageError"]


class UsageError(Exception):
    """A command line that cannot be run as typed (exit code 2)."""


def split_statements(text: str) -> list[str]:
    """Statements of a script: split on ``;`` and newlines that are not quoted."""
    out: list[str] = []
    cur: list[str] = []
    quote = ""
    escape = False
    for ch in text:
        if escape:
            cur.append(ch)
            escape = False
            continue
        if ch == "\\" and quote != "'":
            cur.append(ch)
            escape = True
            continue
        if quote:
            cur.append(ch)
            if ch == quote:
                quote = ""
            continue
        if ch in "\"'":
            quote = ch
            cur.append(ch)
        elif ch in ";\n\r":
            out.append("".join(cur))
            cur = []
        else:
            cur.append(ch)
    out.append("".join(cur))
    return [s.strip() for s in out if s.strip() and not s.strip().startswith("#")]


def split_words(statement: str) -> list[str]:
    """Words of one statement; ``UsageError`` for an unterminated quote."""
    try:
        return shlex.split(statement, posix=True)
    except ValueError as exc:
        raise UsageError(f"cannot read the command line: {exc}") from None
