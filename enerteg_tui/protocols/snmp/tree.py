"""The agent's instrumentation: OIDs answered from the core's live state per request.

Nothing is registered per value and nothing is rebuilt per sweep. A ``Tree`` holds a
few nodes in OID order (the system group, snmpEngine, the controller scalars and one
node per table); a table node knows its columns (from the compiled MIB) and asks a
row source for the sorted list of row indexes, which is cached until the ring's
*shape* changes (PDUs added, removed, re-numbered, state changes), not when values
change. Each value is read from ``LiveState`` at the moment it is asked for.

GETNEXT walks columns in order and, within a column, rows in index order, skipping the
rows where the value is absent (sparse rows: a quantity a PDU does not measure, or the
values of a PDU that stopped answering, have no instance). Values are raw ``(BER tag,
Python value)`` pairs (``Raw``): the v2c fast path encodes them directly, pysnmp's path
turns them into its base types (``to_pysnmp``: Integer32 hundredths, never the MIB's
``d-2`` textual conventions, which pysnmp would scale again on input).
"""

from __future__ import annotations

import bisect
import datetime
import struct
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from pysnmp.proto import rfc1902

from ...core.live import DeviceLive, LiveState
from ...core.model import DeviceState, OutletState, PowerUpMode, RingState, SensorType
from ...core.quantities import Component
from .mib import Mib

__all__ = ["Tree", "TableNode", "AlarmRows", "date_and_time", "Raw", "to_pysnmp", "centi",
           "text", "COUNTER64", "ScalarNode", "Row", "OID", "build_tree", "QUANTITY_COLUMNS",
           "I32_MIN", "I32_MAX"]

OID = tuple[int, ...]
I32_MIN, I32_MAX = -(2**31), 2**31 - 1

Getter = Callable[[Any], Any]
"""Row (or None for scalars) → a pysnmp value, or None when absent."""


Raw = tuple[int, Any]
"""A value as the tree hands it out: (BER tag, Python value). Building pyasn1 objects
per value was most of a walk's cost after pysnmp's own; the fast path (``fastpath``)
encodes raw values directly, pysnmp's path converts them with ``to_pysnmp``."""
INTEGER, OCTETS, OBJECT_ID, GAUGE, TICKS, COUNTER64 = 0x02, 0x04, 0x06, 0x42, 0x43, 0x46
_PYSNMP: dict[int, Callable[[Any], Any]] = {
    INTEGER: rfc1902.Integer32, OCTETS: rfc1902.OctetString, OBJECT_ID: rfc1902.ObjectName,
    GAUGE: rfc1902.Unsigned32, TICKS: rfc1902.TimeTicks, COUNTER64: rfc1902.Counter64}


def to_pysnmp(raw: Raw) -> Any:
    """The pysnmp value of a raw one."""
    return _PYSNMP[raw[0]](raw[1])


def i32(value: int) -> Raw:
    return (INTEGER, value)


def u32(value: int) -> Raw:
    return (GAUGE, value)


def ticks(value: int) -> Raw:
    return (TICKS, value)


def object_id(value: tuple[int, ...]) -> Raw:
    return (OBJECT_ID, value)


def octets(value: bytes) -> Raw:
    return (OCTETS, value)


def centi(value: float | None) -> Raw | None:
    """Hundredths of the unit as an Integer32 (clamped), None when absent."""
    if value is None:
        return None
    n = round(value * 100)
    return (INTEGER, I32_MAX if n > I32_MAX else I32_MIN if n < I32_MIN else n)


def whole(value: float | None) -> Raw | None:
    if value is None:
        return None
    n = round(value)
    return (INTEGER, I32_MAX if n > I32_MAX else I32_MIN if n < I32_MIN else n)


def watt_hours(kwh: float | None) -> Raw | None:
    """An energy in kWh (kVAh) as a Counter64 in Wh (VAh)."""
    if kwh is None or kwh < 0:
        return None
    return (COUNTER64, round(kwh * 1000))


def text(value: str) -> Raw:
    return (OCTETS, value.encode("utf-8")[:255])


