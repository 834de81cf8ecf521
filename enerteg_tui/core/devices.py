"""Device services: the device registry and every command a face sends to a PDU.

Faces never talk to a driver. They call ``DeviceService`` with their principal; it
checks the permission, validates through the model's schemas, sends the command to
the driver, reflects the result in live state and writes the audit entry. The
registry remembers every PDU ever seen (so one that is cut off still shows as
unreachable after a restart) and its rack assignment.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from dataclasses import asdict
from typing import Any, Protocol

from pydantic import ValidationError

from .audit import AuditLog, Severity
from .device_ids import check_unique
from .documents import apply_changes, diff_keys
from .safetext import refuse_control
from .errors import Conflict, DeviceUnavailable, Invalid, NotFound, Unsupported
from .events import Event, EventBus
from .live import DeviceLive, LiveState
from .model import (
    DeviceInfo,
    DeviceSettings,
    DeviceState,
    Identification,
    OutletAction,
    OutletState,
    PduModel,
    SensorType,
)
from .permissions import SYSTEM, Action, Principal, require, require_switch
from .quantities import Component
from .store import Store
from .validation import invalid_from_pydantic

__all__ = ["DeviceService", "CommandDriver", "info_to_json", "info_from_json"]

log = logging.getLogger(__name__)

FORGOTTEN_PREFIX = "forgotten-device:"
"""Key prefix in the store's ``meta`` table of a forgotten PDU's last record (name, info,
who, when, why): what reports need to name it once it is gone from the registry."""


class CommandDriver(Protocol):
    """The commands ``DeviceService`` sends (drivers.base.Driver satisfies it)."""

    async def write_settings(self, hex_id: str, settings: DeviceSettings) -> None: ...
    async def switch_outlet(self, hex_id: str, outlet: int, action: OutletAction) -> None: ...
    async def blink(self, hex_id: str, seconds: float = 10.0) -> None: ...
    async def reset_peaks(self, hex_id: str, component: str | None = None,
                          index: int | None = None) -> None: ...
    async def remove_sensor(self, hex_id: str, index: int) -> None: ...


def info_to_json(info: DeviceInfo) -> dict[str, Any]:
    """DeviceInfo as JSON for the registry."""
    return {
        "hexId": info.hex_id, "position": info.position, "controller": info.controller,
        "identification": info.identification.model_dump(mode="json", by_alias=True),
        "model": asdict(info.model),
        "settings": info.settings.model_dump(mode="json", by_alias=True),
        "sensors": [s.value for s in info.sensors],
    }


def info_from_json(data: dict[str, Any]) -> DeviceInfo:
    """DeviceInfo from the registry's JSON."""
    m = dict(data["model"])
    for k in ("outlet_branch", "outlet_phase", "branch_phase"):
        m[k] = tuple(m.get(k, ()))
    return DeviceInfo(
        hex_id=data["hexId"], position=int(data["position"]),
        identification=Identification.model_validate(data["identification"]),
        model=PduModel(**m), settings=DeviceSettings.model_validate(data["settings"]),
        sensors=[SensorType(s) for s in data.get("sensors", [])],
        controller=bool(data.get("controller")),
    )


