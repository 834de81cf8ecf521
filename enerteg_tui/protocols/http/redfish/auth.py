"""Who is asking Redfish: the web faces' one sign-in (``protocols/http/signin.py``;
sessions and admission in ``core.web_sessions``), its refusals worded as Redfish
extended errors.

A Redfish session (``POST /redfish/v1/SessionService/Sessions``) is a web session of the
core, the same kind ``POST /api/v1/session`` opens: ``SessionService`` lists and deletes
both, either face takes either token (``X-Auth-Token`` or ``Authorization: Bearer``), and
it ends after ``config/cli idleTimeoutMinutes`` without a request (``SessionTimeout``).
"""

from __future__ import annotations

from fastapi import Request

from ....core.errors import PermissionDenied
from ....core.permissions import Principal
from ....core.services import CoreServices
from ....core.users import AuthFailed, LockedOut
from ..signin import (BadSession, ClearText, NoCredentials, SignedIn, TooManyFailures,
                      password_login, sign_in)
from .errors import RedfishError

__all__ = ["FACE", "redfish_sign_in", "redfish_password", "refusal", "challenge",
           "session_timeout"]

FACE = "redfish"
"""The face name in audit entries and the session list."""


def challenge() -> dict[str, str]:
    """The ``WWW-Authenticate`` of a 401."""
    return {"WWW-Authenticate": 'Basic realm="enerteg redfish"'}


def session_timeout(core: CoreServices) -> int:
    """``SessionService.SessionTimeout``: seconds a session lives without a request."""
    return int(core.tokens.sessions.idle_limit())


def refusal(exc: AuthFailed, path: str) -> RedfishError:
    """A sign-in refusal as a Redfish error."""
    if isinstance(exc, TooManyFailures):
        return RedfishError(429, "ServiceTemporarilyUnavailable", exc.message,
                            args=[str(exc.retry_after)],
                            headers={"Retry-After": str(exc.retry_after)})
    if isinstance(exc, ClearText):
        return RedfishError(403, "InsufficientPrivilege",
                            "Credentials are accepted over HTTPS only; this request came "
                            "over plain HTTP", resolution="Use the HTTPS port of "
                            "config/http_server (httpsPort)")
    if isinstance(exc, BadSession):
        return RedfishError(401, "NoValidSession",
                            "X-Auth-Token is not the token of an open session (it was "
                            "deleted, timed out or the controller restarted)",
                            resolution="Log in again: POST /redfish/v1/SessionService/"
                                       "Sessions", headers=challenge())
    if isinstance(exc, NoCredentials):
        return RedfishError(401, "NoValidSession",
                            f"{path} needs a login: HTTP Basic over HTTPS, an X-Auth-Token "
                            "from POST /redfish/v1/SessionService/Sessions or an API token",
                            headers=challenge())
    if isinstance(exc, LockedOut):
        return RedfishError(401, "InsufficientPrivilege", exc.message, headers=challenge())
    text = exc.message[:1].upper() + exc.message[1:]
    return RedfishError(401, "ResourceAtUriUnauthorized", text, args=[path, exc.message],
                        headers=challenge())


async def redfish_sign_in(core: CoreServices, request: Request) -> SignedIn:
    """``sign_in`` with Redfish's refusals."""
    try:
        return await sign_in(core, request, FACE)
    except AuthFailed as exc:
        raise refusal(exc, str(request.url.path)) from None
    except PermissionDenied as exc:                 # maxSessionsPerUser
        raise RedfishError(403, "SessionLimitExceeded", str(exc)) from None


async def redfish_password(core: CoreServices, request: Request, user: str,
                           password: str) -> Principal:
    """A session login's password check, HTTPS only."""
    try:
        return await password_login(core, request, FACE, user, password)
    except (TooManyFailures, ClearText) as exc:
        raise refusal(exc, str(request.url.path)) from None
    except AuthFailed as exc:
        raise RedfishError(401, "NoValidSession", str(exc)) from None
