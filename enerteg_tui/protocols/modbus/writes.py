"""Modbus writes (FC06/FC16) through the core: the same calls and checks as the shell.

A write names whole fields of the map (``modbus_map.csv`` access RW): a name string
over all its registers, feed, power-up mode, outlet delay, locate, peak resets (the PDU's
or one element's, ``DeviceService.reset_peaks``), or the switching pair.
Outlet delays are per outlet (offsets 38-39 of its record, 0.1 s). It runs as a Modbus principal (face ``modbus``, the client's address, roles READWRITE and
POWER: device setup and switching, nothing else), so ``DeviceService`` checks the
permission, validates, calls the driver and writes the audit entry with who and where.
A refusal by the core answers the code of ``errors.exception_code``; nothing changes.

Switching is arm + command: writing the switching key (0xA5A5) to register 900 opens a
window of ``arm_seconds`` (10 s) on that unit for one command; register 901 then takes
``(action << 8) | outlet``. A command without an open window answers 0x03 and changes
nothing (status register 902 says why).
"""

from __future__ import annotations

import struct
import time
from dataclasses import dataclass
from typing import Any

from ...core.audit import Severity
from ...core.errors import EnertegError
from ...core.model import Feed, OutletAction, PowerUpMode
from ...core.permissions import Principal, Role
from ...core.services import CoreServices
from .errors import exception_code
from .regmap import Field

__all__ = ["Writes", "ARM_KEY", "WRITER", "UnitSwitching"]

ARM_KEY = 0xA5A5
WRITER = frozenset({Role.READWRITE, Role.POWER})
ILLEGAL_ADDRESS, ILLEGAL_VALUE, GATEWAY_NO_RESPONSE = 0x02, 0x03, 0x0B

_FEEDS = {0: Feed.NONE, 1: Feed.A, 2: Feed.B, 3: Feed.C, 4: Feed.D}
_MODES = {1: PowerUpMode.NO_SWITCHING_ON_POWER_UP, 2: PowerUpMode.SYSTEM_DELAY,
          3: PowerUpMode.INDIVIDUAL_DELAY, 4: PowerUpMode.NO_SWITCHING_ON_POWER_DOWN}
_ACTIONS = {1: OutletAction.OFF, 2: OutletAction.ON, 3: OutletAction.CYCLE}
STATUS_DONE, STATUS_NOT_ARMED, STATUS_NO_OUTLET = 2, 16, 17
STATUS_NOT_SWITCHABLE, STATUS_REFUSED = 18, 19


@dataclass(slots=True)
class UnitSwitching:
    """Switching registers of one unit (900-903)."""

    armed_until: float = 0.0
    command: int = 0
    status: int = 0
    sequence: int = 0


