"""The PDUs of the ring as Redfish PowerDistribution (RackPDU), Chassis and Sensors.

Why: what the OCP RackPDU profile asks of a rack PDU, from live state per request: the
Mains circuit (the input phases), Branches (breaker state), Outlets (state, readings,
``#Outlet.PowerControl`` through ``DeviceService.switch``, its permission check and
audit), Metrics (power, energy), a Chassis per PDU with its Sensors. A reading is absent
while its PDU is not running (stale or unreachable), never zero or old.

Ids: a PDU is its hex id (RackPDUs/{hex} and Chassis/{hex}); the Mains circuit is
``Mains``; branches and outlets are their numbers (1-based, as the shell's).
"""

from __future__ import annotations

import re
import uuid
from typing import Any

from fastapi.responses import Response

from ....core.live import DeviceLive
from ....core.model import OutletAction, OutletState
from ....core.permissions import Action, require
from ....core.quantities import Component
from .errors import RedfishError
from .peaks import reset_action
from .placement import UNCHANGED, location, rack_of_patch
from .root import MANAGER, V1, iso
from .tree import Ctx, collection, etag, route

__all__ = ["CONFIRM_FIELD"]

PE = f"{V1}/PowerEquipment"
PDUS = f"{PE}/RackPDUs"
CONFIRM_FIELD = "Confirm"
"""The request body field #Outlet.PowerControl requires to be true: the manual's
"unlock, then confirm" in one deliberate request (docs/redfish.md)."""

_LINES = ("Line1", "Line2", "Line3")
_TO_N = ("Line1ToNeutral", "Line2ToNeutral", "Line3ToNeutral")


def _pdu(ctx: Ctx) -> DeviceLive:
    require(ctx.who, Action.READ, "PowerEquipment")
    hex_id = ctx.params["pdu"]
    live = ctx.core.live.get(hex_id)
    if live is None:
        raise RedfishError(404, "ResourceNotFound",
                           f"There is no PDU {hex_id!r} on the ring; RackPDUs lists them",
                           args=["PowerDistribution", hex_id])
    return live


def _uuid(live: DeviceLive) -> str:
    """A UUID stable for this PDU (its hex id)."""
    return str(uuid.uuid5(uuid.NAMESPACE_OID, f"enerteg-pdu-{live.hex_id}"))


def _nominal(live: DeviceLive, line_to_line: bool = False) -> str | None:
    """NominalVoltage from the PDU's voltage rating ("230/400V"): ``AC230V``, ``AC400V``."""
    numbers = re.findall(r"\d+", live.info.identification.voltage_rating)
    if not numbers:
        return None
    volts = numbers[-1] if line_to_line else numbers[0]
    value = f"AC{volts}V"
    return value if value in _NOMINAL else None


_NOMINAL = {"AC120V", "AC208V", "AC230V", "AC240V", "AC277V", "AC400V", "AC480V"}
"""The NominalVoltageType members a single figure can name (Circuit_v1.xml)."""
_RESTORE = {"noSwitchingOnPowerUp": "AlwaysOff", "systemWideDelay": "LastState",
            "individualDelay": "LastState"}
"""Our power-up mode (manual §8.7) as Redfish's PowerRestorePolicy: outlets stay off, or
come back as they were (after the system-wide or their own delay)."""


def _phase_context(phases: tuple[int, ...], n: int) -> str | None:
    if n <= len(phases) and 1 <= phases[n - 1] <= 3:
        return _TO_N[phases[n - 1] - 1]
    return None


def _status(live: DeviceLive) -> dict[str, str]:
    if live.stale:
        return {"State": "UnavailableOffline", "Health": "Critical"}
    return {"State": "Enabled", "Health": "OK"}


def _v(live: DeviceLive, comp: Component, idx: int, q: str) -> float | None:
    return None if live.stale else live.value(comp, idx, q)


