"""Who is asking: REST sessions, API tokens and HTTP Basic, all through the core's one
admission path.

* ``POST /api/v1/session`` checks the password with ``UserService.authenticate`` (the
  lockout, back-off and audit of SSH logins, face ``rest``) and opens a session with
  ``start_session`` (the per-user session limit of ``config/cli``); the answer's token
  (``ses_…``) is then sent as ``Authorization: Bearer``. The session ends on ``DELETE
  /api/v1/session`` (audited ``logout``) or after ``config/cli idleTimeoutMinutes``
  without a request (audited ``session.timeout``; 0 = never). Only the token's SHA-256
  is kept.
* API tokens (``ent_…``, ``core.api_tokens``) as ``Authorization: Bearer``.
* ``Authorization: Basic`` over HTTPS only (over plain HTTP it is refused without
  checking the password, so a password sent in clear is not even tried); each request
  is a password login (argon2 and a ``login`` audit entry): scripts should prefer a token.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
from collections.abc import Callable
from dataclasses import dataclass

from fastapi import Request

from ....core.admission import Admission
from ....core.permissions import Principal
from ....core.services import CoreServices
from ....core.users import AuthFailed, Session
from .problems import ProblemError

__all__ = ["FACE", "RestSessions", "RestSession", "client_address", "end_rest_sessions"]

FACE = "rest"
"""The face name in principals, audit entries and ``users``."""


def client_address(request: Request) -> str:
    """The peer's address as audit entries name it."""
    return request.client.host if request.client else ""


async def end_rest_sessions(core: CoreServices) -> int:
    """End (and audit) every REST session: the web server stopped, its tokens died with
    it. Returns how many."""
    ended = 0
    for s in core.users.sessions.list():
        if s.principal.face == FACE:
            await core.users.end_session(s)
            ended += 1
    return ended


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass(slots=True)
class RestSession:
    """A session opened by ``POST /session``."""

    session: Session
    ended: bool = False


class RestSessions:
    """Open REST sessions, by token digest."""

    def __init__(self, core: CoreServices, clock: Callable[[], float]) -> None:
        self.core = core
        self._clock = clock
        self._by_digest: dict[str, RestSession] = {}
        self.admission = Admission()
        """Per-source penalties for failed logins, as the SSH server's (only the penalty:
        HTTP requests are not connections, so no per-connection rate applies)."""

    async def check_password(self, user: str, password: str, address: str) -> Principal:
        """``UserService.authenticate``, refused early (429) while ``address`` holds the
        penalty of too many failed logins (a source rotating user names would otherwise
        spend a password check per try)."""
        self.refuse_penalised(address)
        try:
            return await self.core.users.authenticate(user, password, FACE, address)
        except AuthFailed:
            self.admission.auth_failed(address)
            raise

    def refuse_penalised(self, address: str) -> None:
        """429 while ``address`` holds too much failed-login penalty."""
        held = self.admission.penalty(address)
        if held >= self.admission.penalty_min:
            wait = int(held - self.admission.penalty_min) + 1
            raise ProblemError(
                429, f"too many failed logins from {address}: credentials from it are not "
                     f"checked for another {wait} s", field="address", value=address,
                allowed="a login after the wait", headers={"Retry-After": str(wait)})

    def idle_limit(self) -> float:
        """Seconds without a request after which a session ends (0 = never)."""
        return float(self.core.config.get("cli").idleTimeoutMinutes) * 60

    async def login(self, principal: Principal) -> tuple[str, Session]:
        """A new session for a principal ``UserService.authenticate`` returned; returns
        its token (shown once)."""
        await self.reap()
        token = "ses_" + secrets.token_urlsafe(32)
        digest = _digest(token)

        def end(reason: str) -> None:          # a factory reset ends every session
            self._by_digest.pop(digest, None)

        session = await self.core.users.start_session(principal, end=end)
        session.touch(self._clock())
        self._by_digest[digest] = RestSession(session)
        return token, session

    async def reap(self) -> None:
        """End the sessions idle longer than the limit, and REST sessions of an earlier
        start of the web server (their tokens died with it; they must not count toward
        ``maxSessionsPerUser``)."""
        mine = {rs.session.id for rs in self._by_digest.values()}
        for s in self.core.users.sessions.list():
            if s.principal.face == FACE and s.id not in mine:
                await self.core.users.end_session(s)
        limit = self.idle_limit()
        if limit <= 0:
            return
        now = self._clock()
        for digest, rs in list(self._by_digest.items()):
            if now - rs.session.last_activity > limit:
                self._by_digest.pop(digest, None)
                await self.core.users.end_session(rs.session, timed_out_after=limit)

    async def lookup(self, token: str) -> Session | None:
        """The live session of ``token`` (touched), or None."""
        await self.reap()
        rs = self._by_digest.get(_digest(token))
        if rs is None:
            return None
        rs.session.touch(self._clock())
        return rs.session

    async def logout(self, token: str) -> bool:
        """End the session of ``token``; False when there is none."""
        rs = self._by_digest.pop(_digest(token), None)
        if rs is None:
            return False
        await self.core.users.end_session(rs.session)
        return True

    async def end_all(self) -> None:
        """End every session (the web server stops)."""
        for digest, rs in list(self._by_digest.items()):
            self._by_digest.pop(digest, None)
            await self.core.users.end_session(rs.session)

    async def principal(self, request: Request) -> Principal:
        """Who sent ``request``; raises ``AuthFailed`` (401) when nobody valid did."""
        sent = request.headers.get("authorization", "")
        scheme, _, value = sent.partition(" ")
        scheme, value = scheme.lower(), value.strip()
        address = client_address(request)
        if scheme == "bearer" and value.startswith("ses_"):
            session = await self.lookup(value)
            if session is None:
                raise AuthFailed("session token not accepted (logged out, timed out or "
                                 "mistyped)", thing="token", value="ses_…",
                                 allowed="a token from POST /api/v1/session while its session "
                                         "is open")
            return session.principal
        if scheme == "bearer" and value:
            self.refuse_penalised(address)
            try:
                return await self.core.tokens.authenticate(value, FACE, address)
            except AuthFailed:
                self.admission.auth_failed(address)
                raise
        if scheme == "basic":
            if request.url.scheme != "https":
                raise ProblemError(
                    401, "HTTP Basic authentication is accepted over HTTPS only; the password "
                         "was not checked", field="authorization", value="Basic",
                    allowed="Basic over HTTPS, or a Bearer session or API token",
                    headers={"WWW-Authenticate": 'Bearer realm="enerteg"'})
            try:
                user, _, password = base64.b64decode(value, validate=True).decode(
                    "utf-8").partition(":")
            except (ValueError, UnicodeDecodeError):
                raise AuthFailed("the Basic credentials are not base64 of user:password",
                                 thing="authorization", value="Basic",
                                 allowed="Basic base64(user:password)") from None
            return await self.check_password(user, password, address)
        raise AuthFailed("this resource needs credentials: Authorization: Bearer <token> "
                         "(POST /api/v1/session or an API token) or Basic over HTTPS",
                         thing="authorization", value=scheme or "(none)",
                         allowed="Bearer ses_… or ent_… token, or Basic over HTTPS")
