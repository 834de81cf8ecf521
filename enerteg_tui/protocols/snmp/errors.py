"""The SNMP face's error table: each class of the core's error tree → an error-status.

One table, as the shell and console have theirs (docs/architecture.md "Errors"). A SET
that a core call refuses answers with the status here and the index of the varbind;
nothing changes. SNMPv1 managers get the RFC 3584 translation pysnmp applies.
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

__all__ = ["ERROR_STATUS", "error_status"]

ERROR_STATUS: dict[type[EnertegError], str] = {
    Invalid: "wrongValue",
    NotFound: "noCreation",
    PermissionDenied: "noAccess",
    Conflict: "inconsistentValue",
    Unsupported: "notWritable",
    DeviceUnavailable: "resourceUnavailable",
    DriverTimeout: "resourceUnavailable",
    EnertegError: "genErr",
}
"""Core error class → SNMP error-status name (RFC 3416); the most specific class wins."""


def error_status(exc: EnertegError) -> str:
    """The error-status for ``exc`` (its own class, else the nearest base class)."""
    return per_class(ERROR_STATUS, exc)
