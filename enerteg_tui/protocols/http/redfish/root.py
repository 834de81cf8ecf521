"""The service's own resources: ``/redfish``, ServiceRoot, OData documents, sessions,
accounts and roles, the controller's Manager.

Why together: these are the resources about the service and its users rather than
about the PDUs (``power.py``). ``$metadata`` references the CSDL files this package
ships (``csdl/``: only the ones referenced, copied from DMTF's published schemas) and
serves them under ``/redfish/v1/schemas/``.
"""

from __future__ import annotations

import time
import uuid
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from fastapi.responses import Response

from .... import __version__
from ....core.errors import PermissionDenied
from ....core.permissions import MATRIX, Action, Role, require
from .auth import redfish_password, session_timeout
from ....core.users import MAX_PASSWORD
from .errors import RedfishError
from .tree import ROUTES, Ctx, collection, route

__all__ = ["SCHEMAS", "CSDL_DIR", "metadata_xml", "redfish_role", "service_uuid", "iso"]

V1 = "/redfish/v1"
CSDL_DIR = Path(__file__).with_name("csdl")
"""The CSDL files ``$metadata`` references (a copy of DMTF's, see csdl/README.md)."""

SCHEMAS: dict[str, list[str]] = {
    "ServiceRoot": ["ServiceRoot.v1_20_0"],
    "SessionService": ["SessionService.v1_2_0"],
    "Session": ["Session.v1_8_0"],
    "SessionCollection": [],
    "AccountService": ["AccountService.v1_18_1"],
    "ManagerAccount": ["ManagerAccount.v1_14_1"],
    "ManagerAccountCollection": [],
    "Role": ["Role.v1_3_3"],
    "RoleCollection": [],
    "PowerEquipment": ["PowerEquipment.v1_2_3"],
    "PowerDistribution": ["PowerDistribution.v1_6_0"],
    "PowerDistributionCollection": [],
    "PowerDistributionMetrics": ["PowerDistributionMetrics.v1_4_0"],
    "Circuit": ["Circuit.v1_9_0"],
    "CircuitCollection": [],
    "Outlet": ["Outlet.v1_4_4"],
    "OutletCollection": [],
    "Chassis": ["Chassis.v1_28_0"],
    "ChassisCollection": [],
    "Sensor": ["Sensor.v1_12_0"],
    "SensorCollection": [],
    "Manager": ["Manager.v1_24_0"],
    "ManagerCollection": [],
    "Message": ["Message.v1_3_0"],
    "EventService": ["EventService.v1_12_0"],
    "EventDestination": ["EventDestination.v1_16_0"],
    "EventDestinationCollection": [],
    "Event": ["Event.v1_13_0"],
    "MessageRegistryFile": ["MessageRegistryFile.v1_1_5"],
    "MessageRegistryFileCollection": [],
    "MessageRegistry": ["MessageRegistry.v1_7_0"],
    "ManagerNetworkProtocol": ["ManagerNetworkProtocol.v1_12_0"],
    "LogService": ["LogService.v1_9_0"],
    "LogServiceCollection": [],
    "LogEntry": ["LogEntry.v1_21_0"],
    "LogEntryCollection": [],
    "OutletGroup": ["OutletGroup.v1_2_0"],
    "OutletGroupCollection": [],
    "CertificateService": ["CertificateService.v1_2_1"],
    "CertificateLocations": ["CertificateLocations.v1_0_3"],
    "Certificate": ["Certificate.v1_10_1"],
    "CertificateCollection": [],
    "EthernetInterface": ["EthernetInterface.v1_12_4"],
    "EthernetInterfaceCollection": [],
    "IPAddresses": ["IPAddresses.v1_1_5"],
    "UpdateService": ["UpdateService.v1_17_0"],
    "SoftwareInventory": ["SoftwareInventory.v1_13_0"],
    "SoftwareInventoryCollection": [],
    "TaskService": ["TaskService.v1_2_1"],
    "Task": ["Task.v1_7_4"],
    "TaskCollection": [],
    "Resource": ["Resource.v1_22_0"],
    "RedfishExtensions": ["RedfishExtensions.v1_0_0"],
}
"""Schema file stem → versioned namespaces included (the unversioned one always is)."""


