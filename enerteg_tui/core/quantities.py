"""The quantity catalogue: the only source of measurement names, units and precision.

Every face derives its names from here: topic keys (camelCase ``key``), dotted channel
names in the NUT style (``outlet.3.realpower``, ``input.L1.voltage``), SNMP rows,
Modbus registers and Redfish properties. A *channel* is one (device, component, index,
quantity); ``ChannelKey`` is the part below the device.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from typing import NamedTuple

__all__ = [
    "Component",
    "Quantity",
    "QUANTITIES",
    "BY_KEY",
    "ChannelKey",
    "Channel",
    "channel_name",
    "format_value",
    "INPUT_QUANTITIES",
    "TOTAL_QUANTITIES",
    "OUTLET_QUANTITIES",
    "BRANCH_QUANTITIES",
    "SENSOR_QUANTITIES",
    "COMPONENT_QUANTITIES",
    "COMPONENT_CODES",
    "COMPONENT_BY_CODE",
    "channel_text",
    "ChannelId",
    "COUNTER_QUANTITIES",
    "POWER_QUANTITIES",
    "DC_QUANTITIES",
    "DC_PER_PHASE",
]


class Component(str, Enum):
    """The parts of a PDU that carry measurements; values are the manual's topic folders."""

    TOTAL = "t"
    INPUT = "i"
    BRANCH = "b"
    OUTLET = "o"
    SENSOR = "s"

    @property
    def word(self) -> str:
        """The domain word used in dotted channel names (``total``, ``input``...)."""
        return _WORDS[self][0]

    @property
    def singular(self) -> str:
        """One instance in prose: ``phase``, ``branch``, ``outlet``, ``sensor`` (``totals``)."""
        return _WORDS[self][1]

    @property
    def plural(self) -> str:
        """Several instances in prose: ``phases``, ``branches``, ``outlets``..."""
        return _WORDS[self][2]

    @property
    def label(self) -> str:
        """The choice label forms show: ``Input phases``, ``PDU totals``..."""
        return _WORDS[self][3]

    @property
    def quantities(self) -> tuple[str, ...]:
        """Quantity keys this component measures (sensors: one of them each)."""
        return COMPONENT_QUANTITIES[self]


_WORDS: dict[Component, tuple[str, str, str, str]] = {
    # dotted-name word, one in prose, several in prose, form label
    Component.TOTAL: ("total", "totals", "totals", "PDU totals"),
    Component.INPUT: ("input", "phase", "phases", "Input phases"),
    Component.BRANCH: ("branch", "branch", "branches", "Branches"),
    Component.OUTLET: ("outlet", "outlet", "outlets", "Outlets"),
    Component.SENSOR: ("sensor", "sensor", "sensors", "Sensors"),
}

COMPONENT_CODES: tuple[str, ...] = tuple(c.value for c in Component)
"""The one-letter component codes (``t i b o s``), as topic folders and rules use them."""

COMPONENT_BY_CODE: dict[str, Component] = {c.value: c for c in Component}
"""Code → component, a plain lookup for hot paths (``Component(code)`` is slower)."""


@dataclass(frozen=True, slots=True)
class Quantity:
    """One measurable quantity: names, unit and display precision."""

    key: str
    """camelCase key used in topic ``_data`` documents and settings."""
    name: str
    """Lowercase dotted name (NUT style) used in channel names."""
    label: str
    """Human label, as the manual's tables print it."""
    unit: str
    """Unit symbol; empty for dimensionless values."""
    precision: int
    """Decimal places kept in live values, history and displays."""


_Q = Quantity
QUANTITIES: tuple[Quantity, ...] = (
    _Q("voltage", "voltage", "Voltage", "V", 2),
    _Q("voltageDip", "voltage.dip", "Voltage dip", "V", 2),
    _Q("voltagePeak", "voltage.peak", "Peak voltage", "V", 2),
    _Q("current", "current", "Current", "A", 2),
    _Q("currentPeak", "current.peak", "Peak current", "A", 2),
    _Q("neutralCurrent", "current.neutral", "Neutral current", "A", 2),
    _Q("residualCurrent", "current.residual", "Residual current", "mA", 1),
    _Q("activePower", "realpower", "Active power", "W", 1),
    _Q("apparentPower", "power", "Apparent power", "VA", 1),
    _Q("reactivePower", "reactivepower", "Reactive power", "var", 1),
    _Q("powerFactor", "powerfactor", "Power factor", "", 3),
    _Q("energy", "energy", "Energy total", "kWh", 2),
    _Q("apparentEnergy", "energy.apparent", "Apparent energy", "kVAh", 2),
    _Q("frequency", "frequency", "Line frequency", "Hz", 2),
    _Q("thd", "thd", "THD", "%", 1),
    _Q("crestFactor", "crestfactor", "Crest factor", "", 2),
    _Q("temperature", "temperature", "Temperature", "°C", 2),
    _Q("humidity", "humidity", "Humidity", "%", 2),
)
"""Every quantity the controller knows, in the order the manual's tables use."""

BY_KEY: dict[str, Quantity] = {q.key: q for q in QUANTITIES}
"""Lookup by camelCase key."""

