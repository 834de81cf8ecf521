"""Who is asking: HTTP Basic per request, or a Redfish session's ``X-Auth-Token``.

Why here: both ways in go through the core's one admission, as every face does:
``UserService.authenticate`` (lockout, audit of failures) then ``start_session`` (the
per-user session limit of ``config/cli``) with face ``redfish``; the end is
``end_session`` (audited ``logout``). A Basic request is a session of one request. A
token session (``POST /redfish/v1/SessionService/Sessions``) lives until DELETE, until
``SESSION_TIMEOUT`` seconds without a request, or until the core ends it (factory
reset). Idle sessions are ended at the next Redfish request of anyone (``expire``), so
none lingers in the core's session list. There is one store per core (``store_for``):
a restart of the web server's listeners (a new certificate, port) keeps the sessions.
Tokens are random 256-bit values kept only as their SHA-256 here, in memory: a restart
of the controller ends every Redfish session. This store is ours alone for now; it is to be
unified with the REST API's token service (issue 20) when both are merged.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import hashlib
import secrets
import time
import weakref
from dataclasses import dataclass

from ....core.permissions import Principal
from ....core.users import Session, UserService

__all__ = ["RedfishSession", "TokenStore", "store_for", "authenticate", "parse_basic", "SESSION_TIMEOUT",
           "FACE"]

FACE = "redfish"
"""The face name in audit entries and the session list."""
SESSION_TIMEOUT = 1800
"""Seconds a token session lives without a request (SessionService.SessionTimeout)."""


@dataclass
class RedfishSession:
    """One token session: its Redfish id, the core session and when it was last used."""

    id: str
    core: Session
    token_hash: bytes
    created: float
    last_used: float

    @property
    def principal(self) -> Principal:
        return self.core.principal


def _hash(token: str) -> bytes:
    return hashlib.sha256(token.encode()).digest()


class TokenStore:
    """The token sessions open now, by Redfish id."""

    @property
    def _users(self) -> UserService:
        users = self._users_ref()
        assert users is not None, "the core of this token store is gone"
        return users

    def __init__(self, users: UserService) -> None:
        self._users_ref = weakref.ref(users)       # the store lives as long as the core
        self.sessions: dict[str, RedfishSession] = {}
        self.timeout: float = SESSION_TIMEOUT
        """Seconds without a request after which a session ends."""

    async def expire(self) -> None:
        """End every session idle longer than ``timeout`` (audited ``session.timeout``)."""
        now = time.monotonic()
        for s in list(self.sessions.values()):
            if now - s.last_used > self.timeout:
                await self.close(s, timed_out_after=round(now - s.last_used))

    async def open(self, principal: Principal) -> tuple[RedfishSession, str]:
        """Admit ``principal`` as a token session; returns it and the token (shown once)."""
        sid = secrets.token_hex(8)

        def ended_by_core(_reason: str) -> None:      # e.g. a factory reset ends them all
            self.sessions.pop(sid, None)

        core_session = await self._users.start_session(principal, end=ended_by_core)
        token = secrets.token_urlsafe(32)
        now = time.monotonic()
        s = RedfishSession(sid, core_session, _hash(token), time.time(), now)
        self.sessions[sid] = s
        return s, token

    async def lookup(self, token: str) -> RedfishSession | None:
        """The live session of ``token`` (touched), or None; ends it when idle too long."""
        await self.expire()
        want = _hash(token)
        for s in list(self.sessions.values()):
            if secrets.compare_digest(s.token_hash, want):
                s.last_used = time.monotonic()
                s.core.touch()
                return s
        return None

    async def close(self, s: RedfishSession, *, timed_out_after: float | None = None) -> None:
        """End a session (DELETE, idle timeout): audited by the core."""
        if self.sessions.pop(s.id, None) is not None:
            await self._users.end_session(s.core, timed_out_after=timed_out_after)

    async def close_all(self) -> None:
        """End every session (the web server stops)."""
        for s in list(self.sessions.values()):
            await self.close(s)


async def authenticate(users: UserService, name: str, password: str, address: str) -> Principal:
    """The core's password check for this face, after the same back-off as SSH's (the
    delay ``config/auth addressBackoffSeconds`` doubles with each failure from the address).

    Raises ``LockedOut``/``AuthFailed`` as ``UserService.authenticate`` does."""
    delay = users.login_delay(name, address)
    if delay:
        await asyncio.sleep(delay)
    return await users.authenticate(name, password, FACE, address)


def parse_basic(header: str) -> tuple[str, str] | None:
    """``(user, password)`` of an ``Authorization: Basic`` header, or None."""
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        user, sep, password = base64.b64decode(value.strip(), validate=True).decode().partition(":")
    except (binascii.Error, UnicodeDecodeError):
        return None
    return (user, password) if sep else None


_STORES: weakref.WeakKeyDictionary[UserService, TokenStore] = weakref.WeakKeyDictionary()


def store_for(users: UserService) -> TokenStore:
    """The token store of a core (one per ``UserService``, kept across listener restarts)."""
    store = _STORES.get(users)
    if store is None:
        store = _STORES[users] = TokenStore(users)
    return store
