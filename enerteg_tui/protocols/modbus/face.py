"""What the Modbus face answers: registers from the core's live state, per request.

``ModbusFace.read`` answers one read request (unit, address, count) synchronously from
live state, so one request sees one consistent state (nothing awaits in between). No
datastore is filled: the map gives the fields of the range (a plan cached per range),
each field reads its value from the device's live groups at that moment. Only the small
Device ID → PDU table is rebuilt, after a sweep or a settings write. ``ModbusFace.write`` carries out
a write through the same core calls and permission check as the shell (``writes``).
No pymodbus here: ``server`` adapts this to pymodbus's server context, and the tests and
the benchmark can call it directly.

Units: a PDU answers as its Device ID (1-247); 0 and 255 are the controller. A unit no
PDU has, a Device ID two PDUs share, and a PDU that is stale or unreachable answer
exception 0x0B: never old numbers.
"""

from __future__ import annotations

import struct
import time
from collections.abc import Callable
from typing import Any

from ...core.live import DeviceLive
from ...core.model import DeviceState, OutletState, PowerUpMode, RingState
from ...core.quantities import Component
from ...core.services import CoreServices

from .regmap import LAYOUT, NAN_WORDS, Field, RegisterMap, encode, load_map

__all__ = ["ModbusFace", "ILLEGAL_FUNCTION", "ILLEGAL_ADDRESS", "ILLEGAL_VALUE",
           "DEVICE_FAILURE", "DEVICE_BUSY", "GATEWAY_NO_RESPONSE", "CONTROLLER_UNITS",
           "MAX_READ", "MAX_WRITE"]

ILLEGAL_FUNCTION, ILLEGAL_ADDRESS, ILLEGAL_VALUE, DEVICE_FAILURE = 0x01, 0x02, 0x03, 0x04
DEVICE_BUSY, GATEWAY_NO_RESPONSE = 0x06, 0x0B
CONTROLLER_UNITS = (0, 255)
MAX_READ, MAX_WRITE = 125, 123
READ_FCS = (3, 4)

_FEED = {"None": 0, "A": 1, "B": 2, "C": 3, "D": 4}
_POWER_UP = {PowerUpMode.NO_SWITCHING_ON_POWER_UP: 1, PowerUpMode.SYSTEM_DELAY: 2,
             PowerUpMode.INDIVIDUAL_DELAY: 3, PowerUpMode.NO_SWITCHING_ON_POWER_DOWN: 4}
_RING = {RingState.CLOSED: 0, RingState.OPEN: 1, RingState.BROKEN: 2}
_SEVERITY = {"Warning": 1, "Critical": 2}
_SENSOR_TYPE = {"temperature": 1, "humidity": 2}
_COMPONENTS = {c.value: c for c in Component}
_F32 = struct.Struct(">f").pack
_F32_WORDS = struct.Struct(">HH").unpack


def _mac(text: str) -> bytes:
    try:
        return bytes.fromhex(text.replace(":", "").replace("-", ""))[:6]
    except ValueError:
        return b""


