"""Redfish UpdateService over the core's software and firmware updates.

Why: the OCP baseline asks for an UpdateService with a ``FirmwareInventory`` and a
``MultipartHttpPushUri``. Nothing here updates anything itself; every step is the core
call the shell's ``update`` and ``firmware`` commands make, with their permission
(``administer``), checks, messages and audit entries:

- ``SoftwareInventory/Controller``: the controller's running version
  (``core.software.running_version``); administrators also see each installed version
  (``core.software.status``: ``installed``) as ``SoftwareInventory/<version>``.
- ``FirmwareInventory/<hexid>``: each PDU's firmware version as its identification
  reports it (live state), ``Updateable`` (the ring carries images to every PDU).
- ``POST …/UpdateService/update-multipart`` (``MultipartHttpPushUri``): a
  ``multipart/form-data`` body with ``UpdateParameters`` (JSON) and ``UpdateFile``. The
  file is stored in /upload under its own name and then:

  * ``*.etgpkg`` (a controller update package): ``core.software.check`` (a refused
    package is removed again, nothing installed, 400 with the check's message), then
    ``core.software.apply``: installed beside the running version and the controller
    restarts into it (``204``; the restart ends every session, as the shell's
    ``update apply``). ``Targets`` must be empty or name ``SoftwareInventory/Controller``.
  * ``*.etgfw`` (a PDU firmware image): ``core.firmware.read_image`` (a damaged image is
    removed again, 400), then ``core.firmware.update`` with ``Targets`` = the PDUs'
    FirmwareInventory URIs (none: every PDU not running the image's version);
    ``ForceUpdate`` is the core's ``force``. The answer is ``202`` with ``Location`` the
    plan's task monitor.

Progress of a firmware plan is a Task (``TaskService/Tasks/fw-<plan id>``): the core's
``FirmwareJob`` maps onto it without invention (running → Running, done → Completed,
failed → Exception, cancelled → Cancelled; ``PercentComplete`` from the PDUs' steps).
The core keeps the latest plan only, so the Tasks collection holds at most that one. A
controller update has no task: its progress ends in a restart of the service itself;
``SoftwareInventory`` shows the version running afterwards (and ``update status`` on the
shell the outcome).
"""

from __future__ import annotations

import contextlib
import email.parser
import email.policy
import json
import os
import re
import secrets
import time
from typing import Any

from fastapi.responses import Response

from ....core.errors import Invalid, PermissionDenied
from ....core.firmware_update import IMAGE_SUFFIX, FirmwareJob
from ....core.permissions import Action, require
from ....core.update_package import MAX_PACKAGE_BYTES, PACKAGE_SUFFIX
from .errors import RedfishError
from .root import V1, iso
from .tree import Ctx, collection, route

__all__ = ["UPD", "TASKS", "task_doc"]

UPD = f"{V1}/UpdateService"
FW = f"{UPD}/FirmwareInventory"
SW = f"{UPD}/SoftwareInventory"
PUSH = f"{UPD}/update-multipart"
TS = f"{V1}/TaskService"
TASKS = f"{TS}/Tasks"
MONITORS = f"{TS}/TaskMonitors"
MAX_BYTES = min(MAX_PACKAGE_BYTES, 64 << 20)
"""The largest push taken (the body is parsed in memory): 64 MiB, above any image
(``MAX_PAYLOAD``) and any package built so far; a larger package goes to /upload by SFTP
or the REST API (``POST /api/v1/software/updates`` streams to disk)."""
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,100}$")


# ------------------------------------------------------------------ inventory
@route(UPD)
async def update_service(ctx: Ctx) -> dict[str, Any]:
    require(ctx.who, Action.READ, "UpdateService")
    return {"@odata.id": UPD, "@odata.type": "#UpdateService.v1_17_0.UpdateService",
            "Id": "UpdateService", "Name": "Update service", "ServiceEnabled": True,
            "Status": {"State": "Enabled", "Health": "OK"},
            "FirmwareInventory": {"@odata.id": FW}, "SoftwareInventory": {"@odata.id": SW},
            "MultipartHttpPushUri": PUSH, "MaxImageSizeBytes": MAX_BYTES}


