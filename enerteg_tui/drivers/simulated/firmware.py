"""One simulated PDU's firmware: its version, the update flash and the reboot.

Exists so that a firmware update over the ring (manual §7.4) behaves as on a PDU 5.0
module: the PDU itself checks what it receives (the header when the first block
arrives: magic, header CRC32, product family and hardware version; the payload's
length and SHA-256 before it activates) and refuses a bad image with ``Invalid``,
keeping the firmware it runs; an accepted image makes the PDU reboot into it. While
it reboots the PDU does not answer on the bus (absent from discovery), its LED ring
is blue from the first block to the end of the reboot, and its relays stay latched:
the outlets keep their state (the manual's promise). Called by ``device.SimPdu`` and
``driver.SimulatedDriver.update_firmware``.
"""

from __future__ import annotations

from ...core.errors import Conflict, Invalid
from ...core.firmware_image import (
    FAMILY,
    HEADER_SIZE,
    FirmwareHeader,
    check_payload,
    parse_header,
)

__all__ = ["PduFirmware", "REBOOT_S"]

REBOOT_S = 5.0
"""Seconds a PDU 5.0 module needs to restart into new firmware (it does not answer)."""


class PduFirmware:
    """The firmware state of one PDU.

    Args:
        hex_id: the PDU (named in refusals).
        version: the firmware it runs.
        hardware: its hardware version (an image must be for it).
    """

    def __init__(self, hex_id: str, version: str, hardware: int) -> None:
        self.hex_id = hex_id
        self.version = version
        """The firmware the PDU runs (its identification reports it)."""
        self.hardware = hardware
        self._buffer = bytearray()
        self._header: FirmwareHeader | None = None
        self.rebooting = False
        """True from activation until the PDU runs the new firmware: it does not answer."""
        self.pending = ""
        """The version the PDU reboots into (while ``rebooting``)."""
        self.updates = 0
        """Images activated since start (tests count them)."""
        self.refusals: list[str] = []
        """Why images were refused, oldest first (tests read them)."""

    @property
    def receiving(self) -> bool:
        """An image transfer is under way (blocks received, not yet activated)."""
        return bool(self._buffer)

    @property
    def led_ring(self) -> str:
        """Colour of the LED ring: blue while updating (receiving or rebooting), else green."""
        return "blue" if self.receiving or self.rebooting else "green"

    def _refuse(self, problem: str, value: object, allowed: str) -> Invalid:
        self.discard()
        message = f"PDU {self.hex_id} refused the firmware image: {problem}"
        self.refusals.append(message)
        return Invalid(message, thing=f"{self.hex_id} firmware", value=value, allowed=allowed)

    def receive(self, offset: int, block: bytes) -> None:
        """Store one block at ``offset``; check the header as soon as it is complete.

        Raises:
            Invalid: the block is out of order, the header is bad or not for this PDU,
                or the image grows beyond the length its header announced.
        """
        if offset != len(self._buffer):
            raise self._refuse(f"block at offset {offset} out of order", offset,
                               f"the next block at offset {len(self._buffer)}")
        had_header = self._header is not None
        self._buffer += block
        if not had_header and len(self._buffer) >= HEADER_SIZE:
            try:
                header = parse_header(bytes(self._buffer[:HEADER_SIZE]), f"for PDU {self.hex_id}")
            except Invalid as exc:
                raise self._refuse(f"bad header ({exc.message.split(': ', 1)[-1]})", exc.value,
                                   str(exc.allowed)) from None
            if header.family != FAMILY or header.hardware != self.hardware:
                raise self._refuse(
                    f"it is for {header.family} hardware {header.hardware}, this PDU is "
                    f"{FAMILY} hardware {self.hardware}", f"{header.family}/{header.hardware}",
                    f"an image for {FAMILY} hardware {self.hardware}")
            self._header = header
        if self._header is not None and len(self._buffer) > HEADER_SIZE + self._header.length:
            raise self._refuse(f"more than the {self._header.length} payload bytes its header "
                               "announced", len(self._buffer) - HEADER_SIZE,
                               f"{self._header.length} bytes")

    def activate(self) -> str:
        """Check the whole image and start the reboot into it; returns the new version.

        Raises:
            Invalid: incomplete image or payload checksum mismatch (old firmware kept).
            Conflict: no image was received.
        """
        if self._header is None:
            self.discard()
            raise Conflict(f"PDU {self.hex_id} has no complete firmware header to activate",
                           thing=f"{self.hex_id} firmware", value=len(self._buffer),
                           allowed="a transferred image")
        try:
            check_payload(self._header, bytes(self._buffer[HEADER_SIZE:]), f"for PDU {self.hex_id}")
        except Invalid as exc:
            raise self._refuse(exc.message.split(": ", 1)[-1], exc.value, str(exc.allowed)) from None
        version = self._header.version
        self.discard()
        self.rebooting, self.pending = True, version
        return version

    def finish_reboot(self) -> str:
        """The reboot is over: the PDU runs the activated version (returned) and answers."""
        self.version, self.pending = self.pending or self.version, ""
        self.rebooting = False
        self.updates += 1
        return self.version

    def discard(self) -> None:
        """Drop a partial image (transfer aborted or refused); the running firmware stays."""
        self._buffer = bytearray()
        self._header = None