def metadata_xml() -> str:
    """The ``$metadata`` document: a reference to each served CSDL file."""
    refs = []
    for stem, versions in SCHEMAS.items():
        incl = [f'    <edmx:Include Namespace="{stem}"/>']
        if stem == "RedfishExtensions":
            incl = ['    <edmx:Include Namespace="RedfishExtensions.v1_0_0" Alias="Redfish"/>']
        else:
            incl += [f'    <edmx:Include Namespace="{v}"/>' for v in versions]
        refs.append(f'  <edmx:Reference Uri="{V1}/schemas/{stem}_v1.xml">\n'
                    + "\n".join(incl) + "\n  </edmx:Reference>")
    return ('<?xml version="1.0" encoding="UTF-8"?>\n'
            '<edmx:Edmx xmlns:edmx="http://docs.oasis-open.org/odata/ns/edmx" Version="4.0">\n'
            + "\n".join(refs) + "\n"
            '  <edmx:DataServices>\n'
            '    <Schema xmlns="http://docs.oasis-open.org/odata/ns/edm" Namespace="Service">\n'
            '      <EntityContainer Name="Service" Extends="ServiceRoot.v1_20_0.ServiceContainer"/>\n'
            '    </Schema>\n'
            '  </edmx:DataServices>\n'
            '</edmx:Edmx>\n')


def service_uuid(core: Any) -> str:
    """A UUID stable for this controller (its host name), as ServiceRoot.UUID wants."""
    return str(uuid.uuid5(uuid.NAMESPACE_DNS, f"{core.config.get('hostname').hostname}"
                                              ".enerteg-controller"))


def iso(ts: float) -> str:
    """An ISO 8601 date-time with offset (UTC) of a Unix time."""
    return datetime.fromtimestamp(ts, timezone.utc).isoformat(timespec="seconds")


# ------------------------------------------------------------------ role mapping
REDFISH_ROLES: dict[str, tuple[list[str], str]] = {
    "Administrator": (["Login", "ConfigureManager", "ConfigureUsers", "ConfigureSelf",
                       "ConfigureComponents"], "our role admin"),
    "Operator": (["Login", "ConfigureSelf", "ConfigureComponents"],
                 "our roles power, poweron, poweroff, readwrite"),
    "ReadOnly": (["Login", "ConfigureSelf"], "our role readonly"),
}
"""The three predefined Redfish roles, their privileges, and which of ours map to each."""


def redfish_role(roles: frozenset[Role]) -> str:
    """The Redfish role of a user: the highest that its roles reach (docs/redfish.md)."""
    if Role.ADMIN in roles:
        return "Administrator"
    if roles & {Role.POWER, Role.POWERON, Role.POWEROFF, Role.READWRITE}:
        return "Operator"
    return "ReadOnly"


# ------------------------------------------------------------------ root and OData
@route("/redfish", public=True)
async def versions(ctx: Ctx) -> dict[str, Any]:
    return {"v1": f"{V1}/"}


@route(V1, public=True)
async def service_root(ctx: Ctx) -> dict[str, Any]:
    return {
        "@odata.id": f"{V1}/", "@odata.type": "#ServiceRoot.v1_20_0.ServiceRoot",
        "Id": "RootService", "Name": "EnerTEG controller Redfish service",
        "RedfishVersion": "1.21.0", "UUID": service_uuid(ctx.core),
        "Vendor": "EnerTEG", "Product": "EnerTEG controller",
        "ProtocolFeaturesSupported": {
            "ExpandQuery": {"ExpandAll": False, "Levels": False, "Links": False,
                            "NoLinks": False},
            "SelectQuery": False, "FilterQuery": False, "OnlyMemberQuery": False,
            "ExcerptQuery": False, "MultipleHTTPRequests": True},
        "PowerEquipment": {"@odata.id": f"{V1}/PowerEquipment"},
        "Chassis": {"@odata.id": f"{V1}/Chassis"},
        "Managers": {"@odata.id": f"{V1}/Managers"},
        "SessionService": {"@odata.id": f"{V1}/SessionService"},
        "AccountService": {"@odata.id": f"{V1}/AccountService"},
        "EventService": {"@odata.id": f"{V1}/EventService"},
        "Registries": {"@odata.id": f"{V1}/Registries"},
        "CertificateService": {"@odata.id": f"{V1}/CertificateService"},
        "UpdateService": {"@odata.id": f"{V1}/UpdateService"},
        "Tasks": {"@odata.id": f"{V1}/TaskService"},
        "Links": {"Sessions": {"@odata.id": f"{V1}/SessionService/Sessions"}},
    }


