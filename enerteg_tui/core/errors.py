"""The one error tree of the controller.

Every error a person may read names the thing, the value and what is allowed. Faces
map the classes to their own codes in one table each (shell exit code, SNMP
error-status, Modbus exception code, HTTP status); nothing else is caught by type.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar

__all__ = [
    "EnertegError",
    "NotFound",
    "Invalid",
    "PermissionDenied",
    "Conflict",
    "DeviceUnavailable",
    "DriverTimeout",
    "Unsupported",
    "SHOWN_CHARS",
    "shown",
    "per_class",
]

SHOWN_CHARS = 40
"""How much of a value a message repeats: enough to recognise it, never a wall of text."""


def shown(value: Any, limit: int = SHOWN_CHARS) -> str:
    """``value`` as a message quotes it (``repr``), cut to ``limit`` characters.

    A longer value keeps its first ``limit`` characters and says how long it was:
    ``'AAAA…' (10,000 characters)``; a refusal never echoes 10 KB back.
    """
    if isinstance(value, str) and len(value) > limit:
        return f"{value[:limit]!r}… ({len(value):,} characters)"
    text = repr(value)
    if len(text) > limit + 2:
        return f"{text[:limit]}… ({len(text):,} characters)"
    return text


class EnertegError(Exception):
    """Base of every error the controller reports to a user.

    Args:
        message: the full sentence shown to the user.
        thing: what the error is about (a key, a path, a device).
        value: the offending value, if any.
        allowed: what would have been accepted, in words.
    """

    def __init__(
        self,
        message: str,
        *,
        thing: str | None = None,
        value: Any = None,
        allowed: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.thing = thing
        self.value = value
        self.allowed = allowed

    def __str__(self) -> str:
        return self.message


class NotFound(EnertegError):
    """A topic, device, user or structure element that does not exist."""


class Invalid(EnertegError):
    """A value that the schema or a rule of the domain does not accept."""


class PermissionDenied(EnertegError):
    """The principal's roles do not allow the action."""


class Conflict(EnertegError):
    """The action clashes with the current state (duplicate name, non-empty rack)."""


class DeviceUnavailable(EnertegError):
    """A PDU did not answer on the bus, or is cut off by ring breaks."""


class DriverTimeout(DeviceUnavailable):
    """A PDU did not answer within the driver's time limit."""


class Unsupported(EnertegError):
    """The device or driver cannot do what was asked (e.g. switch a metered outlet)."""


T = TypeVar("T")


def per_class(table: Mapping[type[EnertegError], T], exc: EnertegError) -> T:
    """What a face's error table says for ``exc``: the entry of its own class, else of
    the nearest base class (every table has an ``EnertegError`` entry, so one is found)."""
    return next(table[cls] for cls in type(exc).__mro__ if cls in table)  # type: ignore[index]