def _excerpt(live: DeviceLive, comp: Component, idx: int, q: str,
             extra: dict[str, str] | None = None) -> dict[str, Any] | None:
    """``{"Reading": x, ...}`` of one quantity (and companions), or None when absent."""
    value = _v(live, comp, idx, q)
    if value is None:
        return None
    out: dict[str, Any] = {"Reading": value}
    for prop, key in (extra or {}).items():
        other = _v(live, comp, idx, key)
        if other is not None:
            out[prop] = other
    return out


_POWER_EXTRA = {"ApparentVA": "apparentPower", "ReactiveVAR": "reactivePower",
                "PowerFactor": "powerFactor"}
_WAVE_EXTRA = {"CrestFactor": "crestFactor", "THDPercent": "thd"}


def _put(doc: dict[str, Any], key: str, value: Any) -> None:
    if value is not None and value != {}:
        doc[key] = value


def _readings(doc: dict[str, Any], live: DeviceLive, comp: Component, idx: int) -> None:
    """The single-phase readings of a circuit or an outlet."""
    _put(doc, "Voltage", _excerpt(live, comp, idx, "voltage", _WAVE_EXTRA
                                  if comp is Component.INPUT else None))
    _put(doc, "CurrentAmps", _excerpt(live, comp, idx, "current", _WAVE_EXTRA
                                      if comp is not Component.BRANCH else None))
    _put(doc, "PowerWatts", _excerpt(live, comp, idx, "activePower", _POWER_EXTRA))
    _put(doc, "EnergykWh", _excerpt(live, comp, idx, "energy"))


# ------------------------------------------------------------------ equipment
@route(PE)
async def power_equipment(ctx: Ctx) -> dict[str, Any]:
    require(ctx.who, Action.READ, "PowerEquipment")
    return {"@odata.id": PE, "@odata.type": "#PowerEquipment.v1_2_3.PowerEquipment",
            "Id": "PowerEquipment", "Name": "Power equipment",
            "Status": {"State": "Enabled", "Health": "OK"},
            "RackPDUs": {"@odata.id": PDUS}}


@route(PDUS)
async def rack_pdus(ctx: Ctx) -> dict[str, Any]:
    require(ctx.who, Action.READ, "PowerEquipment")
    return collection(PDUS, "#PowerDistributionCollection.PowerDistributionCollection",
                      "Rack PDUs", [f"{PDUS}/{d.hex_id}" for d in ctx.core.live.ordered()])


@route(f"{PDUS}/{{pdu}}")
async def rack_pdu(ctx: Ctx) -> dict[str, Any]:
    live = _pdu(ctx)
    info, base = live.info, f"{PDUS}/{live.hex_id}"
    ident, model = info.identification, info.model
    doc: dict[str, Any] = {
        "@odata.id": base, "@odata.type": "#PowerDistribution.v1_6_0.PowerDistribution",
        "Id": live.hex_id, "Name": info.display_name, "EquipmentType": "RackPDU",
        "Manufacturer": "EnerTEG", "Model": model.type_name,
        "SerialNumber": ident.serial, "PartNumber": ident.part_number,
        "FirmwareVersion": ident.firmware_version, "Version": ident.hardware_version,
        "Status": _status(live), "UUID": _uuid(live), "UserLabel": info.settings.name,
        "Mains": {"@odata.id": f"{base}/Mains"},
        "Outlets": {"@odata.id": f"{base}/Outlets"},
        "OutletGroups": {"@odata.id": f"{base}/OutletGroups"},
        "Metrics": {"@odata.id": f"{base}/Metrics"},
        "Links": {"Chassis": [{"@odata.id": f"{V1}/Chassis/{live.hex_id}"}],
                  "ManagedBy": [{"@odata.id": MANAGER}]},
    }
    # every PDU links its Branches; a PDU without branch circuits has an empty collection
    doc["Branches"] = {"@odata.id": f"{base}/Branches"}
    doc["Location"] = location(ctx, live)
    return doc


WRITABLE = {"UserLabel": "name"}
"""The PowerDistribution properties PATCH may change → the DeviceSettings key."""


