"""The REST API v1 (docs/rest.md): a FastAPI application mounted at ``/api/v1``.

Every resource goes through the same core calls as the shell, so the same permission
checks (``core.permissions``), schemas, messages and audit apply: documents are the
topic documents the shell's ``cat`` prints (``Topics.get``), changes are its ``put``
(``Topics.put``: PUT replaces, PATCH changes the keys sent), lists are the core's
queries. Secrets read as "set", as in the shell. Writable documents carry an ``ETag``;
a write with ``If-Match`` that no longer matches is refused with 412 and changes
nothing. Lists page with ``limit`` and ``offset`` and say the ``total``.
"""


import hashlib
import json
import secrets
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Body, Depends, FastAPI, Query, Request, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from .... import __version__
from ....core.alarms import AlarmFilter
from ....core.audit import AuditFilter, AuditState
from ....core.errors import Invalid, NotFound, shown
from ....core.model import OutletAction
from ....core.permissions import Principal, require_switch
from ....core.services import CoreServices
from ....core.settings import SETTINGS_TOPICS
from ....core.topics import normalize
from ...shell.tokencmds import token_doc
from .more import add_more
from .users import add_users
from ..signin import session_token
from .auth import rest_password, rest_principal
from .software import add_software
from .problems import PROBLEM_RESPONSES, ProblemError, install_handlers

__all__ = ["build_api", "openapi_document", "CONFIRM_SECONDS"]

CONFIRM_SECONDS = 10.0
"""How long the confirm token of an outlet unlock is valid."""
MAX_LIMIT = 1000

Doc = dict[str, Any]


class LoginRequest(BaseModel):
    """``POST /session``."""

    user: str = Field(min_length=1, max_length=64)
    password: str = Field(min_length=1, max_length=256)
    newPassword: str | None = Field(None, max_length=256, description=(
        "a new password, when the user must change theirs first (factory default, set by "
        "an admin, or too old)"))


class LoginAnswer(BaseModel):
    token: str
    user: str
    roles: list[str]
    idleTimeoutSeconds: float


class TokenRequest(BaseModel):
    name: str = Field(min_length=1, max_length=64)
    days: int = Field(90, ge=0, le=3650, description="0 = never expires")
    user: str | None = Field(None, description="another user's (admin only)")


class Page(BaseModel):
    total: int
    limit: int
    offset: int
    items: list[dict[str, Any]]


class AckRequest(BaseModel):
    comment: str = Field("", max_length=1000)


class CommentRequest(BaseModel):
    text: str = Field(min_length=1, max_length=1000)


class StateRequest(BaseModel):
    state: AuditState
    comment: str = Field("", max_length=1000)


class UnlockRequest(BaseModel):
    action: OutletAction


class UnlockAnswer(BaseModel):
    confirm: str
    validSeconds: float
    action: OutletAction


class SwitchRequest(BaseModel):
    action: OutletAction
    confirm: str = Field(min_length=1, max_length=100)


@dataclass(slots=True)
class _Unlock:
    user: str
    session: int
    target: str
    action: OutletAction
    until: float


def etag_of(doc: Doc) -> str:
    """A strong ETag of a document, without its time stamp (``ts`` moves with every
    sweep; the content is what a write could clash with)."""
    body = {k: v for k, v in doc.items() if k != "ts"}
    raw = json.dumps(body, sort_keys=True, separators=(",", ":"), default=str).encode()
    return '"' + hashlib.sha256(raw).hexdigest()[:32] + '"'


def _page(items: list[Doc], total: int, limit: int, offset: int) -> Doc:
    return {"total": total, "limit": limit, "offset": offset, "items": items}


