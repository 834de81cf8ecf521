"""The Modbus register map, read from ``modbus_map.csv`` (the one source of truth).

The CSV lists every field once: its scope (a PDU unit or the controller unit), its block
(base address and size in registers), the element it repeats over (totals, inputs,
branches, outlets, sensors: ``first``..``last`` at ``stride``), its offset, type, scale
and access. The server's address lookup, the tests and docs/modbus-registers.md are all
built from it here, and register 18-19 of every unit's header carry the CRC-32 of the
file, so an integrator can tell which map they read. No pymodbus import: the doc
generator and the tests load this module without the server.

Conventions (layout 1.1): wire addresses are 0-based; 32-bit values are big-endian words
(high word at the lower address, each word most significant byte first, "ABCD"); strings
are UTF-8, two bytes per register, first byte high, NUL-padded; "not available" is NaN
(0x7FC00000) for float32, 0xFFFFFFFF for uint32, 0xFFFF for uint16 and 0x8000 for int16.
"""

from __future__ import annotations

import csv
import io
import math
import struct
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = ["MAP_PATH", "Field", "RegisterMap", "load_map", "encode", "render_markdown",
           "render_points", "LAYOUT", "NAN_WORDS", "SCOPES"]

MAP_PATH = Path(__file__).with_name("modbus_map.csv")
LAYOUT = (1, 1)
"""(major, minor) of the layout the CSV describes (header registers 2 and 3)."""
SCOPES = ("pdu", "controller")
NAN_WORDS = (0x7FC0, 0x0000)

_FIXED_REGS = {"uint16": 1, "int16": 1, "uint32": 2, "int32": 2, "float32": 2, "uint64": 4}
_NO_VALUE = {"uint16": [0xFFFF], "int16": [0x8000], "uint32": [0xFFFF, 0xFFFF],
             "int32": [0x8000, 0x0000], "float32": list(NAN_WORDS),
             "uint64": [0xFFFF] * 4}


def type_regs(kind: str) -> int:
    """Registers a value of ``kind`` takes (``str32`` = 32 bytes = 16 registers)."""
    if kind in _FIXED_REGS:
        return _FIXED_REGS[kind]
    for prefix in ("str", "bytes"):
        if kind.startswith(prefix) and kind[len(prefix):].isdigit():
            return (int(kind[len(prefix):]) + 1) // 2
    raise ValueError(f"unknown register type {kind!r}")


@dataclass(frozen=True, slots=True)
class Field:
    """One concrete register field: a CSV row at one element index."""

    scope: str
    block: str
    element: str
    index: int
    address: int
    name: str
    source: str
    kind: str
    regs: int
    scale: float | None
    unit: str
    writable: bool
    quantity: str = ""
    """The core quantity key of a measurement (source ``q:<key>``), else empty."""

    @property
    def point(self) -> str:
        """A stable point name: ``o12_current``, ``hdr_magic``."""
        return f"{self.element}{self.index or ''}_{self.name}" if self.element in (
            "t", "i", "b", "o", "s") else f"{self.element}_{self.name}"


def encode(kind: str, value: Any, scale: float | None = None) -> list[int]:
    """``value`` as the registers of ``kind`` (None: the type's "not available")."""
    n = type_regs(kind)
    if kind.startswith("str"):
        raw = (value or "").encode("utf-8")[: n * 2].ljust(n * 2, b"\0")
        return list(struct.unpack(f">{n}H", raw))
    if kind.startswith("bytes"):
        raw = bytes(value or b"")[: n * 2].ljust(n * 2, b"\0")
        return list(struct.unpack(f">{n}H", raw))
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return list(_NO_VALUE[kind])
    if kind == "float32":
        return list(struct.unpack(">HH", struct.pack(">f", float(value))))
    number = round(value / scale) if scale else round(value)
    if kind == "uint16":
        return [number] if 0 <= number < 0xFFFF else [0xFFFF]
    if kind == "int16":
        return [number & 0xFFFF] if -0x7FFF <= number <= 0x7FFF else [0x8000]
    if kind == "uint32":
        return list(divmod(number, 0x10000)) if 0 <= number < 0xFFFFFFFF else [0xFFFF, 0xFFFF]
    if kind == "int32":
        if not -0x7FFFFFFF <= number <= 0x7FFFFFFF:
            return [0x8000, 0]
        return list(divmod(number & 0xFFFFFFFF, 0x10000))
    number &= (1 << 64) - 1
    return [(number >> s) & 0xFFFF for s in (48, 32, 16, 0)]


