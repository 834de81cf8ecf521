"""Retiring a PDU that left the ring for good (issue 19 item 4, manual §8.4).

A PDU that is removed from the ring stays UNREACHABLE with a critical alarm until an
operator says it is gone. ``Retirement.forget_pdu`` is that one call for every face:
refused while the PDU answers (``DeviceService.check_forgettable``), then the registry
entry goes (the history stays and reports still find the PDU by hex id or name), and
every open alarm of the PDU is closed with the reason, each step audited. Called by the
shell's ``forget`` and the console's device page. ``remove_sensor`` does the same for a
disconnected sensor of a running PDU (manual §8.4).
"""

from __future__ import annotations

from dataclasses import dataclass

from .alarms import AlarmService
from .devices import DeviceService
from .permissions import Principal
from .safetext import refuse_control

__all__ = ["Retirement", "Forgotten"]


@dataclass(frozen=True, slots=True)
class Forgotten:
    """What forgetting a PDU did."""

    hex_id: str
    name: str
    alarms_closed: int
    reason: str


class Retirement:
    """Forget PDUs that left the ring.

    Args:
        devices: the device registry (checks and removes the PDU).
        alarms: closes the PDU's open alarms.
    """

    def __init__(self, devices: DeviceService, alarms: AlarmService) -> None:
        self._devices = devices
        self._alarms = alarms

    async def forget_pdu(self, principal: Principal, hex_id: str, reason: str = "") -> Forgotten:
        """Forget an UNREACHABLE PDU and close its alarms with ``reason``.

        Raises:
            PermissionDenied: needs ``administer``.
            NotFound: no such PDU.
            Conflict: the PDU still answers (RUNNING or STALE).
            Invalid: the reason holds a control character.
        """
        hex_id = hex_id.strip().lower()
        refuse_control("forget reason", reason, key="reason")
        live = await self._devices.forget(principal, hex_id, reason)
        name = live.info.display_name
        why = f'PDU "{name}" ({hex_id}) forgotten by {principal.user}' + (
            f": {reason.strip()}" if reason.strip() else ": it left the ring")
        # no await between forget (gone from live state) and close_device (watches dropped)
        closed = await self._alarms.close_device(principal, hex_id, why)
        return Forgotten(hex_id, name, len(closed), reason.strip())

    async def remove_sensor(self, principal: Principal, hex_id: str, index: int,
                            reason: str = "") -> Forgotten:
        """Remove a disconnected sensor of a running PDU and close its alarms.

        Raises:
            PermissionDenied: needs ``device-setup``.
            NotFound, DeviceUnavailable: no such PDU, or it is not running.
            Invalid: no such sensor. Conflict: the sensor is connected (it has a value).
        """
        hex_id = hex_id.strip().lower()
        refuse_control("remove reason", reason, key="reason")
        name = await self._devices.remove_sensor(principal, hex_id, index)
        why = f'sensor {index} "{name}" of PDU {hex_id} removed by {principal.user}' + (
            f": {reason.strip()}" if reason.strip() else ": it was disconnected")
        closed = await self._alarms.close_channels(principal, hex_id, "s", index, why)
        return Forgotten(hex_id, name, len(closed), reason.strip())
