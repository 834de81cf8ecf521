"""The controller's Manager: its network protocols and its audit log as a LogService.

Why: the OCP baseline asks a Manager for ``NetworkProtocol`` (which services listen,
on which ports) and ``LogServices``. NetworkProtocol is read from the core, not from a
copy: HTTP/HTTPS and SNMP from what the running faces report (``core.faces``: the ports
they really listen on, or not enabled when they do not run), SSH from ``config/cli``,
NTP from ``config/time``, host name from ``config/hostname``. Only what the manual
has a setting for and Redfish can say is writable: ``NTP`` (``ProtocolEnabled`` →
``ntpEnabled``, ``NTPServers`` → ``ntpServers``, with Redfish's array PATCH: ``null``
removes an element, ``{}`` keeps it, a shorter array truncates), through
``config.put`` (``administer``, the topic's checks, the audit entry ``settings``).
Everything else is read-only: it is changed in its settings topic.
Modbus TCP has no place in the schema and is not shown; nor is SSDP, which the
controller does not offer (the OCP baseline wants it writable when shown).

``LogServices/AuditLog`` is the audit log (``administer``, as everywhere): ``Entries``
newest first, ``PAGE`` a page, ``Members@odata.nextLink`` with ``$skip`` to the next.
Each entry is a LogEntry with ``MessageId`` ``EnerTEG.1.0.AuditEntry``.

``#Manager.Reset`` (``GracefulRestart``, ``ForceRestart``) is the controller's restart,
``SystemService.request(…, "restart")`` as the shell's ``restart``: ``administer``,
the audit entry ``system.restart``, every session told and ended, then ``enerteg
serve`` stops cleanly and starts again. Both types are that one clean restart (the
process has nothing a forced restart would skip). ``#Manager.ResetToDefaults`` is not
offered: the factory reset wants its word typed (``factory-reset``) and deletes every
user, which Redfish's one-parameter action cannot express.
"""

from __future__ import annotations

import os
import re
import time
from typing import Any

from fastapi.responses import Response

from ....core.errors import Unsupported
from ....core.permissions import Action, require
from .errors import RedfishError
from .events import REGISTRY, REGISTRY_PREFIX
from .root import MANAGER, iso
from .tree import Ctx, collection, etag, route

__all__ = ["PAGE", "listening", "RESET_TYPES"]

NP = f"{MANAGER}/NetworkProtocol"
LS = f"{MANAGER}/LogServices"
AUDIT = f"{LS}/AuditLog"
RESET_TYPES = ("GracefulRestart", "ForceRestart")
"""``Manager.Reset`` types: both are the controller's restart."""
PAGE = 50
"""Audit entries a page of LogEntries holds."""

REGISTRY.setdefault("AuditEntry", {
    "Description": "An entry of the controller's audit log.",
    "Message": "%1 by %2 over %3: %4", "MessageSeverity": "OK", "NumberOfArgs": 4,
    "ParamTypes": ["string", "string", "string", "string"], "Resolution": "None."})


def listening(report: str | None, proto: str) -> int | None:
    """The port a running face reports for ``proto`` (``HTTPS``, ``HTTP``, ``UDP``), or
    None when it does not run or does not listen on it."""
    if not report or not report.startswith("running"):
        return None
    m = re.search(rf"\b{proto} \S*:(\d+)\b", report)
    return int(m.group(1)) if m else None


@route(NP)
async def network_protocol(ctx: Ctx) -> dict[str, Any]:
    require(ctx.who, Action.READ, "Managers/Controller/NetworkProtocol")
    core = ctx.core
    web = core.faces.text("http_server")
    snmp = core.faces.text("snmp_agent")
    https, http = listening(web, "HTTPS"), listening(web, "HTTP")
    snmp_port = listening(snmp, "UDP")
    cli = core.config.get("cli")
    ssh_port = int(cli.port) or (22 if os.geteuid() == 0 else 2022)
    tsync = core.config.get("time")
    host = core.config.get("hostname").hostname
    doc: dict[str, Any] = {
        "@odata.id": NP, "@odata.type": "#ManagerNetworkProtocol.v1_12_0.ManagerNetworkProtocol",
        "Id": "NetworkProtocol", "Name": "Network protocols of the controller",
        "Description": "Read-only: each service is set in its config/ topic",
        "Status": {"State": "Enabled", "Health": "OK"},
        "HostName": host, "FQDN": host,
        "HTTP": {"ProtocolEnabled": http is not None, "Port": http},
        "HTTPS": {"ProtocolEnabled": https is not None, "Port": https,
                  "Certificates": {"@odata.id": f"{NP}/HTTPS/Certificates"}},
        "SSH": {"ProtocolEnabled": bool(cli.enabled), "Port": ssh_port},
        "SNMP": {"ProtocolEnabled": snmp_port is not None, "Port": snmp_port},
        "NTP": {"ProtocolEnabled": bool(tsync.ntpEnabled), "Port": 123,
                "NTPServers": list(tsync.ntpServers)},
    }
    return doc


