"""REST resources beyond the topic documents: history series, group switching (plan, then
run with the plan's confirm token), reports and backups (create, list, download).

Each goes through the core call the console and shell use (``HistoryService.series``,
``GroupSwitching.plan``/``run``, ``ReportService.generate``, ``BackupService.create``)
with the same permission checks; file downloads are limited to the file names the core
lists in its folder (no path from the request reaches the file system).
"""

import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal

from fastapi import Depends, FastAPI, Query
from fastapi.responses import FileResponse
from pydantic import BaseModel, Field

from ....core.errors import Invalid, NotFound, shown
from ....core.group_switching import SwitchPlan
from ....core.history.tiers import RANGES
from ....core.model import OutletAction
from ....core.permissions import Action, Principal, require, require_switch
from ....core.quantities import Component
from ....core.services import CoreServices
from .problems import ProblemError

__all__ = ["add_more"]

CONFIRM_SECONDS = 10.0
REPORT_SPAN_S = 86400.0
"""A report without ``start`` covers the day before ``end`` (as the shell's ``report``)."""


class SwitchSelection(BaseModel):
    """One selection, as the shell's ``switch`` takes it."""

    action: OutletAction
    element: int | None = Field(None, ge=1, description="a room, row or rack id")
    devices: list[str] = Field(default_factory=list, max_length=1000,
                               description="PDU hex ids")
    outlets: list[tuple[str, int]] = Field(default_factory=list, max_length=10000,
                                           description="[hex id, outlet] pairs")
    gapSeconds: float | None = Field(None, ge=0, le=600)


class RunRequest(BaseModel):
    confirm: str = Field(min_length=1, max_length=100)


class ReportRequest(BaseModel):
    scope: Literal["site", "room", "row", "rack", "device"] = "site"
    name: str = Field("", max_length=200)
    start: float | None = Field(None, ge=0, le=1e11, description="epoch seconds")
    end: float | None = Field(None, ge=0, le=1e11, description="epoch seconds")
    format: Literal["csv", "xlsx"] = "csv"


@dataclass(slots=True)
class _Pending:
    user: str
    plan: SwitchPlan
    until: float


def _file_doc(path: Path, kind: str) -> dict[str, Any]:
    st = path.stat()
    return {"name": path.name, "size": st.st_size, "modified": st.st_mtime,
            "href": f"/api/v1/{kind}/{path.name}"}


