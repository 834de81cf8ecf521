"""One simulated PDU: hardware, settings, relays, faults and its own memory.

Owns everything that belongs to a single PDU: its identification and model (from
``catalogue``), its settings, its relays (``switching.OutletBank``), its electrical
state (``physics.PduPhysics``), its fault flags and the cached ``DeviceInfo`` the
driver hands to discovery. Invariants: the ``DeviceInfo`` object is rebuilt only when
something in it changes (settings), so discovery costs no allocation per sweep; an
unpowered PDU has no pending switch actions; the memory round-trips through
``memory()``/``restore()``. Called by ``driver.SimulatedDriver`` and ``faults``.
"""

from __future__ import annotations

import logging
from typing import Any

from pydantic import ValidationError

from ...core.errors import Conflict, Invalid
from ...core.model import (
    DeviceInfo,
    DeviceSample,
    DeviceSettings,
    Identification,
    OutletState,
    PduModel,
    SensorType,
)
from .catalogue import (
    Equipment,
    choose_hardware,
    default_settings,
    hardware_rng,
    make_identification,
)
from ...core.quantities import Component
from .firmware import PduFirmware
from .physics import PduPhysics, SiteGrid
from .switching import OutletBank

__all__ = ["SimPdu", "check_settings", "ENERGY_RESERVE_S"]

ENERGY_RESERVE_S = 60.0
"""Seconds of an outlet's largest possible draw by which stored energy counters run ahead."""

UPTIME_AT_START_S = (3 * 86400.0, 400 * 86400.0)
"""Range of how long a PDU had been running when the simulation starts (seeded per PDU):
PDUs in a rack run for months."""

log = logging.getLogger(__name__)

_STATE = {True: OutletState.ON, False: OutletState.OFF}


def check_settings(hex_id: str, model: PduModel, sensors: int, settings: DeviceSettings) -> None:
    """Check that ``settings`` fits the hardware: one entry per outlet, phase, branch, sensor.

    Raises:
        Invalid: naming the list, its length and the length the PDU needs.
    """
    checks = (("outlets", len(settings.outlets), model.outlets),
              ("inputNames", len(settings.input_names), model.phases),
              ("branchNames", len(settings.branch_names), model.branches),
              ("sensorNames", len(settings.sensor_names), sensors))
    for key, got, want in checks:
        if got != want:
            raise Invalid(f"PDU {hex_id}: {key} has {got} entries; this PDU needs exactly {want}",
                          thing=key, value=got, allowed=f"exactly {want} entries")