@route(f"{V1}/odata", public=True)
async def odata_service(ctx: Ctx) -> dict[str, Any]:
    names = ["Service", "PowerEquipment", "Chassis", "Managers", "SessionService",
             "AccountService", "Sessions", "EventService", "Registries"]
    urls = [f"{V1}/", f"{V1}/PowerEquipment", f"{V1}/Chassis", f"{V1}/Managers",
            f"{V1}/SessionService", f"{V1}/AccountService", f"{V1}/SessionService/Sessions",
            f"{V1}/EventService", f"{V1}/Registries"]
    return {"@odata.context": f"{V1}/$metadata",
            "value": [{"name": n, "kind": "Singleton", "url": u} for n, u in zip(names, urls)]}


@route(f"{V1}/$metadata", public=True)
async def metadata(ctx: Ctx) -> Response:
    return Response(metadata_xml(), media_type="application/xml; charset=utf-8",
                    headers={"OData-Version": "4.0", "Allow": "GET, HEAD"})


@route(f"{V1}/schemas/{{file}}", public=True)
async def schema_file(ctx: Ctx) -> Response:
    name = ctx.params["file"]
    stem = name.removesuffix("_v1.xml")
    if stem not in SCHEMAS or not name.endswith("_v1.xml"):
        raise RedfishError(404, "ResourceNotFound", f"There is no schema file {name!r}; "
                           f"$metadata lists the {len(SCHEMAS)} served here",
                           args=["Schema", name])
    return Response((CSDL_DIR / name).read_bytes(), media_type="application/xml",
                    headers={"OData-Version": "4.0", "Allow": "GET, HEAD"})


# ------------------------------------------------------------------ sessions
@route(f"{V1}/SessionService")
async def session_service(ctx: Ctx) -> dict[str, Any]:
    require(ctx.who, Action.READ, "SessionService")
    return {"@odata.id": f"{V1}/SessionService",
            "@odata.type": "#SessionService.v1_2_0.SessionService",
            "Id": "SessionService", "Name": "Session Service",
            "Status": {"State": "Enabled", "Health": "OK"}, "ServiceEnabled": True,
            "SessionTimeout": session_timeout(ctx.core),
            "Sessions": {"@odata.id": f"{V1}/SessionService/Sessions"}}


def _visible_sessions(ctx: Ctx) -> list[Any]:
    """The web sessions (Redfish's and the REST API's: one store in the core) the
    caller may see: an admin every one, others their own."""
    return ctx.core.tokens.sessions.visible(ctx.who)


@route(f"{V1}/SessionService/Sessions")
async def sessions(ctx: Ctx) -> dict[str, Any]:
    return collection(f"{V1}/SessionService/Sessions",
                      "#SessionCollection.SessionCollection", "Sessions",
                      [f"{V1}/SessionService/Sessions/{s.id}" for s in _visible_sessions(ctx)])


def _session_doc(s: Any) -> dict[str, Any]:
    kind: dict[str, Any] = ({"SessionType": "Redfish"} if s.principal.face == "redfish" else
                            {"SessionType": "OEM", "OemSessionType": "REST API"})
    return {"@odata.id": f"{V1}/SessionService/Sessions/{s.id}",
            "@odata.type": "#Session.v1_8_0.Session", "Id": s.id, "Name": "User Session",
            "UserName": s.principal.user, **kind,
            "CreatedTime": iso(s.created), "Password": None,
            "ClientOriginIPAddress": s.principal.address}


