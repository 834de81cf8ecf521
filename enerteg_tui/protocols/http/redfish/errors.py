"""Redfish's extended error format (DSP0266 §9.6) and the Base registry messages we use.

Why: every refusal of the Redfish tree (404, 405, 401, 403, 400, 412, 409, 503) is a
JSON body ``{"error": {"code", "message", "@Message.ExtendedInfo": [...]}}`` that names
the thing, the value and what is allowed, the way every face of ours says it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

__all__ = ["RedfishError", "error_body", "BASE_REGISTRY"]

BASE_REGISTRY = "Base.1.19"
"""The Base message registry version our MessageIds name."""

_SEVERITY = {400: "Warning", 401: "Critical", 403: "Critical", 404: "Warning",
             405: "Warning", 409: "Warning", 412: "Warning", 500: "Critical",
             503: "Critical"}


@dataclass
class RedfishError(Exception):
    """A refusal: HTTP status, a Base MessageId, the message and its arguments."""

    status: int
    message_id: str
    message: str
    args: list[str] = field(default_factory=list)
    resolution: str = ""
    headers: dict[str, str] = field(default_factory=dict)

    def __str__(self) -> str:
        return self.message


def error_body(err: RedfishError) -> dict[str, Any]:
    """The extended error document of ``err``."""
    info: dict[str, Any] = {
        "@odata.type": "#Message.v1_3_0.Message",
        "MessageId": f"{BASE_REGISTRY}.{err.message_id}",
        "Message": err.message,
        "MessageArgs": [str(a) for a in err.args],
        "MessageSeverity": _SEVERITY.get(err.status, "Warning"),
    }
    if err.resolution:
        info["Resolution"] = err.resolution
    return {"error": {"code": f"{BASE_REGISTRY}.{err.message_id}",
                      "message": err.message,
                      "@Message.ExtendedInfo": [info]}}
