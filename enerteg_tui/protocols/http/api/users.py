"""REST resources for users (admin) and one's own password, through ``UserService``: the
same name and password rules, the last-admin guard and the audit as the shell's ``user``,
``passwd`` and ``unlock`` commands."""

from collections.abc import Callable
from typing import Annotated, Any

from fastapi import Depends, FastAPI, Query, Response
from pydantic import BaseModel, Field

from ....core.errors import Invalid
from ....core.permissions import Principal
from ....core.services import CoreServices
from ....core.users import UserInfo

__all__ = ["add_users"]


class NewUser(BaseModel):
    name: str = Field(min_length=1, max_length=32)
    password: str = Field(min_length=1, max_length=128)
    roles: list[str] = Field(min_length=1, max_length=6)


class Roles(BaseModel):
    roles: list[str] = Field(min_length=1, max_length=6)


class NewPassword(BaseModel):
    password: str = Field(min_length=1, max_length=128, description="the new password")
    oldPassword: str | None = Field(None, max_length=128, description=(
        "your current password, when changing your own"))


def user_doc(core: CoreServices, u: UserInfo) -> dict[str, Any]:
    """A user as listed (never a hash)."""
    return {"name": u.name, "roles": sorted(r.value for r in u.roles), "keys": len(u.keys),
            "mustChangePassword": u.must_change,
            "lockedFrom": sorted(core.users.lockout.locked_sources(u.name))}


def add_users(api: FastAPI, core: CoreServices, who: Callable[..., Any]) -> None:
    """Add ``/users`` to ``api``."""
    Who = Annotated[Principal, Depends(who)]
    Limit = Annotated[int, Query(ge=1, le=1000)]
    Offset = Annotated[int, Query(ge=0, le=10_000_000)]

    @api.get("/users", tags=["users"], summary="Users (admin)")
    async def users(principal: Who, limit: Limit = 100, offset: Offset = 0) -> dict[str, Any]:
        rows = [user_doc(core, u) for u in await core.users.list(principal)]
        return {"total": len(rows), "limit": limit, "offset": offset,
                "items": rows[offset:offset + limit]}

    @api.post("/users", status_code=201, tags=["users"], summary="Add a user (admin)")
    async def add(body: NewUser, principal: Who) -> dict[str, Any]:
        name = core.users.check_name(body.name)
        return user_doc(core, await core.users.add(principal, name, body.password, body.roles))

    @api.get("/users/{name}", tags=["users"], summary="A user (admin, or yourself)")
    async def get(name: str, principal: Who) -> dict[str, Any]:
        if name != principal.user:
            await core.users.list(principal)            # administer, as `user list`
        return user_doc(core, await core.users.get(name))

    @api.put("/users/{name}/roles", tags=["users"], summary="Replace a user's roles (admin)")
    async def roles(name: str, body: Roles, principal: Who) -> dict[str, Any]:
        return user_doc(core, await core.users.set_roles(principal, name, body.roles))

    @api.put("/users/{name}/password", status_code=204, tags=["users"],
             summary="Set a password: your own (with oldPassword), or anyone's as admin")
    async def password(name: str, body: NewPassword, principal: Who) -> Response:
        if name == principal.user and body.oldPassword is None:
            raise Invalid(f"user {name!r}: changing your own password needs oldPassword",
                          thing="oldPassword", value=None,
                          allowed="the password you log in with")
        await core.users.change_password(principal, name, body.password, body.oldPassword)
        return Response(status_code=204)

    @api.post("/users/{name}/unlock", tags=["users"],
              summary="Clear a user's failed-login lockout (admin)")
    async def unlock(name: str, principal: Who) -> dict[str, Any]:
        return {"name": name, "addressesCleared": await core.users.unlock(principal, name)}

    @api.delete("/users/{name}", status_code=204, tags=["users"],
                summary="Delete a user (admin; never the last admin)")
    async def delete(name: str, principal: Who) -> Response:
        await core.users.delete(principal, name)
        return Response(status_code=204)