@route(FW)
async def firmware_inventory(ctx: Ctx) -> dict[str, Any]:
    require(ctx.who, Action.READ, "UpdateService")
    return collection(FW, "#SoftwareInventoryCollection.SoftwareInventoryCollection",
                      "Firmware of the PDUs", [f"{FW}/{d.hex_id}" for d in ctx.core.live.ordered()])


@route(f"{FW}/{{pdu}}")
async def firmware_item(ctx: Ctx) -> dict[str, Any]:
    require(ctx.who, Action.READ, "UpdateService")
    hex_id = ctx.params["pdu"]
    live = ctx.core.live.get(hex_id)
    if live is None:
        raise RedfishError(404, "ResourceNotFound", f"There is no PDU {hex_id!r} on the "
                           "ring; FirmwareInventory lists them", args=["SoftwareInventory", hex_id])
    return {"@odata.id": f"{FW}/{hex_id}",
            "@odata.type": "#SoftwareInventory.v1_13_0.SoftwareInventory",
            "Id": hex_id, "Name": f"Firmware of {live.info.display_name}",
            "Version": live.info.identification.firmware_version, "Updateable": True,
            "Manufacturer": "EnerTEG", "VersionScheme": "DotIntegerNotation",
            "Status": {"State": "Enabled", "Health": "OK"},
            "RelatedItem": [{"@odata.id": f"{V1}/Chassis/{hex_id}"}],
            "RelatedItem@odata.count": 1}


def _installed(ctx: Ctx) -> list[str]:
    """Installed versions (administrators; others see the running version only)."""
    try:
        return list(ctx.core.software.status(ctx.who)["installed"])
    except PermissionDenied:            # not an administrator
        return []


@route(SW)
async def software_inventory(ctx: Ctx) -> dict[str, Any]:
    require(ctx.who, Action.READ, "UpdateService")
    return collection(SW, "#SoftwareInventoryCollection.SoftwareInventoryCollection",
                      "Software of the controller",
                      [f"{SW}/Controller", *(f"{SW}/{v}" for v in _installed(ctx))])


@route(f"{SW}/{{item}}")
async def software_item(ctx: Ctx) -> dict[str, Any]:
    require(ctx.who, Action.READ, "UpdateService")
    item = ctx.params["item"]
    sw = ctx.core.software
    doc: dict[str, Any] = {
        "@odata.id": f"{SW}/{item}",
        "@odata.type": "#SoftwareInventory.v1_13_0.SoftwareInventory", "Id": item,
        "Manufacturer": "EnerTEG", "VersionScheme": "SemVer",
        "RelatedItem": [{"@odata.id": f"{V1}/Managers/Controller"}],
        "RelatedItem@odata.count": 1}
    if item == "Controller":
        return {**doc, "Name": "Controller software (running)", "Version": sw.running_version,
                "Updateable": True, "Status": {"State": "Enabled", "Health": "OK"}}
    installed = _installed(ctx)
    if item not in installed:
        raise RedfishError(404, "ResourceNotFound", f"There is no installed version {item!r}; "
                           "SoftwareInventory lists what you may see",
                           args=["SoftwareInventory", item])
    running = item == sw.running_version
    return {**doc, "Name": f"Installed version {item}", "Version": item, "Updateable": False,
            "Status": {"State": "Enabled" if running else "StandbyOffline", "Health": "OK"}}


# ------------------------------------------------------------------ push
def _parts(content_type: str, body: bytes) -> dict[str, tuple[str | None, bytes]]:
    """The parts of a ``multipart/form-data`` body: name → (file name, bytes)."""
    msg = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(
        b"Content-Type: " + content_type.encode("latin-1") + b"\r\n\r\n" + body)
    if not msg.is_multipart():
        raise RedfishError(400, "MalformedJSON", "The update push needs a multipart/form-data "
                           "body with the parts UpdateParameters and UpdateFile")
    out: dict[str, tuple[str | None, bytes]] = {}
    for part in msg.iter_parts():
        name = part.get_param("name", header="content-disposition")
        if isinstance(name, str):
            out[name] = (part.get_filename(), part.get_payload(decode=True) or b"")
    return out


