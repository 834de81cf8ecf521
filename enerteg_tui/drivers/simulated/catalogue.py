"""The simulated hardware: PDU models, serial numbers, identification and default settings.

Owns the fixed catalogue of PDU types the simulated ring is built from and the
deterministic choice of what hardware sits at which ring position. Invariant: the
hardware of a PDU depends only on (seed, position) through its serial number, so a
ring that grows gets the same PDUs at the same positions every time, and two drivers
with the same seed build identical rings. Called by ``device.SimPdu`` (hardware,
identification, default settings) and ``driver.SimulatedDriver`` (``SerialSource``).
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Literal

from ...core.model import (
    DeviceSettings,
    Feed,
    Identification,
    OutletSettings,
    PduModel,
    SensorType,
)

__all__ = [
    "Equipment",
    "Hardware",
    "SensorChannel",
    "MODELS",
    "FULL_MODEL",
    "SerialSource",
    "choose_hardware",
    "make_identification",
    "default_settings",
    "hardware_rng",
]

Equipment = Literal["mixed", "full"]
"""Ring equipment: a realistic mix of models, or the largest model everywhere."""

SERIAL_MIN = 100_000
"""Smallest serial number handed out (six digits, as on the type plate)."""
SERIAL_MAX = 999_999
"""Largest serial number handed out."""


def _layout(outlets: int, branches: int, phases: int) -> tuple[
        tuple[int, ...], tuple[int, ...], tuple[int, ...]]:
    """Outlet→branch, outlet→phase and branch→phase maps, spread evenly (manual §7.3)."""
    if branches:
        per_branch = outlets // branches
        branch_phase = tuple(b * phases // branches + 1 for b in range(branches))
        outlet_branch = tuple(min(o // per_branch, branches - 1) + 1 for o in range(outlets))
        outlet_phase = tuple(branch_phase[b - 1] for b in outlet_branch)
        return outlet_branch, outlet_phase, branch_phase
    per_phase = max(1, outlets // phases)
    outlet_phase = tuple(min(o // per_phase, phases - 1) + 1 for o in range(outlets))
    return (0,) * outlets, outlet_phase, ()


def _model(type_name: str, phases: int, rating_a: float, outlets: int, *, switchable: bool,
           metered: bool, branches: int = 0, branch_rating_a: float = 0.0) -> PduModel:
    ob, op, bp = _layout(outlets, branches, phases)
    return PduModel(type_name=type_name, phases=phases, rating_a=rating_a, outlets=outlets,
                    switchable=switchable, metered_outlets=metered, branches=branches,
                    branch_rating_a=branch_rating_a, outlet_branch=ob, outlet_phase=op,
                    branch_phase=bp)


@dataclass(frozen=True, slots=True)
class _Kind:
    """A catalogue entry: the model plus what its type plate says."""

    model: PduModel
    part_number: str
    product_id: str
    weight: float
    """Relative frequency in a mixed ring."""


_KINDS: tuple[_Kind, ...] = (
    _Kind(_model("1P 16A switched", 1, 16, 8, switchable=True, metered=True),
          "EN-1P16-08S", "016008VSB11", 0.25),
    _Kind(_model("3P 16A metered", 3, 16, 12, switchable=False, metered=True,
                 branches=6, branch_rating_a=16),
          "EN-3P16-12M", "016012VMB31", 0.20),
    _Kind(_model("3P 16A switched", 3, 16, 12, switchable=True, metered=True,
                 branches=6, branch_rating_a=16),
          "EN-3P16-12S", "016012VSB31", 0.25),
    _Kind(_model("3P 32A switched", 3, 32, 24, switchable=True, metered=True,
                 branches=6, branch_rating_a=16),
          "EN-3P32-24S", "058032VIB31", 0.20),
    _Kind(_model("1P 16A inlet-metered", 1, 16, 8, switchable=False, metered=False),
          "EN-1P16-08I", "016008VIA11", 0.10),
)

MODELS: dict[str, PduModel] = {k.model.type_name: k.model for k in _KINDS}
"""Every simulated PDU type by its type name."""

FULL_MODEL: PduModel = MODELS["3P 32A switched"]
"""The largest model: 3-phase 32 A, 24 switched metered outlets, 6 branches."""

_BY_NAME = {k.model.type_name: k for k in _KINDS}
_CONTROLLER_KIND = _BY_NAME["3P 16A switched"]


@dataclass(frozen=True, slots=True)
class SensorChannel:
    """One environment-sensor channel as the PDU lists it."""

    type: SensorType
    probe: int
    """Index of the physical probe (a combined probe gives two channels)."""
    name: str
    """Default channel name."""
    back: bool
    """Whether the probe hangs at the hot (back) side of the rack."""


@dataclass(frozen=True, slots=True)
class Hardware:
    """What sits at one ring position: the model and its sensor channels."""

    model: PduModel
    part_number: str
    product_id: str
    sensors: tuple[SensorChannel, ...]


class SerialSource:
    """Unique, deterministic serial numbers by ring position for one seed.

    Position ``p`` always gets the ``p``-th distinct number of one seeded sequence, so
    growing the ring never renumbers existing PDUs.
    """

    def __init__(self, seed: int) -> None:
        self._rng = random.Random(f"enerteg-sim/serials/{seed}")
        self._serials: list[int] = []
        self._used: set[int] = set()

    def at(self, position: int) -> int:
        """The serial number of the PDU at ``position`` (0-based)."""
        while len(self._serials) <= position:
            s = self._rng.randint(SERIAL_MIN, SERIAL_MAX)
            if s not in self._used:
                self._used.add(s)
                self._serials.append(s)
        return self._serials[position]


def hardware_rng(seed: int, serial: int, what: str) -> random.Random:
    """A generator for one PDU and one purpose, independent of every other PDU."""
    return random.Random(f"enerteg-sim/{seed}/{serial}/{what}")


_SIDES = ("front", "back", "top")
"""Where the probes of one PDU hang, in the order they are plugged in."""


def _sensors(rng: random.Random, full: bool) -> tuple[SensorChannel, ...]:
    """Pick 0–4 sensor channels: temperature probes and combined T/RH probes."""
    if full:
        probes = [("combined", "front"), ("combined", "back")]
    else:
        count = rng.choices((0, 1, 2, 3), weights=(30, 30, 25, 15))[0]
        probes = []
        channels = 0
        for i in range(count):
            kind = "combined" if channels <= 2 and rng.random() < 0.45 else "temp"
            probes.append((kind, _SIDES[i]))
            channels += 2 if kind == "combined" else 1
            if channels >= 4:
                break
    out: list[SensorChannel] = []
    for probe, (kind, side) in enumerate(probes):
        back = side == "back"
        if kind == "combined":
            name = f"Combined {side}"
            out.append(SensorChannel(SensorType.TEMPERATURE, probe, name, back))
            out.append(SensorChannel(SensorType.HUMIDITY, probe, name, back))
        elif not full and rng.random() < 0.08:
            out.append(SensorChannel(SensorType.UNKNOWN, probe, f"Sensor {probe + 1}", back))
        else:
            out.append(SensorChannel(SensorType.TEMPERATURE, probe, f"Temp {side}", back))
    return tuple(out[:4])


def choose_hardware(seed: int, serial: int, position: int, equipment: Equipment) -> Hardware:
    """The hardware of the PDU with ``serial`` at ``position``.

    Position 0 (the Controller module PDU) is a 3-phase 16 A switched PDU in a mixed
    ring; ``equipment="full"`` makes every PDU the largest model with four sensors.
    """
    rng = hardware_rng(seed, serial, "hardware")
    full = equipment == "full"
    if full:
        kind = _BY_NAME[FULL_MODEL.type_name]
    elif position == 0:
        kind = _CONTROLLER_KIND
    else:
        kind = rng.choices(_KINDS, weights=[k.weight for k in _KINDS])[0]
    return Hardware(kind.model, kind.part_number, kind.product_id, _sensors(rng, full))


def make_identification(seed: int, serial: int, hw: Hardware) -> Identification:
    """The read-only identification block of a PDU (manual §8.6)."""
    rng = hardware_rng(seed, serial, "plate")
    low = serial & 0xFFFFFF
    mac = f"D0:22:12:{low >> 16:02X}:{(low >> 8) & 0xFF:02X}:{low & 0xFF:02X}"
    order = f"{rng.randint(2021, 2025)}-{rng.randint(10000, 99999)}-{rng.randint(1, 3)}"
    return Identification(
        serial=str(serial), hex_id=format(serial, "x"), part_number=hw.part_number,
        product_id=hw.product_id, firmware_version="5.2.1", hardware_version="5", mac=mac,
        voltage_rating="230/400V" if hw.model.phases == 3 else "230V", form_factor="V",
        data_model="5", sales_order=order, software_date="211124",
    )


def default_settings(position: int, hw: Hardware) -> DeviceSettings:
    """Factory settings of a PDU as it comes out of the box at ``position``."""
    m = hw.model
    return DeviceSettings(
        name="Controller PDU" if position == 0 else f"Daisy-Chain PDU #{position}",
        feed=Feed.A if position % 2 == 0 else Feed.B,
        device_id=min(position + 1, 247),
        input_names=[f"L{p}" for p in range(1, m.phases + 1)],
        outlets=[OutletSettings(name=f"Outlet # {n}") for n in range(1, m.outlets + 1)],
        branch_names=[f"BR{b}" for b in range(1, m.branches + 1)],
        sensor_names=[s.name for s in hw.sensors],
    )
