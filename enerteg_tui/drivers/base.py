"""The driver contract: how the core talks to a databus ring of PDUs.

A driver owns the link to the devices and nothing else; the core owns scheduling,
staleness, state and every rule. Phases follow Network UPS Tools: ``open`` opens the
link and probes nothing, ``discover`` finds devices (called every sweep so that PDUs
added or removed at runtime appear within one sweep), ``poll`` makes one bounded query
of one device. Commands (settings, switching, blink) are methods that answer or raise
``Unsupported``.

Every method is async, honours ``timeout`` and turns transport failures into
``DeviceUnavailable`` (``DriverTimeout`` for a silent device). Drivers emit only
catalogue quantity keys (``core.quantities``).
"""

from __future__ import annotations

import asyncio
from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable
from typing import Any, ClassVar, TypeVar

from ..core.errors import DriverTimeout, Unsupported
from ..core.faults import FaultInjector
from ..core.model import (
    DeviceSample,
    DeviceSettings,
    Identification,
    OutletAction,
    RingScan,
)

__all__ = ["Driver"]

T = TypeVar("T")


class Driver(ABC):
    """Base class of every PDU driver.

    Lifecycle: ``open()`` once, then any number of ``discover()``/``poll()`` and
    commands, then ``close()``. ``state`` is published for the bus-health topic:
    ``init``, ``running``, ``closed``.

    Subclasses must accept and ignore unknown keyword options.
    """

    NAME: ClassVar[str] = "driver"
    """Short name shown in the bus-health topic."""
    IMPLEMENTS_SWITCHING: ClassVar[bool] = False
    """Whether ``switch_outlet`` can work at all with this driver."""

    def __init__(self, *, timeout: float = 2.0, **_ignored: Any) -> None:
        self.timeout = timeout
        """Seconds one device query may take before ``DriverTimeout``."""
        self.state = "init"
        """Lifecycle state, published as ``driver.state``."""

    async def _bounded(self, hex_id: str, what: str, awaitable: Awaitable[T]) -> T:
        """Await ``awaitable`` within ``timeout``, raising ``DriverTimeout`` naming it."""
        try:
            return await asyncio.wait_for(awaitable, self.timeout)
        except TimeoutError:
            raise DriverTimeout(
                f"PDU {hex_id} did not answer {what} within {self.timeout:g} s",
                thing=hex_id, value=what, allowed=f"an answer within {self.timeout:g} s",
            ) from None

    @abstractmethod
    async def open(self) -> None:
        """Open the link to the ring. Probes nothing."""

    @abstractmethod
    async def close(self) -> None:
        """Close the link and persist whatever the devices keep across restarts."""

    @abstractmethod
    async def discover(self) -> RingScan:
        """Find the devices on the ring, their ring positions, reachability and breaks."""

    @abstractmethod
    async def poll(self, hex_id: str) -> DeviceSample:
        """Read one sweep of one device.

        Raises:
            DeviceUnavailable: the device did not answer (``DriverTimeout``) or is cut off.
        """

    @abstractmethod
    async def identify(self, hex_id: str) -> Identification:
        """Read the device's identification block."""

    async def write_settings(self, hex_id: str, settings: DeviceSettings) -> None:
        """Write the device's settings (names, feed, delays, power-up mode).

        Raises:
            Unsupported: the driver cannot write settings.
        """
        raise Unsupported(
            f"driver {self.NAME} cannot write settings to PDU {hex_id}",
            thing=hex_id, value="settings", allowed="read-only access",
        )

    async def switch_outlet(self, hex_id: str, outlet: int, action: OutletAction) -> None:
        """Switch one outlet on, off or power-cycle it, honouring the device's delays.

        Raises:
            Unsupported: the outlet is not switchable.
            Invalid: no such outlet.
        """
        raise Unsupported(
            f"driver {self.NAME} cannot switch outlets",
            thing=f"{hex_id} outlet {outlet}", value=action.value, allowed="metering only",
        )

    async def blink(self, hex_id: str, seconds: float = 10.0) -> None:
        """Make the device's display blink so that it can be found in the rack."""
        raise Unsupported(
            f"driver {self.NAME} cannot identify PDU {hex_id} by blinking",
            thing=hex_id, value="blink", allowed="no identify command",
        )

    async def reset_peaks(self, hex_id: str, component: str | None = None,
                          index: int | None = None) -> None:
        """Reset the device's peak values: all (``component`` None), or one component
        (``t``, ``i``, ``b``, ``o``) and, for the numbered ones, one index (None: all)."""
        raise Unsupported(
            f"driver {self.NAME} cannot reset the peaks of PDU {hex_id}",
            thing=hex_id, value="reset-peaks", allowed="no peak reset command",
        )

    async def remove_sensor(self, hex_id: str, index: int) -> None:
        """Make the PDU forget a disconnected sensor (manual §8.4); its number stays
        taken (type ``removed``).

        Raises:
            Unsupported: the driver cannot.
            Conflict: the sensor is connected (it answers).
        """
        raise Unsupported(
            f"driver {self.NAME} cannot remove sensors of PDU {hex_id}",
            thing=f"{hex_id} sensor {index}", value="remove", allowed="no sensor removal",
        )

    async def update_firmware(self, hex_id: str, image: bytes,
                              progress: Callable[[int, int], None] | None = None,
                              pace: Callable[[], Awaitable[None]] | None = None) -> None:
        """Transfer a firmware image (``core.firmware_image`` format) to the PDU in
        blocks, one bus transaction each (polls of other PDUs go on between them), and
        activate it. ``pace()`` is awaited before each block (the core lets a block go
        only while no sweep runs); ``progress(sent, total)`` is called after each. Returns once
        the PDU accepted the image and started rebooting into it; the PDU then does not
        answer for a few seconds and reports the new ``firmware_version`` when it does.
        The PDU's outlets keep their state throughout (manual §7.4).

        Raises:
            Unsupported: the driver cannot update firmware.
            Invalid: the PDU refused the image (header, hardware, checksum); it keeps the
                firmware it runs.
            NotFound, DeviceUnavailable, DriverTimeout: as ``poll``.
        """
        raise Unsupported(
            f"driver {self.NAME} cannot update the firmware of PDU {hex_id}",
            thing=hex_id, value="firmware", allowed="no firmware update over this link",
        )

    def fault_injector(self) -> FaultInjector | None:
        """The runtime fault injection of a simulated ring, or None for real hardware."""
        return None