class ModbusFace:
    """Reads and writes of the Modbus face over the core (one per running server)."""

    def __init__(self, core: CoreServices, *, allow_write: Callable[[], bool],
                 rmap: RegisterMap | None = None, arm_seconds: float = 10.0) -> None:
        from .writes import Writes
        self.core = core
        self.map = rmap or load_map()
        self.allow_write = allow_write
        self.writes = Writes(core, self, arm_seconds=arm_seconds)
        self._shape: tuple[Any, ...] | None = None
        self._settings_epoch = 0
        """Bumped by ``writes`` after a settings change (a new Device ID shows at once)."""
        self._units: dict[int, DeviceLive] = {}
        self.requests = 0

    # ------------------------------------------------------------------ units
    def units(self) -> dict[int, DeviceLive]:
        """Device ID → device, rebuilt when the ring's shape may have changed (a sweep,
        a PDU added or removed, a settings change through the core); a Device ID two PDUs
        share belongs to neither."""
        live = self.core.live
        shape = (live.bus.sweeps, len(live.devices), self._settings_epoch)
        if shape != self._shape:
            by_id: dict[int, list[DeviceLive]] = {}
            for d in live.devices.values():
                by_id.setdefault(d.info.settings.device_id, []).append(d)
            self._units = {i: ds[0] for i, ds in by_id.items() if len(ds) == 1}
            self._shape = shape
        return self._units

    def device(self, unit: int) -> DeviceLive | None:
        """The running PDU answering as ``unit``, or None (answer 0x0B)."""
        dev = self.units().get(unit)
        if dev is None or dev.state is not DeviceState.RUNNING:
            return None
        return dev

    def known(self, unit: int) -> bool:
        """Whether ``unit`` is the controller or a running PDU."""
        return unit in CONTROLLER_UNITS or self.device(unit) is not None

    # ------------------------------------------------------------------ reads
    def read(self, unit: int, address: int, count: int) -> list[int] | int:
        """The registers ``address``…``address+count-1`` of ``unit``, or an exception code."""
        self.requests += 1
        if unit in CONTROLLER_UNITS:
            scope, dev = "controller", None
        else:
            dev = self.device(unit)
            if dev is None:
                return GATEWAY_NO_RESPONSE
            scope = "pdu"
        if not 1 <= count <= MAX_READ:
            return ILLEGAL_VALUE
        if self.map.block_of(scope, address, count) is None:
            return ILLEGAL_ADDRESS
        words = [0] * count
        ctx = _Context(self, dev)
        for f, lo, hi, dst in self.map.plan(scope, address, count):
            if f.quantity and f.kind == "float32":
                group = ctx.group(f)
                value = None if group is None else group.get(f.quantity)
                regs = NAN_WORDS if value is None else _F32_WORDS(_F32(value))
            else:
                regs = encode(f.kind, ctx.value(f), f.scale)
            words[dst:dst + hi - lo] = regs[lo:hi]
        return words

    async def write(self, unit: int, address: int, values: list[int],
                    client: str) -> int | None:
        """Carry out a write (FC06/FC16) from ``client``; None when done, else the code."""
        if not self.known(unit):
            return GATEWAY_NO_RESPONSE
        if not self.allow_write():
            return ILLEGAL_FUNCTION
        if not 1 <= len(values) <= MAX_WRITE:
            return ILLEGAL_VALUE
        return await self.writes.write(unit, address, values, client)


class _Context:
    """Values of one request: one device (or the controller), one moment."""

    def __init__(self, face: ModbusFace, dev: DeviceLive | None) -> None:
        self.face = face
        self.core = face.core
        self.dev = dev
        self._alarms: dict[tuple[str, int], int] | None = None
        self._counts: dict[str, int] = {}
        self._groups: dict[tuple[str, int], dict[str, float] | None] = {}

    def _alarm_levels(self) -> dict[tuple[str, int], int]:
        """Worst active alarm per (component, index) of this device; ("", 0) the device."""
        if self._alarms is None:
            levels: dict[tuple[str, int], int] = {}
            hex_id = self.dev.hex_id if self.dev else None
            for a in self.core.alarms.active():
                if a.device != hex_id:
                    continue
                level = _SEVERITY.get(a.severity, 1)
                for key in ((a.component, a.index), ("", 0)):
                    levels[key] = max(levels.get(key, 0), level)
            self._alarms = levels
        return self._alarms

    def value(self, f: Field) -> Any:
        src = f.source
        if src.startswith("q:"):
            return self.quantity(f, src[2:])
        getter = _GETTERS.get(src)
        if getter is None:
            return None
        return getter(self, f)

    # -------------------------------------------------------------- element values
    def _count(self, element: str) -> int:
        n = self._counts.get(element)
        if n is None:
            dev = self.dev
            assert dev is not None
            m = dev.info.model
            n = {"t": 1, "i": m.phases, "b": m.branches, "o": m.outlets,
                 "s": len(dev.info.sensors)}.get(element, 0)
            self._counts[element] = n
        return n

    def _exists(self, f: Field) -> bool:
        if f.element == "t":
            return True
        return 1 <= f.index <= self._count(f.element)

    def group(self, f: Field) -> dict[str, float] | None:
        """The live values of ``f``'s element (None: no such element, or no values)."""
        key = (f.element, f.index)
        if key in self._groups:
            return self._groups[key]
        dev = self.dev
        group = None
        if dev is not None and self._exists(f):
            group = dev.groups.get((_COMPONENTS[f.element], f.index))
        self._groups[key] = group
        return group

    def quantity(self, f: Field, key: str) -> float | None:
        group = self.group(f)
        return None if group is None else group.get(key)


