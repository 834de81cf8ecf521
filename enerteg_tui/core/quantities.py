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
        """The domain word used in dotted channel names."""
        return _COMPONENT_WORDS[self]


_COMPONENT_WORDS = {
    Component.TOTAL: "total",
    Component.INPUT: "input",
    Component.BRANCH: "branch",
    Component.OUTLET: "outlet",
    Component.SENSOR: "sensor",
}


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


class ChannelKey(NamedTuple):
    """A channel below its device: component, index (0 for totals) and quantity key."""

    component: Component
    index: int
    quantity: str


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
