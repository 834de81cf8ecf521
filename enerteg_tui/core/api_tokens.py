"""API tokens: long-lived bearer credentials of a user for machines (REST, Redfish).

Why: automation (Ansible, DCIM sync) must not keep a person's password, and a password
check costs ~45 ms of argon2 per request. A token is ``ent_<id>_<secret>``: ``id``
(8 hex digits) names the row, ``secret`` is 32 random bytes (URL-safe base64). Only the
SHA-256 of the secret is stored (a random 256-bit secret needs no slow hash), compared in
constant time; the token text is shown once, when it is made. A token acts with its
user's roles as they are at each request (a role change or a deleted user applies at
once), expires after ``days`` (0 = never), and is refused while its user is locked out
from the request's address. A wrong secret counts toward the user's lockout like a wrong
password (``UserService.failed_credential``). Making and revoking are audited, use is
not (each action done with a token is, as ever, audited by the core under the user).

Owns the ``api_token`` table (``CREATE TABLE IF NOT EXISTS`` here).
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from .audit import AuditLog, Severity
from .errors import Invalid, NotFound, PermissionDenied, shown
from .permissions import Action, Principal, allowed
from .store import Store
from .users import AuthFailed, LockedOut, UserService
from .web_sessions import WebSessions

__all__ = ["ApiTokens", "TokenInfo", "TOKEN_RE", "MAX_DAYS", "MAX_PER_USER"]

TOKEN_RE = re.compile(r"^ent_([0-9a-f]{8})_([A-Za-z0-9_-]{43})$")
"""The shape of a token: prefix, row id, secret."""
MAX_DAYS = 3650
"""Longest validity a token may be given (ten years); 0 = no expiry."""
MAX_PER_USER = 50
"""Tokens a user may hold at once."""
NAME_RE = re.compile(r"^[A-Za-z0-9_.:@-]{1,64}$")
NAME_RULE = "1 to 64 characters: letters, digits and _ . : @ -"

_DDL = """CREATE TABLE IF NOT EXISTS api_token (
    id TEXT PRIMARY KEY,
    user TEXT NOT NULL,
    name TEXT NOT NULL,
    hash TEXT NOT NULL,
    created REAL NOT NULL,
    expires REAL,
    last_used REAL
)"""


@dataclass(frozen=True, slots=True)
class TokenInfo:
    """A token as listed: never its secret."""

    id: str
    user: str
    name: str
    created: float
    expires: float | None
    last_used: float | None

    def expired(self, now: float) -> bool:
        """Whether the token has passed its expiry."""
        return self.expires is not None and now >= self.expires


def _number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


class ApiTokens:
    """Make, list, revoke and check API tokens."""

    def __init__(self, store: Store, users: UserService, audit: AuditLog,
                 clock: Callable[[], float] = time.time,
                 idle_minutes: Callable[[], float] = lambda: 15) -> None:
        self.sessions = WebSessions(users, idle_minutes)
        """The web faces' token sessions and failed-login penalty (``core.web_sessions``)."""
        self._store = store
        self._users = users
        self._audit = audit
        self._clock = clock
        self._last_used: dict[str, float] = {}
        users.forgetters.append(self._forget_in)     # a deleted user's tokens go with it

    async def load(self) -> None:
        """Create the table when missing."""
        await self._store.execute(_DDL)

    @staticmethod
    def _row_info(row: tuple) -> TokenInfo:
        return TokenInfo(row[0], row[1], row[2], row[3], row[4], row[5])

    def _may_manage(self, principal: Principal, user: str) -> None:
        if principal.user != user and not allowed(principal, Action.ADMINISTER):
            raise PermissionDenied(
                f"user {principal.user!r} may manage only their own API tokens, not "
                f"{user!r}'s", thing="token", value=user,
                allowed=f"{principal.user!r}'s tokens (an admin may manage everyone's)")

    async def create(self, principal: Principal, name: str, *, days: int = 90,
                     user: str | None = None) -> tuple[TokenInfo, str]:
        """Make a token for ``user`` (default: the principal); returns it and its text,
        which is never shown again."""
        user = user or principal.user
        self._may_manage(principal, user)
        await self._users.get(user)
        if not NAME_RE.match(name or ""):
            raise Invalid(f"token name {shown(name)} is not allowed; allowed is {NAME_RULE}",
                          thing="name", value=name, allowed=NAME_RULE)
        if isinstance(days, bool) or not isinstance(days, int) or not 0 <= days <= MAX_DAYS:
            raise Invalid(f"token days = {shown(days)} is not allowed; allowed is a whole "
                          f"number from 0 (never expires) to {MAX_DAYS}", thing="days",
                          value=days, allowed=f"0 to {MAX_DAYS}")
        held = await self._store.fetchone("SELECT COUNT(*) FROM api_token WHERE user=?", (user,))
        if held and held[0] >= MAX_PER_USER:
            raise Invalid(f"user {user!r} already holds {held[0]} API tokens; the most is "
                          f"{MAX_PER_USER} (revoke one first)", thing="tokens", value=held[0],
                          allowed=f"at most {MAX_PER_USER}")
        now = self._clock()
        while True:
            tid = secrets.token_hex(4)
            if await self._store.fetchone("SELECT 1 FROM api_token WHERE id=?", (tid,)) is None:
                break
        secret = secrets.token_urlsafe(32)
        expires = now + days * 86400 if days else None
        await self._store.execute(
            "INSERT INTO api_token (id, user, name, hash, created, expires, last_used) "
            "VALUES (?, ?, ?, ?, ?, ?, NULL)", (tid, user, name, _digest(secret), now, expires))
        info = TokenInfo(tid, user, name, now, expires, None)
        await self._audit.record(
            principal, "token.create", f"user/{user}",
            f"API token {tid} ({name!r}) made for {user!r}, "
            + (f"valid {days} days" if days else "never expires"), severity=Severity.INFO)
        return info, f"ent_{tid}_{secret}"

    async def list(self, principal: Principal, user: str | None = None) -> list[TokenInfo]:
        """The principal's tokens; an admin sees everyone's (or ``user``'s)."""
        if user is not None:
            self._may_manage(principal, user)
        elif not allowed(principal, Action.ADMINISTER):
            user = principal.user
        rows = await self._store.fetchall(
            "SELECT id, user, name, created, expires, last_used FROM api_token"
            + (" WHERE user=?" if user is not None else "") + " ORDER BY user, created",
            (user,) if user is not None else ())
        return [self._with_use(self._row_info(r)) for r in rows]

    def _with_use(self, info: TokenInfo) -> TokenInfo:
        used = self._last_used.get(info.id)
        if used is None:
            return info
        return TokenInfo(info.id, info.user, info.name, info.created, info.expires, used)

    async def get(self, principal: Principal, token_id: str) -> TokenInfo:
        """One token the principal may manage; ``NotFound`` names it."""
        row = await self._store.fetchone(
            "SELECT id, user, name, created, expires, last_used FROM api_token WHERE id=?",
            (token_id,))
        if row is None or (row[1] != principal.user
                           and not allowed(principal, Action.ADMINISTER)):
            raise NotFound(f"API token {shown(token_id)} does not exist", thing="token",
                           value=token_id, allowed="an id shown by `token list`")
        return self._with_use(self._row_info(row))

    async def revoke(self, principal: Principal, token_id: str) -> TokenInfo:
        """Delete a token: requests with it fail from now on."""
        info = await self.get(principal, token_id)
        await self._store.execute("DELETE FROM api_token WHERE id=?", (token_id,))
        self._last_used.pop(token_id, None)
        await self._audit.record(principal, "token.revoke", f"user/{info.user}",
                                 f"API token {info.id} ({info.name!r}) of {info.user!r} revoked",
                                 severity=Severity.INFO)
        return info

    # ------------------------------------------------------------------ backup
    async def backup_state(self) -> list[dict[str, Any]]:
        """Every token for a backup: its row with the SHA-256 of its secret (which gives
        nothing to guess from: the secret is 256 random bits), never the secret."""
        rows = await self._store.fetchall(
            "SELECT id, user, name, hash, created, expires, last_used FROM api_token "
            "ORDER BY user, created")
        return [{"id": r[0], "user": r[1], "name": r[2], "hash": r[3], "created": r[4],
                 "expires": r[5], "lastUsed": max(r[6] or 0, self._last_used.get(r[0], 0))
                 or None} for r in rows]

    @staticmethod
    def validate_backup(rows: Any, users: set[str]) -> None:
        """``Invalid`` naming the first token row of a backup that cannot be restored."""
        if not isinstance(rows, list):
            raise Invalid("apiTokens is not a list", thing="apiTokens",
                          value=type(rows).__name__, allowed="a list of token rows")
        seen: set[str] = set()
        for r in rows:
            ok = (isinstance(r, dict) and isinstance(r.get("id"), str)
                  and re.fullmatch(r"[0-9a-f]{8}", r["id"]) is not None
                  and r["id"] not in seen and r.get("user") in users
                  and isinstance(r.get("name"), str) and NAME_RE.match(r["name"]) is not None
                  and isinstance(r.get("hash"), str)
                  and re.fullmatch(r"[0-9a-f]{64}", r["hash"]) is not None
                  and _number(r.get("created"))
                  and all(r.get(k) is None or _number(r.get(k))
                          for k in ("expires", "lastUsed")))
            if not ok:
                what = r.get("id") if isinstance(r, dict) else r
                raise Invalid(f"API token {shown(what)} of the backup is not a valid token "
                              "row (an id of 8 hex digits, used once; a user of the backup; a "
                              "name; a SHA-256; times)", thing="apiTokens", value=what,
                              allowed="token rows as a backup writes them")
            seen.add(r["id"])

    async def restore_state(self, tx: Any, rows: list[dict[str, Any]] | None,
                            users: set[str]) -> None:
        """Replace the tokens inside a restore's transaction ``tx`` with the backup's;
        a backup without tokens (older) keeps the tokens of the users it restores."""
        if rows is None:
            marks = ",".join("?" * len(users))
            await tx.execute(f"DELETE FROM api_token WHERE user NOT IN ({marks})",
                             tuple(sorted(users)))
            return
        await tx.execute("DELETE FROM api_token")
        for r in rows:
            await tx.execute(
                "INSERT INTO api_token (id, user, name, hash, created, expires, last_used) "
                "VALUES (?, ?, ?, ?, ?, ?, ?)", (r["id"], r["user"], r["name"], r["hash"],
                                                 r["created"], r.get("expires"),
                                                 r.get("lastUsed")))

    async def reload(self) -> None:
        """After a restore: forget the use times kept in memory."""
        self._last_used.clear()

    async def reset(self) -> None:
        """Factory reset: every token deleted."""
        await self._store.execute("DELETE FROM api_token")
        self._last_used.clear()

    async def _forget_in(self, tx: Any, user: str | None) -> None:
        """Drop a deleted user's tokens (None: everybody's, the factory reset), in the
        transaction deleting the user."""
        if user is None:
            await tx.execute("DELETE FROM api_token")
        else:
            await tx.execute("DELETE FROM api_token WHERE user=?", (user,))

    async def admit(self, token: str, face: str, address: str) -> Principal:
        """``authenticate`` through the web faces' admission: refused unchecked
        (``TooManyFailures``) while ``address`` holds too much failed-login penalty, and a
        refused token adds to it (a lockout does not: no secret was checked)."""
        self.sessions.refuse_penalised(address)
        try:
            return await self.authenticate(token, face, address)
        except LockedOut:
            raise
        except AuthFailed:
            self.sessions.admission.auth_failed(address)
            raise

    async def authenticate(self, token: str, face: str, address: str) -> Principal:
        """The principal of a token's user.

        Raises:
            AuthFailed: not a token, an unknown or revoked one, a wrong secret (counted
                toward the user's lockout), an expired one, or its user is gone.
            LockedOut: the user is locked out from ``address``.
        """
        m = TOKEN_RE.match(token)
        # one round trip to the database for the token, one for its user: a token comes
        # with every request (bench/http_live.py: four round trips were 1 ms a request)
        row = None if m is None else await self._store.fetchone(
            "SELECT user, hash, expires, created FROM api_token WHERE id=?", (m.group(1),))
        fail = AuthFailed("API token not accepted (unknown, revoked, expired or mistyped)",
                          thing="token", value=m.group(1) if m else "(not a token)",
                          allowed="a token made with `token create` that has not expired")
        if m is None or row is None:
            raise fail
        user, digest, expires, created = row
        if not hmac.compare_digest(digest, _digest(m.group(2))):
            await self._users.failed_credential(user, face, address,
                                                f"wrong secret for API token {m.group(1)}")
            raise fail
        now = self._clock()
        if expires is not None and now >= expires:
            raise fail
        try:
            info = await self._users.get(user)
        except NotFound:
            raise fail from None
        if created is None or created < info.created:
            raise fail                          # made for an account deleted since
        principal = await self._users.principal_for(user, face, address, info=info)
        before = self._last_used.get(m.group(1), 0.0)
        self._last_used[m.group(1)] = now
        if now - before >= 60:                  # the table keeps it to the minute
            await self._store.execute("UPDATE api_token SET last_used=? WHERE id=?",
                                      (now, m.group(1)))
        return principal
