"""Data-centre structure (manual chapter 6): rooms → rows → racks, and devices in racks.

Owns the tree, its names (unique per parent) and the assignment of devices to racks;
computes aggregates per rack, row, room and the whole site from live state: per phase
and total current, active/apparent/reactive power, energy, residual and neutral
current, rated capacity and the worst state (which escalates upward).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

from .audit import AuditLog, Severity
from .devices import DeviceService
from .errors import Conflict, Invalid, NotFound, shown
from .safetext import refuse_control
from .events import Event, EventBus
from .live import DeviceLive, LiveState
from .model import DeviceState, Health
from .permissions import Action, Principal, require
from .quantities import Component
from .store import Store

__all__ = ["Kind", "Element", "Aggregate", "Structure", "device_health"]

NAME_MAX = 64
"""Longest element name accepted."""
RESERVED_NAMES = frozenset({"new", "_data", ".", ".."})
"""Words of the ``dc/`` topic paths that an element's name may not be (core.dc_topics)."""


class Kind(str, Enum):
    """Levels of the structure."""

    ROOM = "room"
    ROW = "row"
    RACK = "rack"


_PARENT_KIND = {Kind.ROOM: None, Kind.ROW: Kind.ROOM, Kind.RACK: Kind.ROW}


@dataclass(slots=True)
class Element:
    """A room, row or rack."""

    id: int
    kind: Kind
    name: str
    parent_id: int
    """0 for rooms."""


PHASE_KEYS = ("current", "activePower", "apparentPower", "reactivePower", "energy")
"""Quantities summed per phase."""
TOTAL_KEYS = ("current", "activePower", "apparentPower", "reactivePower", "energy",
              "apparentEnergy", "residualCurrent", "neutralCurrent")
"""Quantities summed over devices' totals."""


@dataclass(slots=True)
class Aggregate:
    """Sums over the devices in one element (or the site)."""

    phases: dict[int, dict[str, float]] = field(default_factory=dict)
    """Phase number (1–3) → summed quantities (``PHASE_KEYS``)."""
    total: dict[str, float] = field(default_factory=dict)
    """Summed totals (``TOTAL_KEYS``); neutral current is the sum of each PDU's neutral."""
    rated_a: dict[int, float] = field(default_factory=dict)
    """Rated current per phase: the sum of the PDUs' ratings on that phase."""
    devices: int = 0
    stale: int = 0
    health: Health = Health.OK


def device_health(live: DeviceLive) -> Health:
    """A device's own state as a colour: unreachable red, stale yellow, else green."""
    if live.state is DeviceState.UNREACHABLE:
        return Health.CRITICAL
    if live.state is DeviceState.STALE:
        return Health.WARNING
    return Health.OK


def _merge(into: Aggregate, part: Aggregate) -> None:
    """Add the sums of a child element into its parent's."""
    into.devices += part.devices
    into.stale += part.stale
    into.health = Health(max(into.health, part.health))
    for phase, rated in part.rated_a.items():
        into.rated_a[phase] = into.rated_a.get(phase, 0.0) + rated
    for phase, vals in part.phases.items():
        acc = into.phases.setdefault(phase, dict.fromkeys(PHASE_KEYS, 0.0))
        for k, v in vals.items():
            acc[k] += v
    for k, v in part.total.items():
        into.total[k] = into.total.get(k, 0.0) + v


