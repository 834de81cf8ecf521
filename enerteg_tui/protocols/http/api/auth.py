"""Who is asking the REST API: the web faces' one sign-in (``protocols/http/signin.py``,
sessions and admission in ``core.web_sessions``) with its refusals worded as problem+json.

* ``POST /api/v1/session`` is ``WebSessions.password`` (the penalty, back-off, lockout
  and audit of every web face, face ``rest``) then ``WebSessions.open``; its token
  (``ses_…``) is the same kind of session Redfish's ``SessionService`` opens, and either
  face takes either. ``DELETE /api/v1/session`` ends it.
* API tokens (``ent_…``), Basic over HTTPS: as ``signin`` says.
* An address that holds too much failed-login penalty: 429 with ``Retry-After``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

from fastapi import Request

from ....core.permissions import Principal
from ....core.services import CoreServices
from ..signin import (BASIC_OVER_HTTP, ClearText, TooManyFailures, client_address,
                      password_login, sign_in, sign_out)
from .problems import ProblemError

__all__ = ["FACE", "client_address", "rest_principal", "rest_password", "too_many"]

FACE = "rest"
"""The face name in principals, audit entries and ``users``."""


def too_many(exc: TooManyFailures) -> ProblemError:
    """429 for an address that holds too much failed-login penalty."""
    return ProblemError(429, exc.message, field="address", value=exc.value,
                        allowed="a login after the wait",
                        headers={"Retry-After": str(exc.retry_after)})


async def rest_password(core: CoreServices, request: Request, user: str,
                        password: str) -> Principal:
    """A password login of the REST face (``POST /session``), HTTPS only."""
    try:
        return await password_login(core, request, FACE, user, password)
    except TooManyFailures as exc:
        raise too_many(exc) from None
    except ClearText as exc:
        raise ProblemError(401, exc.message, field="password", value=None,
                           allowed="a login over HTTPS") from None


async def rest_principal(core: CoreServices, request: Request,
                         face: str = FACE) -> AsyncIterator[Principal]:
    """The principal of a request, for the duration of the request (a FastAPI dependency
    with ``yield``); core errors (401, 403) are worded by the API's handlers."""
    try:
        signed = await sign_in(core, request, face)
    except TooManyFailures as exc:
        raise too_many(exc) from None
    except ClearText:
        raise ProblemError(401, BASIC_OVER_HTTP, field="authorization", value="Basic",
                           allowed="Basic over HTTPS, or a Bearer session or API token",
                           headers={"WWW-Authenticate": 'Bearer realm="enerteg"'}) from None
    try:
        yield signed.principal
    finally:
        await sign_out(core, signed)
