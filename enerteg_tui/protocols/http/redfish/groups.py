"""Outlet groups of a PDU: the PDU itself and the DC racks, rows and rooms that hold it.

Why: a Redfish client switches a whole rack as one ``#OutletGroup.PowerControl``, the
way the shell's ``switch rack/...`` and the console do. The schema places OutletGroups
under a PowerDistribution (``RackPDUs/{id}/OutletGroups/{group}``), so each PDU lists
the groups it belongs to: ``PDU`` (all its switchable outlets, HardwareDefined) and
``rack-<id>``, ``row-<id>``, ``room-<id>`` for the elements of our structure that hold it
(UserDefined; ``Links.Outlets`` names the outlets of every PDU in the element, so the
same rack seen from each of its PDUs is the same group).

PowerControl goes through ``core.switching`` (``GroupSwitching.plan`` then ``run``):
the same permission check (``require_switch``), the same staggered sequence (the gap is
the largest fixed outlet delay of the PDUs involved), the same stop at the first failure
and the same audit (``outlet.group.start``/``end`` and one ``outlet.*`` per outlet) as
every face. As for one outlet, the manual's confirmation is ``"Confirm": true`` in the
request; without it nothing moves. The answer comes when the run has ended: ``204``, or
``409`` naming where the run stopped.
"""

from __future__ import annotations

from typing import Any

from fastapi.responses import Response

from ....core.model import OutletAction, OutletState
from ....core.permissions import require_switch
from .errors import RedfishError
from .power import CONFIRM_FIELD, _pdu, _status
from .root import V1
from .tree import Ctx, collection, route

__all__ = ["group_ids"]

PDUS = f"{V1}/PowerEquipment/RackPDUs"
WHOLE = "PDU"
"""The id of the group of all of a PDU's outlets."""
_KINDS = ("rack", "row", "room")


def group_ids(ctx: Ctx, hex_id: str) -> list[str]:
    """The groups of a PDU: ``PDU``, then its rack, row and room (where it has them)."""
    places = ctx.core.structure.places_of(hex_id)
    return [WHOLE, *(f"{k}-{places[k]}" for k in _KINDS if places.get(k))]


def _group(ctx: Ctx) -> tuple[Any, str, int | None]:
    """The PDU, the group id and its element (None: the whole PDU); 404 otherwise."""
    live = _pdu(ctx)
    gid = ctx.params["group"]
    if gid not in group_ids(ctx, live.hex_id):
        raise RedfishError(404, "ResourceNotFound", f"There is no outlet group {gid!r} on "
                           f"PDU {live.hex_id}; its groups are "
                           f"{', '.join(group_ids(ctx, live.hex_id))}",
                           args=["OutletGroup", gid])
    return live, gid, None if gid == WHOLE else int(gid.split("-", 1)[1])


def _members(ctx: Ctx, live: Any, element: int | None) -> list[Any]:
    """The PDUs of the group, ring order."""
    if element is None:
        return [live]
    hexes = set(ctx.core.structure.devices_in(element))
    return [d for d in ctx.core.live.ordered() if d.hex_id in hexes]


@route(f"{PDUS}/{{pdu}}/OutletGroups")
async def outlet_groups(ctx: Ctx) -> dict[str, Any]:
    live = _pdu(ctx)
    base = f"{PDUS}/{live.hex_id}/OutletGroups"
    return collection(base, "#OutletGroupCollection.OutletGroupCollection", "Outlet groups",
                      [f"{base}/{g}" for g in group_ids(ctx, live.hex_id)])


@route(f"{PDUS}/{{pdu}}/OutletGroups/{{group}}")
async def outlet_group(ctx: Ctx) -> dict[str, Any]:
    live, gid, element = _group(ctx)
    base = f"{PDUS}/{live.hex_id}/OutletGroups/{gid}"
    members = _members(ctx, live, element)
    outlets = [{"@odata.id": f"{PDUS}/{d.hex_id}/Outlets/{n}"}
               for d in members if d.info.model.switchable
               for n in range(1, d.info.model.outlets + 1)]
    if element is None:
        name = f"All outlets of {live.info.display_name}"
    else:
        el = ctx.core.structure.get(element)
        name = f"{el.kind.value.capitalize()} {ctx.core.structure.path(el)}"
    doc: dict[str, Any] = {
        "@odata.id": base, "@odata.type": "#OutletGroup.v1_2_0.OutletGroup", "Id": gid,
        "Name": name, "OutletGroupType": "HardwareDefined" if element is None
        else "UserDefined",
        "Description": f"{len(members)} PDU(s); switched one outlet after another "
                       "(the largest fixed outlet delay apart)",
        "Status": _status(live) if element is None else {"State": "Enabled", "Health": "OK"},
        "PowerEnabled": any(d.info.model.switchable for d in members),
        "Links": {"Outlets": outlets, "Outlets@odata.count": len(outlets)}}
    states = {(d.pending_outlets.get(n) or d.outlet_states.get(n))
              for d in members if d.info.model.switchable and not d.stale
              for n in range(1, d.info.model.outlets + 1)}
    if states == {OutletState.ON}:
        doc["PowerState"] = "On"
    elif states == {OutletState.OFF}:
        doc["PowerState"] = "Off"
    if doc["PowerEnabled"]:
        doc["Actions"] = {"#OutletGroup.PowerControl": {
            "target": f"{base}/Actions/OutletGroup.PowerControl",
            "PowerState@Redfish.AllowableValues": ["On", "Off", "PowerCycle"]}}
    return doc


_ACTIONS = {"On": OutletAction.ON, "Off": OutletAction.OFF, "PowerCycle": OutletAction.CYCLE}


@route(f"{PDUS}/{{pdu}}/OutletGroups/{{group}}/Actions/OutletGroup.PowerControl", "POST")
async def group_power_control(ctx: Ctx) -> Response:
    live, gid, element = _group(ctx)
    unknown = sorted(set(ctx.body) - {"PowerState", CONFIRM_FIELD})
    if unknown:
        raise RedfishError(400, "ActionParameterUnknown",
                           f"OutletGroup.PowerControl has no parameter {unknown[0]!r}; its "
                           f"parameters are PowerState and {CONFIRM_FIELD}",
                           args=["OutletGroup.PowerControl", unknown[0]])
    state = ctx.body.get("PowerState")
    action = _ACTIONS.get(state) if isinstance(state, str) else None
    if action is None:
        raise RedfishError(400, "ActionParameterMissing" if state is None else
                           "ActionParameterValueNotInList",
                           f"PowerState {state!r} is not allowed; allowed: On, Off, PowerCycle",
                           args=[str(state), "PowerState", "OutletGroup.PowerControl"])
    if ctx.body.get(CONFIRM_FIELD) is not True:
        raise RedfishError(400, "ActionParameterMissing",
                           f"OutletGroup.PowerControl needs \"{CONFIRM_FIELD}\": true "
                           f"(switching a group is confirmed in the request; got "
                           f"{ctx.body.get(CONFIRM_FIELD)!r}); nothing was switched",
                           args=["OutletGroup.PowerControl", CONFIRM_FIELD])
    switching = ctx.core.switching
    plan = (switching.plan(ctx.who, action, devices=[live.hex_id]) if element is None
            else switching.plan(ctx.who, action, element=element))
    require_switch(ctx.who, action, plan.target)   # also when nothing is left to switch
    if plan.steps:
        result = await switching.run(ctx.who, plan)
        if not result.ok:
            raise RedfishError(409, "ResourceInUse", result.message())
    return Response(status_code=204, headers={"OData-Version": "4.0"})
