"""Sign-in of the web faces: token sessions (REST ``Bearer ses_…``, Redfish
``X-Auth-Token``), password and API-token checks, one failed-login penalty per address.

Why in core: REST, Redfish and ``/events`` are three ways into one web server. Each had
its own Basic parsing, its own penalty or back-off and its own session store, so a
client could spend its failures on one face and go on guessing on another, and a
Redfish session was invisible to REST. Here is the one store and the one admission
path of all of them (``core.tokens.sessions``); the faces only parse headers
(``protocols/http/signin.py``) and word refusals in their own format.

* A password goes through ``UserService.authenticate`` after the back-off of SSH
  logins (``login_delay``): the lockout of ``config/auth`` and the audit entries of SSH
  (``login``, ``login.failed``, ``login.lockout``, ``login.refused``).
* Each failed password or API token adds a penalty to the client's address
  (``UserService.admission``, the SSH server's too: 2 s a failure, draining one second
  a second); while the address holds 15 s or more its credentials are not checked at
  all (``TooManyFailures``), and the SSH server refuses its connections. One penalty
  for every network face.
* A session is a core session (``start_session``: ``maxSessionsPerUser`` of
  ``config/cli``, listed by ``users``), reached by a random 256-bit token kept only as
  its SHA-256. It ends on logout (audited ``logout``), at a factory reset, when the web
  server is disabled, or after ``config/cli idleTimeoutMinutes`` without a request
  (audited ``session.timeout``). An HTTP session has no connection whose close would
  end it, so ``0`` (never, on SSH and serial) means ``MAX_IDLE_MINUTES`` here.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass

from .errors import NotFound, shown
from .permissions import Action, Principal, allowed
from .users import AuthFailed, LockedOut, Session, UserService

__all__ = ["WebSessions", "WebSession", "TooManyFailures", "MAX_IDLE_MINUTES", "TOKEN_PREFIX"]

MAX_IDLE_MINUTES = 1440
"""Idle limit of a web session while ``idleTimeoutMinutes`` is 0 (the setting's most)."""
TOKEN_PREFIX = "ses_"
"""Session tokens start with it (API tokens with ``ent_``)."""


class TooManyFailures(AuthFailed):
    """The client's address holds too much failed-login penalty: not checked."""

    def __init__(self, message: str, retry_after: int, **kw: object) -> None:
        super().__init__(message, **kw)
        self.retry_after = retry_after


def _digest(token: str) -> bytes:
    return hashlib.sha256(token.encode()).digest()


@dataclass(slots=True)
class WebSession:
    """One token session of a web face."""

    core: Session
    digest: bytes
    created: float
    """Wall-clock time of the login."""

    @property
    def id(self) -> str:
        """The session's id as ``users`` and Redfish's SessionService name it."""
        return str(self.core.id)

    @property
    def principal(self) -> Principal:
        return self.core.principal


class WebSessions:
    """The open web sessions, and the admission of web credentials."""

    def __init__(self, users: UserService, idle_minutes: Callable[[], float],
                 clock: Callable[[], float] = time.time) -> None:
        self._users = users
        self._idle_minutes = idle_minutes
        self._clock = clock
        self._by_id: dict[str, WebSession] = {}
        self.admission = users.admission
        """Failed-login penalty per client address: the core's one, for every web face
        and the SSH server (``UserService.admission``)."""

    # ------------------------------------------------------------------ admission
    def refuse_penalised(self, address: str) -> None:
        """``TooManyFailures`` while ``address`` holds too much penalty."""
        held = self.admission.penalty(address)
        if held >= self.admission.penalty_min:
            wait = int(held - self.admission.penalty_min) + 1
            raise TooManyFailures(
                f"too many failed logins from {address or 'this address'}: credentials from "
                f"it are not checked for another {wait} s", wait, thing="address",
                value=address, allowed="a login after the wait")

    async def password(self, name: str, password: str, face: str, address: str) -> Principal:
        """A password login of ``face``: penalty check, SSH's back-off, then
        ``UserService.authenticate`` (lockout, audit). Raises ``TooManyFailures``,
        ``LockedOut`` or ``AuthFailed``."""
        self.refuse_penalised(address)
        delay = self._users.login_delay(name, address)
        if delay:
            await asyncio.sleep(delay)
        try:
            return await self._users.authenticate(name, password, face, address)
        except LockedOut:                   # no password check was spent: no penalty (SSH)
            raise
        except AuthFailed:
            self.admission.auth_failed(address)
            raise

    # ------------------------------------------------------------------ sessions
    def idle_limit(self) -> float:
        """Seconds without a request after which a web session ends."""
        minutes = float(self._idle_minutes()) or MAX_IDLE_MINUTES
        return minutes * 60

    async def open(self, principal: Principal) -> tuple[WebSession, str]:
        """A session for a principal ``password`` returned; returns it and its token
        (shown once). Raises ``PermissionDenied`` past ``maxSessionsPerUser``."""
        await self.expire()
        token = TOKEN_PREFIX + secrets.token_urlsafe(32)
        holder: list[WebSession] = []

        def ended_by_core(_reason: str) -> None:      # a factory reset ends them all
            if holder:
                self._by_id.pop(holder[0].id, None)

        core_session = await self._users.start_session(principal, end=ended_by_core)
        core_session.touch(self._clock())
        ws = WebSession(core_session, _digest(token), time.time())
        holder.append(ws)
        self._by_id[ws.id] = ws
        return ws, token

    async def expire(self) -> None:
        """End every session idle past the limit (audited ``session.timeout``)."""
        limit, now = self.idle_limit(), self._clock()
        for ws in list(self._by_id.values()):
            idle = now - ws.core.last_activity
            if idle > limit:
                await self.close(ws, timed_out_after=round(idle))

    async def lookup(self, token: str) -> WebSession | None:
        """The open session of ``token`` (touched), or None."""
        await self.expire()
        want = _digest(token)
        for ws in self._by_id.values():
            if hmac.compare_digest(ws.digest, want):
                ws.core.touch(self._clock())
                return ws
        return None

    async def close(self, ws: WebSession, *, timed_out_after: float | None = None) -> None:
        """End a session (logout, idle): audited by the core."""
        if self._by_id.pop(ws.id, None) is not None:
            await self._users.end_session(ws.core, timed_out_after=timed_out_after)

    async def close_all(self) -> int:
        """End every web session (the web server is disabled); returns how many."""
        ended = list(self._by_id.values())
        for ws in ended:
            await self.close(ws)
        return len(ended)

    def is_open(self, ws: WebSession) -> bool:
        """Whether ``ws`` is still open (not logged out, timed out or ended)."""
        return self._by_id.get(ws.id) is ws

    def visible(self, principal: Principal) -> list[WebSession]:
        """The sessions ``principal`` may see: an admin every one, others their own."""
        everyone = allowed(principal, Action.ADMINISTER)
        return [ws for ws in self._by_id.values()
                if everyone or ws.principal.user == principal.user]

    def get(self, principal: Principal, session_id: str) -> WebSession:
        """One visible session; ``NotFound`` names it."""
        ws = self._by_id.get(session_id)
        if ws is None or ws not in self.visible(principal):
            raise NotFound(f"web session {shown(session_id)} does not exist or is not yours",
                           thing="session", value=session_id,
                           allowed="an id of an open web session you may see")
        return ws
