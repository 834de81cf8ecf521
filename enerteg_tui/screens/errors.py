"""The console's error table: how each error of the core reaches an operator.

Every page and dialog shows a refusal the same way, through this module:

| core error                          | where it shows                               | notification severity |
|-------------------------------------|----------------------------------------------|-----------------------|
| ``Invalid``, ``Conflict``, ``NotFound`` | the page's outcome line (error colour), or the dialog's error line; the dialog stays open for correction | warning |
| ``PermissionDenied``                | the outcome line, and a notification         | error                 |
| ``DeviceUnavailable`` / ``DriverTimeout`` | the outcome line, and a notification   | error                 |
| ``Unsupported``                     | the outcome line                             | warning               |
| anything else (a bug)               | never shown raw: logged, "internal error"    | error                 |

The text is always the core's message (it names the thing, the value and what is
allowed); the console adds no words of its own and never a traceback.
"""

from __future__ import annotations

from typing import Any, Literal

from textual.widgets import Static

from ..core.errors import (
    Conflict,
    DeviceUnavailable,
    DriverTimeout,
    EnertegError,
    Invalid,
    NotFound,
    PermissionDenied,
    Unsupported,
    per_class,
)

__all__ = ["CONSOLE_ERRORS", "severity_of", "notify_error", "show_error_line"]

Severity = Literal["information", "warning", "error"]

CONSOLE_ERRORS: dict[type[EnertegError], Severity] = {
    EnertegError: "error",
    NotFound: "warning",
    Invalid: "warning",
    Conflict: "warning",
    PermissionDenied: "error",
    DeviceUnavailable: "error",
    DriverTimeout: "error",
    Unsupported: "warning",
}
"""Notification severity of each core error class."""


def severity_of(exc: EnertegError) -> Severity:
    """The severity the table gives ``exc`` (its nearest listed class)."""
    return per_class(CONSOLE_ERRORS, exc)


def notify_error(node: Any, exc: EnertegError, title: str) -> None:
    """A refusal as a notification (actions started from a key, outside a form)."""
    node.app.notify(str(exc), title=title, severity=severity_of(exc))


def show_error_line(line: Static, exc: EnertegError | str) -> None:
    """A dialog's error line: the core's message, shown until the next attempt."""
    line.update(str(exc))
    line.display = True
