"""ENERTEG-PDU-MIB as the agent knows it: object names to OIDs, from the compiled MIB.

The MIB text (``mibs/ENERTEG-PDU-MIB.txt``) is the source of truth;
``scripts/build-mib.sh`` lints it (smilint) and compiles it with pysmi into
``mibs/ENERTEG-PDU-MIB.json`` once, at build time. The agent reads that JSON at start,
so it never hard-codes an OID the MIB does not define, and never compiles at start.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

__all__ = ["MIB_DIR", "MIB_NAME", "MIB_TEXT", "MIB_JSON", "MibObject", "Mib", "load_mib"]

MIB_NAME = "ENERTEG-PDU-MIB"
MIB_DIR = Path(__file__).with_name("mibs")
MIB_TEXT = MIB_DIR / f"{MIB_NAME}.txt"
"""The MIB as shipped to managers (also copied to SFTP /docs)."""
MIB_JSON = MIB_DIR / f"{MIB_NAME}.json"
"""The MIB compiled by pysmi (``scripts/build-mib.sh``)."""

OID = tuple[int, ...]


@dataclass(frozen=True, slots=True)
class MibObject:
    """One named node of the MIB."""

    name: str
    oid: OID
    nodetype: str
    """``scalar``, ``column``, ``row``, ``table`` or '' (identities, groups...)."""
    access: str
    """MAX-ACCESS (``read-only``, ``read-write``, ``not-accessible``...) or ''."""
    enums: dict[str, int]
    """Named numbers of an enumerated INTEGER (empty otherwise)."""


class Mib:
    """Lookup of the compiled module's objects by name."""

    def __init__(self, doc: dict) -> None:
        self.objects: dict[str, MibObject] = {}
        for name, node in doc.items():
            if not isinstance(node, dict) or "oid" not in node:
                continue
            syntax = node.get("syntax") or {}
            enums = (syntax.get("constraints") or {}).get("enumeration") or {}
            self.objects[name] = MibObject(
                name=name, oid=tuple(int(p) for p in node["oid"].split(".")),
                nodetype=node.get("nodetype", ""), access=node.get("maxaccess", ""),
                enums=dict(enums))

    def oid(self, name: str) -> OID:
        """The OID of ``name``; ``KeyError`` names an object the MIB lacks."""
        return self.objects[name].oid

    def columns(self, entry: str) -> dict[str, MibObject]:
        """The columns of a table's entry (``etgOutletEntry``), by name."""
        prefix = self.oid(entry)
        return {n: o for n, o in self.objects.items()
                if o.nodetype == "column" and o.oid[:-1] == prefix}

    def writable(self) -> dict[str, MibObject]:
        """Every read-write object."""
        return {n: o for n, o in self.objects.items() if o.access == "read-write"}


@lru_cache(maxsize=1)
def load_mib() -> Mib:
    """The compiled ENERTEG-PDU-MIB (read once per process)."""
    return Mib(json.loads(MIB_JSON.read_text()))