class Structure:
    """The DC tree and device placement.

    Args:
        store: controller database (``dc_element``, ``device.rack_id``).
        devices: the device registry (rack assignment lives beside it).
        live: live state for aggregates.
        audit, events: changes are audited and announced (kind ``structure``).
        health: colour of one device; the alarms service replaces the default
            (device state only) with one that includes active alarms.
    """

    def __init__(
        self, store: Store, devices: DeviceService, live: LiveState, audit: AuditLog,
        events: EventBus, health: Callable[[DeviceLive], Health] = device_health,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._store = store
        self._devices = devices
        self._live = live
        self._audit = audit
        self._events = events
        self.health = health
        self.own_health: Callable[[int], Health] = lambda element_id: Health.OK
        """Colour of an element's own alarms (rules on its totals); the alarm service
        replaces this default."""
        self._clock = clock
        self._elements: dict[int, Element] = {}

    async def backup_state(self) -> list[dict[str, Any]]:
        """The rooms, rows and racks for a backup."""
        return [{"id": i, "kind": k, "name": n, "parentId": p} for i, k, n, p in
                await self._store.fetchall(
                    "SELECT id, kind, name, parent_id FROM dc_element ORDER BY id")]

    async def restore_state(self, tx: Any, elements: list[dict[str, Any]]) -> None:
        """Replace the tree inside the restore's transaction ``tx`` (ids kept); the devices'
        placements are the device registry's (``DeviceService.restore_state``), which
        clears them first."""
        await tx.execute("DELETE FROM dc_element")
        now = self._clock()
        for e in elements:
            await tx.execute("INSERT INTO dc_element (id, kind, name, parent_id, created)"
                             " VALUES (?,?,?,?,?)", (e["id"], e["kind"], e["name"],
                                                     e["parentId"], now))

    async def reset(self) -> None:
        """Factory reset of the DC structure: every room, row and rack deleted and every
        device unplaced (the devices themselves stay known)."""
        async with self._store.transaction() as tx:
            await tx.execute("UPDATE device SET rack_id=NULL")
            await tx.execute("DELETE FROM dc_element")
        await self.load()

    async def load(self) -> None:
        """Read the tree from the database."""
        self._elements = {
            r[0]: Element(r[0], Kind(r[1]), r[2], r[3])
            for r in await self._store.fetchall("SELECT id, kind, name, parent_id FROM dc_element")
        }

    # ------------------------------------------------------------------ reading
    def get(self, element_id: int) -> Element:
        """An element by id; ``NotFound`` names it."""
        el = self._elements.get(element_id)
        if el is None:
            raise NotFound(f"DC element {element_id} does not exist", thing="element",
                           value=element_id, allowed="the id of an existing room, row or rack")
        return el

    def children(self, parent_id: int = 0) -> list[Element]:
        """Direct children (rooms for 0), sorted by name."""
        return sorted((e for e in self._elements.values() if e.parent_id == parent_id),
                      key=lambda e: e.name.lower())

    def elements(self, kind: Kind | None = None) -> list[Element]:
        """Every element, or every element of one kind, sorted by path."""
        els = [e for e in self._elements.values() if kind is None or e.kind is kind]
        return sorted(els, key=self.path)

    def path(self, el: Element | int) -> str:
        """``Room / Row / Rack`` path of an element."""
        if isinstance(el, int):
            el = self.get(el)
        parts = [el.name]
        while el.parent_id:
            el = self._elements[el.parent_id]
            parts.append(el.name)
        return " / ".join(reversed(parts))

    def kind_of(self, element_id: int) -> str | None:
        """The kind (``room``, ``row``, ``rack``) of an element, None if it does not exist."""
        el = self._elements.get(element_id)
        return el.kind.value if el is not None else None

    def places_of(self, hex_id: str) -> dict[str, int]:
        """Rack, row and room ids a device sits in (rule scopes): ``{"rack": 7, ...}``."""
        out: dict[str, int] = {}
        el_id = self._devices.rack_of(hex_id)
        while el_id:
            el = self._elements.get(el_id)
            if el is None:
                break
            out[el.kind.value] = el.id
            el_id = el.parent_id
        return out

    def racks_under(self, element_id: int) -> list[int]:
        """Ids of the racks in an element (itself if it is a rack)."""
        el = self.get(element_id)
        if el.kind is Kind.RACK:
            return [el.id]
        out: list[int] = []
        for child in self.children(el.id):
            out += self.racks_under(child.id)
        return out

    def subtree(self, element_id: int | None) -> list[int]:
        """Ids of an element and every element under it (every element for None)."""
        if element_id is None:
            return list(self._elements)
        out = [element_id]
        for child in self.children(element_id):
            out += self.subtree(child.id)
        return out

    def devices_in(self, element_id: int | None) -> list[str]:
        """Hex ids of devices in an element (recursively), or all devices for None."""
        if element_id is None:
            return [d.hex_id for d in self._live.ordered()]
        racks = set(self.racks_under(element_id))
        return [d.hex_id for d in self._live.ordered() if self._devices.rack_of(d.hex_id) in racks]

    def unassigned(self) -> list[str]:
        """Hex ids of devices in no rack."""
        return [d.hex_id for d in self._live.ordered() if self._devices.rack_of(d.hex_id) is None]

    def location_of(self, hex_id: str) -> str:
        """Structure path of a device's rack, or "Unassigned"."""
        rack = self._devices.rack_of(hex_id)
        return self.path(rack) if rack in self._elements else "Unassigned"

    def aggregate(self, element_id: int | None = None) -> Aggregate:
        """Sums per phase and total over the devices in an element (site for None)."""
        agg = Aggregate()
        for hex_id in self.devices_in(element_id):
            live = self._live.devices.get(hex_id)
            if live is not None:
                self._add_device(agg, live)
        own = max((self.own_health(e) for e in self.subtree(element_id)), default=Health.OK)
        agg.health = Health(max(agg.health, own))
        return agg

    def aggregates(self, element_ids: set[int]) -> dict[int, Aggregate]:
        """``aggregate`` of several elements in one pass (what rule evaluation needs every
        sweep): each PDU is added to its rack once, racks are summed into rows and rows
        into rooms. Unknown ids are left out."""
        need: set[int] = set()
        for eid, el in self._elements.items():     # itself or an ancestor is asked for
            up: Element | None = el
            while up is not None:
                if up.id in element_ids:
                    need.add(eid)
                    break
                up = self._elements.get(up.parent_id)
        per = {eid: Aggregate() for eid in need}
        for live in self._live.ordered():
            agg = per.get(self._devices.rack_of(live.hex_id) or 0)
            if agg is not None:
                self._add_device(agg, live)
        for kind in (Kind.RACK, Kind.ROW, Kind.ROOM):         # leaves first, then upward
            for eid in need:
                el = self._elements[eid]
                if el.kind is not kind:
                    continue
                agg = per[eid]
                agg.health = Health(max(agg.health, self.own_health(eid)))
                parent = per.get(el.parent_id)
                if parent is not None:
                    _merge(parent, agg)
        return {eid: per[eid] for eid in element_ids if eid in per}

    def _add_device(self, agg: Aggregate, live: DeviceLive) -> None:
        agg.devices += 1
        agg.health = Health(max(agg.health, self.health(live)))
        if live.state is not DeviceState.RUNNING:
            agg.stale += 1
        model = live.info.model
        for phase in range(1, model.phases + 1):
            agg.rated_a[phase] = agg.rated_a.get(phase, 0.0) + model.rating_a
            vals = live.groups.get((Component.INPUT, phase))
            if vals:
                acc = agg.phases.setdefault(phase, dict.fromkeys(PHASE_KEYS, 0.0))
                for k in PHASE_KEYS:
                    acc[k] += vals.get(k, 0.0)
        tot = live.groups.get((Component.TOTAL, 0))
        if tot:
            for k in TOTAL_KEYS:
                agg.total[k] = agg.total.get(k, 0.0) + tot.get(k, 0.0)

    def element_health(self, element_id: int | None) -> Health:
        """Worst colour of the devices in an element (escalates upward by construction)."""
        devices = max((self.health(self._live.devices[h]) for h in self.devices_in(element_id)
                       if h in self._live.devices), default=Health.OK)
        own = max((self.own_health(e) for e in self.subtree(element_id)), default=Health.OK)
        return max(devices, own)

    # ------------------------------------------------------------------ changing
    def _check_name(self, name: str, kind: Kind, parent_id: int, exclude: int | None = None) -> str:
        name = name.strip()
        if not name or len(name) > NAME_MAX:
            raise Invalid(f"{kind.value} name {shown(name)} is not allowed; allowed is a name of "
                          f"1 to {NAME_MAX} characters", thing="name", value=shown(name),
                          allowed=f"1 to {NAME_MAX} characters")
        refuse_control(f"{kind.value} name", name, key="name")
        if "/" in name or name.lower() in RESERVED_NAMES:
            raise Invalid(f"{kind.value} name {shown(name)} is not allowed: the name is a part of "
                          f"its topic path dc/<room>/<row>/<rack>, so it may not contain / nor be "
                          f"one of {', '.join(sorted(RESERVED_NAMES))}", thing="name",
                          value=shown(name), allowed="a name without / that is not "
                          + ", ".join(sorted(RESERVED_NAMES)))
        for e in self.children(parent_id):
            if e.kind is kind and e.name.lower() == name.lower() and e.id != exclude:
                where = self.path(parent_id) if parent_id else "the data centre"
                raise Conflict(f'a {kind.value} named "{name}" already exists in {where}',
                               thing="name", value=name, allowed="a name unique within its parent")
        return name

    async def create(self, principal: Principal, kind: Kind, name: str, parent_id: int = 0) -> Element:
        """Create a room (parent 0), a row in a room, or a rack in a row."""
        require(principal, Action.EDIT_STRUCTURE, "dc")
        want = _PARENT_KIND[kind]
        if want is None:
            parent_id = 0
        else:
            parent = self.get(parent_id)
            if parent.kind is not want:
                raise Invalid(f"a {kind.value} must be placed in a {want.value}, not in "
                              f'{parent.kind.value} "{parent.name}"', thing="parent",
                              value=parent_id, allowed=f"the id of a {want.value}")
        name = self._check_name(name, kind, parent_id)
        async with self._store.transaction() as tx:
            cur = await tx.execute(
                "INSERT INTO dc_element (kind, name, parent_id, created) VALUES (?,?,?,?)",
                (kind.value, name, parent_id, self._clock()))
            el = Element(int(cur.lastrowid or 0), kind, name, parent_id)
            self._elements[el.id] = el
            entry = await self._audit.insert(tx, principal, "dc.create", f"dc/{el.id}",
                                             f'{kind.value.capitalize()} "{self.path(el)}" created',
                                             new={"name": name, "kind": kind.value})
        self._audit.announce(entry)
        self._events.publish(Event("structure", str(el.id), "created"))
        return el

    async def rename(self, principal: Principal, element_id: int, name: str) -> Element:
        """Rename an element (unique within its parent)."""
        require(principal, Action.EDIT_STRUCTURE, f"dc/{element_id}")
        el = self.get(element_id)
        old_path = self.path(el)
        name = self._check_name(name, el.kind, el.parent_id, exclude=el.id)
        async with self._store.transaction() as tx:
            await tx.execute("UPDATE dc_element SET name=? WHERE id=?", (name, el.id))
            entry = await self._audit.insert(
                tx, principal, "dc.rename", f"dc/{el.id}",
                f'{el.kind.value.capitalize()} "{old_path}" renamed to "{name}"',
                old={"name": el.name}, new={"name": name})
        el.name = name
        self._audit.announce(entry)
        self._events.publish(Event("structure", str(el.id), "renamed"))
        return el

    async def delete(self, principal: Principal, element_id: int) -> None:
        """Delete an empty element; refused with the reason when it is not empty."""
        require(principal, Action.EDIT_STRUCTURE, f"dc/{element_id}")
        el = self.get(element_id)
        kids = self.children(el.id)
        if kids:
            raise Conflict(
                f'{el.kind.value} "{self.path(el)}" is not empty: it holds {len(kids)} '
                f"{kids[0].kind.value}(s); delete or move them first",
                thing=el.kind.value, value=el.name, allowed="an empty element")
        devs = self.devices_in(el.id) if el.kind is Kind.RACK else []
        if devs:
            raise Conflict(
                f'rack "{self.path(el)}" is not empty: {len(devs)} PDU(s) are assigned to it '
                f"({', '.join(devs[:5])}); unassign them first",
                thing="rack", value=el.name, allowed="an empty rack")
        path = self.path(el)
        async with self._store.transaction() as tx:
            await tx.execute("DELETE FROM dc_element WHERE id=?", (el.id,))
            entry = await self._audit.insert(tx, principal, "dc.delete", f"dc/{el.id}",
                                             f'{el.kind.value.capitalize()} "{path}" deleted',
                                             old={"name": el.name, "kind": el.kind.value})
        del self._elements[el.id]
        self._audit.announce(entry)
        self._events.publish(Event("structure", str(el.id), "deleted"))

    async def assign(self, principal: Principal, hex_id: str, rack_id: int | None) -> None:
        """Place a device in a rack, or unassign it with None."""
        require(principal, Action.EDIT_STRUCTURE, f"sensor/{hex_id}")
        live = self._devices.get(hex_id)
        if rack_id is not None and self.get(rack_id).kind is not Kind.RACK:
            el = self.get(rack_id)
            raise Invalid(f'PDUs are placed in racks, not in {el.kind.value} "{el.name}"',
                          thing="rack", value=rack_id, allowed="the id of a rack")
        old = self._devices.rack_of(hex_id)
        where = self.path(rack_id) if rack_id is not None else "Unassigned"
        before = self.path(old) if old in self._elements else "Unassigned"
        async with self._store.transaction() as tx:
            await tx.execute("UPDATE device SET rack_id=? WHERE hex_id=?", (rack_id, hex_id))
            entry = await self._audit.insert(
                tx, principal, "dc.assign", f"sensor/{hex_id}",
                f'PDU "{live.info.display_name}" ({hex_id}) moved from {before} to {where}',
                old={"rack": before}, new={"rack": where}, device=hex_id, severity=Severity.INFO)
        self._devices._set_rack(hex_id, rack_id)
        self._audit.announce(entry)
        self._events.publish(Event("structure", hex_id, "assigned"))
