"""Writing accounts over Redfish: POST, PATCH and DELETE of ManagerAccount.

Why: Redfish clients (and DMTF's protocol validator) manage users through
``/redfish/v1/AccountService/Accounts``. Each request maps onto the one core call the
shell's ``user`` commands make (``UserService.add``, ``change_password``,
``set_roles``, ``unlock``, ``delete``): the same permission check (``administer``; one's
own password with a login), the same password policy, the same audit entries and the
same messages. Nothing is changed unless the whole request is acceptable.

``RoleId`` on a write is one of Redfish's roles (Administrator → admin, Operator →
power + readwrite, ReadOnly → readonly) or one of our six role names; a user whose roles
already map to the Redfish role asked keeps them. PATCH honours ``If-Match`` (412 when
the account changed since it was read); conditional writes are serialised, so of
several writers with the same ETag one wins and the others get 412.
"""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi.responses import Response

from ....core.errors import Conflict, Invalid
from ....core.permissions import Action, Role, require
from .errors import RedfishError
from .power import json_type
from .root import V1, account, redfish_role
from .tree import Ctx, etag, route

__all__ = ["roles_for", "REDFISH_TO_OURS"]

ACCOUNTS = f"{V1}/AccountService/Accounts"
REDFISH_TO_OURS: dict[str, list[str]] = {"Administrator": ["admin"],
                                         "Operator": ["power", "readwrite"],
                                         "ReadOnly": ["readonly"]}
"""Our roles a Redfish RoleId gives a new account (or one whose role changes)."""


def _lock(ctx: Ctx) -> asyncio.Lock:
    """One lock per face: a conditional write is checked and applied under it."""
    lock = getattr(ctx.face, "account_lock", None)
    if lock is None:
        lock = ctx.face.account_lock = asyncio.Lock()
    return lock


def roles_for(role_id: Any, current: frozenset[Role] | None = None) -> list[str] | None:
    """Our roles for a requested ``RoleId``; None when ``current`` already maps to it.
    Raises ``RedfishError`` 400 naming the allowed values."""
    allowed = [*REDFISH_TO_OURS, *(r.value for r in Role)]
    if not isinstance(role_id, str) or role_id not in allowed:
        raise RedfishError(400, "PropertyValueNotInList",
                           f"RoleId {role_id!r} is not a role; allowed: {', '.join(allowed)}",
                           args=[str(role_id), "RoleId"])
    if role_id in REDFISH_TO_OURS:
        if current is not None and redfish_role(current) == role_id:
            return None
        return REDFISH_TO_OURS[role_id]
    if current is not None and current == frozenset({Role(role_id)}):
        return None
    return [role_id]


def _invalid(exc: Invalid, prop: str) -> RedfishError:
    return RedfishError(400, "PropertyValueError", f"{exc}; nothing was changed",
                        args=[prop])


def _clean(body: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in body.items() if not k.startswith("@odata.")}


_CREATE = {"UserName", "Password", "RoleId", "Enabled", "AccountTypes", "Description"}


@route(ACCOUNTS, "POST")
async def create_account(ctx: Ctx) -> Any:
    body = _clean(ctx.body)
    unknown = sorted(set(body) - _CREATE)
    if unknown:
        raise RedfishError(400, "PropertyUnknown", f"{unknown[0]} cannot be set on a new "
                           f"account; allowed: {', '.join(sorted(_CREATE))}",
                           args=[unknown[0]])
    for key in ("UserName", "Password", "RoleId"):
        if not isinstance(body.get(key), str):
            raise RedfishError(400, "PropertyMissing" if key not in body else
                               "PropertyValueTypeError", f"{key} is needed, as a string, "
                               "to make an account (UserName, Password, RoleId)",
                               args=[key])
    if body.get("Enabled", True) is not True:
        raise RedfishError(400, "PropertyValueNotInList", "Enabled must be true: accounts "
                           "here cannot be disabled (delete the account instead)",
                           args=[str(body.get("Enabled")), "Enabled"])
    roles = roles_for(body["RoleId"]) or []
    users = ctx.core.users
    require(ctx.who, Action.ADMINISTER, "users")    # before saying anything of the input
    for prop, check in (("UserName", lambda: users.check_name(body["UserName"])),
                        ("Password", lambda: users.check_password(body["UserName"].strip(),
                                                                  body["Password"]))):
        try:
            check()
        except Invalid as exc:
            raise _invalid(exc, prop) from None
    try:
        info = await users.add(ctx.who, body["UserName"], body["Password"], roles)
    except Invalid as exc:
        raise _invalid(exc, "UserName") from None
    except Conflict as exc:
        raise RedfishError(409, "ResourceAlreadyExists", str(exc),
                           args=["ManagerAccount", "UserName", body["UserName"]]) from None
    ctx.params["name"] = info.name
    doc = await account(ctx)
    return 201, doc, {"Location": f"{ACCOUNTS}/{info.name}"}