@route(f"{V1}/SessionService/Sessions/Members", "POST", public=True)
@route(f"{V1}/SessionService/Sessions", "POST", public=True)
async def login(ctx: Ctx) -> Any:
    """A login (also at the collection's ``Members`` URI, as DSP0266 allows)."""
    ctx.face.require_https(ctx.request)
    user, password = ctx.body.get("UserName"), ctx.body.get("Password")
    for key, value in (("UserName", user), ("Password", password)):
        if not isinstance(value, str):
            raise RedfishError(400, "PropertyMissing" if value is None else
                               "PropertyValueTypeError",
                               f"{key} is {'missing' if value is None else 'not a string'}; "
                               "a login needs UserName and Password as strings", args=[key])
    principal = await redfish_password(ctx.core, ctx.request, user, password)
    try:
        s, token = await ctx.core.tokens.sessions.open(principal)
    except PermissionDenied as exc:                 # maxSessionsPerUser
        raise RedfishError(403, "SessionLimitExceeded", str(exc)) from None
    uri = f"{V1}/SessionService/Sessions/{s.id}"
    return 201, _session_doc(s), {"X-Auth-Token": token, "Location": uri}


def _own_session(ctx: Ctx) -> Any:
    s = next((w for w in _visible_sessions(ctx) if w.id == ctx.params["id"]), None)
    if s is None:
        raise RedfishError(404, "ResourceNotFound",
                           f"There is no session {ctx.params['id']!r} of yours",
                           args=["Session", ctx.params["id"]])
    return s


@route(f"{V1}/SessionService/Sessions/{{id}}")
async def session(ctx: Ctx) -> dict[str, Any]:
    return _session_doc(_own_session(ctx))


@route(f"{V1}/SessionService/Sessions/{{id}}", "DELETE")
async def logout(ctx: Ctx) -> Response:
    await ctx.core.tokens.sessions.close(_own_session(ctx))
    return Response(status_code=204, headers={"OData-Version": "4.0"})


# ------------------------------------------------------------------ accounts
@route(f"{V1}/AccountService")
async def account_service(ctx: Ctx) -> dict[str, Any]:
    require(ctx.who, Action.READ, "AccountService")
    policy = ctx.core.config.get("auth")
    doc: dict[str, Any] = {
        "@odata.id": f"{V1}/AccountService",
        "@odata.type": "#AccountService.v1_18_1.AccountService",
        "Id": "AccountService", "Name": "Account Service",
        "Status": {"State": "Enabled", "Health": "OK"}, "ServiceEnabled": True,
        "LocalAccountAuth": "Enabled",
        "SupportedAccountTypes": ["Redfish", "ManagerConsole"],
        "Accounts": {"@odata.id": f"{V1}/AccountService/Accounts"},
        "Roles": {"@odata.id": f"{V1}/AccountService/Roles"}}
    doc["AccountLockoutThreshold"] = int(policy.lockoutFailures)
    doc["MinPasswordLength"] = ctx.core.users.password_policy.min_length
    doc["MaxPasswordLength"] = MAX_PASSWORD
    return doc


def _account_doc(info: Any, locked: bool) -> dict[str, Any]:
    return {"@odata.id": f"{V1}/AccountService/Accounts/{info.name}",
            "@odata.type": "#ManagerAccount.v1_14_1.ManagerAccount",
            "Id": info.name, "Name": f"User {info.name}", "UserName": info.name,
            "RoleId": redfish_role(info.roles), "Enabled": True, "Locked": locked,
            "Password": None, "PasswordChangeRequired": info.must_change,
            "AccountTypes": ["Redfish", "ManagerConsole"],
            "Links": {"Role": {"@odata.id": f"{V1}/AccountService/Roles/"
                                            f"{redfish_role(info.roles)}"}},
            "Description": "EnerTEG roles: " + (", ".join(sorted(r.value for r in info.roles))
                                                or "none")}


@route(f"{V1}/AccountService/Accounts")
async def accounts(ctx: Ctx) -> dict[str, Any]:
    if Action.ADMINISTER in ctx.who.actions:
        names = [u.name for u in await ctx.core.users.list(ctx.who)]
    else:
        names = [ctx.who.user]                     # ConfigureSelf: one's own account
    return collection(f"{V1}/AccountService/Accounts",
                      "#ManagerAccountCollection.ManagerAccountCollection", "Accounts",
                      [f"{V1}/AccountService/Accounts/{n}" for n in names])