class RegisterMap:
    """The parsed map: rows, concrete fields per scope, block extents, CRC."""

    def __init__(self, text: bytes) -> None:
        self.text = text
        self.crc = zlib.crc32(text) & 0xFFFFFFFF
        self.rows: list[dict[str, str]] = list(csv.DictReader(io.StringIO(text.decode("utf-8"))))
        self.fields: dict[str, list[Field]] = {s: [] for s in SCOPES}
        self.extents: dict[str, list[tuple[int, int]]] = {s: [] for s in SCOPES}
        for row in self.rows:
            scopes = SCOPES if row["scope"] == "both" else (row["scope"],)
            base, size = int(row["base"]), int(row["size"])
            stride, offset = int(row["stride"]), int(row["offset"])
            for scope in scopes:
                if (base, base + size) not in self.extents[scope]:
                    self.extents[scope].append((base, base + size))
                for index in range(int(row["first"]), int(row["last"]) + 1):
                    self.fields[scope].append(Field(
                        scope, row["block"], row["element"], index,
                        base + index * stride + offset, row["name"], row["source"],
                        row["type"], type_regs(row["type"]),
                        float(row["scale"]) if row["scale"] else None, row["unit"],
                        row["access"] == "RW",
                        row["source"][2:] if row["source"].startswith("q:") else ""))
        self.owner: dict[str, dict[int, Field]] = {}
        self._plans: dict[tuple[str, int, int], tuple[tuple[Field, int, int, int], ...]] = {}
        for scope in SCOPES:
            self.extents[scope].sort()
            owner: dict[int, Field] = {}
            for f in self.fields[scope]:
                for a in range(f.address, f.address + f.regs):
                    if a in owner:
                        raise ValueError(f"modbus map: {f.point} overlaps {owner[a].point} at {a}")
                    owner[a] = f
            self.owner[scope] = owner

    def block_of(self, scope: str, address: int, count: int) -> tuple[int, int] | None:
        """The block extent holding ``address`` … ``address+count-1`` whole, or None (0x02)."""
        for start, end in self.extents[scope]:
            if start <= address and address + count <= end:
                return start, end
        return None

    def plan(self, scope: str, address: int, count: int) -> tuple[tuple[Field, int, int, int], ...]:
        """How to fill a read: (field, first register of the field used, past the last
        one, where it goes in the answer) per field; cached per range (clients repeat
        the same requests)."""
        key = (scope, address, count)
        plan = self._plans.get(key)
        if plan is None:
            out = []
            for f in self.fields_in(scope, address, count):
                lo = max(0, address - f.address)
                hi = min(f.regs, address + count - f.address)
                out.append((f, lo, hi, f.address + lo - address))
            plan = tuple(out)
            if len(self._plans) >= 4096:
                self._plans.clear()
            self._plans[key] = plan
        return plan

    def fields_in(self, scope: str, address: int, count: int) -> list[Field]:
        """Fields with at least one register in the range, in address order."""
        owner = self.owner[scope]
        out: list[Field] = []
        seen: set[int] = set()
        for a in range(address, address + count):
            f = owner.get(a)
            if f is not None and f.address not in seen:
                seen.add(f.address)
                out.append(f)
        return out


_CACHE: dict[Path, RegisterMap] = {}


def load_map(path: Path = MAP_PATH) -> RegisterMap:
    """The map in ``path`` (parsed once per process)."""
    if path not in _CACHE:
        _CACHE[path] = RegisterMap(path.read_bytes())
    return _CACHE[path]


# ---------------------------------------------------------------------- the document
_BLOCK_TITLES = {
    "header": "Header (PDU units)", "identification": "Identification (PDU units)",
    "switching": "Switching control (PDU units)", "totals": "Totals (PDU units)",
    "inputs": "Inputs / phases (PDU units)", "branches": "Branches (PDU units)",
    "outlets": "Outlets (PDU units)", "sensors": "Sensors (PDU units)",
    "controller": "Controller (unit 0 and 255)", "directory": "Directory (unit 0 and 255)",
    "presence": "Presence bitmap (unit 0 and 255)",
}