_WRITABLE = ("Password", "RoleId", "Locked", "Enabled", "UserName")


@route(f"{ACCOUNTS}/{{name}}", "PATCH")
async def patch_account(ctx: Ctx) -> Any:
    """Change an account's password, role or lockout (all or nothing)."""
    name = ctx.params["name"]
    async with _lock(ctx):
        current = await account(ctx)            # 404, and others' accounts need administer
        wanted = ctx.request.headers.get("if-match")
        if wanted and wanted.strip() != "*" and wanted.strip() != etag(current):
            raise RedfishError(412, "PreconditionFailed",
                               f"If-Match {wanted} is not the current ETag of "
                               f"{current['@odata.id']} (it changed since it was read); "
                               "nothing was changed",
                               resolution="GET the account again and retry with its ETag")
        body = _clean(ctx.body)
        if not body:
            raise RedfishError(400, "NoOperation", "The PATCH body has no property to "
                               f"change; writable: {', '.join(_WRITABLE)}")
        for key, value in body.items():
            if key not in _WRITABLE:
                raise RedfishError(400, "PropertyNotWritable" if key in current else
                                   "PropertyUnknown", f"{key} cannot be changed here; "
                                   f"writable: {', '.join(_WRITABLE)}; nothing was changed",
                                   args=[key])
        if "UserName" in body and body["UserName"] != name:
            raise RedfishError(400, "PropertyNotWritable", "UserName cannot be changed (an "
                               "account is renamed by making a new one); nothing was "
                               "changed", args=["UserName"])
        if body.get("Enabled", True) is not True:
            raise RedfishError(400, "PropertyValueNotInList", "Enabled must be true: "
                               "accounts here cannot be disabled (delete the account "
                               "instead); nothing was changed",
                               args=[str(body.get("Enabled")), "Enabled"])
        if "Locked" in body and body["Locked"] is not False:
            raise RedfishError(400, "PropertyValueNotInList", "Locked can only be set to "
                               "false (unlock); an account is locked by failed logins, "
                               "not by request", args=[str(body["Locked"]), "Locked"])
        password = body.get("Password")
        if "Password" in body and not isinstance(password, str):
            raise RedfishError(400, "PropertyValueTypeError", f"Password must be a string, "
                               f"not {json_type(password)}; nothing was changed",
                               args=["(hidden)", "Password"])
        info = await ctx.core.users.get(name)
        roles = roles_for(body["RoleId"], info.roles) if "RoleId" in body else None
        # checks that change nothing first, so a refused request leaves all as it was
        if password is not None:
            try:
                ctx.core.users.check_password(name, password)
            except Invalid as exc:
                raise _invalid(exc, "Password") from None
        if roles is not None or "Locked" in body:
            require(ctx.who, Action.ADMINISTER, f"user/{name}")
        try:
            if roles is not None:
                await ctx.core.users.set_roles(ctx.who, name, roles)
            if password is not None:
                await ctx.core.users.change_password(ctx.who, name, password)
            if body.get("Locked") is False:
                await ctx.core.users.unlock(ctx.who, name)
        except Invalid as exc:
            raise _invalid(exc, "Password" if password is not None else "RoleId") from None
        except Conflict as exc:
            raise RedfishError(409, "ResourceInUse", str(exc)) from None
        return await account(ctx)


@route(f"{ACCOUNTS}/{{name}}", "DELETE")
async def delete_account(ctx: Ctx) -> Response:
    name = ctx.params["name"]
    async with _lock(ctx):
        try:
            await ctx.core.users.delete(ctx.who, name)
        except Conflict as exc:
            raise RedfishError(409, "ResourceInUse", str(exc),
                               args=["ManagerAccount", name]) from None
    return Response(status_code=204, headers={"OData-Version": "4.0"})