@route(f"{V1}/AccountService/Accounts/{{name}}")
async def account(ctx: Ctx) -> dict[str, Any]:
    name = ctx.params["name"]
    if name != ctx.who.user:
        require(ctx.who, Action.ADMINISTER, f"AccountService/Accounts/{name}")
    info = await ctx.core.users.get(name)
    # locked out from some address (our lockout is per name and address)
    return _account_doc(info, bool(ctx.core.users.lockout.locked_sources(name)))


def _role_names() -> list[str]:
    return [*REDFISH_ROLES, *(r.value for r in Role)]


@route(f"{V1}/AccountService/Roles")
async def roles(ctx: Ctx) -> dict[str, Any]:
    require(ctx.who, Action.READ, "AccountService/Roles")
    return collection(f"{V1}/AccountService/Roles", "#RoleCollection.RoleCollection",
                      "Roles", [f"{V1}/AccountService/Roles/{n}" for n in _role_names()])


@route(f"{V1}/AccountService/Roles/{{id}}")
async def role(ctx: Ctx) -> dict[str, Any]:
    require(ctx.who, Action.READ, "AccountService/Roles")
    rid = ctx.params["id"]
    doc: dict[str, Any] = {"@odata.id": f"{V1}/AccountService/Roles/{rid}",
                           "@odata.type": "#Role.v1_3_3.Role", "Id": rid, "RoleId": rid,
                           "IsPredefined": True}
    if rid in REDFISH_ROLES:
        privs, ours = REDFISH_ROLES[rid]
        doc.update(Name=f"{rid} role", Description=f"Redfish's {rid}: {ours}",
                   AssignedPrivileges=privs)
        return doc
    try:
        ours_role = Role(rid)
    except ValueError:
        raise RedfishError(404, "ResourceNotFound", f"There is no role {rid!r}; roles are "
                           f"{', '.join(_role_names())}", args=["Role", rid]) from None
    mapped = redfish_role(frozenset({ours_role}))
    doc.update(Name=f"EnerTEG role {rid}",
               Description=f"Our role {rid} (shown as {mapped} in accounts)",
               AssignedPrivileges=REDFISH_ROLES[mapped][0],
               OemPrivileges=sorted(a.value for a in MATRIX[ours_role]))
    return doc


# ------------------------------------------------------------------ manager
MANAGER = f"{V1}/Managers/Controller"


@route(f"{V1}/Managers")
async def managers(ctx: Ctx) -> dict[str, Any]:
    require(ctx.who, Action.READ, "Managers")
    return collection(f"{V1}/Managers", "#ManagerCollection.ManagerCollection", "Managers",
                      [MANAGER])


@route(f"{V1}/Managers/Controller")
async def manager(ctx: Ctx) -> dict[str, Any]:
    require(ctx.who, Action.READ, "Managers/Controller")
    now = time.time()
    chassis = [{"@odata.id": f"{V1}/Chassis/{d.hex_id}"} for d in ctx.core.live.ordered()]
    return {"@odata.id": MANAGER, "@odata.type": "#Manager.v1_24_0.Manager",
            "Id": "Controller", "Name": "EnerTEG controller",
            "ManagerType": "ManagementController", "FirmwareVersion": __version__,
            "Manufacturer": "EnerTEG", "Model": "EnerTEG controller",
            "UUID": service_uuid(ctx.core), "ServiceEntryPointUUID": service_uuid(ctx.core),
            "DateTime": iso(now), "DateTimeLocalOffset": "+00:00",
            "Status": {"State": "Enabled", "Health": "OK"},
            "NetworkProtocol": {"@odata.id": f"{MANAGER}/NetworkProtocol"},
            "LogServices": {"@odata.id": f"{MANAGER}/LogServices"},
            "EthernetInterfaces": {"@odata.id": f"{MANAGER}/EthernetInterfaces"},
            "Actions": {"#Manager.Reset": {
                "target": f"{MANAGER}/Actions/Manager.Reset",
                "ResetType@Redfish.AllowableValues": ["GracefulRestart", "ForceRestart"]}},
            "Links": {"ManagerForChassis": chassis,
                      "ManagerForChassis@odata.count": len(chassis)}}


assert ROUTES