INPUT_QUANTITIES: tuple[str, ...] = (
    "voltage", "voltageDip", "voltagePeak", "current", "currentPeak", "activePower",
    "apparentPower", "reactivePower", "powerFactor", "energy", "apparentEnergy",
    "frequency", "thd", "crestFactor",
)
"""Quantities measured per input phase."""

TOTAL_QUANTITIES: tuple[str, ...] = (
    "current", "currentPeak", "activePower", "apparentPower", "reactivePower",
    "powerFactor", "energy", "apparentEnergy", "neutralCurrent", "residualCurrent",
)
"""Quantities of the PDU totals (the manual's 'Total' column and neutral row)."""

OUTLET_QUANTITIES: tuple[str, ...] = (
    "voltage", "current", "currentPeak", "activePower", "apparentPower",
    "reactivePower", "powerFactor", "energy", "apparentEnergy", "crestFactor", "thd",
)
"""Quantities measured per metered outlet."""

BRANCH_QUANTITIES: tuple[str, ...] = (
    "voltage", "current", "currentPeak", "activePower", "apparentPower",
    "reactivePower", "powerFactor", "energy",
)
"""Quantities measured per branch (circuit breaker)."""

SENSOR_QUANTITIES: tuple[str, ...] = ("temperature", "humidity")
"""Quantities a sensor measures (each sensor one of them, by its type)."""

COMPONENT_QUANTITIES: dict[Component, tuple[str, ...]] = {
    Component.TOTAL: TOTAL_QUANTITIES,
    Component.INPUT: INPUT_QUANTITIES,
    Component.BRANCH: BRANCH_QUANTITIES,
    Component.OUTLET: OUTLET_QUANTITIES,
    Component.SENSOR: SENSOR_QUANTITIES,
}
"""The quantity set of each component: drivers deliver these, rules and history use them."""

COUNTER_QUANTITIES: frozenset[str] = frozenset({"energy", "apparentEnergy"})
"""Quantities that are counters: a real meter's counter never decreases."""

POWER_QUANTITIES: tuple[str, ...] = ("activePower", "apparentPower", "reactivePower")
"""The three powers (an aggregate of them is shown in kilo-units: kW, kVA, kvar)."""

DC_PER_PHASE: tuple[str, ...] = ("current", *POWER_QUANTITIES)
"""DC-structure quantities summed per input phase (the others come from PDU totals)."""

DC_QUANTITIES: tuple[str, ...] = (*DC_PER_PHASE, "residualCurrent", "neutralCurrent")
"""Quantities of the DC structure charts (manual §7.2.3)."""


class ChannelKey(NamedTuple):
    """A channel below its device: component, index (0 for totals) and quantity key."""

    component: Component
    index: int
    quantity: str


ChannelId = tuple[str, str, int, str]
"""A channel as plain data: (device hex id, component code, index, quantity key).

The compact, hashable shape history and export keep by the million; ``Channel`` is the
same identity with a typed component, and ``Channel.id`` / ``Channel.of`` convert."""


class Channel(NamedTuple):
    """A channel: the device's hex id plus its ``ChannelKey`` parts."""

    device: str
    component: Component
    index: int
    quantity: str

    @property
    def key(self) -> ChannelKey:
        """The part below the device."""
        return ChannelKey(self.component, self.index, self.quantity)

    @property
    def name(self) -> str:
        """Dotted name, e.g. ``outlet.3.realpower``."""
        return channel_name(self.key)

    @property
    def id(self) -> ChannelId:
        """The plain-data identity (component as its code)."""
        return (self.device, self.component.value, self.index, self.quantity)

    @classmethod
    def of(cls, cid: ChannelId) -> Channel:
        """The typed channel of a plain identity."""
        device, component, index, quantity = cid
        return cls(device, COMPONENT_BY_CODE[component], index, quantity)

    @property
    def text(self) -> str:
        """The stable text identity ``device/component/index/quantity`` (alarm keys)."""
        return channel_text(self.device, self.component.value, self.index, self.quantity)


def channel_text(device: str, component: str, index: int, quantity: str) -> str:
    """The stable text identity of a channel, ``0A1B2C/i/1/current``.

    ``component`` is a ``Component`` code, or ``""`` for device states (``deviceStale``)
    and the ring's ``ringBreaks``, which belong to no component.
    """
    return f"{device}/{component}/{index}/{quantity}"


def channel_name(key: ChannelKey) -> str:
    """Dotted NUT-style name of a channel key: ``input.L1.voltage``, ``total.current``."""
    q = BY_KEY[key.quantity].name
    comp = key.component
    if comp is Component.TOTAL:
        return f"total.{q}"
    if comp is Component.INPUT:
        return f"input.L{key.index}.{q}"
    return f"{comp.word}.{key.index}.{q}"


def format_value(quantity: str, value: float | None) -> str:
    """Format a value with its catalogue precision and unit, e.g. ``230.94 V``."""
    if value is None:
        return "—"
    q = BY_KEY[quantity]
    text = f"{value:.{q.precision}f}"
    return f"{text} {q.unit}" if q.unit else text
