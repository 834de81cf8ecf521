"""SNMP SET through the core: the same calls and permission checks as the shell.

``Writes.plan`` runs synchronously inside pysnmp's SET handling: it resolves each
varbind to a writable column and an existing row, checks the value's type and range,
and returns the core calls to make (``DeviceService.update_settings``, ``switch``,
``blink``, ``reset_peaks``), each under an SNMP principal (face ``snmp``, the v3 user or the
community's *role* as the user name, never the community itself, and the manager's
address), so the audit log says who did it from where. Anything wrong raises pysnmp's
SMI error for the varbind and nothing changes.

The system group's sysContact, sysName and sysLocation are written through the settings
service (``config/snmp_agent`` snmpContact/snmpName/snmpLocation), which checks
``administer`` and audits the change: for that one call the writer's principal also
holds the admin role, which an administrator granted by allowing SET (the keys are the
only settings SNMP reaches).

Outlet switching is unlock + command: ``etgOutletUnlock = unlocked(2)`` opens a window
of ``unlock_seconds`` (10 s) for that outlet; one ``etgOutletCommand`` inside it is
carried out and closes it; outside it the answer is ``inconsistentValue``.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Awaitable, Callable
from typing import Any

from pysnmp.proto import rfc1902
from pysnmp.smi import error as smi_error

from ...core.audit import Severity
from ...core.model import Feed, OutletAction, PowerUpMode
from ...core.permissions import Principal, Role
from ...core.services import CoreServices
from ...core.settings import SnmpAgentSettings
from .mib import Mib

__all__ = ["Writes", "WRITER", "UNLOCK_SECONDS", "READ_NAME", "WRITE_NAME", "SYS_WRITABLE"]

READ_NAME = "etg-read-community"
"""securityName of the read community (the community itself is never a name)."""
WRITE_NAME = "etg-write-community"
"""securityName of the write community."""

UNLOCK_SECONDS = 10.0
WRITER = frozenset({Role.READWRITE, Role.POWER})
"""Roles of a principal allowed to SET: device settings and switching, nothing else
(users, settings, the audit log stay with the shell)."""

SYS = (1, 3, 6, 1, 2, 1, 1)
SYS_WRITABLE: dict[tuple[int, ...], str] = {
    SYS + (4,): "snmpContact", SYS + (5,): "snmpName", SYS + (6,): "snmpLocation"}
"""sysContact, sysName, sysLocation → the ``config/snmp_agent`` key each is stored in."""

_FEEDS = {1: Feed.NONE, 2: Feed.A, 3: Feed.B, 4: Feed.C, 5: Feed.D}
_MODES = {1: PowerUpMode.NO_SWITCHING_ON_POWER_UP, 2: PowerUpMode.SYSTEM_DELAY,
          3: PowerUpMode.INDIVIDUAL_DELAY, 4: PowerUpMode.NO_SWITCHING_ON_POWER_DOWN}
_ACTIONS = {2: OutletAction.ON, 3: OutletAction.OFF, 4: OutletAction.CYCLE}

Step = Callable[[], Awaitable[Any]]
_NUMBER_TAGS = (rfc1902.Integer32.tagSet, rfc1902.Unsigned32.tagSet)


def _text(value: Any, name: Any, idx: int, limit: int = 64) -> str:
    if not isinstance(value, rfc1902.OctetString):
        raise smi_error.WrongTypeError(name=name, idx=idx)
    raw = bytes(value)
    if len(raw) > limit:
        raise smi_error.WrongLengthError(name=name, idx=idx)
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        raise smi_error.WrongValueError(name=name, idx=idx) from None


def _int(value: Any, name: Any, idx: int, allowed: Any) -> int:
    # INTEGER/Integer32 or Unsigned32/Gauge32 (net-snmp's "i" and "u"), by BER tag
    if getattr(value, "tagSet", None) not in _NUMBER_TAGS:
        raise smi_error.WrongTypeError(name=name, idx=idx)
    number = int(value)
    if number not in allowed:
        raise smi_error.WrongValueError(name=name, idx=idx)
    return number


class Writes:
    """Plans SETs against the live tree and holds the outlets' unlock windows."""

    def __init__(self, core: CoreServices, mib: Mib, settings: SnmpAgentSettings, *,
                 unlock_seconds: float = UNLOCK_SECONDS) -> None:
        self.core = core
        self.unlock_seconds = unlock_seconds
        self.writers: set[str] = set()
        """securityNames allowed to SET (empty while SET is off)."""
        self._windows: dict[tuple[str, int], float] = {}
        dev = mib.columns("etgDevEntry")
        out = mib.columns("etgOutletEntry")
        self.dev_entry = mib.oid("etgDevEntry")
        self.bus_device_id = mib.oid("etgBusDeviceId")
        self.outlet_entry = mib.oid("etgOutletEntry")
        self.dev_cols = {o.oid[-1]: n for n, o in dev.items() if o.access == "read-write"}
        self.outlet_cols = {o.oid[-1]: n for n, o in out.items() if o.access == "read-write"}

    # ------------------------------------------------------------------ windows
    def unlocked(self, hex_id: str, outlet: int) -> bool:
        """Whether the switching window of ``outlet`` is open now."""
        until = self._windows.get((hex_id, outlet))
        return until is not None and time.monotonic() < until

    def _consume(self, hex_id: str, outlet: int) -> bool:
        until = self._windows.pop((hex_id, outlet), None)
        return until is not None and time.monotonic() < until

    # ------------------------------------------------------------------ planning
    def principal(self, security_name: Any, model: int, address: Any) -> Principal:
        """The principal a SET runs as: face ``snmp``, never the community in the name."""
        name = str(security_name)
        if name == WRITE_NAME:
            user = "snmp:v2c write community"
        else:
            user = f"snmp:{name}"
        host = address[0] if isinstance(address, tuple) and address else str(address or "")
        roles = WRITER if name in self.writers else frozenset({Role.READONLY})
        return Principal(user=user, roles=roles, face="snmp", address=str(host))

    def plan(self, varbinds: list[Any], security_name: Any, model: int,
             address: Any) -> list[tuple[int, Step]]:
        """The core calls for a SET PDU, in varbind order; raises an SMI error naming the
        first bad varbind (nothing runs then)."""
        who = self.principal(security_name, model, address)
        if str(security_name) not in self.writers:
            raise smi_error.NoAccessError(name=varbinds[0][0] if varbinds else None, idx=0)
        steps: list[tuple[int, Step]] = []
        for idx, (name, value) in enumerate(varbinds):
            steps.append((idx, self._one(tuple(name), name, value, idx, who)))
        return steps

    def _device(self, dev_id: int, name: Any, idx: int) -> Any:
        matches = [d for d in self.core.live.devices.values()
                   if d.info.settings.device_id == dev_id]
        if len(matches) != 1:
            raise smi_error.NoCreationError(name=name, idx=idx)
        return matches[0]

    def _one(self, oid: tuple[int, ...], name: Any, value: Any, idx: int,
             who: Principal) -> Step:
        devices = self.core.devices
        key = SYS_WRITABLE.get(oid[:-1]) if oid[-1:] == (0,) else None
        if key is not None:
            change = {key: _text(value, name, idx, limit=255)}
            admin = dataclasses.replace(who, roles=who.roles | {Role.ADMIN})
            config = self.core.config
            return lambda: config.put(admin, "snmp_agent", change)
        n = len(self.bus_device_id)
        if oid[:n] == self.bus_device_id and len(oid) == n + 1:
            position = oid[n] - 1                  # etgBusPosition = ring position + 1
            dev = next((d for d in self.core.live.devices.values()
                        if d.info.position == position), None)
            if dev is None:
                raise smi_error.NoCreationError(name=name, idx=idx)
            new_id = _int(value, name, idx, range(1, 248))
            hex_id = dev.hex_id
            return lambda: devices.update_settings(who, hex_id, {"deviceId": new_id})
        n = len(self.dev_entry)
        if oid[:n] == self.dev_entry and len(oid) == n + 2:
            col = self.dev_cols.get(oid[n])
            if col is None:
                raise smi_error.NotWritableError(name=name, idx=idx)
            dev = self._device(oid[n + 1], name, idx)
            hex_id = dev.hex_id
            if col == "etgDevLocate":
                _int(value, name, idx, (1, 2))
                if int(value) == 1:
                    return _nothing
                return lambda: devices.blink(who, hex_id, 10.0)
            if col == "etgDevResetPeaks":
                if _int(value, name, idx, (1, 2)) == 1:
                    return _nothing
                return lambda: devices.reset_peaks(who, hex_id)
            change: dict[str, Any]
            if col in ("etgDevName", "etgDevLocation", "etgDevExtraInfo"):
                key = {"etgDevName": "name", "etgDevLocation": "location",
                       "etgDevExtraInfo": "extraInfo"}[col]
                change = {key: _text(value, name, idx)}
            elif col == "etgDevFeed":
                change = {"feed": _FEEDS[_int(value, name, idx, _FEEDS)].value}
            elif col == "etgDevPowerUpMode":
                change = {"powerUpMode": _MODES[_int(value, name, idx, _MODES)].value}
            elif col == "etgDevFixedOutletDelay":
                change = {"outletDelayMs": _int(value, name, idx, range(0, 60001))}
            else:
                raise smi_error.NotWritableError(name=name, idx=idx)
            return lambda: devices.update_settings(who, hex_id, change)
        n = len(self.outlet_entry)
        if oid[:n] == self.outlet_entry and len(oid) == n + 3:
            col = self.outlet_cols.get(oid[n])
            if col is None:
                raise smi_error.NotWritableError(name=name, idx=idx)
            dev = self._device(oid[n + 1], name, idx)
            outlet = oid[n + 2]
            if not 1 <= outlet <= dev.info.model.outlets:
                raise smi_error.NoCreationError(name=name, idx=idx)
            hex_id = dev.hex_id
            if col == "etgOutletName":
                return self._outlet_setting(who, hex_id, outlet, "name", _text(value, name, idx))
            if not dev.info.model.switchable:
                raise smi_error.NotWritableError(name=name, idx=idx)
            if col == "etgOutletSwitchOnDelay":
                ms = _int(value, name, idx, range(0, 3_600_001))
                return self._outlet_setting(who, hex_id, outlet, "delay", ms / 1000)
            if col == "etgOutletCycleOffTime":
                ms = _int(value, name, idx, range(1000, 3_600_001))
                return self._outlet_setting(who, hex_id, outlet, "powerCycleDelay", ms / 1000)
            if col == "etgOutletUnlock":
                if _int(value, name, idx, (1, 2)) == 1:
                    self._windows.pop((hex_id, outlet), None)
                    return _nothing
                self._windows[(hex_id, outlet)] = time.monotonic() + self.unlock_seconds
                audit = self.core.audit
                text = (f"Switching of outlet {outlet} of PDU {hex_id} unlocked for "
                        f"{self.unlock_seconds:g} s")
                return lambda: audit.record(who, "outlet.unlock", f"sensor/{hex_id}/o/{outlet}",
                                            text, severity=Severity.LOG, device=hex_id)
            if col == "etgOutletCommand":
                number = _int(value, name, idx, (1, 2, 3, 4))
                if number == 1:
                    return _nothing
                if not self._consume(hex_id, outlet):
                    raise smi_error.InconsistentValueError(name=name, idx=idx)
                action = _ACTIONS[number]
                return lambda: devices.switch(who, hex_id, outlet, action)
            raise smi_error.NotWritableError(name=name, idx=idx)
        raise smi_error.NotWritableError(name=name, idx=idx)


    def _outlet_setting(self, who: Principal, hex_id: str, outlet: int, key: str,
                        value: Any) -> Step:
        """One key of one outlet's settings, through ``update_settings`` as the shell's
        ``put sensor/<hexid>/o/<n>`` does (read when the SET runs, so two SETs in one
        PDU do not undo each other)."""
        devices = self.core.devices

        async def change() -> None:
            current = devices.get(hex_id).info.settings
            outlets = [o.model_dump(mode="json", by_alias=True) for o in current.outlets]
            outlets[outlet - 1][key] = value
            await devices.update_settings(who, hex_id, {"outlets": outlets})
        return change


async def _nothing() -> None:
    return None
