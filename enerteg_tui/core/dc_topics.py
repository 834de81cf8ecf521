"""The ``dc/`` topic folder: the data-centre structure as topics (manual §11.1, issue 19 item 3).

Owns the mapping of ``dc/<room>/<row>/<rack>`` paths onto ``Structure``: reading an
element (its children, its PDUs, its aggregate), creating one (``put dc/…/new
name=X``, as ``rules/new`` creates a rule), renaming (``put name=X``), deleting
(``put delete=true``, refused by the service while the element holds anything) and
placing PDUs in a rack (``put assign=<hexid>``, ``put unassign=<hexid>``). Elements are
addressed by name (case-insensitive, as names are unique per parent that way); the
level follows from the depth. Invariant: every change is one ``Structure`` call, so
the permission check (``edit-structure``) and the audit entry are the same as the
console's. Called only by ``core.topics``; the tree is in docs/topics.md.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from .devices import DeviceService
from .errors import Invalid, NotFound, shown
from .live import LiveState
from .permissions import Action, Principal, require
from .settings._base import Toggle
from .structure import Element, Kind, Structure
from .validation import invalid_from_pydantic

__all__ = ["DcTopics", "ElementDoc", "RackDoc", "NEW"]

NEW = "new"
"""The folder under which a ``put`` creates a child element."""
_LEVELS = (Kind.ROOM, Kind.ROW, Kind.RACK)
"""The element kind at each depth below ``dc/``."""


class ElementDoc(BaseModel):
    """What ``put`` accepts at a room or row (and, for a new element, its name)."""

    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(default=None, description="New name (unique within its parent)")
    delete: Toggle = Field(default=False, description="true deletes the (empty) element")


class RackDoc(ElementDoc):
    """What ``put`` accepts at a rack: also the PDUs placed in it."""

    assign: str | None = Field(default=None, description="Hex id of a PDU to place in this rack")
    unassign: str | None = Field(default=None, description="Hex id of a PDU to take out of it")


class DcTopics:
    """Resolve, read and change the ``dc/`` topics.

    Args:
        structure: the DC structure service.
        devices: the device registry (which rack a PDU is in).
        live: live state (names and states of the PDUs listed).
        clock: wall clock for ``ts``.
    """

    def __init__(self, structure: Structure, devices: DeviceService, live: LiveState,
                 clock: Callable[[], float] = time.time) -> None:
        self._structure = structure
        self._devices = devices
        self._live = live
        self._clock = clock

    # ------------------------------------------------------------------ tree
    def resolve(self, parts: list[str]) -> Element | None:
        """The element at ``dc/<parts...>`` (None for ``dc`` itself); ``NotFound`` names
        the missing part and lists what its parent holds."""
        el: Element | None = None
        for depth, name in enumerate(parts):
            parent_id = el.id if el is not None else 0
            kids = self._structure.children(parent_id)
            match = next((k for k in kids if k.name.lower() == name.lower()), None)
            if match is None:
                where = "dc/" + "/".join(parts[:depth]) if depth else "dc"
                holds = ", ".join(k.name for k in kids) or "nothing"
                kind = _LEVELS[depth].value if depth < len(_LEVELS) else "element"
                raise NotFound(f"topic dc/{'/'.join(parts)}: no {kind} named {shown(name)} in "
                               f"{where}; it holds: {holds}", thing=kind, value=name,
                               allowed=holds)
            el = match
        return el

    def node(self, path: str, parts: list[str]) -> tuple[list[str], bool, Any]:
        """(children, writable, schema) of a path under ``dc``."""
        rest = parts[1:]
        if len(rest) > len(_LEVELS):
            raise NotFound(f"topic {shown(path)} does not exist: the DC structure is "
                           "dc/<room>/<row>/<rack> (racks hold PDUs, not elements)",
                           thing="topic", value=path, allowed="dc/<room>/<row>/<rack>")
        if rest and rest[-1] == NEW:
            self.resolve(rest[:-1])
            return [], True, ElementDoc
        el = self.resolve(rest)
        kids = [k.name for k in self._structure.children(el.id if el else 0)]
        if el is None:
            return [NEW, *kids], False, None
        if el.kind is Kind.RACK:
            return [], True, RackDoc
        return [NEW, *kids], True, ElementDoc

    # ------------------------------------------------------------------ reading
    def get(self, parts: list[str]) -> dict[str, Any]:
        """The ``_data`` document of a path under ``dc``."""
        now_ms = int(self._clock() * 1000)
        rest = parts[1:]
        st = self._structure
        if rest and rest[-1] == NEW:
            parent = self.resolve(rest[:-1])
            kind = _LEVELS[len(rest) - 1]
            return {"ts": now_ms, "u": {"name": ""}, "new": None, "kind": kind.value,
                    "parent": st.path(parent) if parent else None}
        el = self.resolve(rest)
        if el is None:
            return {"ts": now_ms, "rooms": [self._summary(k) for k in st.children(0)],
                    "unassigned": st.unassigned(), **self._aggregate(None)}
        doc: dict[str, Any] = {"ts": now_ms, "id": el.id, "kind": el.kind.value,
                               "name": el.name, "path": st.path(el)}
        if el.kind is not Kind.RACK:
            doc["children"] = [self._summary(k) for k in st.children(el.id)]
        doc["devices"] = [self._device(h) for h in st.devices_in(el.id)]
        doc.update(self._aggregate(el.id))
        return doc

    def _summary(self, el: Element) -> dict[str, Any]:
        return {"id": el.id, "kind": el.kind.value, "name": el.name,
                "devices": len(self._structure.devices_in(el.id))}

    def _device(self, hex_id: str) -> dict[str, Any]:
        live = self._live.get(hex_id)
        return {"hexId": hex_id, "name": live.info.display_name if live else hex_id,
                "state": live.state.value if live else None}

    def _aggregate(self, element_id: int | None) -> dict[str, Any]:
        agg = self._structure.aggregate(element_id)
        return {"health": agg.health.name.lower(), "stale": agg.stale,
                "total": {k: round(v, 3) for k, v in agg.total.items()},
                "phases": {f"L{p}": {k: round(v, 3) for k, v in q.items()}
                           for p, q in sorted(agg.phases.items())},
                "ratedA": {f"L{p}": v for p, v in sorted(agg.rated_a.items())}}

    # ------------------------------------------------------------------ changing
    async def put(self, principal: Principal, parts: list[str],
                  changes: dict[str, Any]) -> list[str]:
        """Apply a ``put``; returns the path whose document the caller shows afterwards."""
        rest = parts[1:]
        what = "/".join(parts)
        st = self._structure
        if rest and rest[-1] == NEW:
            require(principal, Action.EDIT_STRUCTURE, what)
            doc = _validate(ElementDoc, what, changes)
            parent = self.resolve(rest[:-1])
            if not doc.name or doc.delete:
                raise Invalid(f"{what}: a new {_LEVELS[len(rest) - 1].value} needs a name "
                              "(put name=\"…\") and nothing else", thing="name",
                              value=doc.name or "", allowed="put name=\"<1 to 64 characters>\"")
            el = await st.create(principal, _LEVELS[len(rest) - 1], doc.name,
                                 parent.id if parent else 0)
            return [*parts[:-1], el.name]
        el = self.resolve(rest)
        assert el is not None  # dc itself is not writable (node says so)
        schema = RackDoc if el.kind is Kind.RACK else ElementDoc
        doc = _validate(schema, what, changes)
        if len(changes) > 1:
            raise Invalid(f"{what}: one change per put; {', '.join(changes)} were given "
                          "together", thing="put", value=", ".join(changes),
                          allowed="one of " + ", ".join(schema.model_fields))
        if doc.delete:
            await st.delete(principal, el.id)
            return parts[:-1]
        if isinstance(doc, RackDoc):
            if doc.assign:
                await st.assign(principal, doc.assign.strip().lower(), el.id)
            if doc.unassign:
                hex_id = doc.unassign.strip().lower()
                if self._devices.rack_of(hex_id) != el.id:
                    self._devices.get(hex_id)  # NotFound for an unknown PDU
                    raise Invalid(f"{what}: PDU {shown(hex_id)} is not in this rack (it is in "
                                  f"{st.location_of(hex_id)}); nothing changed",
                                  thing="unassign", value=hex_id,
                                  allowed=", ".join(st.devices_in(el.id)) or "no PDU: the rack is empty")
                await st.assign(principal, hex_id, None)
        if doc.name is not None and doc.name != el.name:
            el = await st.rename(principal, el.id, doc.name)
            return [*parts[:-1], el.name]
        return parts


def _validate(schema: type[ElementDoc], what: str, changes: dict[str, Any]) -> ElementDoc:
    try:
        return schema.model_validate(changes)
    except ValidationError as exc:
        raise invalid_from_pydantic(what, exc, schema) from None