class Writes:
    """Plans and runs writes for the face; holds each unit's arm window."""

    def __init__(self, core: CoreServices, face: Any, *, arm_seconds: float) -> None:
        """``face``: the ``face.ModbusFace`` writing (its ``device`` and ``map``; not
        imported here, face imports this module)."""
        self.core = core
        self.face = face
        self.arm_seconds = arm_seconds
        self._units: dict[str, UnitSwitching] = {}

    def unit_state(self, hex_id: str) -> UnitSwitching:
        return self._units.setdefault(hex_id, UnitSwitching())

    def arm_left(self, hex_id: str) -> int:
        """Whole seconds left in the unit's arm window (0: not armed)."""
        left = self.unit_state(hex_id).armed_until - time.monotonic()
        return max(0, int(left + 0.999))

    @staticmethod
    def principal(client: str) -> Principal:
        return Principal(user="modbus", roles=WRITER, face="modbus", address=client)

    async def write(self, unit: int, address: int, values: list[int], client: str) -> int | None:
        """Carry out the write, or return the exception code (nothing changed)."""
        dev = self.face.device(unit)
        if dev is None:                              # the controller unit: nothing writable
            return ILLEGAL_ADDRESS if unit in (0, 255) else GATEWAY_NO_RESPONSE
        count = len(values)
        if self.face.map.block_of("pdu", address, count) is None:
            return ILLEGAL_ADDRESS
        fields = self.face.map.fields_in("pdu", address, count)
        if not fields:
            return ILLEGAL_ADDRESS
        m = dev.info.model
        counts = {"i": m.phases, "b": m.branches, "o": m.outlets, "s": len(dev.info.sensors)}
        for f in fields:
            if not f.writable or (f.element in counts and f.index > counts[f.element]):
                return ILLEGAL_ADDRESS               # read-only, or an element it lacks
            if f.address < address or f.address + f.regs > address + count:
                return ILLEGAL_VALUE                 # part of a string or 32-bit value
        who = self.principal(client)
        for f in fields:
            words = values[f.address - address:f.address - address + f.regs]
            try:
                code = await self._one(dev, f, words, who)
            except EnertegError as exc:
                return exception_code(exc)
            finally:
                self.face._settings_epoch += 1
            if code is not None:
                return code
        return None

    async def _one(self, dev: Any, f: Field, words: list[int], who: Principal) -> int | None:
        devices = self.core.devices
        hex_id = dev.hex_id
        src = f.source
        if f.kind.startswith("str"):
            raw = struct.pack(f">{len(words)}H", *words).rstrip(b"\0")
            try:
                text = raw.decode("utf-8")
            except UnicodeDecodeError:
                return ILLEGAL_VALUE
            await self._rename(who, dev, f, text)
            return None
        value = words[0]
        if src == "feed":
            if value not in _FEEDS:
                return ILLEGAL_VALUE
            await devices.update_settings(who, hex_id, {"feed": _FEEDS[value].value})
        elif src == "power_up_mode":
            if value not in _MODES:
                return ILLEGAL_VALUE
            await devices.update_settings(who, hex_id, {"powerUpMode": _MODES[value].value})
        elif src == "outlet_delay":
            await devices.update_settings(who, hex_id, {"outletDelayMs": value})
        elif src in ("delay", "power_cycle_delay"):
            current = dev.info.settings.model_dump(mode="json", by_alias=True)
            outlets = current["outlets"]
            key = "delay" if src == "delay" else "powerCycleDelay"
            outlets[f.index - 1][key] = value / 10
            await devices.update_settings(who, hex_id, {"outlets": outlets})
        elif src == "locate":
            if value != 1:
                return ILLEGAL_VALUE
            await devices.blink(who, hex_id, 10.0)
        elif src in ("reset_peaks", "reset_peak"):
            if value != 1:
                return ILLEGAL_VALUE
            if src == "reset_peaks":
                await devices.reset_peaks(who, hex_id)
            else:
                await devices.reset_peaks(who, hex_id, f.element,
                                          None if f.element == "t" else f.index)
        elif src == "arm":
            return await self._arm(dev, value, who)
        elif src == "command":
            return await self._command(dev, value, who)
        else:
            return ILLEGAL_ADDRESS
        return None

    async def _rename(self, who: Principal, dev: Any, f: Field, text: str) -> None:
        devices = self.core.devices
        hex_id = dev.hex_id
        if f.element == "id":
            key = {"name": "name", "location": "location", "extra_info": "extraInfo"}[f.source]
            await devices.update_settings(who, hex_id, {key: text})
            return
        current = dev.info.settings.model_dump(mode="json", by_alias=True)
        if f.element == "o":
            outlets = current["outlets"]
            if f.index <= len(outlets):
                outlets[f.index - 1]["name"] = text
            await devices.update_settings(who, hex_id, {"outlets": outlets})
            return
        key = {"i": "inputNames", "b": "branchNames", "s": "sensorNames"}[f.element]
        names = list(current.get(key, []))
        while len(names) < f.index:
            names.append("")
        names[f.index - 1] = text
        await devices.update_settings(who, hex_id, {key: names})

    async def _arm(self, dev: Any, value: int, who: Principal) -> int | None:
        state = self.unit_state(dev.hex_id)
        if value == 0:
            state.armed_until = 0.0
            return None
        if value != ARM_KEY:
            return ILLEGAL_VALUE
        state.armed_until = time.monotonic() + self.arm_seconds
        state.status = 1
        await self.core.audit.record(
            who, "outlet.unlock", f"sensor/{dev.hex_id}/o",
            f"Modbus switching of PDU {dev.hex_id} armed for {self.arm_seconds:g} s",
            severity=Severity.LOG, device=dev.hex_id)
        return None

    async def _command(self, dev: Any, value: int, who: Principal) -> int | None:
        state = self.unit_state(dev.hex_id)
        armed = state.armed_until > time.monotonic()
        state.command = value
        if not armed:
            state.status = STATUS_NOT_ARMED
            return ILLEGAL_VALUE
        action, outlet = _ACTIONS.get(value >> 8), value & 0xFF
        model = dev.info.model
        if action is None or not 0 <= outlet <= model.outlets:
            state.status = STATUS_NO_OUTLET
            return ILLEGAL_VALUE
        if not model.switchable:
            state.status = STATUS_NOT_SWITCHABLE
            return ILLEGAL_VALUE
        state.armed_until = 0.0                      # one command per arming
        targets = range(1, model.outlets + 1) if outlet == 0 else (outlet,)
        try:
            for n in targets:
                await self.core.devices.switch(who, dev.hex_id, n, action)
        except EnertegError:
            state.status = STATUS_REFUSED
            raise
        state.status = STATUS_DONE
        state.sequence = (state.sequence + 1) & 0xFFFF
        return None