def render_markdown(rmap: RegisterMap) -> str:
    """docs/modbus-registers.md: every row of the map, grouped by block."""
    out = [
        "# Modbus register list (layout %d.%d)" % LAYOUT, "",
        "Generated from `enerteg_tui/protocols/modbus/modbus_map.csv` by "
        "`scripts/modbus-doc.py`; do not edit by hand (a test compares them). The same CSV "
        "is in the controller's SFTP `/docs` folder. Integration guide: docs/modbus.md.", "",
        f"Map CRC-32: `0x{rmap.crc:08X}` (header registers 18-19 of every unit).", "",
        "- **Addresses are 0-based wire addresses, in decimal** (mbpoll: `-0`).",
        "- FC03 and FC04 return the same data. FC06/FC16 write the RW fields when "
        "`config/modbus allowWrite` is on.",
        "- 32-bit values are **big-endian words** (ABCD): high word at the lower address, "
        "each word most significant byte first. 230.0 V = `0x4366 0x0000`; 1234.56 kWh = "
        "uint32 123456 = `0x0001 0xE240`.",
        "- Not available: float32 NaN `0x7FC0 0x0000`, uint32 `0xFFFF 0xFFFF`, uint16 "
        "`0xFFFF`, int16 `0x8000`, empty string.",
        "- Strings: UTF-8, two bytes per register (first byte high), NUL-padded.",
        "- Registers inside a block that no row names read 0; a read that leaves its block "
        "or starts outside every block answers exception 0x02.",
        "- Element address = base + index × stride + offset; the address column gives it "
        "for the first element of a repeated record (outlet 1, input 1…).", "",
        "Changes: layout 1.0 is the first published map. Layout 1.1 adds the peak resets "
        "(identification offset 127 `reset_peaks`, record offset 40 `reset_peak` of totals, "
        "inputs, branches and outlets) in reserved space; nothing moved.", "",
    ]
    blocks: dict[tuple[str, str], list[dict[str, str]]] = {}
    for row in rmap.rows:
        blocks.setdefault((row["block"], row["scope"]), []).append(row)
    for (block, scope), rows in blocks.items():
        first = rows[0]
        base, size = int(first["base"]), int(first["size"])
        title = _BLOCK_TITLES.get(block, block)
        if scope == "controller" and block == "header":
            title = "Header (unit 0 and 255: same fields, unit type 0)"
        out.append(f"## {title}")
        out.append("")
        rng = f"{base}-{base + size - 1}"
        if first["element"] in ("t", "i", "b", "o", "s"):
            lo, hi, stride = int(first["first"]), int(first["last"]), int(first["stride"])
            out.append(f"Block {rng}; element `{first['element']}` {lo}-{hi} at "
                       f"{base} + n × {stride} (element {lo} at "
                       f"{base + lo * stride}).")
        elif int(first["last"]) > 0:
            out.append(f"Block {rng}; {int(first['last']) + 1} words at {base} + n.")
        else:
            out.append(f"Block {rng}.")
        out.append("")
        out.append("| address | offset | name | type | regs | scale | unit | access | description |")
        out.append("|---|---|---|---|---|---|---|---|---|")
        for row in rows:
            desc = row["description"].replace("|", "\\|")
            first = int(row["first"]) if int(row["stride"]) > 1 else 0
            address = base + first * int(row["stride"]) + int(row["offset"])
            out.append(f"| {address} | {row['offset']} | {row['name']} | {row['type']} | "
                       f"{type_regs(row['type'])} | {row['scale'] or '1'} | {row['unit']} | "
                       f"{row['access']} | {desc} |")
        out.append("")
    return "\n".join(out)


def render_points(rmap: RegisterMap) -> str:
    """The expanded point list (``modbus_points.csv``): one row per concrete field with a
    stable point name (``o12_current`` at 11206), for a BMS or SCADA import."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["units", "point", "address", "type", "registers", "scale", "unit", "access",
                "function_codes"])
    for scope in SCOPES:
        units = "1-247" if scope == "pdu" else "0,255"
        for f in sorted(rmap.fields[scope], key=lambda f: f.address):
            fcs = "3,4,6,16" if f.writable else "3,4"
            w.writerow([units, f.point, f.address, f.kind, f.regs,
                        "" if f.scale is None else f"{f.scale:g}", f.unit,
                        "RW" if f.writable else "R", fcs])
    return buf.getvalue()