QUANTITY_COLUMNS: dict[str, tuple[str, Callable[[float | None], Any]]] = {
    "voltage": ("Voltage", centi), "voltageDip": ("VoltageDip", centi),
    "voltagePeak": ("VoltagePeak", centi), "current": ("Current", centi),
    "currentPeak": ("CurrentPeak", centi), "neutralCurrent": ("NeutralCurrent", centi),
    "residualCurrent": ("ResidualCurrentMa", whole), "activePower": ("ActivePower", centi),
    "apparentPower": ("ApparentPower", centi), "reactivePower": ("ReactivePower", centi),
    "powerFactor": ("PowerFactor", centi), "energy": ("EnergyWh", watt_hours),
    "apparentEnergy": ("ApparentEnergyVAh", watt_hours), "frequency": ("Frequency", centi),
    "thd": ("Thd", centi), "crestFactor": ("CrestFactor", centi),
}
"""Quantity key → (MIB column suffix, encoder): ``etgInput`` + ``Voltage`` …"""


@dataclass(slots=True)
class Row:
    """One row of a component table: a device and the component's 1-based index."""

    dev: DeviceLive
    index: int


class ScalarNode:
    """One scalar object: instance ``oid.0``."""

    def __init__(self, oid: OID, getter: Callable[[], Any]) -> None:
        self.prefix = oid
        self.instance = oid + (0,)
        self.getter = getter

    def get(self, oid: OID) -> Any:
        return self.getter() if oid == self.instance else None

    def next(self, oid: OID) -> tuple[OID, Any] | None:
        if oid < self.instance:
            value = self.getter()
            if value is not None:
                return self.instance, value
        return None

    def walk(self, oid: OID) -> Iterator[tuple[OID, Any, int]]:
        """As ``next``, as a sequence: (instance, value, where the index starts)."""
        if oid < self.instance:
            value = self.getter()
            if value is not None:
                yield self.instance, value, len(self.prefix)


class TableNode:
    """A conceptual table under its entry OID: columns × rows from a row source."""

    def __init__(self, entry: OID, columns: dict[int, Getter],
                 rows: Callable[[], tuple[list[OID], list[Any]]],
                 setters: dict[int, Any] | None = None) -> None:
        self.prefix = entry
        self.columns = dict(sorted(columns.items()))
        self.subs = list(self.columns)
        self.rows = rows
        self.setters = setters or {}

    def split(self, oid: OID) -> tuple[int, OID] | None:
        """(column, index) of an instance OID under this entry, or None."""
        n = len(self.prefix)
        if len(oid) <= n + 1 or oid[:n] != self.prefix:
            return None
        return oid[n], oid[n + 1:]

    def find(self, oid: OID) -> tuple[int, Any] | None:
        """(column, row) of an existing row, or None."""
        parts = self.split(oid)
        if parts is None or parts[0] not in self.columns:
            return None
        col, index = parts
        keys, rows = self.rows()
        i = bisect.bisect_left(keys, index)
        if i < len(keys) and keys[i] == index:
            return col, rows[i]
        return None

    def get(self, oid: OID) -> Any:
        found = self.find(oid)
        if found is None:
            return None
        col, row = found
        return self.columns[col](row)

    def next(self, oid: OID) -> tuple[OID, Any] | None:
        n = len(self.prefix)
        keys, rows = self.rows()
        if not keys:
            return None
        head = oid[:n]
        if head > self.prefix:          # past this table (also a shorter OID after it)
            return None
        if head < self.prefix or len(oid) == n:   # before it, or the entry/table itself
            start_col, index = 0, None
        else:
            start_col, index = oid[n], oid[n + 1:]
        for col in self.subs:
            if col < start_col:
                continue
            getter = self.columns[col]
            i = bisect.bisect_right(keys, index) if (col == start_col and index is not None) else 0
            for j in range(i, len(keys)):
                value = getter(rows[j])
                if value is not None:
                    return self.prefix + (col,) + keys[j], value
        return None

    def walk(self, oid: OID) -> Iterator[tuple[OID, Any, int]]:
        """The instances after ``oid`` in order, as repeated ``next`` would find them,
        without searching again for each: (instance, value, where the index starts)."""
        n = len(self.prefix)
        keys, rows = self.rows()
        if not keys:
            return
        head = oid[:n]
        if head > self.prefix:
            return
        if head < self.prefix or len(oid) == n:
            start_col, index = 0, None
        else:
            start_col, index = oid[n], oid[n + 1:]
        count = len(keys)
        for col in self.subs:
            if col < start_col:
                continue
            getter = self.columns[col]
            base = self.prefix + (col,)
            i = bisect.bisect_right(keys, index) if (col == start_col and index is not None) else 0
            for j in range(i, count):
                value = getter(rows[j])
                if value is not None:
                    yield base + keys[j], value, n + 1