def _if_match(ctx: Ctx, current: dict[str, Any]) -> None:
    """``If-Match`` with an ETag that is not the current one: 412, nothing changed."""
    wanted = ctx.request.headers.get("if-match")
    if wanted and wanted.strip() != "*" and wanted.strip() != etag(current):
        raise RedfishError(412, "PreconditionFailed",
                           f"If-Match {wanted} is not the current ETag of {current['@odata.id']}"
                           " (it changed since it was read); nothing was changed",
                           resolution="GET the resource again and retry with its ETag")


async def _place(ctx: Ctx, hex_id: str, rack: Any) -> None:
    """Move the PDU to ``rack`` (an id, None: no rack) unless it is there already."""
    if rack is not UNCHANGED and ctx.core.structure.places_of(hex_id).get("rack") != rack:
        await ctx.core.structure.assign(ctx.who, hex_id, rack)


@route(f"{PDUS}/{{pdu}}", "PATCH")
async def rack_pdu_patch(ctx: Ctx) -> Any:
    """Change the PDU's name (UserLabel) through ``DeviceService.update_settings`` (its
    permission check, device-setup, and audit) and its rack (``Location.Placement``:
    ``placement.py``). ``If-Match`` with an ETag that is not the current one is 412 and
    changes nothing; so does any refused property (all are checked first)."""
    current = await rack_pdu(ctx)
    _if_match(ctx, current)
    if not ctx.body:
        raise RedfishError(400, "EmptyJSON", "The PATCH body has no property; writable: "
                           + ", ".join([*WRITABLE, "Location/Placement/Rack", "Row"]))
    changes: dict[str, Any] = {}
    for key, value in ctx.body.items():
        if key == "Location":
            continue
        if key not in WRITABLE:
            status_id = "PropertyNotWritable" if key in current else "PropertyUnknown"
            raise RedfishError(400, status_id, f"{key} cannot be changed here; writable: "
                               + ", ".join([*WRITABLE, "Location/Placement/Rack", "Row"])
                               + "; nothing was changed", args=[key])
        if not isinstance(value, str):
            raise RedfishError(400, "PropertyValueTypeError",
                               f"{key} must be a string, not {json_type(value)}; nothing was "
                               "changed", args=[str(value), key])
        changes[WRITABLE[key]] = value
    rack = rack_of_patch(ctx, ctx.body)
    hex_id = current["Id"]
    if changes and rack is not UNCHANGED:       # both or neither: the permissions first
        require(ctx.who, Action.DEVICE_SETUP, f"sensor/{hex_id}")
        require(ctx.who, Action.EDIT_STRUCTURE, f"sensor/{hex_id}")
    if changes:
        await ctx.core.devices.update_settings(ctx.who, ctx.params["pdu"], changes)
    await _place(ctx, hex_id, rack)
    return await rack_pdu(ctx)


def json_type(value: Any) -> str:
    """The JSON name of a value's type, for messages."""
    return {bool: "a boolean", int: "a number", float: "a number", list: "an array",
            dict: "an object", type(None): "null"}.get(type(value), "a string")


@route(f"{PDUS}/{{pdu}}/Metrics")
async def pdu_metrics(ctx: Ctx) -> dict[str, Any]:
    live = _pdu(ctx)
    doc: dict[str, Any] = {
        "@odata.id": f"{PDUS}/{live.hex_id}/Metrics",
        "@odata.type": "#PowerDistributionMetrics.v1_4_0.PowerDistributionMetrics",
        "Id": "Metrics", "Name": f"Metrics of {live.info.display_name}"}
    _put(doc, "PowerWatts", _excerpt(live, Component.TOTAL, 0, "activePower", _POWER_EXTRA))
    _put(doc, "EnergykWh", _excerpt(live, Component.TOTAL, 0, "energy"))
    currents = [_v(live, Component.INPUT, p, "current")
                for p in range(1, live.info.model.phases + 1)]
    if currents and None not in currents and live.info.model.rating_a:
        # the most loaded phase against the rated input current
        load = max(c for c in currents if c is not None) / live.info.model.rating_a * 100
        doc["PowerLoadPercent"] = {"Reading": round(load, 1)}
    reset_action(doc, live, "PowerDistributionMetrics.ResetMetrics", None, None)
    return doc


