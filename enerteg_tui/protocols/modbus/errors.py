"""The Modbus face's error table: each class of the core's error tree → an exception code.

One table, as the shell, console and SNMP agent have theirs (docs/architecture.md
"Errors"). A write that a core call refuses answers with the code here; nothing changes.
Checks the face makes before calling the core (unknown unit 0x0B, writes off 0x01,
address outside a block or read-only 0x02, bad value or not armed 0x03) answer directly.
"""

from __future__ import annotations

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
)

__all__ = ["EXCEPTION_CODE", "exception_code"]

EXCEPTION_CODE: dict[type[EnertegError], int] = {
    Invalid: 0x03,              # illegal data value
    NotFound: 0x02,             # illegal data address
    PermissionDenied: 0x01,     # illegal function (not allowed in this state)
    Conflict: 0x06,             # server device busy
    Unsupported: 0x01,          # illegal function
    DeviceUnavailable: 0x0B,    # gateway target device failed to respond
    DriverTimeout: 0x0B,
    EnertegError: 0x04,         # server device failure
}
"""Core error class → Modbus exception code; the most specific class wins."""


def exception_code(exc: EnertegError) -> int:
    """The exception code for ``exc`` (its own class, else the nearest base class)."""
    return per_class(EXCEPTION_CODE, exc)