class Tree:
    """Nodes in OID order; GET and GETNEXT over them."""

    def __init__(self, nodes: Iterable[Any]) -> None:
        self.nodes = sorted(nodes, key=lambda n: n.prefix)
        self.prefixes = [n.prefix for n in self.nodes]

    def node(self, oid: OID) -> Any:
        """The node whose subtree holds ``oid``, or None."""
        i = bisect.bisect_right(self.prefixes, oid) - 1
        if i >= 0:
            node = self.nodes[i]
            if oid[:len(node.prefix)] == node.prefix:
                return node
        return None

    def get(self, oid: OID) -> tuple[bool, Any]:
        """(object exists, value or None) for an instance OID."""
        node = self.node(oid)
        if node is None:
            return False, None
        return True, node.get(oid)

    def walk(self, oid: OID) -> Iterator[tuple[OID, Any, int]]:
        """Every instance after ``oid`` with a value, in order (what GETNEXT would find
        again and again): (instance, value, where its index starts). For one request
        only: the rows are those of the moment it starts."""
        i = max(0, bisect.bisect_right(self.prefixes, oid) - 1)
        for node in self.nodes[i:]:
            yield from node.walk(oid)

    def next(self, oid: OID) -> tuple[OID, Any, Any] | None:
        """(instance, value, node) of the first instance after ``oid`` with a value, or
        None (end of the MIB view)."""
        i = max(0, bisect.bisect_right(self.prefixes, oid) - 1)
        for node in self.nodes[i:]:
            found = node.next(oid)
            if found is not None:
                return found[0], found[1], node
        return None


# ---------------------------------------------------------------------- the live rows
class RingRows:
    """Row indexes of every table, from live state, cached while the ring's shape holds."""

    def __init__(self, live: LiveState) -> None:
        self.live = live
        self.epoch = 0
        """Bumped by the agent for every datagram: live state cannot change while one
        request is answered (one loop, no await), so the shape is checked once each."""
        self.maybe_changed: Callable[[], bool] = lambda: True
        """Whether the shape may have changed since the last look (the agent answers
        from its sweep listener and device events); comparing the shape of 100 PDUs
        for every request of a walk cost a fifth of the fast path's time."""
        self._checked = -1
        self._shape: tuple[Any, ...] | None = None
        self._tables: dict[str, tuple[list[OID], list[Any]]] = {}
        self.duplicates: set[str] = set()

    def _shape_now(self) -> tuple[Any, ...]:
        # what the row indexes depend on (a state change keeps the rows: values are
        # withdrawn per read)
        return tuple((h, d.info.position, d.info.settings.device_id, d.info.model,
                      len(d.info.sensors)) for h, d in self.live.devices.items())

    def table(self, name: str) -> tuple[list[OID], list[Any]]:
        if self._checked != self.epoch and (self._shape is None or self.maybe_changed()):
            self._checked = self.epoch
            shape = self._shape_now()
            if shape != self._shape:
                self._rebuild()
                self._shape = shape
        return self._tables[name]

    def _rebuild(self) -> None:
        devices = list(self.live.devices.values())
        by_id: dict[int, list[DeviceLive]] = {}
        for d in devices:
            by_id.setdefault(d.info.settings.device_id, []).append(d)
        self.duplicates = {d.hex_id for ds in by_id.values() if len(ds) > 1 for d in ds}
        indexed = sorted(((i, ds[0]) for i, ds in by_id.items() if len(ds) == 1),
                         key=lambda p: p[0])
        bus = sorted(devices, key=lambda d: d.info.position)
        tables: dict[str, tuple[list[OID], list[Any]]] = {
            "bus": ([(d.info.position + 1,) for d in bus], bus),
            "dev": ([(i,) for i, _ in indexed], [d for _, d in indexed]),
            "total": ([(i,) for i, _ in indexed], [Row(d, 0) for _, d in indexed]),
        }
        counts: dict[str, Callable[[DeviceLive], int]] = {
            "input": lambda d: d.info.model.phases,
            "branch": lambda d: d.info.model.branches,
            "outlet": lambda d: d.info.model.outlets,
            "sensor": lambda d: len(d.info.sensors),
        }
        for name, count in counts.items():
            keys: list[OID] = []
            rows: list[Row] = []
            for i, d in indexed:
                for n in range(1, count(d) + 1):
                    keys.append((i, n))
                    rows.append(Row(d, n))
            tables[name] = (keys, rows)
        self._tables = tables