class DeviceService:
    """Registry of known PDUs and the commands sent to them.

    Args:
        store: controller database (table ``device``).
        driver: the ring's driver, for commands.
        live: live state (settings and pending outlet states are reflected here).
        audit: every command is audited.
        events: device changes are announced.
        refresh: asks the poller for an early sweep after a command.
    """

    def __init__(
        self, store: Store, driver: CommandDriver, live: LiveState, audit: AuditLog,
        events: EventBus, refresh: Callable[[], None] = lambda: None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._store = store
        self._driver = driver
        self._live = live
        self._audit = audit
        self._events = events
        self._refresh = refresh
        self._clock = clock
        self._rack: dict[str, int | None] = {}
        self._forgotten: dict[str, str] = {}

    # ------------------------------------------------------------------ registry
    async def load(self) -> None:
        """Load known devices into live state (as unreachable until seen) and rack links."""
        for key, value in await self._store.fetchall(
                "SELECT key, value FROM meta WHERE key LIKE ?", (FORGOTTEN_PREFIX + "%",)):
            try:
                self._forgotten[key.removeprefix(FORGOTTEN_PREFIX)] = str(json.loads(value)["name"])
            except (ValueError, KeyError, TypeError):
                self._forgotten[key.removeprefix(FORGOTTEN_PREFIX)] = key.removeprefix(FORGOTTEN_PREFIX)
        for hex_id, rack_id, info in await self._store.fetchall(
                "SELECT hex_id, rack_id, info FROM device"):
            self._rack[hex_id] = rack_id
            try:
                di = info_from_json(json.loads(info))
            except (ValueError, KeyError, TypeError, ValidationError) as exc:
                log.error("device registry: entry %s unreadable (%s); waiting for discovery",
                          hex_id, exc)
                continue
            live, _ = self._live.upsert_info(di)
            live.state = DeviceState.UNREACHABLE

    async def backup_state(self) -> list[dict[str, Any]]:
        """The device registry (identity, placement, last info) for a backup."""
        return [{"hexId": h, "serial": s, "firstSeen": f, "lastSeen": ls, "rackId": r,
                 "info": json.loads(info)} for h, s, f, ls, r, info in await self._store.fetchall(
                     "SELECT hex_id, serial, first_seen, last_seen, rack_id, info FROM device")]

    @staticmethod
    async def clear_places(tx: Any) -> None:
        """Take every device out of its rack inside ``tx`` (before the tree is replaced)."""
        await tx.execute("UPDATE device SET rack_id=NULL")

    async def restore_state(self, tx: Any, devices: list[dict[str, Any]]) -> None:
        """Merge the backup's registry inside the restore's transaction ``tx``: placement
        and info of each device (a device on the ring but not in the backup stays,
        unplaced)."""
        for d in devices:
            await tx.execute(
                "INSERT INTO device (hex_id, serial, first_seen, last_seen, rack_id, info) "
                "VALUES (?,?,?,?,?,?) ON CONFLICT(hex_id) DO UPDATE SET rack_id=excluded.rack_id,"
                " info=excluded.info", (d["hexId"], d["serial"], d["firstSeen"], d["lastSeen"],
                                        d["rackId"], json.dumps(d["info"])))

    async def reload_places(self) -> None:
        """Re-read which rack each known device is in (after a restore or a reset)."""
        self._rack = {h: r for h, r in await self._store.fetchall(
            "SELECT hex_id, rack_id FROM device")}

    async def remember(self, info: DeviceInfo) -> None:
        """Persist a newly found device, or its changed info (called by the poller)."""
        now = self._clock()
        new = info.hex_id not in self._rack
        await self._store.execute(
            "INSERT INTO device (hex_id, serial, first_seen, last_seen, info) VALUES (?,?,?,?,?)"
            " ON CONFLICT(hex_id) DO UPDATE SET last_seen=excluded.last_seen, info=excluded.info",
            (info.hex_id, info.identification.serial, now, now, json.dumps(info_to_json(info))),
        )
        if new:
            self._rack[info.hex_id] = None
            await self._audit.record(
                SYSTEM, "device.found", f"sensor/{info.hex_id}",
                f'PDU "{info.display_name}" ({info.hex_id}) found at ring position {info.position}',
                severity=Severity.INFO, device=info.hex_id,
            )

    def known(self) -> list[str]:
        """Hex ids of every device in the registry."""
        return list(self._rack)

    def rack_of(self, hex_id: str) -> int | None:
        """The rack a device is assigned to, or None."""
        return self._rack.get(hex_id)

    def _set_rack(self, hex_id: str, rack_id: int | None) -> None:
        self._rack[hex_id] = rack_id

    def check_forgettable(self, principal: Principal, hex_id: str) -> DeviceLive:
        """The device if ``principal`` may forget it now; else the refusal.

        Raises:
            PermissionDenied: forgetting needs ``administer``.
            NotFound: no such PDU.
            Conflict: the PDU still answers (running, or stale: it answers discovery).
        """
        require(principal, Action.ADMINISTER, f"sensor/{hex_id}")
        live = self.get(hex_id)
        if live.state is not DeviceState.UNREACHABLE:
            raise Conflict(
                f'PDU "{live.info.display_name}" ({hex_id}) is {live.state.value} and still '
                "answers on the ring; only a PDU that left the ring (UNREACHABLE) can be "
                "forgotten", thing=hex_id, value=live.state.value, allowed="UNREACHABLE")
        return live

    async def forget(self, principal: Principal, hex_id: str, reason: str = "") -> DeviceLive:
        """Remove a PDU that left the ring from the registry and live state.

        Its history stays (reports still find it by hex id or name, ``forgotten``); it
        reappears as a new PDU if it is found on the ring again. Callers close its alarms
        (``core.retire``). Returns the record it had.
        """
        live = self.check_forgettable(principal, hex_id)
        reason = reason.strip()
        refuse_control("forget reason", reason, key="reason")
        name = live.info.display_name
        kept = {"name": name, "forgottenAt": self._clock(), "user": principal.user,
                "reason": reason, "info": info_to_json(live.info)}
        async with self._store.transaction() as tx:
            await tx.execute("DELETE FROM device WHERE hex_id=?", (hex_id,))
            await tx.execute("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)",
                             (FORGOTTEN_PREFIX + hex_id, json.dumps(kept)))
            entry = await self._audit.insert(
                tx, principal, "device.forget", f"sensor/{hex_id}",
                f'PDU "{name}" ({hex_id}) forgotten: removed from the device list; its history '
                f"is kept" + (f". Reason: {reason}" if reason else ""),
                severity=Severity.WARNING, device=hex_id, old={"state": live.state.value},
                new={"reason": reason} if reason else None)
        self._audit.announce(entry)
        self._rack.pop(hex_id, None)
        self._live.devices.pop(hex_id, None)
        self._forgotten[hex_id] = name
        self._events.publish(Event("device", hex_id, "forgotten"))
        return live

    def forgotten(self) -> dict[str, str]:
        """PDUs forgotten and not seen since: hex id → last known name (for reports)."""
        return {h: n for h, n in self._forgotten.items() if h not in self._live.devices}

    def disconnected_sensors(self, hex_id: str) -> list[int]:
        """Numbers of a running PDU's known sensors that report no value (unplugged)."""
        live = self.get(hex_id)
        if live.state is not DeviceState.RUNNING:
            return []
        return [n for n, t in enumerate(live.info.sensors, start=1)
                if t is not SensorType.REMOVED and not live.groups.get((Component.SENSOR, n))]

    def check_sensor_removable(self, principal: Principal, hex_id: str, index: int) -> str:
        """The sensor's name if ``principal`` may remove it now; else the refusal.

        Raises:
            PermissionDenied: needs ``device-setup``.
            NotFound: no such PDU. DeviceUnavailable: the PDU is not running.
            Invalid: no such sensor (or already removed).
            Conflict: the sensor is connected: it answers with a value.
        """
        require(principal, Action.DEVICE_SETUP, f"sensor/{hex_id}/s/{index}")
        live = self.get(hex_id)
        self._require_running(live)
        sensors = live.info.sensors
        names = live.info.settings.sensor_names
        if not 1 <= index <= len(sensors) or sensors[index - 1] is SensorType.REMOVED:
            known = [n for n, t in enumerate(sensors, start=1) if t is not SensorType.REMOVED]
            raise Invalid(f'PDU "{live.info.display_name}" ({hex_id}) has no sensor {index}; '
                          f"its sensors are {', '.join(map(str, known)) or 'none'}",
                          thing="sensor", value=index,
                          allowed=", ".join(map(str, known)) or "none")
        name = names[index - 1] if index <= len(names) else f"Sensor {index}"
        values = live.groups.get((Component.SENSOR, index))
        if values:
            key, value = next(iter(values.items()))
            raise Conflict(f'sensor {index} "{name}" of PDU {hex_id} is connected and measures '
                           f"{value:g} ({key}); only a disconnected sensor can be removed",
                           thing="sensor", value=index, allowed="a disconnected sensor "
                           f"({', '.join(map(str, self.disconnected_sensors(hex_id))) or 'none now'})")
        return name

    async def remove_sensor(self, principal: Principal, hex_id: str, index: int) -> str:
        """Make the PDU forget a disconnected sensor (manual §8.4); returns its name. The
        number stays taken (type ``removed``), so every other sensor and every history
        keeps its number. Callers close its alarms (``core.retire``)."""
        name = self.check_sensor_removable(principal, hex_id, index)
        live = self.get(hex_id)
        await self._driver.remove_sensor(hex_id, index)
        await self._audit.record(
            principal, "device.sensor.remove", f"sensor/{hex_id}/s/{index}",
            f'Sensor {index} "{name}" of PDU "{live.info.display_name}" ({hex_id}) removed '
            "(disconnected); its history is kept", severity=Severity.INFO, device=hex_id)
        self._refresh()
        return name

    # ------------------------------------------------------------------ commands
    def get(self, hex_id: str) -> DeviceLive:
        """A device's live record; ``NotFound`` names the id."""
        live = self._live.get(hex_id)
        if live is None:
            raise NotFound(f"PDU {hex_id!r} does not exist", thing="device", value=hex_id,
                           allowed="the hex id of a known PDU (see `ls /sensor`)")
        return live

    def _require_running(self, live: DeviceLive) -> None:
        if live.state is not DeviceState.RUNNING:
            raise DeviceUnavailable(
                f'PDU "{live.info.display_name}" ({live.hex_id}) is {live.state.value.lower()};'
                " commands need a running PDU",
                thing=live.hex_id, value=live.state.value, allowed="RUNNING",
            )

    async def update_settings(
        self, principal: Principal, hex_id: str, changes: dict[str, Any], *, replace: bool = False
    ) -> DeviceSettings:
        """Change a PDU's settings (names, feed, location, delays, power-up mode).

        Raises:
            PermissionDenied, NotFound, Invalid, DeviceUnavailable, Unsupported.
            Conflict: a Device ID another PDU already has (``device_ids``).
        """
        what = f"sensor/{hex_id}/config"
        require(principal, Action.DEVICE_SETUP, what)
        live = self.get(hex_id)
        current = live.info.settings.model_dump(mode="json", by_alias=True)
        refuse_control(what, changes)
        merged = changes if replace else apply_changes(current, changes, what)
        try:
            new = DeviceSettings.model_validate(merged)
        except ValidationError as exc:
            raise invalid_from_pydantic(what, exc, DeviceSettings) from None
        _check_counts(what, live.info.model, new, len(live.info.sensors))
        if new.device_id != live.info.settings.device_id:
            check_unique(self._live, hex_id, new.device_id, what)
        self._require_running(live)
        await self._driver.write_settings(hex_id, new)
        old_d, new_d = diff_keys(current, new.model_dump(mode="json", by_alias=True))
        live.info.settings = new
        await self._audit.record(
            principal, "device.settings", what,
            f'Settings of PDU "{new.name or hex_id}" ({hex_id}) changed: {", ".join(new_d) or "no change"}',
            old=old_d, new=new_d, device=hex_id,
        )
        self._events.publish_device(hex_id)
        self._events.publish(Event("device", hex_id, "settings"))
        return new

    async def switch(
        self, principal: Principal, hex_id: str, outlet: int, action: OutletAction
    ) -> None:
        """Switch an outlet on, off or power-cycle it (manual §7.3).

        A cycle needs both the switch-on and switch-off permissions. The outlet shows
        as pending in live state until the PDU reports the new state.
        """
        what = f"sensor/{hex_id}/o/{outlet}"
        require_switch(principal, action, what)
        live = self.get(hex_id)
        model = live.info.model
        if not model.switchable:
            raise Unsupported(
                f'PDU "{live.info.display_name}" ({hex_id}) has no switchable outlets',
                thing=what, value=action.value, allowed="a PDU with switched outlets")
        if not 1 <= outlet <= model.outlets:
            raise Invalid(f"outlet {outlet} does not exist on PDU {hex_id}", thing="outlet",
                          value=outlet, allowed=f"an outlet number from 1 to {model.outlets}")
        self._require_running(live)
        await self._driver.switch_outlet(hex_id, outlet, action)
        live.pending_outlets[outlet] = OutletState.OFF if action is OutletAction.OFF else OutletState.ON
        names = live.info.settings.outlets
        oname = names[outlet - 1].name if outlet <= len(names) else f"Outlet # {outlet}"
        verb = {OutletAction.ON: "switched on", OutletAction.OFF: "switched off",
                OutletAction.CYCLE: "power-cycled"}[action]
        await self._audit.record(
            principal, f"outlet.{action.value}", what,
            f'Outlet "{oname}" ({outlet}) of PDU "{live.info.display_name}" ({hex_id}) {verb}',
            severity=Severity.WARNING if action is not OutletAction.ON else Severity.INFO,
            old={"state": live.outlet_states.get(outlet, OutletState.ON).value},
            new={"state": action.value}, device=hex_id,
        )
        self._events.publish_device(hex_id)
        self._refresh()

    async def blink(self, principal: Principal, hex_id: str, seconds: float = 10.0) -> None:
        """Make a PDU's display blink so it can be found in the rack (identify)."""
        require(principal, Action.READ, f"sensor/{hex_id}")
        if not 1 <= seconds <= 300:
            raise Invalid(f"blink time {seconds:g} s is not allowed", thing="seconds",
                          value=seconds, allowed="1 to 300 seconds")
        live = self.get(hex_id)
        self._require_running(live)
        await self._driver.blink(hex_id, seconds)
        await self._audit.record(
            principal, "device.identify", f"sensor/{hex_id}",
            f'PDU "{live.info.display_name}" ({hex_id}) asked to blink for {seconds:g} s',
            severity=Severity.LOG, device=hex_id)

    async def reset_peaks(self, principal: Principal, hex_id: str,
                          component: str | None = None, index: int | None = None) -> str:
        """Reset a PDU's peak values (the current peaks of totals, inputs, branches and
        outlets): all of them, one component (``t``, ``i``, ``b``, ``o``) or one element
        (``o``, 3). The live values show the reset at once (peak = present current).
        Returns what was reset, in words (``outlet 3``, ``all peaks``).

        Raises:
            PermissionDenied: the principal may not ``device-setup``.
            NotFound: no such PDU.  Invalid: no such component or element.
            DeviceUnavailable, Unsupported: as the driver says.
        """
        what = f"sensor/{hex_id}" + (f"/{component}" if component else "") + (
            f"/{index}" if component and component != "t" and index is not None else "")
        require(principal, Action.DEVICE_SETUP, what)
        live = self.get(hex_id)
        target = _peak_target(what, live, component, index)
        self._require_running(live)
        await self._driver.reset_peaks(hex_id, component, None if component == "t" else index)
        for key, group in list(live.groups.items()):
            comp, n = key
            if "currentPeak" not in group or "current" not in group:
                continue
            if component is None or (comp.value == component and (
                    component == "t" or index is None or n == index)):
                live.groups[key] = {**group, "currentPeak": group["current"]}
        await self._audit.record(
            principal, "device.reset-peaks", what,
            f'Peak values of PDU "{live.info.display_name}" ({hex_id}) reset: {target}',
            severity=Severity.INFO, new={"reset": target}, device=hex_id)
        self._events.publish_device(hex_id)
        return target


_PEAK_COMPONENTS = {"t": ("totals", ""), "i": ("input", "phases"), "b": ("branch", "branches"),
                    "o": ("outlet", "outlets")}


def _peak_target(what: str, live: DeviceLive, component: str | None,
                 index: int | None) -> str:
    """What a peak reset covers, in words; ``Invalid`` for a component or element the PDU
    lacks."""
    if component is None:
        if index is not None:
            raise Invalid(f"{what}: element number {index} needs a component before it "
                          "(t, i, b or o)", thing="index",
                          value=index, allowed="a component t, i, b or o first")
        return "all peaks"
    if component not in _PEAK_COMPONENTS:
        raise Invalid(f"{what}: component {component!r} has no peaks; allowed are t (totals), "
                      "i (inputs), b (branches), o (outlets), or none for all", thing="component",
                      value=component, allowed="t (totals), i (inputs), b (branches), "
                      "o (outlets), or none for all")
    word, plural = _PEAK_COMPONENTS[component]
    if component == "t":
        if index not in (None, 0):
            raise Invalid(f"{what}: the totals have no element {index}; allowed is t alone",
                          thing="index", value=index, allowed="t without a number")
        return "totals"
    m = live.info.model
    count = {"i": m.phases, "b": m.branches, "o": m.outlets}[component]
    if index is None:
        if count == 0:
            raise Invalid(f"{what}: this PDU has no {plural}; allowed are the components "
                          "it has, or none for all", thing="component",
                          value=component, allowed="a component the PDU has")
        return f"all {plural}"
    if not 1 <= index <= count:
        allowed = f"{word} 1 to {count}" if count else f"none (no {plural})"
        raise Invalid(f"{what}: {word} {index} does not exist; allowed is {allowed}",
                      thing=word, value=index,
                      allowed=allowed)
    return f"{word} {index}"


def _check_counts(what: str, model: PduModel, s: DeviceSettings, sensors: int) -> None:
    checks = (
        ("outlets", len(s.outlets), model.outlets),
        ("inputNames", len(s.input_names), model.phases),
        ("branchNames", len(s.branch_names), model.branches),
        ("sensorNames", len(s.sensor_names), sensors),
    )
    for key, got, want in checks:
        if got != want:
            raise Invalid(
                f"{what}: {key} has {got} entries; this PDU needs exactly {want}",
                thing=key, value=got, allowed=f"exactly {want} entries")