def _header_state(c: _Context, f: Field) -> int:
    return c._alarm_levels().get(("", 0), 0) if c.dev else max(
        [_SEVERITY.get(a.severity, 1) for a in c.core.alarms.active()], default=0)


def _active_alarms(c: _Context, f: Field) -> int:
    if c.dev is None:
        return len(c.core.alarms.active())
    hex_id = c.dev.hex_id
    return sum(1 for a in c.core.alarms.active() if a.device == hex_id)


def _data_age(c: _Context, f: Field) -> int | None:
    if c.dev is None:
        at = c.core.live.bus.last_sweep_at
    else:
        at = c.dev.last_ok_at
    return None if at is None else max(0, int(time.time() - at))


def _element_state(c: _Context, f: Field) -> int | None:
    if c.dev is None or not c._exists(f):
        return None
    if f.element == "s":
        return c._alarm_levels().get(("s", f.index), 0)
    return c._alarm_levels().get((f.element, f.index), 0)


def _parent(c: _Context, f: Field) -> int:
    m = c.dev.info.model if c.dev else None
    if m is None or not c._exists(f):
        return 0
    if f.element == "o" and f.index <= len(m.outlet_phase):
        return m.outlet_phase[f.index - 1]
    if f.element == "b" and f.index <= len(m.branch_phase):
        return m.branch_phase[f.index - 1]
    return 0


def _relay(c: _Context, f: Field) -> int | None:
    dev = c.dev
    if dev is None or f.element != "o" or not dev.info.model.switchable or not c._exists(f):
        return None
    pending = dev.pending_outlets.get(f.index)
    if pending is not None:
        return 2 if pending is OutletState.ON else 3
    state = dev.outlet_states.get(f.index)
    return None if state is None else (1 if state is OutletState.ON else 0)


def _rating(c: _Context, f: Field) -> int:
    if c.dev is None:
        return 0
    m = c.dev.info.model
    if f.element == "b":
        return round(m.branch_rating_a) if c._exists(f) else 0
    if f.element in ("hdr", "t", "i"):
        return round(m.rating_a) if f.element != "i" or c._exists(f) else 0
    return 0


def _element_name(c: _Context, f: Field) -> str:
    if c.dev is None or f.element == "t" or not c._exists(f):
        return ""
    s = c.dev.info.settings
    names: list[Any] = {"i": s.input_names, "b": s.branch_names, "s": s.sensor_names,
                        "o": [o.name for o in s.outlets]}.get(f.element, [])
    return str(names[f.index - 1]) if f.index <= len(names) else ""


def _outlet_setting(attr: str) -> Callable[[_Context, Field], float | None]:
    def get(c: _Context, f: Field) -> float | None:
        if c.dev is None or f.element != "o" or not c._exists(f):
            return None
        outlets = c.dev.info.settings.outlets
        return float(getattr(outlets[f.index - 1], attr)) if f.index <= len(outlets) else None
    return get


def _sensor_value(c: _Context, f: Field) -> float | None:
    dev = c.dev
    if dev is None or not c._exists(f):
        return None
    kind = dev.info.sensors[f.index - 1].value
    group = dev.groups.get((Component.SENSOR, f.index)) or {}
    return group.get(kind)


def _sensor_type(c: _Context, f: Field) -> int | None:
    if c.dev is None or not c._exists(f):
        return None
    return _SENSOR_TYPE.get(c.dev.info.sensors[f.index - 1].value, 0)


def _name(c: _Context, f: Field) -> str:
    if f.element in ("i", "b", "o", "s", "t"):
        return _element_name(c, f)
    return c.dev.info.settings.name if c.dev else ""


def _ident(attr: str) -> Callable[[_Context, Field], Any]:
    return lambda c, f: getattr(c.dev.info.identification, attr) if c.dev else ""


def _settings(attr: str) -> Callable[[_Context, Field], Any]:
    return lambda c, f: getattr(c.dev.info.settings, attr) if c.dev else ""


def _model(count: Callable[[Any], int]) -> Callable[[_Context, Field], int]:
    return lambda c, f: count(c.dev) if c.dev else 0


def _presence(c: _Context, f: Field) -> int:
    ids = c.face.units()
    word = 0
    for bit in range(16):
        dev = ids.get(f.index * 16 + bit)
        if dev is not None and dev.state is DeviceState.RUNNING:
            word |= 1 << bit
    return word


