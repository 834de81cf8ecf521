"""Read-only questions the console asks of the core, answered over its public APIs.

The screens hold no business rules: what "alarmed first" means, a device's load, its
colour and where it sits all come from core services (structure health, live state,
device registry). This module only puts those answers in the shape the screens
need, and is the single place to change when core grows a proper query for one.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum
from typing import TYPE_CHECKING, Any

from ..core.live import DeviceLive
from ..core.model import Health, RingState
from ..core.quantities import COMPONENT_BY_CODE, ChannelKey, Component
from ..core.vocabulary import ring_health

if TYPE_CHECKING:
    from ..core.services import CoreServices
    from ..core.alarms import Alarm

__all__ = [
    "HEALTH_MARK",
    "HEALTH_STYLE",
    "AlarmCounts",
    "DeviceFilter",
    "DeviceSort",
    "active_alarms",
    "alarm_counts",
    "alarmed_channels",
    "device_health",
    "device_load",
    "list_devices",
    "matches",
    "ring_text",
]

HEALTH_STYLE: dict[Health, str] = {
    Health.OK: "green",
    Health.WARNING: "yellow",
    Health.CRITICAL: "bold red",
}
"""Rich style of each health colour (manual: green, yellow, red)."""

HEALTH_MARK: dict[Health, str] = {Health.OK: "●", Health.WARNING: "▲", Health.CRITICAL: "✖"}
"""A shape per health so the state is legible without colour."""


@dataclass(frozen=True, slots=True)
class AlarmCounts:
    """Active alarms by severity, as the header shows them."""

    red: int = 0
    yellow: int = 0


def alarm_counts(core: CoreServices) -> AlarmCounts:
    """Active alarm counts by severity, as the alarm service keeps them."""
    got = core.alarms.counts()
    return AlarmCounts(int(got.get("critical", 0)), int(got.get("warning", 0)))


def active_alarms(core: CoreServices, devices: set[str] | None = None) -> list[Alarm]:
    """Active alarms (newest first) of ``devices`` (all for None)."""
    return [a for a in core.alarms.active() if devices is None or a.device in devices]


THRESHOLD = "threshold"
"""Mark of a channel that a rule watches but that is not in alarm (manual §8.3 icon)."""


def alarmed_channels(core: CoreServices, hex_id: str) -> dict[ChannelKey, str]:
    """Channel → mark: the severity ("Warning"/"Critical") of a device's active alarm,
    or ``THRESHOLD`` for a channel a rule with thresholds watches."""
    out: dict[ChannelKey, str] = {}
    for a in active_alarms(core, {hex_id}):
        comp = COMPONENT_BY_CODE.get(a.component)
        if comp is None:
            continue                          # device-level (unreachable, stale)
        key = ChannelKey(comp, a.index, a.quantity)
        if out.get(key) != "Critical":
            out[key] = a.severity
    for key in core.alarms.watched_channels(hex_id):
        out.setdefault(key, THRESHOLD)
    return out


def ring_text(core: CoreServices) -> tuple[str, str]:
    """The ring's health ("Ring OK", "Ring open at PDU 7–8": ``core.vocabulary``) and its style."""
    bus = core.live.bus
    state = bus.ring_state
    style = {RingState.CLOSED: "green", RingState.OPEN: "yellow", RingState.BROKEN: "bold red"}
    return ring_health(state, bus.breaks, len(core.live.devices)), style[state]


def device_health(core: CoreServices, live: DeviceLive) -> Health:
    """A device's colour as the structure service computes it (alarms included later)."""
    return core.structure.health(live)


def device_load(live: DeviceLive) -> tuple[float | None, float]:
    """(highest phase current, rated current per phase) of a device; current None if unknown."""
    rated = live.info.model.rating_a
    currents = [g.get("current") for (comp, _), g in live.groups.items() if comp is Component.INPUT]
    values = [c for c in currents if c is not None]
    return (max(values) if values else None), rated


class DeviceFilter(str, Enum):
    """The device list's filter box (manual §8.1)."""

    ALL = "all"
    ASSIGNED = "assigned"
    UNASSIGNED = "unassigned"


class DeviceSort(str, Enum):
    """The device list's sort choices (manual §8.1)."""

    ALARM = "alarm"
    NAME = "name"
    TYPE = "type"
    CHAIN = "chain"


def matches(core: CoreServices, live: DeviceLive, text: str) -> bool:
    """Incremental search: name, hex id, serial or location contain ``text``."""
    needle = text.strip().lower()
    if not needle:
        return True
    info = live.info
    hay = (info.display_name, info.hex_id, info.identification.serial, info.settings.location,
           core.structure.location_of(info.hex_id))
    return any(needle in h.lower() for h in hay)


def list_devices(core: CoreServices, *, filter: DeviceFilter = DeviceFilter.ALL,
                 search: str = "", sort: DeviceSort = DeviceSort.ALARM) -> list[DeviceLive]:
    """Devices to show, filtered and sorted; alarmed devices first under ``ALARM``."""
    rack_of = core.devices.rack_of
    out = []
    for live in core.live.ordered():
        assigned = rack_of(live.hex_id) is not None
        if filter is DeviceFilter.ASSIGNED and not assigned:
            continue
        if filter is DeviceFilter.UNASSIGNED and assigned:
            continue
        if matches(core, live, search):
            out.append(live)
    keys: dict[DeviceSort, Callable[[DeviceLive], Any]] = {
        DeviceSort.ALARM: lambda d: (-int(device_health(core, d)), d.info.position),
        DeviceSort.NAME: lambda d: (d.info.display_name.lower(), d.info.position),
        DeviceSort.TYPE: lambda d: (d.info.model.type_name, d.info.position),
        DeviceSort.CHAIN: lambda d: d.info.position,
    }
    return sorted(out, key=keys[sort])
