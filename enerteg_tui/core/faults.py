"""The contract between the core and a driver that can inject faults (the simulator).

The ``sim/`` topic exists only when the running driver offers a ``FaultInjector``; the
core reads and writes it through this protocol so that it never imports a driver.
"""

from __future__ import annotations

from typing import Any, Protocol, runtime_checkable

from pydantic import BaseModel

__all__ = ["FaultInjector"]


@runtime_checkable
class FaultInjector(Protocol):
    """Runtime fault injection offered by a simulated ring.

    Documents are pydantic models with camelCase aliases; ``apply_*`` receive a
    complete, validated model (the topic service merges a ``put`` into the current
    document and validates it with ``*_schema`` first).
    """

    def ring_schema(self) -> type[BaseModel]:
        """Schema of ``sim/_data`` (keys ``pdus``, ``ringBreaks``, ...)."""
        ...

    def ring_document(self) -> BaseModel:
        """Current ``sim/_data``."""
        ...

    def apply_ring(self, doc: BaseModel) -> None:
        """Apply a validated ``sim/_data``; raises ``Invalid`` for impossible values."""
        ...

    def device_schema(self) -> type[BaseModel]:
        """Schema of ``sim/<hexid>/_data`` (keys ``reachable``, ``loadFactor``, ...)."""
        ...

    def device_ids(self) -> list[str]:
        """Hex ids of every simulated PDU, reachable or not, in ring order."""
        ...

    def device_document(self, hex_id: str) -> BaseModel:
        """Current ``sim/<hexid>/_data``; raises ``NotFound`` for an unknown id."""
        ...

    def apply_device(self, hex_id: str, doc: BaseModel) -> None:
        """Apply a validated ``sim/<hexid>/_data``."""
        ...


def dump(doc: BaseModel) -> dict[str, Any]:
    """A fault document as JSON-ready camelCase dict."""
    return doc.model_dump(mode="json", by_alias=True)