def add_more(api: FastAPI, core: CoreServices, who: Callable[..., Any],
             clock: Callable[[], float] = time.time) -> None:
    """Add the resources of this module to ``api``."""
    Who = Annotated[Principal, Depends(who)]
    pending: dict[str, _Pending] = {}

    # ------------------------------------------------------------ history
    @api.get("/devices/{hex_id}/history", tags=["history"],
             summary="A channel's history: time, average, minimum, maximum")
    async def history(hex_id: str, principal: Who,
                      quantity: Annotated[str, Query(max_length=40)] = "activePower",
                      component: Annotated[str, Query(max_length=1)] = "t",
                      index: Annotated[int, Query(ge=0, le=100)] = 0,
                      range: Annotated[str, Query(max_length=10)] = "4h") -> dict[str, Any]:
        hex_id = hex_id.lower()
        core.topics.node(principal, f"sensor/{hex_id}")      # READ, and 404 names it
        try:
            comp = Component(component)
        except ValueError:
            raise Invalid(f"component {shown(component)} does not exist; allowed is one of "
                          "t, i, b, o, s", thing="component", value=component,
                          allowed="t, i, b, o, s") from None
        key = (hex_id, comp.value, index, quantity)
        known = core.history.channels_of(hex_id)
        if key not in known:
            names = sorted({f"{c}/{i}/{q}" for _, c, i, q in known})[:12]
            raise NotFound(f"PDU {hex_id} has no history of {comp.value}/{index}/{quantity}",
                           thing="channel", value=f"{comp.value}/{index}/{quantity}",
                           allowed=", ".join(names) + (" …" if len(known) > 12 else ""))
        if range not in RANGES:
            raise Invalid(f"chart range {range!r} does not exist; ranges are "
                          f"{', '.join(RANGES)}", thing="range", value=range,
                          allowed=", ".join(RANGES))
        s = await core.history.series(key, range)
        return {"device": hex_id, "component": comp.value, "index": index,
                "quantity": quantity, "range": range, "t": s.t, "avg": s.avg, "min": s.lo,
                "max": s.hi}

    # ------------------------------------------------------------ group switching
    @api.post("/switching/plan", tags=["switching"],
              summary=f"Step 1 of group switching: the impact and a confirm token valid "
                      f"{CONFIRM_SECONDS:g} s")
    async def plan(body: SwitchSelection, principal: Who) -> dict[str, Any]:
        p = core.switching.plan(principal, body.action, element=body.element,
                                devices=[d.lower() for d in body.devices],
                                outlets=[(h.lower(), n) for h, n in body.outlets],
                                gap_s=body.gapSeconds)
        require_switch(principal, body.action, p.target)
        now = clock()
        for k, v in list(pending.items()):
            if v.until < now:
                pending.pop(k, None)
        token = secrets.token_urlsafe(16)
        pending[token] = _Pending(principal.user, p, now + CONFIRM_SECONDS)
        return {"plan": p.to_json(), "confirm": token, "validSeconds": CONFIRM_SECONDS}

    @api.post("/switching/run", tags=["switching"],
              summary="Step 2 of group switching: run the plan of the confirm token")
    async def run(body: RunRequest, principal: Who) -> dict[str, Any]:
        v = pending.pop(body.confirm, None)
        if v is None or v.until < clock() or v.user != principal.user:
            raise ProblemError(409, "the confirm token is unknown, used, expired (valid "
                                    f"{CONFIRM_SECONDS:g} s) or another user's; nothing was "
                                    "switched", field="confirm", value=body.confirm,
                               allowed="the token of POST /api/v1/switching/plan")
        result = await core.switching.run(principal, v.plan)
        return {"ok": result.ok, "message": result.message(), "plan": v.plan.to_json()}

    # ------------------------------------------------------------ reports
    def listed(folder: Path, name: str, what: str) -> Path:
        files = {p.name: p for p in folder.glob("*") if p.is_file()
                 and not p.name.startswith(".")} if folder.is_dir() else {}
        if name not in files:
            raise NotFound(f"{what} {shown(name)} does not exist", thing=what, value=name,
                           allowed=", ".join(sorted(files)[-5:]) or "none yet")
        return files[name]

    @api.post("/reports", status_code=201, tags=["reports"],
              summary="Make a report file (energy, power, alarms) for a period")
    async def make_report(body: ReportRequest, principal: Who) -> dict[str, Any]:
        end = body.end if body.end is not None else clock()
        start = body.start if body.start is not None else end - REPORT_SPAN_S
        path = await core.reports.generate(principal, body.scope, body.name, start, end,
                                           body.format)
        return _file_doc(path, "reports")

    @api.get("/reports", tags=["reports"], summary="Report files made so far")
    async def reports(principal: Who) -> dict[str, Any]:
        require(principal, Action.READ, "reports")
        folder = core.paths.reports
        files = sorted((p for p in folder.glob("*") if p.is_file()
                        and not p.name.startswith(".")), key=lambda p: p.name) \
            if folder.is_dir() else []
        return {"items": [_file_doc(p, "reports") for p in files]}

    @api.get("/reports/{name}", tags=["reports"], summary="Download a report file",
             response_class=FileResponse)
    async def report_file(name: str, principal: Who) -> FileResponse:
        require(principal, Action.READ, "reports")
        path = listed(core.paths.reports, name, "report")
        media = "text/csv" if path.suffix == ".csv" else \
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
        return FileResponse(path, media_type=media, filename=path.name)

    # ------------------------------------------------------------ backups
    @api.post("/backups", status_code=201, tags=["backups"], summary="Make a backup (admin)")
    async def make_backup(principal: Who) -> dict[str, Any]:
        return _file_doc(await core.backup.create(principal), "backups")

    @api.get("/backups", tags=["backups"], summary="Backups (admin)")
    async def backups(principal: Who) -> dict[str, Any]:
        require(principal, Action.ADMINISTER, "backup")
        return {"items": [_file_doc(b.path, "backups") for b in core.backup.list_backups()]}

    @api.get("/backups/{name}", tags=["backups"], summary="Download a backup (admin)",
             response_class=FileResponse)
    async def backup_file(name: str, principal: Who) -> FileResponse:
        require(principal, Action.ADMINISTER, "backup")
        path = listed(core.paths.backups, name, "backup")
        return FileResponse(path, media_type="application/gzip", filename=path.name)