# ------------------------------------------------------------------ circuits
@route(f"{PDUS}/{{pdu}}/Mains")
async def mains(ctx: Ctx) -> dict[str, Any]:
    live = _pdu(ctx)
    return collection(f"{PDUS}/{live.hex_id}/Mains", "#CircuitCollection.CircuitCollection",
                      "Mains", [f"{PDUS}/{live.hex_id}/Mains/Mains"])


@route(f"{PDUS}/{{pdu}}/Mains/{{circuit}}")
async def mains_circuit(ctx: Ctx) -> dict[str, Any]:
    live = _pdu(ctx)
    if ctx.params["circuit"] != "Mains":
        raise RedfishError(404, "ResourceNotFound", f"There is no mains circuit "
                           f"{ctx.params['circuit']!r}; the PDU has one, Mains",
                           args=["Circuit", ctx.params["circuit"]])
    model = live.info.model
    doc: dict[str, Any] = {
        "@odata.id": f"{PDUS}/{live.hex_id}/Mains/Mains",
        "@odata.type": "#Circuit.v1_9_0.Circuit", "Id": "Mains", "Name": "Mains input",
        "CircuitType": "Mains", "VoltageType": "AC",
        "PhaseWiringType": "ThreePhase5Wire" if model.phases == 3 else "OnePhase3Wire",
        "RatedCurrentAmps": model.rating_a, "Status": _status(live),
        "ElectricalContext": "Total"}
    _put(doc, "NominalVoltage", _nominal(live, line_to_line=model.phases == 3))
    if not live.stale:
        volts = [_v(live, Component.INPUT, p, "voltage") for p in range(1, model.phases + 1)]
        if None not in volts:
            doc["PowerState"] = "On" if any(v and v > 0 for v in volts) else "Off"
    if model.phases == 1:
        _readings(doc, live, Component.INPUT, 1)
    else:
        for group, q, names, extra in (
                ("PolyPhaseVoltage", "voltage", _TO_N, _WAVE_EXTRA),
                ("PolyPhaseCurrentAmps", "current", _LINES, _WAVE_EXTRA),
                ("PolyPhasePowerWatts", "activePower", _TO_N, _POWER_EXTRA),
                ("PolyPhaseEnergykWh", "energy", _TO_N, None)):
            phases = {names[i]: _excerpt(live, Component.INPUT, i + 1, q, extra)
                      for i in range(model.phases)}
            if group == "PolyPhaseCurrentAmps":
                phases["Neutral"] = _excerpt(live, Component.TOTAL, 0, "neutralCurrent")
            _put(doc, group, {k: v for k, v in phases.items() if v is not None})
        _put(doc, "PowerWatts", _excerpt(live, Component.TOTAL, 0, "activePower",
                                          _POWER_EXTRA))
        _put(doc, "EnergykWh", _excerpt(live, Component.TOTAL, 0, "energy"))
    _put(doc, "FrequencyHz", _excerpt(live, Component.INPUT, 1, "frequency"))
    # the input feeds every outlet, through the branch circuits where the PDU has them
    outlets = [{"@odata.id": f"{PDUS}/{live.hex_id}/Outlets/{n}"}
               for n in range(1, model.outlets + 1)]
    doc["Links"] = {"Outlets": outlets, "Outlets@odata.count": len(outlets)}
    if model.branches:
        fed = [{"@odata.id": f"{PDUS}/{live.hex_id}/Branches/{n}"}
               for n in range(1, model.branches + 1)]
        doc["Links"].update({"DistributionCircuits": fed,
                             "DistributionCircuits@odata.count": len(fed)})
    reset_action(doc, live, "Circuit.ResetMetrics", Component.INPUT, None)
    return doc


@route(f"{PDUS}/{{pdu}}/Branches")
async def branches(ctx: Ctx) -> dict[str, Any]:
    live = _pdu(ctx)
    base = f"{PDUS}/{live.hex_id}/Branches"
    return collection(base, "#CircuitCollection.CircuitCollection", "Branches",
                      [f"{base}/{n}" for n in range(1, live.info.model.branches + 1)])


