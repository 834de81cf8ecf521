"""Local users, their roles and keys, authentication, lockout and live sessions.

Owns the ``user`` table: argon2id password hashes, roles (manual §5.9), SSH public
keys, and the must-change flag of the default account (admin/admin is created on a
fresh database and must be changed at the first interactive login). Authentication
applies the policy of ``config/auth`` through ``core.lockout`` (back-off and lockout per
account *and* source address, persisted, cleared by ``unlock``) and spends the
controller-wide password-check budget of ``core.admission``. "No such user" costs the
same argon2 verification as "wrong password" (against a dummy hash), so timing does not
tell whether a user exists. Every login, failure, lockout, unlock, logout and user
change is audited; passwords never are.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import json
import logging
import re
import time
from collections.abc import Awaitable, Callable
from typing import Any
from dataclasses import dataclass, field

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from .admission import Admission, VerifyBudget
from .audit import AuditLog, Severity
from .directory import SOURCE as DIRECTORY, Directory, DirectoryDown, DirectoryRefused
from .directory_cache import META_KEY as CACHE_KEY, CachedLogin, CredentialCache
from .errors import Conflict, Invalid, NotFound, PermissionDenied, shown
from .i18n import N_
from .lockout import META_KEY, LockoutBook
from .password_policy import PasswordPolicy, check_text
from .permissions import Action, Principal, Role, parse_roles, require
from .preferences import PreferenceBook
from .store import Store

__all__ = ["UserService", "UserInfo", "AuthFailed", "LockedOut", "Session", "SessionRegistry",
           "DEFAULT_USER", "DEFAULT_PASSWORD", "public_key_fingerprint", "production_hasher"]

log = logging.getLogger(__name__)

DEFAULT_USER = "admin"
DEFAULT_PASSWORD = "admin"
"""The factory account (manual §3.1); must be changed at the first interactive login."""
NAME_RE = re.compile(r"^[a-z_][a-z0-9_.-]{0,31}$")
"""Login names: lowercase letter or underscore first, then letters, digits, ``_.-``; ≤ 32."""
NAME_RULE = ("1 to 32 characters: lowercase letters a-z, digits 0-9, _ . and -, starting with "
             "a lowercase letter or _ (e.g. admin, ops_2)")
"""``NAME_RE`` in words, for every refusal of a login name."""
HISTORY_MAX = 24
"""Password hashes kept per user: the largest ``passwordHistory`` allowed."""
MAX_PASSWORD = 128

def production_hasher() -> PasswordHasher:
    """The hasher of every running controller: OWASP's argon2id parameters (~45 ms a hash
    on one core here, so a login stays quick). There is no setting that lowers it; only a
    caller building ``UserService`` itself (the tests) may pass a cheaper one."""
    return PasswordHasher(time_cost=2, memory_cost=19456, parallelism=1)


HASH_SLOTS = 2
"""Password hashes computed at once, in their own threads. Each takes 19 MiB and a core
for ~45 ms: twenty operators logging in together must not take every core from the
poller, and memory freed by a hash stays in its thread's malloc arena, so few threads
keep the resident size low (six pool threads held ~110 MiB after a login burst)."""
_HASH_POOL = concurrent.futures.ThreadPoolExecutor(max_workers=HASH_SLOTS,
                                                   thread_name_prefix="argon2")


async def _hashing(fn: Callable[..., Any], *args: Any) -> Any:
    """Run an argon2 call on the hashing threads."""
    return await asyncio.get_running_loop().run_in_executor(_HASH_POOL, fn, *args)


class AuthFailed(PermissionDenied):
    """Wrong user name or password (the message never says which)."""


class LockedOut(AuthFailed):
    """The user is locked out after too many failures."""


@dataclass(slots=True)
class UserInfo:
    """A user as listed (no hash)."""

    name: str
    roles: frozenset[Role]
    must_change: bool
    keys: list[str]
    created: float
    updated: float


@dataclass(slots=True)
class Session:
    """A logged-in session on any face, for ``users`` and the per-user session limit."""

    principal: Principal
    last_activity: float
    id: int = 0
    end: Callable[[str], None] | None = None
    """Set by the face: ends this session (disconnects, cancels the shell) with a reason."""

    def touch(self, now: float | None = None) -> None:
        """Note activity (resets idle time)."""
        self.last_activity = time.time() if now is None else now


@dataclass(slots=True)
class SessionRegistry:
    """Sessions logged in now, on every face."""

    sessions: dict[int, Session] = field(default_factory=dict)

    def open(self, principal: Principal, max_per_user: int) -> Session:
        """Register a session; refuses when the user already has ``max_per_user``."""
        mine = [s for s in self.sessions.values() if s.principal.user == principal.user]
        if len(mine) >= max_per_user:
            raise PermissionDenied(
                f"user {principal.user!r} already has {len(mine)} sessions; the maximum is "
                f"{max_per_user} (config/cli maxSessionsPerUser)",
                thing="sessions", value=len(mine), allowed=f"at most {max_per_user}")
        s = Session(principal, time.time(), principal.session)
        self.sessions[s.id] = s
        return s

    def close(self, session: Session) -> None:
        """Forget a session."""
        self.sessions.pop(session.id, None)

    def list(self) -> list[Session]:
        """Sessions, oldest first."""
        return sorted(self.sessions.values(), key=lambda s: s.principal.since)

    def end_all(self, reason: str, *, last: int | None = None, grace_s: float = 0.5) -> int:
        """End every session on every face (factory reset); returns how many.

        Each is forgotten at once and its face told to end it. The session ``last`` (the
        caller's) is ended ``grace_s`` later, so that its answer still reaches it.
        """
        ended = list(self.sessions.values())
        self.sessions.clear()
        for s in ended:
            if s.end is None:
                continue
            if s.id == last:
                try:
                    asyncio.get_running_loop().call_later(grace_s, s.end, reason)
                except RuntimeError:
                    s.end(reason)
            else:
                try:
                    s.end(reason)
                except Exception:  # one face failing to end must not keep the others
                    log.exception("ending session %s of %s failed", s.id, s.principal.user)
        return len(ended)


def public_key_fingerprint(key_text: str) -> str:
    """SHA256 fingerprint of an OpenSSH public key line; ``Invalid`` if it is not one."""
    import asyncssh
    try:
        key = asyncssh.import_public_key(key_text.strip())
    except (asyncssh.KeyImportError, ValueError) as exc:
        raise Invalid(f"public key {key_text.strip()[:30]!r}… is not valid: {exc}",
                      thing="key", value=key_text.strip()[:30],
                      allowed="one OpenSSH public key line (ssh-ed25519 AAAA… comment)") from None
    return key.get_fingerprint("sha256")


class UserService:
    """Users, authentication and sessions.

    Args:
        store: controller database (``user`` table).
        audit: where logins and changes are recorded.
        policy: returns the current ``config/auth`` settings (attribute access).
        clock: wall clock.
        password_hasher: argon2 hasher; None = :func:`production_hasher` (full strength).
            Hashes carry their own parameters, so any hasher verifies any stored hash.
        session_limit: sessions one user may have at once (``config/cli``
            ``maxSessionsPerUser``); ``start_session`` applies it on every face.
    """

    def __init__(self, store: Store, audit: AuditLog, policy: Callable[[], object],
                 clock: Callable[[], float] = time.time,
                 password_hasher: PasswordHasher | None = None,
                 session_limit: Callable[[], int] = lambda: 5,
                 directory: Directory | None = None) -> None:
        self._session_limit = session_limit
        self.directory = directory or Directory(policy)
        """Directory logins (``core.directory``) for names with no local account."""
        self._hasher = password_hasher or production_hasher()
        self._store = store
        self._audit = audit
        self._policy = policy
        self._clock = clock
        self.lockout = LockoutBook(policy, clock)
        self.cache = CredentialCache(store, policy, clock)
        self.support: Any = None
        """The time-limited support access (``core.support.SupportAccess``), which
        registers itself here: its account is refused outside its window, its sessions
        have source ``support``, and it is changed only by ``support enable/disable``."""
        """Opt-in cache of directory logins (``ldapCacheHours``; ``core.directory_cache``)."""
        self.budget = VerifyBudget()
        """Password checks per second for the whole controller (argon2 CPU bound)."""
        self.admission = Admission()
        """Failed-login penalty per source address, one for every network face: the SSH
        server (which also sets its ``MaxStartups`` here) and the web faces
        (``core.web_sessions``). A source that failed on one face is slowed on all."""
        self._dummy_hash = ""
        self.sessions = SessionRegistry()
        self.prefs = PreferenceBook(store, audit, self.get)
        """Each user's display preferences (``core.preferences``), deleted with the user."""
        self.forgetters: list[Callable[[Any, str | None], Awaitable[None]]] = []
        """What other services keep per user (API tokens, event subscriptions) and drop
        with it: called in the deleting transaction with the user's name (None: every
        user, the factory reset)."""

    async def backup_state(self) -> tuple[list[dict[str, Any]], dict[str, str]]:
        """(accounts without secrets, password hash per account) for a backup."""
        users, hashes = [], {}
        for name, h, roles, must, keys, created in await self._store.fetchall(
                "SELECT name, hash, roles, must_change, keys, created FROM user ORDER BY name"):
            if self._managed(name):      # support access is never restored from a backup
                continue
            users.append({"name": name, "roles": roles.split(","), "mustChange": bool(must),
                          "keys": json.loads(keys), "created": created})
            hashes[name] = h
        return users, hashes

    async def restore_state(self, tx: Any, users: list[dict[str, Any]],
                            hashes: dict[str, str]) -> None:
        """Replace the accounts inside the restore's transaction ``tx``. An account whose
        hash the backup does not hold (secrets excluded) keeps its current password, a new
        one gets none (it cannot log in until an admin sets one). An account keeps the
        creation time the backup holds (its API tokens, restored too, are younger than it);
        backups without one: the current account's, else now."""
        existing = {n: h for n, h in await (await tx.execute(
            "SELECT name, hash FROM user")).fetchall()}
        born = {n: c for n, c in await (await tx.execute(
            "SELECT name, created FROM user")).fetchall()}
        await tx.execute("DELETE FROM user")
        await tx.execute("DELETE FROM password_history")  # not in backups: starts afresh
        now = self._clock()
        for u in users:
            h = hashes.get(u["name"]) or existing.get(u["name"]) or "!"
            created = u.get("created")
            if isinstance(created, bool) or not isinstance(created, (int, float)):
                created = born.get(u["name"], now)
            await tx.execute(
                "INSERT INTO user (name, hash, roles, must_change, keys, created, updated)"
                " VALUES (?,?,?,?,?,?,?)", (u["name"], h, ",".join(u["roles"]),
                                            int(u["mustChange"]), json.dumps(u["keys"]),
                                            created, now))

    async def reset(self) -> None:
        """Factory reset of users: every account, key and shell history deleted, every
        failure count and lock forgotten, then admin/admin with the forced change."""
        async with self._store.transaction() as tx:
            await tx.execute("DELETE FROM user")
            await tx.execute("DELETE FROM password_history")
            await tx.execute("DELETE FROM shell_history")
            await tx.execute("DELETE FROM meta WHERE key=?", (META_KEY,))
            await tx.execute("DELETE FROM meta WHERE key=?", (CACHE_KEY,))
            await self.prefs.forget(tx)
            for forget in self.forgetters:
                await forget(tx, None)
        self.lockout.clear()
        if self.support is not None:
            await self.support.forget()
        await self.load()

    async def load(self) -> None:
        """Create the default admin/admin account on an empty user table."""
        row = await self._store.fetchone("SELECT COUNT(*) FROM user")
        if row and row[0] == 0:
            now = self._clock()
            pw_hash = await _hashing(self._hasher.hash, DEFAULT_PASSWORD)
            await self._store.execute(
                "INSERT INTO user (name, hash, roles, must_change, created, updated)"
                " VALUES (?,?,?,1,?,?)", (DEFAULT_USER, pw_hash, "admin", now, now))
            log.info("created the default account admin/admin (must be changed at first login)")
        row = await self._store.fetchone("SELECT value FROM meta WHERE key=?", (META_KEY,))
        self.lockout.loads(row[0] if row else None)
        await self.cache.load()
        self._dummy_hash = await _hashing(self._hasher.hash, "no such user: equal time")

    async def _save_lockout(self) -> None:
        await self._store.execute("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)",
                                  (META_KEY, self.lockout.dumps()))

    # ------------------------------------------------------------------ reading
    async def _row(self, name: str) -> tuple | None:
        return await self._store.fetchone(
            "SELECT name, hash, roles, must_change, keys, created, updated FROM user WHERE name=?",
            (name,))

    @staticmethod
    def _info(row: tuple) -> UserInfo:
        return UserInfo(row[0], parse_roles([r for r in row[2].split(",") if r]), bool(row[3]),
                        json.loads(row[4]), row[5], row[6])

    async def get(self, name: str) -> UserInfo:
        """A user; ``NotFound`` names it."""
        row = await self._row(name)
        if row is None:
            raise NotFound(f"user {shown(name)} does not exist", thing="user", value=name,
                           allowed="an existing login name (see `user list`)")
        return self._info(row)

    async def list(self, principal: Principal) -> list[UserInfo]:
        """Every user (admin only)."""
        require(principal, Action.ADMINISTER, "users")
        rows = await self._store.fetchall(
            "SELECT name, hash, roles, must_change, keys, created, updated FROM user ORDER BY name")
        return [self._info(r) for r in rows]

    async def must_change(self, name: str) -> bool:
        """Whether the user must set a new password before anything else: the factory
        default, one set by an admin, or one older than ``passwordMaxAgeDays``."""
        return await self.change_reason(name) is not None

    # ------------------------------------------------------------------ authentication
    def login_delay(self, name: str, address: str) -> float:
        """Seconds to wait before checking the next password of ``name`` from ``address``."""
        return self.lockout.delay(name, address)

    def is_locked(self, name: str, address: str, face: str = "") -> float:
        """Seconds ``name`` stays locked out from ``address`` (0 when not locked)."""
        return self.lockout.locked(name, address, face)

    @staticmethod
    def locked_message(name: str, address: str, seconds: float) -> str:
        """What a locked-out login is told (the same for a name that does not exist)."""
        return (f"Too many failed logins for {name!r} from {address or 'this address'}: locked "
                f"for another {int(seconds // 60) + 1} min. Other addresses and other names "
                "are not affected; an admin can clear it with `unlock NAME` (or `enerteg user "
                "unlock NAME --data-dir DIR`, or log in on the serial console).")

    async def _fail(self, name: str, principal: Principal, why: str) -> None:
        minutes = self.lockout.failed(name, principal.address, principal.face)
        if principal.source != "local":
            why = f"{why} ({principal.source})"
        if minutes:
            await self._save_lockout()
        await self._audit.record(principal, "login.failed", f"user/{name}",
                                 f"Login failed for {name!r} from {principal.address or '-'} via "
                                 f"{principal.face}: {why}", severity=Severity.WARNING)
        if minutes:
            await self._audit.record(principal, "login.lockout", f"user/{name}",
                                     f"User {name!r} locked out from {principal.address or '-'} "
                                     f"for {minutes} min after "
                                     f"{int(getattr(self._policy(), 'lockoutFailures', 5))} "
                                     "failed logins", severity=Severity.ERROR)

    async def _verify(self, pw_hash: str, password: str) -> bool:
        await self.budget.spend()
        try:
            return bool(await _hashing(self._hasher.verify, pw_hash, password))
        except (VerificationError, InvalidHashError):
            return False

    async def authenticate(self, name: str, password: str, face: str, address: str) -> Principal:
        """Check a password and return the user's principal.

        Raises:
            LockedOut: ``name`` is locked out from ``address`` (even with the right
                password); never on the local faces.
            AuthFailed: wrong name or password.
        """
        probe = Principal(user=name or "?", roles=frozenset(), face=face, address=address)
        left = self.is_locked(name, address, face)
        if left:
            await self._audit.record(probe, "login.refused", f"user/{name}",
                                     f"Login refused for locked-out user {name!r} from "
                                     f"{address or '-'}", severity=Severity.WARNING)
            raise LockedOut(self.locked_message(name, address, left), thing="user", value=name,
                            allowed="a login after the lockout ends, or from elsewhere")
        row = await self._row(name)
        if row is None and self.directory.enabled:
            return await self._authenticate_directory(name, password, probe)
        # a missing user costs the same verification as a wrong password (timing)
        ok = await self._verify(row[1] if row is not None else self._dummy_hash,
                                password[:MAX_PASSWORD])
        if not ok or row is None or len(password) > MAX_PASSWORD:
            await self._fail(name, probe, "wrong user name or password")
            raise AuthFailed("wrong user name or password", thing="login", value=name,
                             allowed="a valid user name and password")
        closed = self.support.admission(name) if self.support is not None else None
        if closed:
            await self._fail(name, probe, closed)
            raise AuthFailed("wrong user name or password", thing="login", value=name,
                             allowed="a valid user name and password")
        return await self._succeed(self._info(row), face, address, "password")

    def _managed(self, name: str) -> bool:
        return self.support is not None and self.support.is_account(name)

    def _refuse_managed(self, name: str) -> None:
        if self._managed(name):
            raise Conflict(f"{name!r} is the support account: it is changed only by `support "
                           "enable --hours N` and `support disable`", thing="user",
                           value=name, allowed="a user other than the support account")

    async def hash_password(self, password: str) -> str:
        """The argon2id hash of ``password`` (for an account another core module manages)."""
        return str(await _hashing(self._hasher.hash, password))

    async def _authenticate_directory(self, name: str, password: str,
                                      probe: Principal) -> Principal:
        """A name with no local account, LDAP enabled: the directory decides.

        Local accounts never come here, so a directory that is down or slow (bounded by
        ``ldapTimeoutSeconds``) never keeps the local admin out. A refusal counts towards
        the lockout like a wrong local password; a directory that cannot be asked is
        audited with its reason but does not count (it is not the user's failure)."""
        import dataclasses

        probe = dataclasses.replace(probe, source=DIRECTORY)
        try:
            user = await self.directory.authenticate(name, password)
        except DirectoryRefused as exc:
            await self.cache.forget(name)
            await self._fail(name, probe, str(exc))
            raise AuthFailed("wrong user name or password", thing="login", value=name,
                             allowed="a valid user name and password") from None
        except DirectoryDown as exc:
            cached = await self.cache.get(name, self.directory.url)
            if cached is not None and password:
                return await self._authenticate_cached(name, password, probe, cached, exc)
            await self._audit.record(probe, "login.failed", f"user/{name}",
                                     f"Login failed for {name!r} from {probe.address or '-'} via "
                                     f"{probe.face}: {exc}", severity=Severity.WARNING)
            raise AuthFailed("wrong user name or password (the directory cannot be asked "
                             "now; local accounts still log in)", thing="login", value=name,
                             allowed="a valid user name and password") from None
        if user.role is None:
            await self.cache.forget(name)
            groups = ", ".join(user.groups) or "none"
            await self._fail(name, probe, f"the directory knows {user.dn} but none of its "
                                          f"groups ({groups}) is mapped to a role in "
                                          "config/auth ldapRoleMap")
            raise AuthFailed("wrong user name or password", thing="login", value=name,
                             allowed="a valid user name and password")
        if self.cache.max_age_s:
            await self.cache.put(name, CachedLogin(
                hash=await _hashing(self._hasher.hash, password[:MAX_PASSWORD]),
                role=user.role.value, dn=user.dn, origin=_role_origin(user),
                url=self.directory.url, ts=self._clock()))
        else:
            await self.cache.tidy()
        return await self._directory_succeed(user, probe, "")

    async def _authenticate_cached(self, name: str, password: str, probe: Principal,
                                   cached: CachedLogin, down: DirectoryDown) -> Principal:
        """The directory cannot be asked and ``ldapCacheHours`` kept ``name``'s last
        successful login: its argon2 hash decides (the local password check, with its
        budget); a wrong password counts towards the lockout as any other."""
        import datetime as dt

        if len(password) > MAX_PASSWORD or not await self._verify(cached.hash, password):
            await self._fail(name, probe, f"wrong password against the cached credential "
                                          f"(the directory cannot be asked: {down})")
            raise AuthFailed("wrong user name or password", thing="login", value=name,
                             allowed="a valid user name and password")
        when = dt.datetime.fromtimestamp(cached.ts, dt.timezone.utc).isoformat(
            timespec="seconds")
        info = UserInfo(name, frozenset({Role(cached.role)}), False, [], 0.0, 0.0)
        return await self._succeed(info, probe.face, probe.address,
                                   f"directory {cached.dn}, role {cached.role} from "
                                   f"{cached.origin}; cached credential of {when}, the "
                                   f"directory cannot be asked: {down}", source=DIRECTORY)

    async def _directory_succeed(self, user: Any, probe: Principal, how: str) -> Principal:
        """Admit a directory user the directory has vouched for (its role mapped)."""
        info = UserInfo(user.name, frozenset({user.role}), False, [], 0.0, 0.0)
        return await self._succeed(info, probe.face, probe.address,
                                   f"directory {user.dn}, role {user.role.value} from "
                                   f"{_role_origin(user)}{how}", source=DIRECTORY)

    async def test_directory(self, principal: Principal, name: str) -> dict[str, Any]:
        """Ask the directory about ``name`` as a login would, without logging them in and
        without their password (admin only; ``ldap test`` and the console): the DN found,
        the groups, the mapped ones and the role. Audited as ``ldap.test``.

        Returns a report whose ``result`` is ``admitted`` (a password login would get
        ``role``), ``refused`` or ``unreachable`` with the ``reason``.

        Raises:
            Conflict: directory logins are off.
        """
        require(principal, Action.ADMINISTER, "config/auth")
        if not self.directory.enabled:
            raise Conflict("Directory logins are off: config/auth ldapEnabled is disabled "
                           "(or ldapUrl is empty)", thing="ldapEnabled", value="disabled",
                           allowed="enabled, with ldapUrl set (put config/auth ldapEnabled="
                           "true ldapUrl=ldaps://…)")
        report: dict[str, Any] = {"url": self.directory.url, "user": name,
                                  "localAccount": await self._row(name) is not None,
                                  "dn": None, "groups": [], "mapped": [], "role": None}
        try:
            user = await self.directory.lookup(name)
        except DirectoryRefused as exc:
            report.update(result="refused", reason=str(exc))
        except DirectoryDown as exc:
            report.update(result="unreachable", reason=str(exc))
        else:
            report.update(dn=user.dn, groups=user.groups,
                          mapped=[{"group": g, "role": r.value} for g, r in user.mapped],
                          role=user.role.value if user.role else None,
                          nested={g: user.chain(g)[1:] for g in user.via})
            if self.directory.key_attribute:
                report["keys"] = [fp for fp in (_fp_of(k) for k in user.keys) if fp]
            if user.role is None:
                report.update(result="refused", reason=(
                    f"none of the groups of {user.dn} is mapped to a role in config/auth "
                    "ldapRoleMap"))
            else:
                report.update(result="admitted", reason=None)
        if report["localAccount"]:
            report["note"] = (f"{name!r} has a local account: a login uses it and does not "
                              "ask the directory")
        await self._audit.record(principal, "ldap.test", f"user/{name}",
                                 f"Directory test of {name!r} on {report['url']}: "
                                 f"{report['result']}"
                                 + (f", role {report['role']}" if report["role"] else "")
                                 + (f" ({report['reason']})" if report["reason"] else ""),
                                 severity=Severity.LOG)
        return report

    async def unlock(self, principal: Principal, name: str) -> int:
        """Clear ``name``'s failure streaks and lockouts from every address (admin only).

        Returns the number of addresses it was locked from."""
        require(principal, Action.ADMINISTER, f"user/{name}")
        if not self.directory.enabled:      # a directory user has no local account
            await self.get(name)
        locked = self.lockout.unlock(name)
        await self._save_lockout()
        await self.cache.forget(name)
        await self._audit.record(principal, "user.unlock", f"user/{name}",
                                 f"User {name!r} unlocked ({locked} locked address"
                                 f"{'' if locked == 1 else 'es'} cleared)",
                                 severity=Severity.INFO)
        return locked

    async def _succeed(self, info: UserInfo, face: str, address: str, how: str,
                       source: str = "local") -> Principal:
        if self._managed(info.name):
            source = "support"
            how = f"{how}; support access until {self.support.status()['expires']}"
        if self.lockout.succeeded(info.name, address):
            await self._save_lockout()
        principal = Principal(user=info.name, roles=info.roles, face=face, address=address,
                              source=source)
        await self._audit.record(principal, "login", f"user/{info.name}",
                                 f"User {info.name!r} logged in from {address or '-'} via {face} "
                                 f"({how})", severity=Severity.INFO)
        return principal

    async def has_key(self, name: str, fingerprint: str) -> bool:
        """Whether ``fingerprint`` is one of the user's keys (no audit: a key query). A
        name with no local account, with ``ldapSshKeys`` on: one of the keys of its
        directory entry (a directory that cannot be asked or refuses: no)."""
        row = await self._row(name)
        if row is None and self.directory.enabled and self.directory.key_attribute:
            try:
                user = await self.directory.lookup(name)
            except (DirectoryDown, DirectoryRefused):
                return False
            return fingerprint in {_fp_of(k) for k in user.keys}
        return bool(row) and fingerprint in {_fp_of(k) for k in json.loads(row[4])}

    async def authenticate_key(self, name: str, fingerprint: str, face: str,
                               address: str) -> Principal:
        """Log in with a verified public key of the user's: a local account's keys, or
        (``ldapSshKeys``) the keys of a directory entry, whose role comes from its groups
        as for a password login, asked again now."""
        left = self.is_locked(name, address, face)
        if left:
            raise LockedOut(self.locked_message(name, address, left), thing="user", value=name,
                            allowed="a login after the lockout ends, or from elsewhere")
        if (await self._row(name) is None and self.directory.enabled
                and self.directory.key_attribute):
            return await self._authenticate_directory_key(name, fingerprint, face, address)
        if not await self.has_key(name, fingerprint):
            probe = Principal(user=name, roles=frozenset(), face=face, address=address)
            await self._fail(name, probe, "public key not accepted")
            raise AuthFailed("public key not accepted", thing="key", value=fingerprint,
                             allowed="a key added with `user key-add`")
        closed = self.support.admission(name) if self.support is not None else None
        if closed:
            await self._fail(name, Principal(user=name, roles=frozenset(), face=face,
                                             address=address), closed)
            raise AuthFailed("public key not accepted", thing="key", value=fingerprint,
                             allowed="a user whose access is open")
        return await self._succeed(await self.get(name), face, address, "public key")

    async def _authenticate_directory_key(self, name: str, fingerprint: str, face: str,
                                          address: str) -> Principal:
        """A verified public key for a name with no local account: the directory must
        list the key in the entry's ``ldapSshKeyAttribute`` and map a group to a role."""
        probe = Principal(user=name, roles=frozenset(), face=face, address=address,
                          source=DIRECTORY)
        refused = AuthFailed("public key not accepted", thing="key", value=fingerprint,
                             allowed="a key listed in the directory entry "
                                     f"({self.directory.key_attribute})")
        try:
            user = await self.directory.lookup(name)
        except DirectoryRefused as exc:
            await self._fail(name, probe, str(exc))
            raise refused from None
        except DirectoryDown as exc:
            await self._audit.record(probe, "login.failed", f"user/{name}",
                                     f"Login failed for {name!r} from {address or '-'} via "
                                     f"{face}: {exc}", severity=Severity.WARNING)
            raise refused from None
        if fingerprint not in {_fp_of(k) for k in user.keys}:
            await self._fail(name, probe, f"public key {fingerprint} is not in "
                                          f"{self.directory.key_attribute} of {user.dn}")
            raise refused
        if user.role is None:
            groups = ", ".join(user.groups) or "none"
            await self._fail(name, probe, f"the directory knows {user.dn} but none of its "
                                          f"groups ({groups}) is mapped to a role in "
                                          "config/auth ldapRoleMap")
            raise refused
        return await self._directory_succeed(user, probe, f", public key {fingerprint}")

    async def failed_credential(self, name: str, face: str, address: str, why: str) -> None:
        """A credential other than a password or key (an API token) failed for ``name``:
        counted toward the same lockout and audited as ``login.failed``."""
        await self._fail(name, Principal(user=name or "?", roles=frozenset(), face=face,
                                         address=address), why)

    async def principal_for(self, name: str, face: str, address: str, *,
                            info: UserInfo | None = None) -> Principal:
        """The principal of ``name`` for a verified credential (an API token), with the
        lockout of ``name`` at ``address`` applied; not audited (a token is presented with
        every request; its creation and revocation are audited). ``info``: the user as
        the caller just read it (saves reading it again)."""
        left = self.is_locked(name, address, face)
        if left:
            raise LockedOut(self.locked_message(name, address, left), thing="user", value=name,
                            allowed="a login after the lockout ends, or from elsewhere")
        if info is None or info.name != name:
            info = await self.get(name)
        closed = self.support.admission(name) if self.support is not None else None
        if closed:
            raise AuthFailed(closed, thing="user", value=name,
                             allowed="a user whose access is open")
        return Principal(user=info.name, roles=info.roles, face=face, address=address,
                         source="support" if self._managed(name) else "local")

    # ------------------------------------------------------------------ sessions
    async def start_session(self, principal: Principal, *,
                            end: Callable[[str], None] | None = None) -> Session:
        """The one admission of a signed-in user on every face (SSH, serial, the local
        console and the network faces to come): the per-user session limit of
        ``config/cli``, and the same audit entry for a refusal wherever it happens.

        Args:
            principal: who signed in (its ``face`` and ``address`` name the way in).
            end: how the face ends this session (a factory reset ends them all).

        Raises:
            PermissionDenied: the user already has the most sessions allowed; nothing
                was opened, the refusal is audited as ``login.refused``.
        """
        limit = self._session_limit()
        try:
            session = self.sessions.open(principal, limit)
        except PermissionDenied as exc:
            await self._audit.record(
                principal, "login.refused", f"user/{principal.user}",
                f"{principal.face} session of {principal.user!r} from {principal.address or '-'} "
                f"refused: {exc}", severity=Severity.WARNING)
            raise
        session.end = end
        return session

    async def end_session(self, session: Session, *, timed_out_after: float | None = None) -> None:
        """Close a session and audit its end: ``logout``, or ``session.timeout`` when the
        face ended it for lack of input (every face, the serial console included)."""
        self.sessions.close(session)
        principal = session.principal
        if timed_out_after is not None:
            await self._audit.record(
                principal, "session.timeout", f"user/{principal.user}",
                f"{principal.face} session of {principal.user!r} timed out after "
                f"{timed_out_after:g} s without input", severity=Severity.LOG)
        await self.logout(principal)

    async def login_timed_out(self, face: str, address: str, seconds: float) -> None:
        """Audit a login prompt left unanswered (no user is known yet)."""
        await self._audit.record(
            Principal(user="-", roles=frozenset(), face=face, address=address),
            "login.timeout", f"{face}/{address}",
            f"Login on {face} {address} timed out after {seconds:g} s without input",
            severity=Severity.LOG)

    async def logout(self, principal: Principal) -> None:
        """Audit the end of a session."""
        await self._audit.record(principal, "logout", f"user/{principal.user}",
                                 f"User {principal.user!r} logged out ({principal.face})",
                                 severity=Severity.LOG)

    # ------------------------------------------------------------------ changes
    @property
    def password_policy(self) -> PasswordPolicy:
        """The password policy of ``config/auth`` now (faces show ``describe()``)."""
        return PasswordPolicy.of(self._policy())

    def check_password(self, name: str, password: str) -> None:
        """Apply the password policy's rules on the text; ``Invalid`` names the rule."""
        check_text(self.password_policy, password)
        if len(password) > MAX_PASSWORD:
            raise Invalid(f"Password too long (at most {MAX_PASSWORD} characters)",
                          thing="password", value=f"{len(password)} characters",
                          allowed=f"at most {MAX_PASSWORD} characters")
        if password.lower() == name.lower():
            raise Invalid("Password must not be the login name", thing="password",
                          value="(the login name)", allowed="anything but the login name")
        if password == DEFAULT_PASSWORD:
            raise Invalid("Password must not be the factory default", thing="password",
                          value="(the default)", allowed="a password of your own")

    async def _check_reuse(self, name: str, new: str) -> None:
        """Refuse a password among the user's last ``passwordHistory`` (rule named)."""
        keep = self.password_policy.history
        if not keep:
            return
        hashes = [h for (h,) in await self._store.fetchall(
            "SELECT hash FROM password_history WHERE name=? ORDER BY id DESC LIMIT ?",
            (name, keep))]
        if not hashes:  # set before the history existed: the current one counts
            row = await self._row(name)
            hashes = [row[1]] if row else []
        for h in hashes:
            try:
                if await _hashing(self._hasher.verify, h, new):
                    raise Invalid(
                        f"Password refused by rule passwordHistory: it is one of the last "
                        f"{keep} passwords of {name!r}; choose one not used before",
                        thing="passwordHistory", value="(a recent password)",
                        allowed=f"a password not among the last {keep}")
            except (VerificationError, InvalidHashError):
                continue

    async def _remember_password(self, tx: Any, name: str, pw_hash: str, now: float) -> None:
        """Keep the new hash (and at most ``HISTORY_MAX`` per user) for the reuse rule and
        the expiry; hashes only, never the password."""
        await tx.execute("INSERT INTO password_history (name, hash, ts) VALUES (?,?,?)",
                         (name, pw_hash, now))
        await tx.execute("DELETE FROM password_history WHERE name=? AND id NOT IN (SELECT id "
                         "FROM password_history WHERE name=? ORDER BY id DESC LIMIT ?)",
                         (name, name, HISTORY_MAX))

    async def password_age_days(self, name: str) -> float | None:
        """Days since the user's password was last set (None: unknown user)."""
        row = await self._store.fetchone(
            "SELECT MAX(ts) FROM password_history WHERE name=?", (name,))
        since = row[0] if row and row[0] is not None else None
        if since is None:
            user = await self._row(name)
            if user is None:
                return None
            since = user[6]
        return max(0.0, (self._clock() - since) / 86400)

    async def change_reason(self, name: str) -> str | None:
        """Why the user must set a new password before anything else, or None."""
        row = await self._row(name)
        if row is None:
            return None
        if row[3]:
            return (N_("is the factory default") if name == DEFAULT_USER
                    else N_("was set by an administrator"))
        max_age = self.password_policy.max_age_days
        if max_age:
            age = await self.password_age_days(name)
            if age is not None and age > max_age:
                return (f"has expired (rule passwordMaxAgeDays: it is {int(age)} days old, "
                        f"at most {max_age} are allowed)")
        return None

    @staticmethod
    def check_name(name: str) -> str:
        """Validate a login name; ``Invalid`` in the manual's words."""
        name = name.strip()
        if not name:
            raise Invalid(f"Login name cannot be empty; allowed are {NAME_RULE}",
                          thing="login name", value="", allowed=NAME_RULE)
        if not NAME_RE.match(name):
            raise Invalid(f"Login name {shown(name)} is not allowed; allowed are {NAME_RULE}",
                          thing="login name", value=shown(name), allowed=NAME_RULE)
        return name

    async def change_password(self, principal: Principal, name: str, new: str,
                              old: str | None = None) -> None:
        """Set a user's password: their own (``old`` checked unless forced) or, as admin, anyone's.

        A password an admin sets for another user over a face is known to two people:
        its owner must choose a new one at the next interactive login, as with the
        factory account. ``enerteg user passwd`` on the controller itself (face ``cli``)
        is the owner's own recovery and clears that mark."""
        if principal.user != name:
            require(principal, Action.ADMINISTER, f"user/{name}")
        self._refuse_managed(name)
        if principal.user == name and principal.source not in ("local", "support"):
            raise Conflict(f"{name!r} logs in through the directory ({principal.source}): "
                           "the password is changed there, not on this controller",
                           thing="user", value=name, allowed="a local account")
        await self.get(name)
        if principal.user == name and old is not None:
            row = await self._row(name)
            try:
                await _hashing(self._hasher.verify, row[1], old)  # type: ignore[index]
            except (VerificationError, InvalidHashError):
                raise Invalid("Current password is wrong", thing="current password",
                              value="(hidden)", allowed="the password you logged in with") from None
        self.check_password(name, new)
        await self._check_reuse(name, new)
        pw_hash = await _hashing(self._hasher.hash, new)
        async with self._store.transaction() as tx:
            by_other = principal.user != name and principal.face != "cli"
            now = self._clock()
            await tx.execute("UPDATE user SET hash=?, must_change=?, updated=? WHERE name=?",
                             (pw_hash, int(by_other), now, name))
            await self._remember_password(tx, name, pw_hash, now)
            entry = await self._audit.insert(
                tx, principal, "user.password", f"user/{name}",
                f"Password of user {name!r} changed"
                + (f" by {principal.user!r}; {name!r} must choose a new one at the next login"
                   if by_other else ""), severity=Severity.INFO)
        self._audit.announce(entry)

    async def add(self, principal: Principal, name: str, password: str, roles: list[str]) -> UserInfo:
        """Add a local user with roles (admin only)."""
        require(principal, Action.ADMINISTER, "users")
        name = self.check_name(name)
        self.check_password(name, password)
        role_set = parse_roles(roles)
        if not role_set:
            raise Invalid("A user needs at least one role", thing="roles", value="",
                          allowed=", ".join(r.value for r in Role))
        if await self._row(name) is not None:
            raise Conflict(f"user {name!r} already exists", thing="login name", value=name,
                           allowed="a name not in use")
        pw_hash = await _hashing(self._hasher.hash, password)
        now = self._clock()
        roles_text = ",".join(sorted(r.value for r in role_set))
        async with self._store.transaction() as tx:
            await tx.execute("INSERT INTO user (name, hash, roles, created, updated) VALUES (?,?,?,?,?)",
                             (name, pw_hash, roles_text, now, now))
            await self._remember_password(tx, name, pw_hash, now)
            entry = await self._audit.insert(tx, principal, "user.add", f"user/{name}",
                                             f"User {name!r} added with roles {roles_text}",
                                             new={"roles": roles_text})
        self._audit.announce(entry)
        return await self.get(name)

    async def _admins(self) -> list[str]:
        return [r[0] for r in await self._store.fetchall("SELECT name, roles FROM user")
                if "admin" in r[1].split(",")]

    async def set_roles(self, principal: Principal, name: str, roles: list[str]) -> UserInfo:
        """Replace a user's roles; the last admin keeps the admin role."""
        require(principal, Action.ADMINISTER, f"user/{name}")
        self._refuse_managed(name)
        info = await self.get(name)
        role_set = parse_roles(roles)
        if not role_set:
            raise Invalid("A user needs at least one role", thing="roles", value="",
                          allowed=", ".join(r.value for r in Role))
        if Role.ADMIN in info.roles and Role.ADMIN not in role_set and await self._admins() == [name]:
            raise Conflict(f"user {name!r} is the last admin and must keep the admin role",
                           thing="roles", value=",".join(sorted(r.value for r in role_set)),
                           allowed="roles including admin")
        old = ",".join(sorted(r.value for r in info.roles))
        new = ",".join(sorted(r.value for r in role_set))
        async with self._store.transaction() as tx:
            await tx.execute("UPDATE user SET roles=?, updated=? WHERE name=?", (new, self._clock(), name))
            entry = await self._audit.insert(tx, principal, "user.roles", f"user/{name}",
                                             f"Roles of user {name!r} changed from {old} to {new}",
                                             old={"roles": old}, new={"roles": new})
        self._audit.announce(entry)
        return await self.get(name)

    async def delete(self, principal: Principal, name: str) -> None:
        """Delete a user; never the last admin, never the support account."""
        require(principal, Action.ADMINISTER, f"user/{name}")
        self._refuse_managed(name)
        info = await self.get(name)
        if Role.ADMIN in info.roles and await self._admins() == [name]:
            raise Conflict(f"user {name!r} is the last admin and cannot be deleted",
                           thing="user", value=name, allowed="a user other than the last admin")
        async with self._store.transaction() as tx:
            await tx.execute("DELETE FROM user WHERE name=?", (name,))
            await tx.execute("DELETE FROM password_history WHERE name=?", (name,))
            await tx.execute("DELETE FROM shell_history WHERE user=?", (name,))
            await self.prefs.forget(tx, name)
            for forget in self.forgetters:
                await forget(tx, name)
            entry = await self._audit.insert(tx, principal, "user.delete", f"user/{name}",
                                             f"User {name!r} deleted", severity=Severity.WARNING)
        self._audit.announce(entry)

    async def add_key(self, principal: Principal, name: str, key_text: str) -> str:
        """Add an SSH public key to a user (their own, or anyone's as admin); returns its fingerprint."""
        if principal.user != name:
            require(principal, Action.ADMINISTER, f"user/{name}")
        self._refuse_managed(name)
        info = await self.get(name)
        fp = public_key_fingerprint(key_text)
        if fp in {_fp_of(k) for k in info.keys}:
            raise Conflict(f"key {fp} is already registered for {name!r}", thing="key", value=fp,
                           allowed="a key not yet added")
        keys = [*info.keys, key_text.strip()]
        await self._update_keys(principal, name, keys, f"SSH key {fp} added to user {name!r}")
        return fp

    async def remove_key(self, principal: Principal, name: str, fingerprint: str) -> None:
        """Remove a key by its fingerprint."""
        if principal.user != name:
            require(principal, Action.ADMINISTER, f"user/{name}")
        info = await self.get(name)
        keys = [k for k in info.keys if _fp_of(k) != fingerprint]
        if len(keys) == len(info.keys):
            raise NotFound(f"user {name!r} has no key {fingerprint}", thing="key", value=fingerprint,
                           allowed=", ".join(_fp_of(k) for k in info.keys) or "(no keys)")
        await self._update_keys(principal, name, keys, f"SSH key {fingerprint} removed from {name!r}")

    async def _update_keys(self, principal: Principal, name: str, keys: list[str], msg: str) -> None:
        async with self._store.transaction() as tx:
            await tx.execute("UPDATE user SET keys=?, updated=? WHERE name=?",
                             (json.dumps(keys), self._clock(), name))
            entry = await self._audit.insert(tx, principal, "user.keys", f"user/{name}", msg)
        self._audit.announce(entry)

    # ------------------------------------------------------------------ shell history
    async def history(self, name: str, limit: int = 500) -> list[str]:
        """The user's shell history, oldest first."""
        rows = await self._store.fetchall(
            "SELECT line FROM shell_history WHERE user=? ORDER BY id DESC LIMIT ?", (name, limit))
        return [r[0] for r in reversed(rows)]

    async def add_history(self, name: str, line: str, keep: int = 500) -> None:
        """Append a line to the user's history, keeping the last ``keep``.

        A line that carries a secret (``--password P``, ``password=...``: whatever
        ``core.masking`` masks) is not stored at all: a masked copy recalled and run
        again would set the secret to the mask.
        """
        from .masking import mask_text

        if mask_text(line) != line:
            return
        async with self._store.transaction() as tx:
            await tx.execute("INSERT INTO shell_history (user, line, ts) VALUES (?,?,?)",
                             (name, line, self._clock()))
            await tx.execute(
                "DELETE FROM shell_history WHERE user=? AND id NOT IN (SELECT id FROM "
                "shell_history WHERE user=? ORDER BY id DESC LIMIT ?)", (name, name, keep))


def _role_origin(user: Any) -> str:
    """The group a directory user's role came from, with the chain of a nested group:
    ``cn=pdu-setup,… (nested: cn=team-a,… ∈ cn=team-b,… ∈ cn=pdu-setup,…)``."""
    group = next(g for g, r in user.mapped if r is user.role)
    chain = user.chain(group)
    if len(chain) == 1:
        return group
    return f"{group} (nested: {' ∈ '.join(reversed(chain))})"


def _fp_of(key_text: str) -> str:
    try:
        return public_key_fingerprint(key_text)
    except Invalid:
        return ""