def _parameters(raw: bytes) -> dict[str, Any]:
    try:
        params = json.loads(raw or b"{}")
    except (ValueError, UnicodeDecodeError):
        raise RedfishError(400, "MalformedJSON", "UpdateParameters is not valid JSON") from None
    if not isinstance(params, dict):
        raise RedfishError(400, "MalformedJSON", "UpdateParameters must be a JSON object")
    allowed = {"Targets", "ForceUpdate", "@Redfish.OperationApplyTime"}
    unknown = sorted(set(params) - allowed)
    if unknown:
        raise RedfishError(400, "ActionParameterUnknown", f"UpdateParameters has no "
                           f"property {unknown[0]!r}; allowed: {', '.join(sorted(allowed))}",
                           args=["UpdateParameters", unknown[0]])
    when = params.get("@Redfish.OperationApplyTime", "Immediate")
    if when != "Immediate":
        raise RedfishError(400, "ActionParameterValueNotInList",
                           f"@Redfish.OperationApplyTime {when!r} is not offered; allowed: "
                           "Immediate (an update starts when pushed)",
                           args=[str(when), "@Redfish.OperationApplyTime", "UpdateParameters"])
    if not isinstance(params.get("ForceUpdate", False), bool):
        raise RedfishError(400, "ActionParameterValueTypeError",
                           "ForceUpdate must be true or false", args=["ForceUpdate"])
    targets = params.get("Targets", [])
    if not isinstance(targets, list) or not all(isinstance(t, str) for t in targets):
        raise RedfishError(400, "ActionParameterValueTypeError",
                           "Targets must be an array of URIs (FirmwareInventory members or "
                           "SoftwareInventory/Controller)", args=["Targets"])
    return params


def _store(ctx: Ctx, name: str, data: bytes) -> None:
    folder = ctx.core.paths.upload
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    tmp = folder / f".incoming-{secrets.token_hex(6)}"
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as out:
            out.write(data)
        os.replace(tmp, folder / name)
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()


def _drop(ctx: Ctx, name: str) -> None:
    with contextlib.suppress(FileNotFoundError):
        (ctx.core.paths.upload / name).unlink()


@route(PUSH, "POST")
async def push(ctx: Ctx) -> Response:
    require(ctx.who, Action.ADMINISTER, "UpdateService")
    content_type = ctx.request.headers.get("content-type", "")
    if not content_type.lower().startswith("multipart/form-data"):
        raise RedfishError(415, "UnsupportedMediaType", f"The update push takes "
                           f"multipart/form-data, not {content_type or 'no Content-Type'}")
    chunks, size = [], 0
    async for chunk in ctx.request.stream():
        size += len(chunk)
        if size > MAX_BYTES + 65536:            # the file and the form's own lines
            raise RedfishError(413, "ActionParameterValueError",
                               f"The update push is larger than {MAX_BYTES} bytes, the most "
                               "taken here; put a larger package in /upload with SFTP or "
                               "the REST API")
        chunks.append(chunk)
    body = b"".join(chunks)
    parts = _parts(content_type, body)
    if "UpdateFile" not in parts:
        raise RedfishError(400, "ActionParameterMissing", "The update push needs the part "
                           "UpdateFile (the package or image)", args=["push", "UpdateFile"])
    params = _parameters(parts.get("UpdateParameters", (None, b"{}"))[1])
    filename, data = parts["UpdateFile"]
    name = os.path.basename(filename or "")
    if not _NAME.match(name) or not name.endswith((PACKAGE_SUFFIX, IMAGE_SUFFIX)):
        raise RedfishError(400, "ActionParameterValueError",
                           f"UpdateFile's file name {filename!r} is not allowed; allowed: a "
                           f"name of letters, digits, '.', '_', '-' ending in {PACKAGE_SUFFIX} "
                           f"(controller update) or {IMAGE_SUFFIX} (PDU firmware)",
                           args=[str(filename), "UpdateFile"])
    force = bool(params.get("ForceUpdate", False))
    targets: list[str] = params.get("Targets", [])
    if name.endswith(PACKAGE_SUFFIX):
        if any(t.rstrip("/") != f"{SW}/Controller" for t in targets):
            raise RedfishError(400, "ActionParameterValueError",
                               f"A controller update package goes to {SW}/Controller; "
                               f"Targets {targets} names something else", args=["Targets"])
        _store(ctx, name, data)
        try:
            await ctx.core.software.check(ctx.who, name, force=force, audit=False)
        except Invalid:
            _drop(ctx, name)            # refused: nothing kept (the core audited why)
            raise
        await ctx.core.software.apply(ctx.who, name, force=force)
        return Response(status_code=204, headers={"OData-Version": "4.0"})
    hex_ids = []
    for t in targets:
        hex_id = t.rstrip("/").rsplit("/", 1)[-1]
        if not t.rstrip("/").startswith(f"{FW}/") or ctx.core.live.get(hex_id) is None:
            raise RedfishError(400, "ActionParameterValueError",
                               f"Target {t!r} is not a PDU's firmware; allowed: the members "
                               f"of {FW}", args=["Targets"])
        hex_ids.append(hex_id)
    _store(ctx, name, data)
    try:
        ctx.core.firmware.read_image(name)
    except Invalid:
        _drop(ctx, name)
        raise
    job = await ctx.core.firmware.update(ctx.who, name, hex_ids or None, force=force)
    return Response(status_code=202, headers={
        "OData-Version": "4.0", "Location": f"{MONITORS}/fw-{job.id}", "Retry-After": "5",
        "Content-Type": "application/json"},
        content=json.dumps(task_doc(job)).encode())