def _index(ctx: Ctx, key: str, count: int, what: str) -> int:
    raw = ctx.params[key]
    if not raw.isdigit() or not 1 <= int(raw) <= count:
        raise RedfishError(404, "ResourceNotFound",
                           f"There is no {what} {raw!r} on PDU {ctx.params['pdu']}; "
                           f"{what}s are 1 to {count}", args=[what, raw])
    return int(raw)


@route(f"{PDUS}/{{pdu}}/Branches/{{n}}")
async def branch(ctx: Ctx) -> dict[str, Any]:
    live = _pdu(ctx)
    model = live.info.model
    n = _index(ctx, "n", model.branches, "branch")
    doc: dict[str, Any] = {
        "@odata.id": f"{PDUS}/{live.hex_id}/Branches/{n}",
        "@odata.type": "#Circuit.v1_9_0.Circuit", "Id": str(n), "Name": f"Branch {n}",
        "CircuitType": "Branch", "VoltageType": "AC", "PhaseWiringType": "OnePhase3Wire",
        "RatedCurrentAmps": model.branch_rating_a, "Status": _status(live)}
    if not live.stale:
        tripped = live.branch_tripped.get(n)
        if tripped is not None:
            doc["BreakerState"] = "Tripped" if tripped else "Normal"
    _put(doc, "ElectricalContext", _phase_context(model.branch_phase, n))
    _put(doc, "NominalVoltage", _nominal(live))
    _readings(doc, live, Component.BRANCH, n)
    outlets = [{"@odata.id": f"{PDUS}/{live.hex_id}/Outlets/{i + 1}"}
               for i, b in enumerate(model.outlet_branch) if b == n]
    doc["Links"] = {"Outlets": outlets, "Outlets@odata.count": len(outlets)}
    reset_action(doc, live, "Circuit.ResetMetrics", Component.BRANCH, n)
    return doc


# ------------------------------------------------------------------ outlets
@route(f"{PDUS}/{{pdu}}/Outlets")
async def outlets(ctx: Ctx) -> dict[str, Any]:
    live = _pdu(ctx)
    base = f"{PDUS}/{live.hex_id}/Outlets"
    return collection(base, "#OutletCollection.OutletCollection", "Outlets",
                      [f"{base}/{n}" for n in range(1, live.info.model.outlets + 1)])


def _power_state(live: DeviceLive, n: int) -> str | None:
    pending = live.pending_outlets.get(n)
    if pending is not None:
        return "PoweringOn" if pending is OutletState.ON else "PoweringOff"
    state = live.outlet_states.get(n)
    if state is None:
        return None
    return "On" if state is OutletState.ON else "Off"


@route(f"{PDUS}/{{pdu}}/Outlets/{{n}}")
async def outlet(ctx: Ctx) -> dict[str, Any]:
    live = _pdu(ctx)
    model = live.info.model
    n = _index(ctx, "n", model.outlets, "outlet")
    base = f"{PDUS}/{live.hex_id}/Outlets/{n}"
    names = live.info.settings.outlets
    doc: dict[str, Any] = {
        "@odata.id": base, "@odata.type": "#Outlet.v1_4_4.Outlet", "Id": str(n),
        "Name": names[n - 1].name if n <= len(names) and names[n - 1].name else f"Outlet {n}",
        "VoltageType": "AC", "PhaseWiringType": "OnePhase3Wire", "Status": _status(live),
        "PowerEnabled": model.switchable,
        "PowerRestorePolicy": _RESTORE[live.info.settings.power_up_mode.value]}
    _put(doc, "ElectricalContext", _phase_context(model.outlet_phase, n))
    _put(doc, "NominalVoltage", _nominal(live))
    if n <= len(names):
        doc["PowerOnDelaySeconds"] = names[n - 1].delay
        doc["PowerCycleDelaySeconds"] = names[n - 1].power_cycle_delay
    if not live.stale:
        _put(doc, "PowerState", _power_state(live, n))
    if model.metered_outlets:
        _readings(doc, live, Component.OUTLET, n)
    links: dict[str, Any] = {}
    if n <= len(model.outlet_branch) and model.outlet_branch[n - 1]:
        links["BranchCircuit"] = {
            "@odata.id": f"{PDUS}/{live.hex_id}/Branches/{model.outlet_branch[n - 1]}"}
    if links:
        doc["Links"] = links
    if model.switchable:
        doc["Actions"] = {"#Outlet.PowerControl": {
            "target": f"{base}/Actions/Outlet.PowerControl",
            "PowerState@Redfish.AllowableValues": ["On", "Off", "PowerCycle"]}}
    reset_action(doc, live, "Outlet.ResetMetrics", Component.OUTLET, n)
    return doc


