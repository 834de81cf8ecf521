"""Who sent an HTTP request: the one sign-in of every HTTP face (the REST API, Redfish,
``/events``).

Why one module: the faces had each their own parsing of ``Authorization``, their own
penalty or back-off and their own sessions. Here the headers are read once, the same
way, and every credential goes through the core's admission
(``core.web_sessions``, ``core.api_tokens``); a face only words the refusals
(``AuthFailed`` and its kinds below) in its own format (problem+json, Redfish's
extended error, plain text).

Accepted, on every face:

* a session token (``ses_…``) as ``Authorization: Bearer`` or ``X-Auth-Token``: from
  ``POST /api/v1/session`` or ``POST /redfish/v1/SessionService/Sessions``, the same
  sessions for both;
* an API token (``ent_…``) as ``Authorization: Bearer`` or ``X-Auth-Token``;
* ``Authorization: Basic`` over HTTPS only (a session login's password too:
  ``password_login``) (``ClearText`` over plain HTTP, refused
  before the password is looked at). A Basic request is a password login and a core
  session of one request (``login`` and ``logout`` audited, ``maxSessionsPerUser``
  counted while it runs), as SSH's login is; scripts should prefer a token.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

from fastapi import Request

from ...core.permissions import Principal
from ...core.services import CoreServices
from ...core.users import AuthFailed, Session
from ...core.web_sessions import TOKEN_PREFIX, TooManyFailures, WebSession

__all__ = ["SignedIn", "sign_in", "signed_in", "client_address", "session_token",
           "BadSession", "ClearText", "NoCredentials", "TooManyFailures", "BASIC_OVER_HTTP",
           "password_login", "sign_out", "PASSWORD_OVER_HTTP"]

BASIC_OVER_HTTP = ("HTTP Basic authentication is accepted over HTTPS only; the password "
                   "was not checked")
PASSWORD_OVER_HTTP = ("passwords are accepted over HTTPS only; the password was not "
                      "checked")


class NoCredentials(AuthFailed):
    """The request carried no credentials at all."""


class BadSession(AuthFailed):
    """A session token that names no open session (logged out, timed out, mistyped)."""


class ClearText(AuthFailed):
    """Basic credentials over plain HTTP: refused without checking them."""


@dataclass(slots=True)
class SignedIn:
    """Who sent the request, and what to end afterwards."""

    principal: Principal
    basic_session: Session | None = None
    """A Basic request's one-request core session (ended by ``signed_in``)."""
    web_session: WebSession | None = None
    """The token session the request used, if any."""


def client_address(request: Request) -> str:
    """The peer's address as audit entries name it."""
    return request.client.host if request.client else ""


def session_token(request: Request) -> str | None:
    """The session token the request carries (``X-Auth-Token`` or ``Bearer ses_…``)."""
    for value in (request.headers.get("x-auth-token", "").strip(),
                  _bearer(request)):
        if value.startswith(TOKEN_PREFIX):
            return value
    return None


def _bearer(request: Request) -> str:
    scheme, _, value = request.headers.get("authorization", "").partition(" ")
    return value.strip() if scheme.lower() == "bearer" else ""


def _basic(value: str) -> tuple[str, str]:
    try:
        user, sep, password = base64.b64decode(value.strip(), validate=True).decode(
            "utf-8").partition(":")
    except (binascii.Error, ValueError, UnicodeDecodeError):
        sep = ""
    if not sep:
        raise AuthFailed("the Basic credentials are not base64 of user:password",
                         thing="authorization", value="Basic",
                         allowed="Basic base64(user:password)")
    return user, password


async def sign_in(core: CoreServices, request: Request, face: str) -> SignedIn:
    """Who sent ``request``; ``face`` names the way in for the audit.

    Raises:
        NoCredentials, BadSession, ClearText, TooManyFailures, LockedOut, AuthFailed:
            nobody valid did (a face words each in its format).
        PermissionDenied: a Basic login past ``maxSessionsPerUser``.
    """
    address = client_address(request)
    sessions = core.tokens.sessions
    token = session_token(request)
    if token is not None:
        ws = await sessions.lookup(token)
        if ws is None:
            raise BadSession("session token not accepted (logged out, timed out or "
                             "mistyped)", thing="token", value="ses_…",
                             allowed="a token from POST /api/v1/session or POST /redfish/v1/"
                                     "SessionService/Sessions while its session is open")
        return SignedIn(ws.principal, web_session=ws)
    api_token = request.headers.get("x-auth-token", "").strip() or _bearer(request)
    if api_token:
        return SignedIn(await core.tokens.admit(api_token, face, address))
    scheme, _, value = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() == "basic":
        if request.url.scheme != "https":
            raise ClearText(BASIC_OVER_HTTP, thing="authorization", value="Basic",
                            allowed="Basic over HTTPS, or a session or API token")
        user, password = _basic(value)
        principal = await sessions.password(user, password, face, address)
        return SignedIn(principal, basic_session=await core.users.start_session(principal))
    raise NoCredentials("this resource needs credentials: a session token (Authorization: "
                        "Bearer ses_… or X-Auth-Token), an API token (Bearer ent_…) or "
                        "Basic over HTTPS", thing="authorization", value=scheme or "(none)",
                        allowed="Bearer ses_… or ent_… token, X-Auth-Token, or Basic over "
                                "HTTPS")


async def password_login(core: CoreServices, request: Request, face: str, user: str,
                         password: str) -> Principal:
    """A session login's password check (``POST /api/v1/session``, Redfish's
    ``SessionService``): HTTPS only, like Basic, then the core's admission."""
    if request.url.scheme != "https":
        raise ClearText(PASSWORD_OVER_HTTP, thing="password", value="(not checked)",
                        allowed="a login over HTTPS")
    return await core.tokens.sessions.password(user, password, face, client_address(request))


async def sign_out(core: CoreServices, signed: SignedIn) -> None:
    """End what ``sign_in`` opened for one request (a Basic login's core session)."""
    if signed.basic_session is not None:
        session, signed.basic_session = signed.basic_session, None
        await core.users.end_session(session)


@asynccontextmanager
async def signed_in(core: CoreServices, request: Request, face: str
                    ) -> AsyncIterator[SignedIn]:
    """``sign_in`` for the duration of a request, then ``sign_out``."""
    signed = await sign_in(core, request, face)
    try:
        yield signed
    finally:
        await sign_out(core, signed)