def patch_array(current: list[Any], patch: list[Any]) -> list[Any]:
    """Redfish's PATCH of an array (DSP0266 §7.9.2): element by element, ``null``
    removes, ``{}`` keeps, a value replaces; elements past the patch's end go."""
    out = []
    for i, item in enumerate(patch):
        if item is None:
            continue
        if item == {}:
            if i < len(current):
                out.append(current[i])
            continue
        out.append(item)
    return out


@route(NP, "PATCH")
async def network_protocol_patch(ctx: Ctx) -> dict[str, Any]:
    current = await network_protocol(ctx)
    wanted = ctx.request.headers.get("if-match")
    if wanted and wanted.strip() != "*" and wanted.strip() != etag(current):
        raise RedfishError(412, "PreconditionFailed",
                           f"If-Match {wanted} is not the current ETag of {NP} (it changed "
                           "since it was read); nothing was changed",
                           resolution="GET the resource again and retry with its ETag")
    body = {k: v for k, v in ctx.body.items() if not k.startswith("@odata.")}
    ntp = body.pop("NTP", None)
    if body:
        key = sorted(body)[0]
        raise RedfishError(400, "PropertyNotWritable" if key in current else
                           "PropertyUnknown", f"{key} cannot be changed here (its settings "
                           "topic changes it); writable: NTP.ProtocolEnabled, "
                           "NTP.NTPServers; nothing was changed", args=[key])
    if not isinstance(ntp, dict) or not ntp:
        raise RedfishError(400, "NoOperation", "The PATCH body changes nothing; writable: "
                           "NTP.ProtocolEnabled, NTP.NTPServers")
    changes: dict[str, Any] = {}
    for key, value in ntp.items():
        if key == "ProtocolEnabled" and isinstance(value, bool):
            changes["ntpEnabled"] = value
        elif key == "NTPServers" and isinstance(value, list):
            changes["ntpServers"] = patch_array(current["NTP"]["NTPServers"], value)
        else:
            raise RedfishError(400, "PropertyNotWritable" if key in current["NTP"] else
                               "PropertyUnknown", f"NTP.{key} cannot be set to {value!r}; "
                               "writable: NTP.ProtocolEnabled (a boolean), NTP.NTPServers "
                               "(an array of host names); nothing was changed",
                               args=[f"NTP/{key}"])
    from ....core.errors import Invalid
    try:
        await ctx.core.config.put(ctx.who, "time", changes)
    except Invalid as exc:
        raise RedfishError(400, "PropertyValueError", f"{exc}; nothing was changed",
                           args=["NTP"]) from None
    return await network_protocol(ctx)


@route(LS)
async def log_services(ctx: Ctx) -> dict[str, Any]:
    require(ctx.who, Action.READ, "Managers/Controller/LogServices")
    return collection(LS, "#LogServiceCollection.LogServiceCollection", "Log services",
                      [AUDIT])


def _known(ctx: Ctx) -> None:
    if ctx.params["log"] != "AuditLog":
        raise RedfishError(404, "ResourceNotFound", f"There is no log service "
                           f"{ctx.params['log']!r}; served: AuditLog",
                           args=["LogService", ctx.params["log"]])


@route(f"{LS}/{{log}}")
async def audit_log(ctx: Ctx) -> dict[str, Any]:
    _known(ctx)
    require(ctx.who, Action.ADMINISTER, "audit")
    return {"@odata.id": AUDIT, "@odata.type": "#LogService.v1_9_0.LogService",
            "Id": "AuditLog", "Name": "Audit log",
            "Description": "Who did what, over which face (docs/audit.md)",
            "ServiceEnabled": True, "OverWritePolicy": "WrapsWhenFull",
            "LogEntryType": "Event", "LogPurposes": ["Security"],
            "DateTime": iso(time.time()), "DateTimeLocalOffset": "+00:00",
            "Status": {"State": "Enabled", "Health": "OK"},
            "Entries": {"@odata.id": f"{AUDIT}/Entries"}}