# ------------------------------------------------------------------ tasks
_STATES = {"running": "Running", "done": "Completed", "failed": "Exception",
           "cancelled": "Cancelled"}


def task_doc(job: FirmwareJob) -> dict[str, Any]:
    """The Task of a firmware plan."""
    steps = job.steps
    done = sum(100 if s.state.final else s.percent for s in steps)
    doc: dict[str, Any] = {
        "@odata.id": f"{TASKS}/fw-{job.id}", "@odata.type": "#Task.v1_7_4.Task",
        "Id": f"fw-{job.id}", "Name": f"PDU firmware update to {job.version}",
        "TaskState": _STATES.get(job.state, "Running"),
        "TaskStatus": {"done": "OK", "running": "OK", "cancelled": "Warning"}.get(
            job.state, "Critical"),
        "PercentComplete": round(done / len(steps)) if steps else 100,
        "StartTime": iso(job.started), "TaskMonitor": f"{MONITORS}/fw-{job.id}",
        "Description": "; ".join(f"{s.name} ({s.hex_id}): {s.text}" for s in steps)}
    if job.finished is not None:
        doc["EndTime"] = iso(job.finished)
    return doc


def _job(ctx: Ctx, key: str) -> FirmwareJob:
    require(ctx.who, Action.READ, "TaskService")
    job = ctx.core.firmware.status()
    if job is None or ctx.params[key] != f"fw-{job.id}":
        have = f"fw-{job.id}" if job is not None else "none"
        raise RedfishError(404, "ResourceNotFound", f"There is no task {ctx.params[key]!r}; "
                           f"the controller keeps the latest firmware plan only ({have})",
                           args=["Task", ctx.params[key]])
    return job


@route(TS)
async def task_service(ctx: Ctx) -> dict[str, Any]:
    require(ctx.who, Action.READ, "TaskService")
    return {"@odata.id": TS, "@odata.type": "#TaskService.v1_2_1.TaskService",
            "Id": "TaskService", "Name": "Tasks (PDU firmware updates)", "ServiceEnabled": True,
            "DateTime": iso(time.time()),
            "CompletedTaskOverWritePolicy": "Oldest", "LifeCycleEventOnTaskStateChange": False,
            "Status": {"State": "Enabled", "Health": "OK"}, "Tasks": {"@odata.id": TASKS}}


@route(TASKS)
async def tasks(ctx: Ctx) -> dict[str, Any]:
    require(ctx.who, Action.READ, "TaskService")
    job = ctx.core.firmware.status()
    return collection(TASKS, "#TaskCollection.TaskCollection", "Tasks",
                      [f"{TASKS}/fw-{job.id}"] if job is not None else [])


@route(f"{TASKS}/{{task}}")
async def task(ctx: Ctx) -> dict[str, Any]:
    return task_doc(_job(ctx, "task"))


@route(f"{MONITORS}/{{task}}")
async def task_monitor(ctx: Ctx) -> Any:
    job = _job(ctx, "task")
    doc = task_doc(job)
    if job.running:
        return Response(json.dumps(doc).encode(), status_code=202, media_type="application/json",
                        headers={"OData-Version": "4.0", "Retry-After": "5",
                                 "Location": f"{MONITORS}/fw-{job.id}"})
    return doc
