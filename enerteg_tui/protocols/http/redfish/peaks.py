"""Redfish ``ResetMetrics`` actions over the core's peak reset (``DeviceService.reset_peaks``).

Why: the OCP RackPDU profile asks ``#PowerDistributionMetrics.ResetMetrics``; Circuit
and Outlet have the same action. What the core keeps of a PDU that a reset clears is
its current peaks (totals, inputs, branches, outlets: the shell's ``reset peaks``), so
each action is that reset, with its permission (``device-setup``), checks and audit entry
(``device.reset-peaks``, face ``redfish``):

- ``…/Metrics`` → every peak of the PDU;
- ``…/Mains/Mains`` → the input phases' peaks (``i``);
- ``…/Branches/<n>`` → that branch's (``b``, n); ``…/Outlets/<n>`` → that outlet's (``o``, n).

Energy counters are not reset: the ring has no command for it. An element shows the
action only where the PDU reports a peak for it (``currentPeak``).
"""

from __future__ import annotations

from typing import Any

from fastapi.responses import Response

from ....core.live import DeviceLive
from ....core.permissions import Action, require
from ....core.quantities import Component
from .errors import RedfishError
from .root import V1
from .tree import Ctx, route

__all__ = ["reset_action"]

PDUS = f"{V1}/PowerEquipment/RackPDUs"


def _has_peak(live: DeviceLive, comp: Component | None, idx: int | None) -> bool:
    for (c, n), group in live.groups.items():
        if "currentPeak" in group and (comp is None or (c is comp and (idx is None or n == idx))):
            return True
    return False


def reset_action(doc: dict[str, Any], live: DeviceLive, action: str,
                 comp: Component | None, idx: int | None) -> None:
    """Add ``#<action>`` (``PowerDistributionMetrics.ResetMetrics``…) to ``doc``'s Actions
    when the PDU keeps a peak the reset would clear."""
    if not _has_peak(live, comp, idx):
        return
    doc.setdefault("Actions", {})[f"#{action}"] = {
        "target": f"{doc['@odata.id']}/Actions/{action}"}


def _no_parameters(ctx: Ctx, action: str) -> None:
    if ctx.body:
        name = sorted(ctx.body)[0]
        raise RedfishError(400, "ActionParameterUnknown",
                           f"{action} has no parameter {name!r}; it takes none",
                           args=[action, name])


def _pdu(ctx: Ctx) -> DeviceLive:
    """The PDU of the request, as ``power._pdu`` finds it (power imports this module)."""
    require(ctx.who, Action.READ, "PowerEquipment")
    live = ctx.core.live.get(ctx.params["pdu"])
    if live is None:
        raise RedfishError(404, "ResourceNotFound", f"There is no PDU {ctx.params['pdu']!r} "
                           "on the ring; RackPDUs lists them",
                           args=["PowerDistribution", ctx.params["pdu"]])
    return live


def _index(ctx: Ctx, count: int, what: str) -> int:
    raw = ctx.params["n"]
    if not raw.isdigit() or not 1 <= int(raw) <= count:
        raise RedfishError(404, "ResourceNotFound", f"There is no {what} {raw!r} on PDU "
                           f"{ctx.params['pdu']}; {what}s are 1 to {count}", args=[what, raw])
    return int(raw)


async def _reset(ctx: Ctx, action: str, comp: str | None, idx: int | None) -> Response:
    live = _pdu(ctx)
    _no_parameters(ctx, action)
    await ctx.core.devices.reset_peaks(ctx.who, live.hex_id, comp, idx)
    return Response(status_code=204, headers={"OData-Version": "4.0"})


@route(f"{PDUS}/{{pdu}}/Metrics/Actions/PowerDistributionMetrics.ResetMetrics", "POST")
async def reset_pdu(ctx: Ctx) -> Response:
    return await _reset(ctx, "PowerDistributionMetrics.ResetMetrics", None, None)


@route(f"{PDUS}/{{pdu}}/Mains/{{circuit}}/Actions/Circuit.ResetMetrics", "POST")
async def reset_mains(ctx: Ctx) -> Response:
    if ctx.params["circuit"] != "Mains":
        raise RedfishError(404, "ResourceNotFound", f"There is no mains circuit "
                           f"{ctx.params['circuit']!r}; the PDU has one, Mains",
                           args=["Circuit", ctx.params["circuit"]])
    return await _reset(ctx, "Circuit.ResetMetrics", "i", None)


@route(f"{PDUS}/{{pdu}}/Branches/{{n}}/Actions/Circuit.ResetMetrics", "POST")
async def reset_branch(ctx: Ctx) -> Response:
    n = _index(ctx, _pdu(ctx).info.model.branches, "branch")
    return await _reset(ctx, "Circuit.ResetMetrics", "b", n)


@route(f"{PDUS}/{{pdu}}/Outlets/{{n}}/Actions/Outlet.ResetMetrics", "POST")
async def reset_outlet(ctx: Ctx) -> Response:
    n = _index(ctx, _pdu(ctx).info.model.outlets, "outlet")
    return await _reset(ctx, "Outlet.ResetMetrics", "o", n)