def build_api(core: CoreServices, clock: Callable[[], float] = time.time) -> FastAPI:
    """The ``/api/v1`` application."""
    api = FastAPI(title="EnerTEG controller REST API", version=__version__,
                  docs_url=None, redoc_url=None, openapi_url="/openapi.json",
                  responses=PROBLEM_RESPONSES,
                  description="REST API v1 of the EnerTEG controller (docs/rest.md).")
    install_handlers(api)
    unlocks: dict[str, _Unlock] = {}

    async def who(request: Request) -> AsyncIterator[Principal]:
        async for principal in rest_principal(core, request):
            yield principal

    Who = Annotated[Principal, Depends(who)]
    Limit = Annotated[int, Query(ge=1, le=MAX_LIMIT, description="items per page")]
    Offset = Annotated[int, Query(ge=0, le=10_000_000, description="items skipped")]

    def doc_response(doc: Doc) -> JSONResponse:
        return JSONResponse(doc, headers={"ETag": etag_of(doc)})

    def check_match(principal: Principal, path: str, request: Request) -> None:
        want = request.headers.get("if-match")
        if want is None or want.strip() == "*":
            return
        now = etag_of(core.topics.get(principal, path))
        if now not in [w.strip().removeprefix("W/") for w in want.split(",")]:
            raise ProblemError(412, f"{path} changed since it was read (ETag now {now}); "
                                    "nothing was changed: read it again and retry",
                               field="If-Match", value=want, allowed=now)

    async def write(principal: Principal, path: str, body: Doc, request: Request,
                    replace: bool) -> JSONResponse:
        if not isinstance(body, dict):
            raise Invalid(f"{path}: the request body must be a JSON object of keys and values",
                          thing="request body", value=type(body).__name__,
                          allowed="a JSON object")
        path = normalize(path)
        core.topics.node(principal, path)      # 404/403 before anything else
        check_match(principal, path, request)
        changes = body.get("u", body) if replace and isinstance(body.get("u"), dict) else body
        return doc_response(await core.topics.put(principal, path, changes, replace=replace))

    Obj = Annotated[Doc, Body(description="keys and values, as `put` takes them")]

    # ------------------------------------------------------------ session and tokens
    @api.post("/session", response_model=LoginAnswer, tags=["session"],
              summary="Log in with a user name and password; returns a session token")
    async def login(body: LoginRequest, request: Request) -> Doc:
        principal = await rest_password(core, request, body.user, body.password)
        if await core.users.must_change(principal.user):
            if not body.newPassword:
                reason = await core.users.change_reason(principal.user)
                raise ProblemError(
                    403, f"the password of {body.user!r} {reason}: it must be changed before "
                         "anything else; send newPassword with this request",
                    field="newPassword", allowed=core.users.password_policy.describe())
            await core.users.change_password(principal, principal.user, body.newPassword)
        sessions = core.tokens.sessions
        session, token = await sessions.open(principal)
        return {"token": token, "user": session.principal.user,
                "roles": sorted(r.value for r in session.principal.roles),
                "idleTimeoutSeconds": sessions.idle_limit()}

    @api.get("/session", tags=["session"], summary="Who the credentials are")
    async def whoami(principal: Who) -> Doc:
        return {"user": principal.user, "roles": sorted(r.value for r in principal.roles),
                "actions": sorted(a.value for a in principal.actions), "face": principal.face}

    @api.delete("/session", status_code=204, tags=["session"],
                summary="Log out: end the session of the bearer token")
    async def logout(request: Request, principal: Who) -> Response:
        token = session_token(request)
        sessions = core.tokens.sessions
        session = await sessions.lookup(token) if token is not None else None
        if session is not None:
            await sessions.close(session)
        else:
            raise ProblemError(409, "these credentials are not a session token; there is no "
                                    "session to end", field="authorization",
                               allowed="Bearer ses_… from POST /api/v1/session")
        return Response(status_code=204)

    @api.get("/tokens", response_model=Page, tags=["session"],
             summary="API tokens (yours; an admin's: everyone's)")
    async def tokens(principal: Who, limit: Limit = 100, offset: Offset = 0,
                     user: str | None = None) -> Doc:
        rows = [token_doc(t) for t in await core.tokens.list(principal, user)]
        return _page(rows[offset:offset + limit], len(rows), limit, offset)

    @api.post("/tokens", status_code=201, tags=["session"],
              summary="Make an API token; the answer's token is shown only this once")
    async def make_token(body: TokenRequest, principal: Who) -> Doc:
        info, text = await core.tokens.create(principal, body.name, days=body.days,
                                              user=body.user)
        return {**token_doc(info), "token": text}

    @api.delete("/tokens/{token_id}", status_code=204, tags=["session"],
                summary="Revoke an API token")
    async def revoke_token(token_id: str, principal: Who) -> Response:
        await core.tokens.revoke(principal, token_id)
        return Response(status_code=204)

    # ------------------------------------------------------------ topics (the shell's tree)
    @api.get("/topics", tags=["topics"], summary="The topic tree's roots (the shell's `ls /`)")
    async def topic_roots(principal: Who) -> Doc:
        return {"path": "", "children": core.topics.node(principal, "").children}

    @api.get("/topics/{path:path}", tags=["topics"],
             summary="A topic: its _data document (the shell's `cat`) or its children (`ls`)")
    async def topic(path: str, principal: Who) -> Response:
        path = normalize(path)
        node = core.topics.node(principal, path)
        if not node.has_data:
            return JSONResponse({"path": path, "children": node.children})
        return doc_response(core.topics.get(principal, path))

    @api.put("/topics/{path:path}", tags=["topics"],
             summary="Replace a writable topic's document (the shell's `put --replace`)")
    async def topic_put(path: str, body: Obj, request: Request, principal: Who) -> Response:
        return await write(principal, path, body, request, replace=True)

    @api.patch("/topics/{path:path}", tags=["topics"],
               summary="Change keys of a writable topic (the shell's `put key=value`)")
    async def topic_patch(path: str, body: Obj, request: Request, principal: Who) -> Response:
        return await write(principal, path, body, request, replace=False)

    # ------------------------------------------------------------ settings
    @api.get("/settings", tags=["settings"], summary="The settings topics (config/…)")
    async def settings(principal: Who) -> Doc:
        return {"topics": core.topics.node(principal, "config").children}

    def setting_path(topic: str) -> str:
        if topic not in SETTINGS_TOPICS:
            raise NotFound(f"settings topic {shown(topic)} does not exist", thing="topic",
                           value=topic, allowed=", ".join(SETTINGS_TOPICS))
        return f"config/{topic}"

    @api.get("/settings/{topic}", tags=["settings"],
             summary="A settings topic (secrets read as \"set\")")
    async def setting(topic: str, principal: Who) -> Response:
        return doc_response(core.topics.get(principal, setting_path(topic)))

    @api.put("/settings/{topic}", tags=["settings"], summary="Replace a settings topic")
    async def setting_put(topic: str, body: Obj, request: Request, principal: Who) -> Response:
        return await write(principal, setting_path(topic), body, request, replace=True)

    @api.patch("/settings/{topic}", tags=["settings"], summary="Change keys of a settings topic")
    async def setting_patch(topic: str, body: Obj, request: Request,
                            principal: Who) -> Response:
        return await write(principal, setting_path(topic), body, request, replace=False)

    # ------------------------------------------------------------ devices
    @api.get("/devices", response_model=Page, tags=["devices"],
             summary="PDUs on the ring with their totals")
    async def devices(principal: Who, limit: Limit = 100, offset: Offset = 0) -> Doc:
        rows = core.topics.get(principal, "sensor")["devices"]
        return _page(rows[offset:offset + limit], len(rows), limit, offset)

    def device_path(hex_id: str, *rest: str) -> str:
        path = "/".join(("sensor", hex_id.lower(), *rest))
        return path

    @api.get("/devices/{hex_id}", tags=["devices"], summary="A PDU and its live totals")
    async def device(hex_id: str, principal: Who) -> Response:
        return doc_response(core.topics.get(principal, device_path(hex_id)))

    @api.get("/devices/{hex_id}/values/{component}", tags=["devices"],
             summary="Live values of a component: i (inputs), b (branches), o (outlets), "
                     "s (sensors), t (totals)")
    async def values(hex_id: str, component: str, principal: Who) -> Doc:
        return core.topics.get(principal, device_path(hex_id, component))

    @api.get("/devices/{hex_id}/config", tags=["devices"], summary="A PDU's settings")
    async def device_config(hex_id: str, principal: Who) -> Response:
        return doc_response(core.topics.get(principal, device_path(hex_id, "config")))

    @api.patch("/devices/{hex_id}/config", tags=["devices"], summary="Change a PDU's settings")
    async def device_config_patch(hex_id: str, body: Obj, request: Request,
                                  principal: Who) -> Response:
        return await write(principal, device_path(hex_id, "config"), body, request,
                           replace=False)

    @api.get("/devices/{hex_id}/outlets/{n}", tags=["devices"], summary="An outlet")
    async def outlet(hex_id: str, n: int, principal: Who) -> Response:
        return doc_response(core.topics.get(principal, device_path(hex_id, "o", str(n))))

    @api.post("/devices/{hex_id}/outlets/{n}/unlock", response_model=UnlockAnswer,
              tags=["devices"], summary=f"Step 1 of switching: a confirm token valid "
                                        f"{CONFIRM_SECONDS:g} s")
    async def unlock(hex_id: str, n: int, body: UnlockRequest, principal: Who) -> Doc:
        path = device_path(hex_id, "o", str(n))
        core.topics.node(principal, path)
        require_switch(principal, body.action, path)
        now = clock()
        for k, u in list(unlocks.items()):
            if u.until < now:
                unlocks.pop(k, None)
        token = secrets.token_urlsafe(16)
        unlocks[token] = _Unlock(principal.user, principal.session, path, body.action,
                                 now + CONFIRM_SECONDS)
        return {"confirm": token, "validSeconds": CONFIRM_SECONDS, "action": body.action}

    @api.post("/devices/{hex_id}/outlets/{n}/switch", tags=["devices"],
              summary="Step 2 of switching: the action with the confirm token of step 1")
    async def switch(hex_id: str, n: int, body: SwitchRequest, principal: Who) -> Response:
        path = device_path(hex_id, "o", str(n))
        u = unlocks.pop(body.confirm, None)
        if u is None or u.until < clock() or u.user != principal.user or u.target != path \
                or u.action != body.action:
            raise ProblemError(409, f"{path}: the confirm token is unknown, used, expired "
                                    f"(valid {CONFIRM_SECONDS:g} s) or for another outlet, "
                                    "action or user; nothing was switched",
                               field="confirm", value=body.confirm,
                               allowed="the token of POST …/unlock for this outlet and action")
        return await write(principal, path, {"state": body.action.value},
                           _NoHeaders(), replace=False)

    # ------------------------------------------------------------ structure, rules
    @api.get("/dc", tags=["structure"], summary="Rooms, rows and racks with aggregates")
    async def dc(principal: Who) -> Response:
        return await topic("dc", principal)

    @api.get("/rules", response_model=Page, tags=["rules"], summary="Rules")
    async def rules(principal: Who, limit: Limit = 100, offset: Offset = 0) -> Doc:
        node = core.topics.node(principal, "rules")
        ids = [c for c in node.children if c.isdigit()]
        rows = [core.topics.get(principal, f"rules/{i}") for i in ids[offset:offset + limit]]
        return _page(rows, len(ids), limit, offset)

    # ------------------------------------------------------------ alarms, audit
    @api.get("/alarms", response_model=Page, tags=["alarms"],
             summary="Alarms, newest first (active, acked and device filters)")
    async def alarms(principal: Who, limit: Limit = 100, offset: Offset = 0,
                     active: bool | None = None, acked: bool | None = None,
                     device: str | None = None) -> Doc:
        flt = AlarmFilter(active=active, acked=acked, device=device)
        rows = await core.alarms.query(principal, flt, limit=limit + 1, offset=offset)
        more = len(rows) > limit
        return _page([a.to_json() for a in rows[:limit]],
                     offset + len(rows[:limit]) + (1 if more else 0), limit, offset)

    @api.post("/alarms/{alarm_id}/acknowledge", tags=["alarms"],
              summary="Acknowledge an alarm with a comment")
    async def acknowledge(alarm_id: int, body: AckRequest, principal: Who) -> Doc:
        return (await core.alarms.acknowledge(principal, alarm_id, body.comment)).to_json()

    @api.get("/audit", response_model=Page, tags=["audit"],
             summary="The audit log, newest first (admin)")
    async def audit(principal: Who, limit: Limit = 100, offset: Offset = 0,
                    user: str | None = None, device: str | None = None,
                    text: str | None = None) -> Doc:
        flt = AuditFilter(user=user, device=device, text=text)
        total = await core.audit.count(principal, flt)
        rows = await core.audit.query(principal, flt, limit=limit, offset=offset)
        return _page([e.to_json() for e in rows], total, limit, offset)

    @api.get("/audit/{entry_id}", tags=["audit"], summary="One audit entry (admin)")
    async def audit_entry(entry_id: int, principal: Who) -> Doc:
        return (await core.audit.get(principal, entry_id)).to_json()

    @api.post("/audit/{entry_id}/comments", tags=["audit"], summary="Comment on an entry")
    async def audit_comment(entry_id: int, body: CommentRequest, principal: Who) -> Doc:
        return (await core.audit.comment(principal, entry_id, body.text)).to_json()

    @api.put("/audit/{entry_id}/state", tags=["audit"],
             summary="Set an entry's state (Open, Investigating, Done)")
    async def audit_state(entry_id: int, body: StateRequest, principal: Who) -> Doc:
        return (await core.audit.set_state(principal, entry_id, body.state,
                                           body.comment)).to_json()

    add_users(api, core, who)
    add_more(api, core, who, clock)
    add_software(api, core, who)
    return api


class _NoHeaders:
    """A request stand-in without ``If-Match`` (the switch step checks its token)."""

    headers: dict[str, str] = {}


def openapi_document() -> dict[str, Any]:
    """The OpenAPI document of the API as served under ``/api/v1`` (without a running
    controller: the routes do not touch ``core`` until a request comes)."""
    doc = build_api(None).openapi()     # type: ignore[arg-type]
    return {**doc, "servers": [{"url": "/api/v1"}]}
