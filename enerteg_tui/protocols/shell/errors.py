"""The shell's error table: how each outcome of a command reaches a person or a script.

One place maps the core's error tree (``core.errors``) to what the shell shows on stderr
and the exit code a script sees; ``session.ShellSession`` uses it for every statement,
and the SSH exec channel passes the code on as the exit status (docs/shell.md).

| outcome                                   | exit | stderr (text)          | stderr (format json) |
|-------------------------------------------|------|------------------------|----------------------|
| success                                   | 0    | -                      | -                    |
| any core error (``EnertegError``)         | 1    | ``Error: <message>``   | ``{"error", "type", "thing", "value", "allowed"}`` |
| usage error (unknown command, bad syntax) | 2    | the usage line (else ``Error: <message>``) | ``{"error"}``        |
| interrupted (Ctrl-C, SSH signal or break) | 130  | ``<cmd>: interrupted`` | same text            |
| an unexpected failure (a bug; logged)     | 1    | ``Error: internal error while running '<cmd>'`` | ``{"error"}`` |

Texts pass through ``safetext.escape_control`` (a control character shows as ``\u001b``)
and a value quoted in the JSON document is cut to 40 characters with its length.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from ...core.errors import (
    Conflict,
    DeviceUnavailable,
    DriverTimeout,
    EnertegError,
    Invalid,
    NotFound,
    PermissionDenied,
    Unsupported,
    per_class,
    shown,
)
from ...core.i18n import _
from ...core.safetext import escape_control
from .parse import UsageError

__all__ = ["EXIT_OK", "EXIT_FAILED", "EXIT_USAGE", "EXIT_INTERRUPTED", "SHELL_ERRORS", "ShellOutcome",
           "outcome_of", "unexpected"]

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130
"""Exit codes of a command, a script and an exec session (130: interrupted by Ctrl-C,
an SSH signal or break, as a Unix shell reports SIGINT)."""


@dataclass(frozen=True, slots=True)
class ShellOutcome:
    """What a failed statement shows and returns."""

    code: int
    text: str
    """The stderr line for a person (no trailing newline)."""
    doc: dict[str, Any]
    """The stderr document under ``format json`` in a script."""


SHELL_ERRORS: dict[type[EnertegError], int] = {
    EnertegError: EXIT_FAILED,
    NotFound: EXIT_FAILED,
    Invalid: EXIT_FAILED,
    PermissionDenied: EXIT_FAILED,
    Conflict: EXIT_FAILED,
    DeviceUnavailable: EXIT_FAILED,
    DriverTimeout: EXIT_FAILED,
    Unsupported: EXIT_FAILED,
}
"""Exit code of each core error class: every one fails the script with 1 (the JSON
document's ``type`` tells them apart); 2 is kept for usage errors."""


def _plain(value: Any) -> Any:
    """A JSON-able value, a long text cut to 40 characters and its length (``shown``)."""
    value = value if isinstance(value, (str, int, float, bool)) or value is None else str(value)
    return shown(value) if isinstance(value, str) and len(value) > 40 else value


def outcome_of(exc: EnertegError | UsageError) -> ShellOutcome:
    """The outcome of a statement that raised ``exc``."""
    text = str(exc)
    if isinstance(exc, UsageError):
        plain = text.startswith(("Unknown command", "Usage", _("Unknown command: '{word}'.")[:12]))
        shown = text if plain else _("Error: {message}").format(message=text)
        return ShellOutcome(EXIT_USAGE, shown, {"error": exc.english})
    code = per_class(SHELL_ERRORS, exc)
    doc = {"error": text, "type": type(exc).__name__, "thing": exc.thing,
           "value": _plain(exc.value), "allowed": exc.allowed}
    return ShellOutcome(code, _("Error: {message}").format(message=text), doc)


def unexpected(command: str, exc: BaseException) -> ShellOutcome:
    """The outcome of a bug: the command's name (cut), no exception text, no traceback
    (the log has them)."""
    text = f"internal error while running {shown(command)}"
    return ShellOutcome(EXIT_FAILED, _("Error: {message}").format(message=text), {"error": text})


def render(outcome: ShellOutcome, *, json_errors: bool) -> str:
    """The stderr text of an outcome, newline included."""
    if json_errors:
        return escape_control(json.dumps(outcome.doc, ensure_ascii=False), keep="") + "\n"
    return escape_control(outcome.text, keep="\n\t") + "\n"