_SEVERITY = {"Debug": "OK", "Log": "OK", "Info": "OK", "Warning": "Warning",
             "Error": "Critical", "Always": "Warning"}


def _entry_doc(e: Any) -> dict[str, Any]:
    args = [e.action, e.user or "-", e.face or "-", e.message]
    text = REGISTRY["AuditEntry"]["Message"]
    for i in (4, 3, 2, 1):
        text = text.replace(f"%{i}", args[i - 1])
    return {"@odata.id": f"{AUDIT}/Entries/{e.id}",
            "@odata.type": "#LogEntry.v1_21_0.LogEntry", "Id": str(e.id),
            "Name": f"Audit entry {e.id}", "EntryType": "Event", "Created": iso(e.ts),
            "Severity": _SEVERITY.get(e.severity.value, "OK"),
            "MessageId": f"{REGISTRY_PREFIX}.1.0.AuditEntry", "Message": text,
            "MessageArgs": args}


def _int_query(ctx: Ctx, key: str, default: int) -> int:
    raw = ctx.request.query_params.get(key)
    if raw is None:
        return default
    if not raw.isdigit():
        raise RedfishError(400, "QueryParameterValueTypeError", f"{key} must be a "
                           f"whole number >= 0, not {raw!r}", args=[raw, key])
    return int(raw)


@route(f"{LS}/{{log}}/Entries", queries=("$skip", "$top"))
async def audit_entries(ctx: Ctx) -> dict[str, Any]:
    """Newest first. The pages of one listing are of the log as it was at its first
    page (``until`` in the next links), so entries written meanwhile shift nothing."""
    from ....core.audit import AuditFilter
    _known(ctx)
    skip = _int_query(ctx, "$skip", 0)
    top = min(_int_query(ctx, "$top", PAGE), PAGE)
    raw_until = ctx.request.query_params.get("until")
    try:
        until = float(raw_until) if raw_until is not None else ctx.core.clock()
    except ValueError:
        raise RedfishError(400, "QueryParameterValueTypeError", f"until must be a Unix "
                           f"time, not {raw_until!r}", args=[raw_until or "", "until"]) from None
    flt = AuditFilter(until=until)
    total = await ctx.core.audit.count(ctx.who, flt)
    entries = await ctx.core.audit.query(ctx.who, flt, limit=top, offset=skip)
    doc = {"@odata.id": f"{AUDIT}/Entries",
           "@odata.type": "#LogEntryCollection.LogEntryCollection", "Name": "Audit entries",
           "Members": [_entry_doc(e) for e in entries],      # LogEntry members auto-expand
           "Members@odata.count": total}
    if skip + len(entries) < total and entries:
        more = f"$skip={skip + len(entries)}"
        if "$top" in ctx.request.query_params:
            more += f"&$top={top}"
        doc["Members@odata.nextLink"] = f"{AUDIT}/Entries?{more}&until={until!r}"
    return doc


@route(f"{LS}/{{log}}/Entries/{{entry}}")
async def audit_entry(ctx: Ctx) -> dict[str, Any]:
    _known(ctx)
    raw = ctx.params["entry"]
    if raw.isdigit():
        return _entry_doc(await ctx.core.audit.get(ctx.who, int(raw)))
    raise RedfishError(404, "ResourceNotFound", f"There is no audit entry {raw!r}",
                       args=["LogEntry", raw])


@route(f"{MANAGER}/Actions/Manager.Reset", "POST")
async def manager_reset(ctx: Ctx) -> Response:
    """Restart the controller (``administer``; audited, sessions told): ``204``, then
    the controller stops and starts again."""
    unknown = sorted(set(ctx.body) - {"ResetType"})
    if unknown:
        raise RedfishError(400, "ActionParameterUnknown",
                           f"Manager.Reset has no parameter {unknown[0]!r}; its parameter "
                           "is ResetType", args=["Manager.Reset", unknown[0]])
    kind = ctx.body.get("ResetType", "GracefulRestart")
    if kind not in RESET_TYPES:
        raise RedfishError(400, "ActionParameterValueNotInList",
                           f"ResetType {kind!r} is not allowed; allowed: "
                           f"{', '.join(RESET_TYPES)} (both restart the controller)",
                           args=[str(kind), "ResetType", "Manager.Reset"])
    try:
        ctx.core.system.check(ctx.who, "restart")  # 403 before anything is done
    except Unsupported as exc:                      # a restart is already under way
        raise RedfishError(409, "ResourceInUse", str(exc)) from None
    await ctx.core.system.request(ctx.who, "restart")
    return Response(status_code=204, headers={"OData-Version": "4.0"})