def _directory(c: _Context, f: Field) -> int:
    devs = sorted(c.core.live.devices.values(), key=lambda d: d.info.position)
    return devs[f.index].info.settings.device_id if f.index < len(devs) else 0


def _severity_count(name: str) -> Callable[[_Context, Field], int]:
    return lambda c, f: sum(1 for a in c.core.alarms.active() if a.severity == name)


_GETTERS: dict[str, Callable[[_Context, Field], Any]] = {
    "magic": lambda c, f: "ETEG",
    "layout_major": lambda c, f: LAYOUT[0],
    "layout_minor": lambda c, f: LAYOUT[1],
    "unit_type": lambda c, f: 1 if c.dev else 0,
    "device_id": lambda c, f: c.dev.info.settings.device_id if c.dev else 0,
    "ring_position": lambda c, f: c.dev.info.position + 1 if c.dev else 0,
    "inputs": _model(lambda d: d.info.model.phases),
    "branches": _model(lambda d: d.info.model.branches),
    "outlets": _model(lambda d: d.info.model.outlets),
    "switched_outlets": _model(lambda d: d.info.model.outlets if d.info.model.switchable else 0),
    "sensors": _model(lambda d: len(d.info.sensors)),
    "rating": _rating,
    "feed": lambda c, f: _FEED.get(c.dev.info.settings.feed.value, 0) if c.dev else 0,
    "unit_state": _header_state,
    "active_alarms": _active_alarms,
    "data_age": _data_age,
    "update_counter": lambda c, f: c.core.live.bus.sweeps & 0xFFFF,
    "map_crc": lambda c, f: c.face.map.crc,
    "name": _name,
    "location": _settings("location"),
    "extra_info": _settings("extra_info"),
    "serial": _ident("serial"),
    "part_number": _ident("part_number"),
    "product_id": _ident("product_id"),
    "sales_order": _ident("sales_order"),
    "firmware": _ident("firmware_version"),
    "hardware": _ident("hardware_version"),
    "voltage_rating": _ident("voltage_rating"),
    "form_factor": _ident("form_factor"),
    "data_model": _ident("data_model"),
    "mac": lambda c, f: _mac(c.dev.info.identification.mac) if c.dev else b"",
    "hex_id": lambda c, f: c.dev.hex_id if c.dev else "",
    "power_up_mode": lambda c, f: _POWER_UP.get(c.dev.info.settings.power_up_mode, 0) if c.dev else 0,
    "outlet_delay": lambda c, f: c.dev.info.settings.outlet_delay_ms if c.dev else 0,
    "locate": lambda c, f: 0,
    "reset_peaks": lambda c, f: 0,
    "reset_peak": lambda c, f: 0 if c.dev is None or c._exists(f) else None,
    "arm": lambda c, f: c.face.writes.arm_left(c.dev.hex_id) if c.dev else 0,
    "command": lambda c, f: c.face.writes.unit_state(c.dev.hex_id).command if c.dev else 0,
    "status": lambda c, f: c.face.writes.unit_state(c.dev.hex_id).status if c.dev else 0,
    "sequence": lambda c, f: c.face.writes.unit_state(c.dev.hex_id).sequence & 0xFFFF if c.dev else 0,
    "state": _element_state,
    "parent": _parent,
    "relay": _relay,
    "delay": _outlet_setting("delay"),
    "power_cycle_delay": _outlet_setting("power_cycle_delay"),
    "value": _sensor_value,
    "type": _sensor_type,
    "pdus_found": lambda c, f: len(c.core.live.devices),
    "ring_state": lambda c, f: _RING.get(c.core.live.bus.ring_state, 0),
    "ring_break": lambda c, f: (c.core.live.bus.breaks[0] + 1) if c.core.live.bus.breaks else 0,
    "last_sweep": lambda c, f: min(0xFFFE, round(c.core.live.bus.last_sweep_ms)),
    "poll_interval": lambda c, f: min(0xFFFE, round(c.core.live.bus.interval_s * 1000)),
    "writes_enabled": lambda c, f: 1 if c.face.allow_write() else 0,
    "alarms_critical": _severity_count("Critical"),
    "alarms_warning": _severity_count("Warning"),
    "directory": _directory,
    "presence": _presence,
}
"""CSV ``source`` → value (None: the type's "not available")."""