class SimPdu:
    """A simulated PDU at one ring position.

    Args:
        seed: the ring's seed.
        serial: the PDU's serial number (decides its hardware and noise).
        position: ring position; 0 is the Controller module PDU.
        equipment: ``"mixed"`` or ``"full"``.
        grid: the mains shared by the ring.
    """

    def __init__(self, seed: int, serial: int, position: int, equipment: Equipment,
                 grid: SiteGrid) -> None:
        hw = choose_hardware(seed, serial, position, equipment)
        self.serial = serial
        self.hex_id = format(serial, "x")
        self.position = position
        self.model: PduModel = hw.model
        self.sensors: list[SensorType] = [s.type for s in hw.sensors]
        self.identification: Identification = make_identification(seed, serial, hw)
        self.settings: DeviceSettings = default_settings(position, hw)
        self.outlets = OutletBank(hw.model.outlets, hw.model.switchable)
        self.firmware = PduFirmware(self.hex_id, self.identification.firmware_version,
                                    int(self.identification.hardware_version))
        """Firmware version, update flash and reboot (``firmware.PduFirmware``)."""
        self.physics = PduPhysics(hw.model, hw.sensors, grid, hardware_rng(seed, serial, "loads"),
                                  hardware_rng(seed, serial, "noise"))
        self.reachable = True
        """Fault flag: False makes the PDU silent on the bus."""
        self._up_before = hardware_rng(seed, serial, "uptime").uniform(*UPTIME_AT_START_S)
        """Seconds the PDU had been running when the simulation first saw it."""
        self._boot_at: float | None = None
        """Wall-clock time of the PDU's last start (set by the first sample after it)."""
        self.disconnected: set[int] = set()
        """Fault: numbers of sensors unplugged (known to the PDU, no value any more)."""
        self.powered = True
        """Fault flag: False is a power loss."""
        self.load_factor = 1.0
        """Fault value: multiplier on every outlet's load."""
        self.temperature_offset = 0.0
        """Fault value: °C added to the temperature sensors."""
        self.residual_ma: float | None = None
        """Fault value: forced residual current in mA, or None."""
        self.blink_until = 0.0
        """Wall-clock time until which the display blinks."""
        self._info: DeviceInfo | None = None
        self._sensor_types = dict(enumerate(self.sensors, start=1))
        self._tripped = dict.fromkeys(range(1, self.model.branches + 1), False)
        self._states_key: tuple[bool, ...] = ()
        self._states: dict[int, OutletState] = {}

    # ------------------------------------------------------------------ discovery
    @property
    def answers(self) -> bool:
        """Whether the PDU answers on the bus at all (powered, not silenced, not rebooting
        into new firmware)."""
        return self.reachable and self.powered and not self.firmware.rebooting

    def info(self) -> DeviceInfo:
        """The PDU as discovery reports it; the same object until something changes."""
        info = self._info
        if info is None:
            info = self._info = DeviceInfo(
                hex_id=self.hex_id, position=self.position,
                identification=self.identification.model_copy(),
                model=self.model, settings=self.settings, sensors=list(self.sensors),
                controller=self.position == 0)  # settings: replaced, never mutated in place
        return info

    def blinking(self, now: float) -> bool:
        """Whether the display blinks at wall-clock time ``now``."""
        return now < self.blink_until

    # ------------------------------------------------------------------ commands
    def apply_settings(self, settings: DeviceSettings) -> None:
        """Store new settings (already checked with ``check_settings``)."""
        self.settings = settings.model_copy(deep=True)
        self._info = None

    def set_powered(self, powered: bool) -> None:
        """Cut or restore the PDU's supply; the power-up mode decides the outlets (§8.7)."""
        if powered == self.powered:
            return
        self.powered = powered
        if powered:
            self._boot_at, self._up_before = None, 0.0  # a fresh start: uptime from 0
            self.physics.restart()
            self.outlets.power_restored(self.settings)
        else:
            self.outlets.power_lost(self.settings.power_up_mode)

    def firmware_rebooted(self) -> None:
        """The reboot into new firmware is over: the identification reports its version,
        uptime starts from 0; the relays were never touched (outlets keep their state)."""
        if not self.firmware.rebooting:
            return
        version = self.firmware.finish_reboot()
        self.identification = self.identification.model_copy(update={"firmware_version": version})
        self._info = None
        self._boot_at, self._up_before = None, 0.0
        self.physics.restart()

    # ------------------------------------------------------------------ polling
    def sample(self, now: float) -> DeviceSample:
        """One poll's answer at wall-clock time ``now``."""
        on = self.outlets.on
        groups = self.physics.step(now, on, self.load_factor, self.temperature_offset,
                                   self.residual_ma)
        key = tuple(on)
        if key != self._states_key:  # relays rarely move: build the state map only then
            self._states_key = key
            self._states = {n: _STATE[s] for n, s in enumerate(key, start=1)}
        if self._boot_at is None:
            self._boot_at = now - self._up_before
        for n, kind in self._sensor_types.items():
            if n in self.disconnected or kind is SensorType.REMOVED:
                groups.pop((Component.SENSOR, n), None)
        return DeviceSample(hex_id=self.hex_id, taken_at=now, groups=groups,
                            outlet_states=dict(self._states), branch_tripped=dict(self._tripped),
                            sensor_types=dict(self._sensor_types),
                            uptime_s=round(now - self._boot_at, 1))

    def remove_sensor(self, index: int) -> None:
        """Forget a disconnected sensor: its number stays, as type ``removed``.

        Raises:
            Invalid: no such sensor, or already removed. Conflict: it is connected.
        """
        if not 1 <= index <= len(self.sensors) or self.sensors[index - 1] is SensorType.REMOVED:
            raise Invalid(f"PDU {self.hex_id} has no sensor {index} to remove", thing="sensor",
                          value=index, allowed=f"1 to {len(self.sensors)}, not removed")
        if index not in self.disconnected:
            raise Conflict(f"sensor {index} of PDU {self.hex_id} is connected; only a "
                           "disconnected sensor can be removed", thing="sensor", value=index,
                           allowed="a disconnected sensor")
        self.sensors[index - 1] = SensorType.REMOVED
        self._sensor_types[index] = SensorType.REMOVED
        self.disconnected.discard(index)
        self._info = None

    # ------------------------------------------------------------------ memory
    @property
    def energy_reserve_kwh(self) -> float:
        """How far ahead the stored energy counters run: ``ENERGY_RESERVE_S`` of the most
        one outlet can draw (its branch's or the PDU's rating at 250 V)."""
        amps = self.model.branch_rating_a or self.model.rating_a
        return amps * 250.0 * ENERGY_RESERVE_S / 3.6e6

    def memory(self, reserve_kwh: float = 0.0) -> dict[str, Any]:
        """What the PDU keeps across restarts, JSON-ready; counters ``reserve_kwh`` ahead."""
        return {"hexId": self.hex_id, "model": self.model.type_name,
                "settings": self.settings.model_dump(mode="json", by_alias=True),
                "outlets": self.outlets.kept_states(),
                "firmware": self.firmware.version,
                "counters": self.physics.counters(reserve_kwh)}

    def restore(self, data: dict[str, Any]) -> None:
        """Continue from saved memory; parts that do not fit this PDU are skipped with a warning."""
        if data.get("model") != self.model.type_name:
            log.warning("simulator: saved memory of PDU %s is for a %r, not a %r; ignored",
                        self.hex_id, data.get("model"), self.model.type_name)
            return
        firmware = data.get("firmware")
        if isinstance(firmware, str) and firmware and len(firmware) <= 16:
            self.firmware.version = firmware
            self.identification = self.identification.model_copy(
                update={"firmware_version": firmware})
            self._info = None
        counters = data.get("counters")
        if not isinstance(counters, dict) or not self.physics.restore_counters(counters):
            log.warning("simulator: saved energy counters of PDU %s are unusable; ignored",
                        self.hex_id)
        try:
            settings = DeviceSettings.model_validate(data.get("settings"))
            check_settings(self.hex_id, self.model, len(self.sensors), settings)
        except (ValidationError, Invalid) as exc:
            log.warning("simulator: saved settings of PDU %s are unusable (%s); defaults kept",
                        self.hex_id, str(exc).splitlines()[0])
        else:
            self.apply_settings(settings)
        states = data.get("outlets")
        if (self.model.switchable and isinstance(states, list)
                and len(states) == self.model.outlets and all(isinstance(s, bool) for s in states)):
            self.outlets.on = list(states)
