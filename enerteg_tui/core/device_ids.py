"""Device IDs are unique on a ring: one rule for every face.

A PDU's Device ID (1-247) is its SNMP index and its Modbus unit id, so two PDUs with the
same ID would make a reader get one of them without knowing which. Two places need the
rule: ``DeviceService.update_settings`` (every face's settings write: shell ``put``, the
console's Configuration form, SNMP and Modbus writes) refuses an ID another PDU already
holds, and ``AlarmService.on_sweep`` raises a condition alarm (``duplicateDeviceId``, one
per shared ID) while the ring itself reports two PDUs with one ID (a PDU set up on its
own display, or moved in from another ring), cleared when it is resolved. Faces answer
for neither PDU meanwhile (Modbus exception 0x0B).
"""

from __future__ import annotations

from .alarm_texts import DUPLICATE_ID, compose
from .errors import Conflict
from .live import DeviceLive, LiveState

__all__ = ["CONDITION", "check_unique", "duplicates", "duplicate_text"]

CONDITION = "duplicateDeviceId"
"""Name of the condition alarm raised per Device ID that two or more PDUs report."""


def _label(d: DeviceLive) -> str:
    return f'"{d.info.display_name}" ({d.hex_id})'


def check_unique(live: LiveState, hex_id: str, device_id: int, what: str) -> None:
    """Refuse giving PDU ``hex_id`` the Device ID ``device_id`` when another known PDU
    (running or not: it keeps its ID) already has it.

    Raises:
        Conflict: names the ID and the PDU holding it, and says what is allowed.
    """
    holder = next((d for d in live.devices.values()
                   if d.hex_id != hex_id and d.info.settings.device_id == device_id), None)
    if holder is None:
        return
    taken = {d.info.settings.device_id for d in live.devices.values() if d.hex_id != hex_id}
    free = next((n for n in range(1, 248) if n not in taken), None)
    hint = f"; {free} is free" if free is not None else ""
    raise Conflict(
        f"{what}: Device ID {device_id} is already the Device ID of PDU {_label(holder)}; "
        f"Device IDs must be unique on the ring (1-247, one per PDU{hint})",
        thing="deviceId", value=device_id,
        allowed=f"a Device ID from 1 to 247 that no other PDU has{hint}")


def duplicates(live: LiveState) -> dict[int, list[DeviceLive]]:
    """Device ID → the PDUs (two or more, in ring order) that report it."""
    by_id: dict[int, list[DeviceLive]] = {}
    for d in live.devices.values():
        by_id.setdefault(d.info.settings.device_id, []).append(d)
    return {i: sorted(ds, key=lambda d: d.info.position)
            for i, ds in by_id.items() if len(ds) > 1}


def duplicate_text(device_id: int, devices: list[DeviceLive]) -> str:
    """The alarm's sentence for one shared Device ID."""
    names = ", ".join(_label(d) for d in devices)
    return compose(DUPLICATE_ID, id=device_id, count=len(devices), names=names, unit=device_id)
