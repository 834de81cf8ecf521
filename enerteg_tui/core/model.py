"""Domain model of the ring: devices, their parts, settings and one poll's sample.

Drivers produce these objects and the core keeps them; faces read them. Settings are
pydantic models so that the topic shell, the console forms and a restore validate a
device's configuration with one schema. Identification and samples are plain data.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints
from pydantic.alias_generators import to_camel

from .quantities import Component

__all__ = [
    "Feed",
    "PowerUpMode",
    "OutletState",
    "OutletAction",
    "SensorType",
    "DeviceState",
    "Health",
    "RingState",
    "Identification",
    "PduModel",
    "OutletSettings",
    "DeviceSettings",
    "DeviceInfo",
    "GroupKey",
    "DeviceSample",
    "RingScan",
    "Name",
]


class Feed(str, Enum):
    """Power feed a PDU is connected to (manual §7.1.1)."""

    NONE = "None"
    A = "A"
    B = "B"
    C = "C"
    D = "D"


class PowerUpMode(str, Enum):
    """What a switched PDU does with its outlets at power loss and power up (manual §8.7)."""

    NO_SWITCHING_ON_POWER_UP = "noSwitchingOnPowerUp"
    """All outlets off at power loss and kept off at power up."""
    SYSTEM_DELAY = "systemWideDelay"
    """Outlets off at power loss, restored one by one with the system-wide delay."""
    INDIVIDUAL_DELAY = "individualDelay"
    """Outlets off at power loss, each restored after its own delay plus the system delay."""
    NO_SWITCHING_ON_POWER_DOWN = "noSwitchingOnPowerDown"
    """Outlets are not switched at power loss; same state after power returns."""


class OutletState(str, Enum):
    """Reported state of an outlet relay."""

    ON = "on"
    OFF = "off"


class OutletAction(str, Enum):
    """A switching command for one outlet."""

    ON = "on"
    OFF = "off"
    CYCLE = "cycle"


class SensorType(str, Enum):
    """Environment sensor types the PDU can identify (manual §8.4)."""

    TEMPERATURE = "temperature"
    HUMIDITY = "humidity"
    UNKNOWN = "unknown"
    REMOVED = "removed"
    """A sensor that was disconnected and then removed (manual §8.4): its number stays
    taken, so the other sensors keep theirs and every history stays with its sensor."""


class Health(int, Enum):
    """Worst-state colour of a device or DC element: green, yellow, red (manual §9.1)."""

    OK = 0
    WARNING = 1
    CRITICAL = 2


class DeviceState(str, Enum):
    """The controller's view of a device on the ring."""

    RUNNING = "RUNNING"
    """Answered the last sweep."""
    STALE = "STALE"
    """Missed three or more sweeps; last values kept but not current."""
    UNREACHABLE = "UNREACHABLE"
    """Cut off by ring breaks or removed; no values."""


class RingState(str, Enum):
    """Health of the databus ring, which is wired at both ends to the controller."""

    CLOSED = "closed"
    """Every link is intact."""
    OPEN = "open"
    """One break: every PDU is still reached, from one side or the other."""
    BROKEN = "broken"
    """Two or more breaks: the PDUs between the breaks are cut off."""


Name = Annotated[str, StringConstraints(strip_whitespace=True, max_length=64)]
"""A free-text name as PDUs store it: at most 64 characters."""


class _CamelModel(BaseModel):
    model_config = ConfigDict(
        alias_generator=to_camel, populate_by_name=True, extra="forbid",
        validate_assignment=True,
    )


class Identification(_CamelModel):
    """Read-only identification a PDU reports (manual §8.6)."""

    serial: str
    hex_id: str
    part_number: str
    product_id: str
    firmware_version: str
    hardware_version: str
    mac: str
    voltage_rating: str
    form_factor: str
    data_model: str
    sales_order: str
    software_date: str = ""


@dataclass(frozen=True, slots=True)
class PduModel:
    """A PDU type: what hardware a device of this type has."""

    type_name: str
    """Type designation, used as rule scope 'PDU type'."""
    phases: int
    rating_a: float
    """Rated input current per phase in amperes."""
    outlets: int
    switchable: bool
    metered_outlets: bool
    branches: int
    branch_rating_a: float
    outlet_branch: tuple[int, ...]
    """Branch (1-based) of each outlet; 0 when the PDU has no branches."""
    outlet_phase: tuple[int, ...]
    """Input phase (1-based) each outlet draws from."""
    branch_phase: tuple[int, ...] = ()
    """Input phase (1-based) of each branch."""


class OutletSettings(_CamelModel):
    """Per-outlet settings stored in the PDU."""

    name: Name
    delay: float = Field(default=0.0, ge=0, le=3600)
    """Individual outlet delay in seconds, used by the 'individual delay' power-up mode."""
    power_cycle_delay: float = Field(default=5.0, ge=1, le=3600)
    """Off time in seconds during a power cycle."""


class DeviceSettings(_CamelModel):
    """Settings of one PDU (manual §8.7); exported to the device where it supports them."""

    name: Name
    location: Name = ""
    extra_info: Name = ""
    feed: Feed = Feed.NONE
    device_id: int = Field(default=1, ge=1, le=247)
    """Device ID used by SNMP and Modbus (Modbus unit ids run 1–247)."""
    power_up_mode: PowerUpMode = PowerUpMode.SYSTEM_DELAY
    outlet_delay_ms: int = Field(default=250, ge=0, le=60000)
    """Fixed system-wide delay between two switch actions, in milliseconds."""
    input_names: list[Name] = Field(default_factory=list)
    outlets: list[OutletSettings] = Field(default_factory=list)
    branch_names: list[Name] = Field(default_factory=list)
    sensor_names: list[Name] = Field(default_factory=list)


@dataclass(slots=True)
class DeviceInfo:
    """A device found on the ring: identity, hardware, settings and ring position."""

    hex_id: str
    position: int
    """Position on the ring; 0 is the Controller-module PDU."""
    identification: Identification
    model: PduModel
    settings: DeviceSettings
    sensors: list[SensorType] = field(default_factory=list)
    controller: bool = False

    @property
    def display_name(self) -> str:
        """The configured name, or the hex id if the name is empty."""
        return self.settings.name or self.hex_id


GroupKey = tuple[Component, int]
"""A component instance: (component, index); index 0 for totals, 1-based otherwise."""


@dataclass(slots=True)
class DeviceSample:
    """One device's answer to one query on the bus."""

    hex_id: str
    taken_at: float
    """Wall-clock time of the reading, seconds since the epoch."""
    groups: dict[GroupKey, dict[str, float]]
    """Values by component instance, then by quantity key."""
    outlet_states: dict[int, OutletState] = field(default_factory=dict)
    branch_tripped: dict[int, bool] = field(default_factory=dict)
    sensor_types: dict[int, SensorType] = field(default_factory=dict)
    uptime_s: float | None = None
    """Seconds since the PDU last started, if it reports it."""

    def channel_count(self) -> int:
        """Number of channel values in this sample."""
        return sum(len(v) for v in self.groups.values())


@dataclass(slots=True)
class RingScan:
    """What a discovery pass found: devices in ring order, reachability and breaks."""

    devices: list[DeviceInfo]
    reachable: set[str]
    breaks: list[int]
    """Broken links; link k joins ring positions k and k+1 (the last one closes to 0)."""

    @property
    def state(self) -> RingState:
        """Closed, open (one break) or broken (two or more)."""
        if not self.breaks:
            return RingState.CLOSED
        return RingState.OPEN if len(self.breaks) == 1 else RingState.BROKEN
