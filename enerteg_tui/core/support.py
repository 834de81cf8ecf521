"""Time-limited support access (manual §5.1 "remote management"; issue 23 item 7).

Exists so that an administrator can let the manufacturer's support in for a few hours
without sharing an account: a dedicated local account ``support`` that is disabled
(no password that can match) except while an admin has switched it on. Enabling sets
an expiry (1–72 hours) and a one-time password, generated here, shown once to the admin
and stored only as its argon2id hash; enabling again makes a new one. At the expiry —
or at ``support disable`` — this module's timer disables the account (password hash
replaced by ``!``) and ends its sessions on every face. Every login of the account is
a principal with ``source = "support"``, so ``users``/``whoami`` show it; every shell
command line it runs is audited (``support.command``, secrets masked) with its face and
source address, on top of the usual audit of every change.

``config/core`` ``remoteManagement`` is the master switch: support access can be enabled
only while it is on, and switching it off closes an open access at once.

The state (expiry, role, who enabled it) lives in the store's ``meta`` table, so a
restart keeps an enabled access until its expiry and disables an expired one at once.
The timer wakes at least every ``CHECK_S`` seconds, so a wall-clock jump is noticed.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import json
import logging
import secrets
import time
from collections.abc import Callable
from typing import Any

from .audit import AuditLog, Severity
from .errors import Conflict, Invalid
from .i18n import _
from .permissions import Action, Principal, Role, SYSTEM, require
from .store import Store
from .users import UserService
from .waiting import wait_event

__all__ = ["SupportAccess", "NAME", "SOURCE", "MAX_HOURS", "META_KEY", "status_text"]

log = logging.getLogger(__name__)

NAME = "support"
"""Login name of the support account."""
SOURCE = "support"
"""``Principal.source`` of its sessions."""
MAX_HOURS = 72
META_KEY = "support.access"
CHECK_S = 30.0
"""Longest sleep of the timer: a clock set forward is noticed within this."""
_ALPHABET = "abcdefghjkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789"


def _iso(ts: float) -> str:
    return dt.datetime.fromtimestamp(ts, dt.timezone.utc).isoformat(timespec="seconds")


def status_text(st: dict[str, Any], when: Callable[[str], str] = str) -> str:
    """``SupportAccess.status`` as a person reads it (the shell's ``support status``, the
    console's palette entry); ``when`` turns its UTC ISO times into the reader's zone.
    In the reader's language (a text for people; the JSON document is ``st`` itself)."""
    if not st["enabled"]:
        return (_("Support access: disabled (account {account} exists, cannot log in)")
                if st["exists"] else
                _("Support access: disabled (account {account} not created yet)")).format(
            account=repr(st["account"]))
    hours, rest = divmod(st["secondsLeft"], 3600)
    lines = [_("Support access: enabled until {until} ({hours} h {minutes} min left)").format(
                 until=when(st["expires"]), hours=hours, minutes=rest // 60),
             _("Account:        {account} (role {role}, enabled by {by})").format(
                 account=st["account"], role=st["role"], by=st["enabledBy"])]
    for s in st["sessions"]:
        lines.append(_("Session:        {face} from {address} since {since}").format(
            face=s["face"], address=s["address"] or "-", since=when(s["since"])))
    if not st["sessions"]:
        lines.append(_("Sessions:       none"))
    return "\n".join(lines)


def one_time_password() -> str:
    """Four groups of five unambiguous letters and digits (~115 bits), easy to read out."""
    return "-".join("".join(secrets.choice(_ALPHABET) for _c in range(5)) for _g in range(4))


class SupportAccess:
    """The support account and its timer.

    Args:
        store: the controller database (``user`` row of ``support``, ``meta``).
        users: the user service (hasher, sessions).
        audit: where enabling, disabling, expiry and every command are recorded.
        clock: wall clock.
        switch: returns ``config/core`` ``remoteManagement`` now (None: always allowed).
        events: the event bus, to hear a change of ``config/core`` at once.
    """

    def __init__(self, store: Store, users: UserService, audit: AuditLog,
                 clock: Callable[[], float] = time.time,
                 switch: Callable[[], bool] | None = None, events: Any = None) -> None:
        self._switch = switch
        self._events = events
        self._store = store
        self._users = users
        self._audit = audit
        self._clock = clock
        self.state: dict[str, Any] | None = None
        """``{"expires", "role", "by", "since"}`` while enabled, else None."""
        self.managed = False
        """Whether the ``support`` row was created by this module (a local user of that
        name made by hand is left alone and support cannot be enabled)."""
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        users.support = self

    # ------------------------------------------------------------------ lifecycle
    async def load(self) -> None:
        row = await self._store.fetchone("SELECT value FROM meta WHERE key=?", (META_KEY,))
        try:
            data = json.loads(row[0]) if row else {}
        except ValueError:
            data = {}
        self.managed = bool(data.get("managed"))
        self.state = data.get("enabled") or None

    async def start(self) -> None:
        """Load the state and run the timer (an access expired meanwhile ends now)."""
        await self.load()
        await self.check()
        self._task = asyncio.create_task(self._run(), name="support-timer")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    def wake(self) -> None:
        """Make the timer look at the clock now (after enabling, or a clock change)."""
        self._wake.set()

    async def _run(self) -> None:
        sub = self._events.subscribe(kinds={"settings"}, live=False) if self._events is not None else None
        waker = (asyncio.create_task(self._wake_on(sub), name="support-settings")
                 if sub is not None else None)
        try:
            while True:
                self._wake.clear()
                left = (self.state["expires"] - self._clock()) if self.state else CHECK_S
                if left > 0:
                    await wait_event(self._wake, min(left, CHECK_S))
                try:
                    await self.check()
                except Exception:          # the timer must outlive one failed write
                    log.exception("support access: expiry check failed")
        finally:
            if waker is not None:
                waker.cancel()
            if sub is not None:
                sub.close()

    async def _wake_on(self, sub: Any) -> None:
        while True:
            batch = await sub.get()
            if any(ev.subject == "core" for ev in batch.events):
                self._wake.set()

    @property
    def switched_on(self) -> bool:
        """``config/core`` ``remoteManagement``."""
        return self._switch is None or bool(self._switch())

    async def check(self) -> bool:
        """Disable an access past its expiry, or with ``remoteManagement`` switched off;
        whether it did."""
        if self.state is None:
            return False
        if self._clock() >= float(self.state["expires"]):
            await self._disable(SYSTEM, f"expired at {_iso(float(self.state['expires']))}",
                                action="support.expired")
            return True
        if not self.switched_on:
            await self._disable(SYSTEM, "closed: config/core remoteManagement was disabled",
                                action="support.disable")
            return True
        return False

    # ------------------------------------------------------------------ reading
    @property
    def enabled(self) -> bool:
        return self.state is not None and self._clock() < float(self.state["expires"])

    def status(self) -> dict[str, Any]:
        """What ``support status`` and the console show."""
        sessions = [s for s in self._users.sessions.list() if s.principal.user == NAME]
        st = self.state if self.enabled else None
        return {"account": NAME, "exists": self.managed, "enabled": st is not None,
                "expires": _iso(float(st["expires"])) if st else None,
                "secondsLeft": max(0, int(float(st["expires"]) - self._clock())) if st else 0,
                "role": st["role"] if st else None, "enabledBy": st["by"] if st else None,
                "sessions": [{"face": s.principal.face, "address": s.principal.address,
                              "since": _iso(s.principal.since)} for s in sessions]}

    def is_account(self, name: str) -> bool:
        """Whether ``name`` is the managed support account."""
        return self.managed and name == NAME

    def admission(self, name: str) -> str | None:
        """Why a login of ``name`` is refused now, or None (not the account, or enabled)."""
        if not self.is_account(name) or self.enabled:
            return None
        if self.state is not None:
            self.wake()                     # expired, the timer has not run yet
            return f"support access expired at {_iso(float(self.state['expires']))}"
        return "support access is disabled (an admin enables it with `support enable`)"

    # ------------------------------------------------------------------ changes
    def check_enable(self, principal: Principal, hours: float,
                     role: str = Role.ADMIN.value) -> Role:
        """What ``enable`` refuses, checked without changing anything (a face asks
        before it confirms); the role to give.

        Raises:
            PermissionDenied: not an administrator.
            Conflict: remote management (``config/core remoteManagement``) is disabled.
            Invalid: hours out of range, an unknown role.
        """
        require(principal, Action.ADMINISTER, f"user/{NAME}")
        if not self.switched_on:
            raise Conflict("support access needs remote management: config/core "
                           "remoteManagement is disabled", thing="remoteManagement",
                           value="disabled", allowed="enabled (put config/core "
                           "remoteManagement=enabled)")
        if not 0 < hours <= MAX_HOURS:
            raise Invalid(f"support access for {hours:g} hours is not allowed; allowed are "
                          f"more than 0 and at most {MAX_HOURS} hours", thing="hours",
                          value=f"{hours:g}", allowed=f"more than 0, at most {MAX_HOURS}")
        try:
            return Role(role)
        except ValueError:
            raise Invalid(f"role {role!r} does not exist", thing="role", value=role,
                          allowed=", ".join(r.value for r in Role)) from None

    async def enable(self, principal: Principal, hours: float,
                     role: str = Role.ADMIN.value) -> tuple[str, dict[str, Any]]:
        """Switch the access on for ``hours``; (the one-time password, the status).

        Raises:
            Invalid: hours out of range, an unknown role.
            Conflict: a local user named ``support`` exists that this module did not make.
        """
        role_v = self.check_enable(principal, hours, role)
        existing = await self._store.fetchone("SELECT name FROM user WHERE name=?", (NAME,))
        if existing is not None and not self.managed:
            raise Conflict(f"a local user named {NAME!r} already exists and is not the "
                           "support account; rename or delete it to enable support access",
                           thing="user", value=NAME, allowed="no local user named support")
        password = one_time_password()
        pw_hash = await self._users.hash_password(password)
        now = self._clock()
        expires = now + hours * 3600
        self.state = {"expires": expires, "role": role_v.value, "by": principal.user,
                      "since": now}
        async with self._store.transaction() as tx:
            if existing is None:
                await tx.execute("INSERT INTO user (name, hash, roles, must_change, created, "
                                 "updated) VALUES (?,?,?,0,?,?)",
                                 (NAME, pw_hash, role_v.value, now, now))
            else:
                await tx.execute("UPDATE user SET hash=?, roles=?, must_change=0, keys='[]', "
                                 "updated=? WHERE name=?", (pw_hash, role_v.value, now, NAME))
            await self._save(tx, managed=True)
            entry = await self._audit.insert(
                tx, principal, "support.enable", f"user/{NAME}",
                f"Support access enabled by {principal.user!r} for {hours:g} h (until "
                f"{_iso(expires)}), role {role_v.value}; a new one-time password was shown "
                "to them", severity=Severity.WARNING,
                new={"expires": _iso(expires), "role": role_v.value})
        self._audit.announce(entry)
        self.managed = True
        self.wake()
        return password, self.status()

    async def disable(self, principal: Principal) -> dict[str, Any]:
        """Switch the access off now: the account disabled, its sessions ended."""
        require(principal, Action.ADMINISTER, f"user/{NAME}")
        if self.state is None:
            raise Conflict("support access is already disabled", thing="support",
                           value="disabled", allowed="`support enable --hours N` first")
        await self._disable(principal, f"disabled by {principal.user!r}",
                            action="support.disable")
        return self.status()

    async def _disable(self, principal: Principal, why: str, action: str) -> None:
        self.state = None
        async with self._store.transaction() as tx:
            await tx.execute("UPDATE user SET hash='!', updated=? WHERE name=?",
                             (self._clock(), NAME))
            await self._save(tx, managed=self.managed)
            ended = self._end_sessions(f"support access {why}")
            entry = await self._audit.insert(
                tx, principal, action, f"user/{NAME}",
                f"Support access {why}: account {NAME!r} disabled, {ended} session"
                f"{'' if ended == 1 else 's'} ended", severity=Severity.WARNING)
        self._audit.announce(entry)

    def _end_sessions(self, reason: str) -> int:
        n = 0
        for s in list(self._users.sessions.list()):
            if s.principal.user != NAME:
                continue
            self._users.sessions.close(s)
            n += 1
            if s.end is not None:
                try:
                    s.end(reason)
                except Exception:
                    log.exception("ending support session %s failed", s.id)
        return n

    async def _save(self, tx: Any, managed: bool) -> None:
        await tx.execute("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)",
                         (META_KEY, json.dumps({"managed": managed, "enabled": self.state})))

    async def note(self, principal: Principal, text: str) -> None:
        """Audit one action of a support session (``support.command``; text masked)."""
        if principal.source != SOURCE:
            return
        from .masking import mask_text

        await self._audit.record(principal, "support.command", f"user/{NAME}",
                                 f"Support ran {mask_text(text)[:500]!r} via {principal.face} "
                                 f"from {principal.address or '-'}", severity=Severity.INFO)

    async def forget(self) -> None:
        """Factory reset / the account deleted: no state, not managed."""
        self.state, self.managed = None, False
        await self._store.execute("DELETE FROM meta WHERE key=?", (META_KEY,))
