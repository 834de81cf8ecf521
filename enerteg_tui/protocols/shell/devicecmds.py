"""Shell commands that act on one PDU: ``reset-peaks`` and ``forget``.

``reset-peaks HEXID [t | i|b|o [N]]`` calls the core's ``DeviceService.reset_peaks`` (the
same call, permission check (device-setup) and audit entry as the Modbus write), then
says what was reset. Without a component every peak of the PDU is reset; ``o 3`` resets
outlet 3 only, ``b`` every branch. Bad input ends with exit code 2 and the usage line.

``forget HEXID [--reason TEXT] [--yes]`` (issue 19 item 4, manual §8.4) calls the core's
``Retirement.forget_pdu`` with the session's principal: refused while the PDU answers; its
alarms are closed with the reason; its history stays reportable. At a terminal it asks for
``y`` first; a script must say ``--yes`` (without it nothing changes and the exit code is 2).
``--sensor N`` removes sensor N of a running PDU instead (``Retirement.remove_sensor``;
refused while the sensor has a value).
"""

from __future__ import annotations

from typing import Any

from ...core.i18n import _
from .parse import UsageError

__all__ = ["cmd_reset_peaks", "USAGE", "cmd_forget", "FORGET_USAGE"]

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


FORGET_USAGE = "forget HEXID [--sensor N] [--reason TEXT] [--yes]"


async def cmd_forget(sh: Any, args: list[str]) -> None:
    """forget HEXID [--reason TEXT] [--yes]."""
    words, reason, yes, sensor = [], "", False, None
    i = 0
    while i < len(args):
        word = args[i]
        if word == "--yes":
            yes = True
        elif word == "--reason" and i + 1 < len(args):
            reason = args[i + 1]
            i += 1
        elif word.startswith("--reason="):
            reason = word.partition("=")[2]
        elif word == "--sensor" and i + 1 < len(args):
            if not args[i + 1].isdigit():
                raise UsageError(f"forget: --sensor takes a sensor number, not {args[i + 1]!r}")
            sensor = int(args[i + 1])
            i += 1
        elif word.startswith("--"):
            raise UsageError(f"forget: unknown option {word!r}\nUsage: {FORGET_USAGE}")
        else:
            words.append(word)
        i += 1
    if len(words) != 1:
        raise UsageError(f"Usage: {FORGET_USAGE}")
    hex_id = words[0].strip().lower()
    if sensor is not None:
        await _remove_sensor(sh, hex_id, sensor, reason, yes)
        return
    live = sh.core.devices.check_forgettable(sh.principal, hex_id)  # refuse before asking
    if not yes:
        if not sh.interactive:
            raise UsageError(f"a script must confirm: forget {hex_id} --yes")
        from .term import read_line

        sh.io.write(f'Forget PDU "{live.info.display_name}" ({hex_id})? Its alarms are closed; '
                    "its history is kept. [y/N] ")
        answer = (await read_line(sh.io)) or ""
        if answer.strip().lower() not in ("y", "yes"):
            sh.msg(_("Nothing changed."))
            return
    done = await sh.core.retire.forget_pdu(sh.principal, hex_id, reason)
    sh.emit({"hexId": done.hex_id, "name": done.name, "alarmsClosed": done.alarms_closed,
             "reason": done.reason},
            f'PDU "{done.name}" ({done.hex_id}) forgotten; {done.alarms_closed} alarm(s) closed; '
            "its history stays reportable.")


async def _remove_sensor(sh: Any, hex_id: str, index: int, reason: str, yes: bool) -> None:
    name = sh.core.devices.check_sensor_removable(sh.principal, hex_id, index)
    if not yes:
        if not sh.interactive:
            raise UsageError(f"a script must confirm: forget {hex_id} --sensor {index} --yes")
        from .term import read_line

        sh.io.write(f'Remove disconnected sensor {index} "{name}" of PDU {hex_id}? Its alarms '
                    "are closed; its history is kept. [y/N] ")
        if ((await read_line(sh.io)) or "").strip().lower() not in ("y", "yes"):
            sh.msg(_("Nothing changed."))
            return
    done = await sh.core.retire.remove_sensor(sh.principal, hex_id, index, reason)
    sh.emit({"hexId": hex_id, "sensor": index, "name": done.name,
             "alarmsClosed": done.alarms_closed, "reason": done.reason},
            f'Sensor {index} "{done.name}" of PDU {hex_id} removed; {done.alarms_closed} '
            "alarm(s) closed; its history is kept.")