# ---------------------------------------------------------------------- building
_RING = {RingState.CLOSED: 1, RingState.OPEN: 2, RingState.BROKEN: 3}
_ALARM_SEVERITY = {"Warning": 1, "Critical": 2}
_DEV_STATE = {DeviceState.RUNNING: 1, DeviceState.STALE: 2, DeviceState.UNREACHABLE: 3}
_FEED = {"None": 1, "A": 2, "B": 3, "C": 4, "D": 5}
_POWER_UP = {PowerUpMode.NO_SWITCHING_ON_POWER_UP: 1, PowerUpMode.SYSTEM_DELAY: 2,
             PowerUpMode.INDIVIDUAL_DELAY: 3, PowerUpMode.NO_SWITCHING_ON_POWER_DOWN: 4}
_SENSOR = {SensorType.TEMPERATURE: 17, SensorType.HUMIDITY: 18, SensorType.UNKNOWN: 99}
_COMPONENT_TABLES = {"Total": (Component.TOTAL, "total"), "Input": (Component.INPUT, "input"),
                     "Branch": (Component.BRANCH, "branch"),
                     "Outlet": (Component.OUTLET, "outlet")}
SYS = (1, 3, 6, 1, 2, 1, 1)
SNMP_ENGINE = (1, 3, 6, 1, 6, 3, 10, 2, 1)


def _measured(component: Component, key: str, encode: Callable[[float | None], Any]) -> Getter:
    def get(row: Row) -> Any:
        dev = row.dev
        if dev.state is not DeviceState.RUNNING:
            return None                     # withdrawn: values of a PDU that stopped answering
        group = dev.groups.get((component, row.index))
        return None if group is None else encode(group.get(key))
    return get


def _name(names: Callable[[DeviceLive], list[Any]], attr: str | None = None) -> Getter:
    def get(row: Row) -> Any:
        items = names(row.dev)
        if row.index > len(items):
            return None
        item = items[row.index - 1]
        return text(getattr(item, attr) if attr else item)
    return get


def date_and_time(ts: float) -> Raw:
    """SNMPv2-TC DateAndTime of a Unix time, in UTC (11 octets, offset +0:0)."""
    t = datetime.datetime.fromtimestamp(ts, datetime.timezone.utc)
    return octets(struct.pack(">HBBBBBBcBB", t.year, t.month, t.day, t.hour,
                                           t.minute, t.second, t.microsecond // 100_000,
                                           b"+", 0, 0))


class AlarmRows:
    """Rows of etgAlarmTable: the open alarms by id, read once per request."""

    def __init__(self, rows: RingRows, open_alarms: Callable[[], list[Any]]) -> None:
        self.rows = rows
        self.open_alarms = open_alarms
        self._epoch = -1
        self._table: tuple[list[OID], list[Any]] = ([], [])

    def table(self) -> tuple[list[OID], list[Any]]:
        if self._epoch != self.rows.epoch:
            self._epoch = self.rows.epoch
            alarms = sorted(self.open_alarms(), key=lambda a: a.id)
            self._table = ([(a.id,) for a in alarms], alarms)
        return self._table


