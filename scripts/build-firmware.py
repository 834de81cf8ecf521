#!/usr/bin/env python3
"""Build a PDU firmware image (docs/firmware.md) from a payload file, or the simulated
PDUs' image shipped in enerteg_tui/core/firmware_images/ (``--shipped``).

    scripts/build-firmware.py --version 5.4.0 payload.bin out.etgfw
    scripts/build-firmware.py --shipped

The shipped payload is deterministic (a banner and SHA-256 chained filler, 24 KiB), so
the file in the repository can be rebuilt byte for byte.
"""

from __future__ import annotations

import argparse
import hashlib
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from enerteg_tui.core.firmware_image import SHIPPED_NAME, build_image, parse_image  # noqa: E402

SHIPPED_VERSION = "5.3.0"
SHIPPED_SIZE = 24 * 1024


def shipped_payload(version: str = SHIPPED_VERSION, size: int = SHIPPED_SIZE) -> bytes:
    """The simulated firmware: a banner, then SHA-256 chained filler up to ``size``."""
    out = bytearray(f"EnerTEG PDU 5.0 simulated firmware {version}\n".encode())
    block = hashlib.sha256(version.encode()).digest()
    while len(out) < size:
        block = hashlib.sha256(block).digest()
        out += block
    return bytes(out[:size])


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--shipped", action="store_true", help="rebuild the shipped image")
    ap.add_argument("--version", help="firmware version, such as 5.4.0")
    ap.add_argument("payload", nargs="?", type=Path)
    ap.add_argument("out", nargs="?", type=Path)
    a = ap.parse_args()
    if a.shipped:
        out = Path(__file__).resolve().parent.parent / "enerteg_tui/core/firmware_images" / SHIPPED_NAME
        data = build_image(SHIPPED_VERSION, shipped_payload())
    else:
        if not (a.version and a.payload and a.out):
            ap.error("give --version, a payload file and an output file (or --shipped)")
        out, data = a.out, build_image(a.version, a.payload.read_bytes())
    parse_image(data, out.name)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_bytes(data)
    print(f"{out}: {len(data)} bytes")
    return 0


if __name__ == "__main__":
    sys.exit(main())
