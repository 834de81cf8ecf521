"""PDU firmware images: the one definition of their format, a builder and a checker.

Exists because three parties must agree on the bytes of a firmware image: the
controller (it reads the version to plan an update and refuses a damaged file before
it occupies the databus), the PDU (the simulated PDU checks the same header and
checksum again and refuses what does not fit it) and the tools and tests that build
good and bad images. Format (docs/firmware.md), all integers big-endian::

    offset size  field
    0      8     magic  b"ETGFW\\x00\\r\\n"
    8      2     header format version (1)
    10     16    product family, ASCII, NUL-padded ("SpPdu5")
    26     2     hardware version the image runs on (5)
    28     16    firmware version, ASCII, NUL-padded ("5.3.0")
    44     4     payload length in bytes
    48     32    SHA-256 of the payload
    80     4     CRC32 of bytes 0..79 (the header itself)
    84     ...   payload

Drivers may import this module (it is part of the driver vocabulary, like
``core.model``); it imports nothing but ``core.errors``.
"""

from __future__ import annotations

import hashlib
import struct
import zlib
from dataclasses import dataclass
from importlib import resources

from .errors import Invalid

__all__ = ["MAGIC", "HEADER_SIZE", "FAMILY", "HARDWARE", "MAX_PAYLOAD", "FirmwareHeader",
           "FirmwareImage", "build_image", "check_payload", "parse_header", "parse_image", "version_key",
           "shipped_image", "SHIPPED_NAME"]

MAGIC = b"ETGFW\x00\r\n"
"""First eight bytes of every image (the CR LF catches a transfer in text mode)."""
FORMAT_VERSION = 1
_LAYOUT = struct.Struct(">8sH16sH16sI32s")
HEADER_SIZE = _LAYOUT.size + 4
"""84 bytes: the fields and the header's CRC32."""
FAMILY = "SpPdu5"
"""Product family of the PDU 5.0 modules (the databus family of ``config/sppdu5``)."""
HARDWARE = 5
"""Hardware version of the PDU 5.0 modules."""
MAX_PAYLOAD = 4 * 1024 * 1024
"""Largest payload a PDU's update flash takes (4 MiB)."""
SHIPPED_NAME = "SpPdu5-5.3.0.etgfw"
"""The image shipped with this controller (``enerteg_tui/core/firmware_images/``)."""


@dataclass(frozen=True, slots=True)
class FirmwareHeader:
    """The fields of an image's header."""

    family: str
    hardware: int
    version: str
    length: int
    sha256: bytes


@dataclass(frozen=True, slots=True)
class FirmwareImage:
    """A checked image: its header and its whole bytes (header + payload)."""

    header: FirmwareHeader
    data: bytes

    @property
    def version(self) -> str:
        return self.header.version

    @property
    def payload(self) -> bytes:
        return self.data[HEADER_SIZE:]

    @property
    def digest(self) -> str:
        """SHA-256 of the whole image, hex (what the audit log names)."""
        return hashlib.sha256(self.data).hexdigest()


def _text(value: str, what: str) -> bytes:
    raw = value.encode("ascii")
    if not raw or len(raw) > 16 or b"\x00" in raw:
        raise Invalid(f"firmware image {what} {value!r} is not allowed", thing=what, value=value,
                      allowed="1 to 16 ASCII characters")
    return raw.ljust(16, b"\x00")


def build_image(version: str, payload: bytes, *, family: str = FAMILY,
                hardware: int = HARDWARE) -> bytes:
    """The bytes of an image holding ``payload`` (tests spoil them to make bad ones)."""
    fields = _LAYOUT.pack(MAGIC, FORMAT_VERSION, _text(family, "family"), hardware,
                          _text(version, "version"), len(payload),
                          hashlib.sha256(payload).digest())
    return fields + struct.pack(">I", zlib.crc32(fields)) + payload


def _refuse(name: str, problem: str, value: object, allowed: str) -> Invalid:
    return Invalid(f"firmware image {name}: {problem}", thing=name, value=value, allowed=allowed)


def parse_header(data: bytes, name: str = "image") -> FirmwareHeader:
    """Check and read the header at the start of ``data`` (the payload need not follow).

    Raises:
        Invalid: naming the image and what is wrong (size, magic, format, CRC, fields).
    """
    if len(data) < HEADER_SIZE:
        raise _refuse(name, f"{len(data)} bytes is too short for a header", len(data),
                      f"at least {HEADER_SIZE} bytes")
    (magic, fmt, family, hardware, version, length, sha) = _LAYOUT.unpack_from(data)
    if magic != MAGIC:
        raise _refuse(name, f"not a firmware image (starts with {magic[:8]!r})", magic.hex(),
                      f"an image starting with {MAGIC!r}")
    (crc,) = struct.unpack_from(">I", data, _LAYOUT.size)
    if zlib.crc32(data[:_LAYOUT.size]) != crc:
        raise _refuse(name, "header checksum (CRC32) does not match: the header is damaged",
                      f"{crc:08x}", "an undamaged header")
    if fmt != FORMAT_VERSION:
        raise _refuse(name, f"header format {fmt} is unknown", fmt, f"format {FORMAT_VERSION}")
    try:
        fam = family.rstrip(b"\x00").decode("ascii")
        ver = version.rstrip(b"\x00").decode("ascii")
    except UnicodeDecodeError:
        raise _refuse(name, "family or version is not ASCII", "", "ASCII text") from None
    if length > MAX_PAYLOAD:
        raise _refuse(name, f"payload of {length} bytes is too large", length,
                      f"at most {MAX_PAYLOAD} bytes")
    if version_key(ver) is None:
        raise _refuse(name, f"version {ver!r} is not a dotted number", ver, "such as 5.3.0")
    return FirmwareHeader(family=fam, hardware=hardware, version=ver, length=length, sha256=sha)


def check_payload(header: FirmwareHeader, payload: bytes, name: str = "image") -> None:
    """Check the payload's length and SHA-256 against the header.

    Raises:
        Invalid: naming the image and the mismatch.
    """
    if len(payload) != header.length:
        raise _refuse(name, f"payload is {len(payload)} bytes, the header says {header.length}",
                      len(payload), f"exactly {header.length} bytes")
    if hashlib.sha256(payload).digest() != header.sha256:
        raise _refuse(name, "payload checksum (SHA-256) does not match the header: the image "
                      "is damaged", hashlib.sha256(payload).hexdigest()[:16],
                      "a payload whose SHA-256 is in the header")


def parse_image(data: bytes, name: str = "image") -> FirmwareImage:
    """Check a whole image (header, its CRC, payload length and SHA-256).

    Raises:
        Invalid: naming the image and what is wrong.
    """
    header = parse_header(data, name)
    check_payload(header, data[HEADER_SIZE:], name)
    return FirmwareImage(header=header, data=bytes(data))


def version_key(version: str) -> tuple[int, ...] | None:
    """``"5.10.1"`` → ``(5, 10, 1)`` for comparing; None when not a dotted number."""
    parts = version.split(".")
    if not parts or not all(p.isdigit() and len(p) <= 6 for p in parts):
        return None
    return tuple(int(p) for p in parts)


def shipped_image() -> FirmwareImage:
    """The PDU firmware shipped with this controller (what auto-update installs)."""
    data = resources.files(__package__).joinpath("firmware_images", SHIPPED_NAME).read_bytes()
    return parse_image(data, SHIPPED_NAME)