def build_tree(mib: Mib, live: LiveState, *, system: Callable[[], Any], alarms_open: Callable[[], int],
               unlocked: Callable[[str, int], bool], started: float,
               engine: Callable[[], tuple[bytes, int, int]],
               host_name: Callable[[], str] = lambda: "",
               open_alarms: Callable[[], list[Any]] = list) -> tuple[Tree, RingRows]:
    """The agent's tree over ``live``.

    Args:
        system: the current ``config/snmp_agent`` settings (sysContact, sysName, sysLocation).
        host_name: the controller's host name (``config/hostname``), sysName while
            ``snmpName`` is empty, so that a manager never sees an unnamed node.
        open_alarms: the open alarms (active, or cleared and not acknowledged), the rows
            of etgAlarmTable.
        alarms_open: count of open alarms.
        unlocked: whether the switching window of (hex id, outlet) is open.
        started: monotonic time of the agent's start (sysUpTime).
        engine: (engine id, boots, time) for the snmpEngine group.
    """
    rows = RingRows(live)
    o = mib.oid

    def uptime() -> Any:
        return ticks(int((time.monotonic() - started) * 100) % 2**32)

    nodes: list[Any] = [
        ScalarNode(SYS + (1,), lambda: text(
            "EnerTEG ring controller (rack PDUs on a databus ring)")),
        ScalarNode(SYS + (2,), lambda: object_id(o("etgProductController"))),
        ScalarNode(SYS + (3,), uptime),
        ScalarNode(SYS + (4,), lambda: text(system().snmpContact)),
        ScalarNode(SYS + (5,), lambda: text(system().snmpName or host_name())),
        ScalarNode(SYS + (6,), lambda: text(system().snmpLocation)),
        ScalarNode(SYS + (7,), lambda: i32(2)),          # sysServices: internet (IP host)
        ScalarNode(SYS + (8,), lambda: ticks(0)),   # sysORLastChange: at start
        # sysORTable: the one capability this agent registers, ENERTEG-PDU-MIB's compliance
        TableNode(SYS + (9, 1), {
            2: lambda r: object_id(o("etgCompliance")),
            3: lambda r: text("ENERTEG-PDU-MIB: rack PDUs on the controller's databus ring"),
            4: lambda r: ticks(0),
        }, lambda: ([(1,)], [None])),
        ScalarNode(SNMP_ENGINE + (1,), lambda: octets(engine()[0])),
        ScalarNode(SNMP_ENGINE + (2,), lambda: i32(engine()[1])),
        ScalarNode(SNMP_ENGINE + (3,), lambda: i32(engine()[2])),
        ScalarNode(SNMP_ENGINE + (4,), lambda: i32(65507)),
        ScalarNode(o("etgCtlRingState"), lambda: i32(_RING[live.bus.ring_state])),
        ScalarNode(o("etgCtlBreakCount"), lambda: u32(len(live.bus.breaks))),
        ScalarNode(o("etgCtlDeviceCount"), lambda: u32(len(live.devices))),
        ScalarNode(o("etgCtlLastSweepMs"), lambda: u32(max(0, round(live.bus.last_sweep_ms)))),
        ScalarNode(o("etgCtlAlarmActiveCount"), lambda: u32(alarms_open())),
    ]

    def cols(entry: str, getters: dict[str, Getter]) -> dict[int, Getter]:
        columns = mib.columns(entry)
        out = {}
        for name, getter in getters.items():
            out[columns[name].oid[-1]] = getter
        return out

    def bus_state(d: DeviceLive) -> Any:
        if d.hex_id in rows.duplicates:
            return i32(4)
        return i32(_DEV_STATE[d.state])

    nodes.append(TableNode(o("etgBusEntry"), cols("etgBusEntry", {
        "etgBusHexId": lambda d: text(d.hex_id),
        "etgBusDeviceId": lambda d: u32(0 if d.hex_id in rows.duplicates
                                        else d.info.settings.device_id),
        "etgBusState": bus_state,
        "etgBusSerial": lambda d: text(d.info.identification.serial),
    }), lambda: rows.table("bus")))

    def dev(f: Callable[[DeviceLive], Any]) -> Getter:
        return f
    nodes.append(TableNode(o("etgDevEntry"), cols("etgDevEntry", {
        "etgDevName": dev(lambda d: text(d.info.settings.name)),
        "etgDevLocation": dev(lambda d: text(d.info.settings.location)),
        "etgDevExtraInfo": dev(lambda d: text(d.info.settings.extra_info)),
        "etgDevFeed": dev(lambda d: i32(_FEED[d.info.settings.feed.value])),
        "etgDevSerial": dev(lambda d: text(d.info.identification.serial)),
        "etgDevHexId": dev(lambda d: text(d.hex_id)),
        "etgDevProductId": dev(lambda d: text(d.info.identification.product_id)),
        "etgDevFirmware": dev(lambda d: text(d.info.identification.firmware_version)),
        "etgDevState": dev(lambda d: i32(_DEV_STATE[d.state])),
        "etgDevRingPosition": dev(lambda d: u32(d.info.position + 1)),
        "etgDevRatedCurrent": dev(lambda d: centi(d.info.model.rating_a)),
        "etgDevPhaseCount": dev(lambda d: u32(d.info.model.phases)),
        "etgDevOutletCount": dev(lambda d: u32(d.info.model.outlets)),
        "etgDevBranchCount": dev(lambda d: u32(d.info.model.branches)),
        "etgDevSensorCount": dev(lambda d: u32(len(d.info.sensors))),
        "etgDevSwitchable": dev(lambda d: i32(1 if d.info.model.switchable else 2)),
        "etgDevPowerUpMode": dev(lambda d: i32(_POWER_UP[d.info.settings.power_up_mode])),
        "etgDevFixedOutletDelay": dev(lambda d: u32(d.info.settings.outlet_delay_ms)),
        "etgDevLocate": dev(lambda d: i32(1)),
        "etgDevResetPeaks": dev(lambda d: i32(1)),
    }), lambda: rows.table("dev")))

    for label, (component, table) in _COMPONENT_TABLES.items():
        entry = f"etg{label}Entry"
        getters: dict[str, Getter] = {}
        for key in component.quantities:
            suffix, encode = QUANTITY_COLUMNS[key]
            getters[f"etg{label}{suffix}"] = _measured(component, key, encode)
        if component is Component.INPUT:
            getters["etgInputName"] = _name(lambda d: d.info.settings.input_names)
        elif component is Component.BRANCH:
            getters["etgBranchName"] = _name(lambda d: d.info.settings.branch_names)
            getters["etgBranchTripState"] = lambda r: (
                None if r.dev.state is not DeviceState.RUNNING or r.index not in r.dev.branch_tripped
                else i32(2 if r.dev.branch_tripped[r.index] else 1))
        elif component is Component.OUTLET:
            getters["etgOutletName"] = _name(lambda d: d.info.settings.outlets, "name")
            getters["etgOutletState"] = _outlet_state
            getters["etgOutletUnlock"] = lambda r: (
                None if not r.dev.info.model.switchable
                else i32(2 if unlocked(r.dev.hex_id, r.index) else 1))
            getters["etgOutletCommand"] = lambda r: (
                None if not r.dev.info.model.switchable else i32(1))
            getters["etgOutletSwitchOnDelay"] = _outlet_delay("delay")
            getters["etgOutletCycleOffTime"] = _outlet_delay("power_cycle_delay")
        nodes.append(TableNode(o(entry), cols(entry, getters),
                               (lambda t=table: rows.table(t))))

    def sensor_type(r: Row) -> Any:
        return i32(_SENSOR.get(r.dev.info.sensors[r.index - 1], 99))

    def sensor_value(r: Row) -> Any:
        if r.dev.state is not DeviceState.RUNNING:
            return None
        group = r.dev.groups.get((Component.SENSOR, r.index))
        if not group:
            return None
        kind = r.dev.info.sensors[r.index - 1]
        return centi(group.get(kind.value) if kind.value in group else None)

    nodes.append(TableNode(o("etgSensorEntry"), cols("etgSensorEntry", {
        "etgSensorName": _name(lambda d: d.info.settings.sensor_names),
        "etgSensorType": sensor_type,
        "etgSensorValue": sensor_value,
    }), lambda: rows.table("sensor")))

    def alarm_dev_id(a: Any) -> Any:
        dev = live.devices.get(a.device)
        if dev is None or dev.hex_id in rows.duplicates:
            return u32(0)
        return u32(dev.info.settings.device_id)

    alarm_rows = AlarmRows(rows, open_alarms)
    nodes.append(TableNode(o("etgAlarmEntry"), cols("etgAlarmEntry", {
        "etgAlarmSeverity": lambda a: i32(_ALARM_SEVERITY.get(a.severity, 1)),
        "etgAlarmState": lambda a: i32(1 if a.active else 2),
        "etgAlarmDevId": alarm_dev_id,
        "etgAlarmHexId": lambda a: text(a.device),
        "etgAlarmChannel": lambda a: text(a.channel),
        "etgAlarmValue": lambda a: centi(a.value),
        "etgAlarmThreshold": lambda a: centi(a.threshold),
        "etgAlarmText": lambda a: text(a.text),
        "etgAlarmRaisedTime": lambda a: date_and_time(a.start),
        "etgAlarmAcknowledged": lambda a: i32(1 if a.acked else 2),
    }), alarm_rows.table))
    return Tree(nodes), rows


def _outlet_delay(attr: str) -> Getter:
    """An outlet's delay setting (seconds) in ms, on switched PDUs only."""
    def get(r: Row) -> Any:
        outlets = r.dev.info.settings.outlets
        if not r.dev.info.model.switchable or r.index > len(outlets):
            return None
        return u32(round(getattr(outlets[r.index - 1], attr) * 1000))
    return get


def _outlet_state(r: Row) -> Any:
    dev = r.dev
    pending = dev.pending_outlets.get(r.index)
    if pending is not None:
        return i32(3 if pending is OutletState.ON else 4)
    state = dev.outlet_states.get(r.index)
    if state is None or dev.state is not DeviceState.RUNNING:
        return None
    return i32(1 if state is OutletState.ON else 2)