_ACTIONS = {"On": OutletAction.ON, "Off": OutletAction.OFF, "PowerCycle": OutletAction.CYCLE}


@route(f"{PDUS}/{{pdu}}/Outlets/{{n}}/Actions/Outlet.PowerControl", "POST")
async def power_control(ctx: Ctx) -> Any:
    live = _pdu(ctx)
    model = live.info.model
    n = _index(ctx, "n", model.outlets, "outlet")
    unknown = sorted(set(ctx.body) - {"PowerState", CONFIRM_FIELD})
    if unknown:
        raise RedfishError(400, "ActionParameterUnknown",
                           f"Outlet.PowerControl has no parameter {unknown[0]!r}; its "
                           f"parameters are PowerState and {CONFIRM_FIELD}",
                           args=["Outlet.PowerControl", unknown[0]])
    state = ctx.body.get("PowerState")
    if state is None:
        raise RedfishError(400, "ActionParameterMissing",
                           "Outlet.PowerControl needs PowerState: On, Off or PowerCycle",
                           args=["Outlet.PowerControl", "PowerState"])
    action = _ACTIONS.get(state) if isinstance(state, str) else None
    if action is None:
        raise RedfishError(400, "ActionParameterValueNotInList",
                           f"PowerState {state!r} is not allowed; allowed: On, Off, PowerCycle",
                           args=[str(state), "PowerState", "Outlet.PowerControl"])
    if ctx.body.get(CONFIRM_FIELD) is not True:
        raise RedfishError(400, "ActionParameterMissing",
                           f"Outlet.PowerControl needs \"{CONFIRM_FIELD}\": true (switching "
                           f"an outlet is confirmed in the request; got "
                           f"{ctx.body.get(CONFIRM_FIELD)!r})",
                           args=["Outlet.PowerControl", CONFIRM_FIELD])
    await ctx.core.devices.switch(ctx.who, live.hex_id, n, action)
    return Response(status_code=204, headers={"OData-Version": "4.0"})


# ------------------------------------------------------------------ chassis and sensors
@route(f"{V1}/Chassis")
async def chassis_list(ctx: Ctx) -> dict[str, Any]:
    require(ctx.who, Action.READ, "Chassis")
    return collection(f"{V1}/Chassis", "#ChassisCollection.ChassisCollection", "Chassis",
                      [f"{V1}/Chassis/{d.hex_id}" for d in ctx.core.live.ordered()])


@route(f"{V1}/Chassis/{{pdu}}")
async def chassis(ctx: Ctx) -> dict[str, Any]:
    live = _pdu(ctx)
    info = live.info
    doc: dict[str, Any] = {"@odata.id": f"{V1}/Chassis/{live.hex_id}",
            "@odata.type": "#Chassis.v1_28_0.Chassis", "Id": live.hex_id,
            "Name": info.display_name, "ChassisType": "RackMount",
            "Manufacturer": "EnerTEG", "Model": info.model.type_name,
            "SerialNumber": info.identification.serial,
            "PartNumber": info.identification.part_number, "Status": _status(live),
            "UUID": _uuid(live),
            "Sensors": {"@odata.id": f"{V1}/Chassis/{live.hex_id}/Sensors"},
            "Links": {"ManagedBy": [{"@odata.id": MANAGER}],
                      "PowerDistribution": {"@odata.id": f"{PDUS}/{live.hex_id}"}}}
    doc["Location"] = location(ctx, live)
    if not live.stale:
        doc["PowerState"] = "On"                # it answers the ring: it has power
    return doc


