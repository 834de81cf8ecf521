"""Shell command ``reset-peaks``: reset a PDU's peak values from a script or a terminal.

``reset-peaks HEXID [t | i|b|o [N]]`` calls the core's ``DeviceService.reset_peaks`` (the
same call, permission check (device-setup) and audit entry as the Modbus write), then
says what was reset. Without a component every peak of the PDU is reset; ``o 3`` resets
outlet 3 only, ``b`` every branch. Bad input ends with exit code 2 and the usage line.
"""

from __future__ import annotations

from typing import Any

from .parse import UsageError

__all__ = ["cmd_reset_peaks", "USAGE"]

USAGE = "Usage: reset-peaks HEXID [t | i|b|o [N]]"


async def cmd_reset_peaks(sh: Any, args: list[str]) -> None:
    """``reset-peaks HEXID [component [index]]``: reset peaks through the core."""
    if not 1 <= len(args) <= 3:
        raise UsageError(USAGE)
    hex_id = args[0]
    component = args[1] if len(args) > 1 else None
    index: int | None = None
    if len(args) == 3:
        if not args[2].isdigit():
            raise UsageError(f"reset-peaks: element number {args[2]!r} is not a whole number "
                             f"from 1 up\n{USAGE}")
        index = int(args[2])
    target = await sh.core.devices.reset_peaks(sh.principal, hex_id, component, index)
    sh.emit({"hexId": hex_id, "reset": target}, f"Peaks of PDU {hex_id} reset: {target}")