@route(f"{V1}/Chassis/{{pdu}}", "PATCH")
async def chassis_patch(ctx: Ctx) -> Any:
    """The PDU's rack (``Location.Placement`` Rack/Row) through ``Structure.assign``
    (edit-structure, audited ``dc.assign``); ``If-Match`` as on the PowerDistribution."""
    current = await chassis(ctx)
    _if_match(ctx, current)
    other = sorted(set(ctx.body) - {"Location"})
    if other or not ctx.body:
        key = other[0] if other else ""
        raise RedfishError(400, "PropertyNotWritable" if key in current else
                           ("PropertyUnknown" if key else "EmptyJSON"),
                           (f"{key} cannot be changed here; " if key else
                            "The PATCH body has no property; ")
                           + "writable: Location/Placement/Rack and Row; nothing was changed",
                           args=[key] if key else [])
    await _place(ctx, current["Id"], rack_of_patch(ctx, ctx.body))
    return await chassis(ctx)


_SensorDef = tuple[Component, int, str, str, str, str | None]


def _sensors(live: DeviceLive) -> dict[str, _SensorDef]:
    """Sensor id → (component, index, quantity, ReadingType, unit, ElectricalContext)."""
    out: dict[str, _SensorDef] = {
        "Power": (Component.TOTAL, 0, "activePower", "Power", "W", "Total"),
        "Energy": (Component.TOTAL, 0, "energy", "EnergykWh", "kW.h", "Total")}
    for p in range(1, live.info.model.phases + 1):
        out[f"VoltageL{p}"] = (Component.INPUT, p, "voltage", "Voltage", "V", _TO_N[p - 1])
        out[f"CurrentL{p}"] = (Component.INPUT, p, "current", "Current", "A", _LINES[p - 1])
    for i, kind in enumerate(live.info.sensors, start=1):
        if kind.value == "temperature":
            out[f"Temperature{i}"] = (Component.SENSOR, i, "temperature", "Temperature",
                                      "Cel", None)
        elif kind.value == "humidity":
            out[f"Humidity{i}"] = (Component.SENSOR, i, "humidity", "Humidity", "%", None)
    return out


@route(f"{V1}/Chassis/{{pdu}}/Sensors")
async def sensors(ctx: Ctx) -> dict[str, Any]:
    live = _pdu(ctx)
    base = f"{V1}/Chassis/{live.hex_id}/Sensors"
    return collection(base, "#SensorCollection.SensorCollection", "Sensors",
                      [f"{base}/{sid}" for sid in _sensors(live)])


@route(f"{V1}/Chassis/{{pdu}}/Sensors/{{sensor}}")
async def sensor(ctx: Ctx) -> dict[str, Any]:
    live = _pdu(ctx)
    sid = ctx.params["sensor"]
    known = _sensors(live)
    if sid not in known:
        raise RedfishError(404, "ResourceNotFound", f"There is no sensor {sid!r} on PDU "
                           f"{live.hex_id}; Sensors lists them", args=["Sensor", sid])
    comp, idx, q, rtype, unit, context = known[sid]
    doc: dict[str, Any] = {
        "@odata.id": f"{V1}/Chassis/{live.hex_id}/Sensors/{sid}",
        "@odata.type": "#Sensor.v1_12_0.Sensor", "Id": sid, "Name": sid,
        "ReadingType": rtype, "ReadingUnits": unit, "Status": _status(live),
        "PhysicalContext": "PowerSupply" if comp is not Component.SENSOR else "Room"}
    value = _v(live, comp, idx, q)
    doc["Reading"] = value
    _put(doc, "ElectricalContext", context)
    doc["SensingInterval"] = f"PT{ctx.core.live.bus.interval_s:g}S"
    taken = live.group_ts.get((comp, idx))
    if value is not None and taken is not None:
        doc["ReadingTime"] = iso(taken)
    if q == "current":
        _put(doc, "PeakReading", _v(live, comp, idx, "currentPeak"))
    return doc
