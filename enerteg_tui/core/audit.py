"""The audit log (manual chapter 10): what happened, who did it, from where.

Every face writes here through core services: logins, settings changes, switching,
device found or lost, alarms. Entries carry severity (Debug … Always) and a state
(Open, Investigating, Done) that users with the right role move along, with comments.
Old and new values are masked for secret keys before they are stored. Entries are
purged on a schedule by the retention days of ``config/notifications`` (0 = keep).
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

import aiosqlite

from .errors import Invalid, NotFound
from .safetext import refuse_control
from .events import Event, EventBus
from .masking import is_secret_key, mask_text
from .permissions import Action, Principal, require
from .store import Store
from .waiting import cancel_and_wait, run_every

__all__ = ["Severity", "AuditState", "AuditEntry", "AuditFilter", "AuditLog", "mask_secrets"]

log = logging.getLogger(__name__)

PURGE_EVERY_S = 3600.0
"""How often retention is applied."""


class Severity(str, Enum):
    """Audit severities of the manual (§10.1), lowest first."""

    DEBUG = "Debug"
    LOG = "Log"
    INFO = "Info"
    WARNING = "Warning"
    ERROR = "Error"
    ALWAYS = "Always"

    @property
    def rank(self) -> int:
        """0 for Debug … 5 for Always."""
        return _SEVERITY_ORDER.index(self)


_SEVERITY_ORDER = list(Severity)


class AuditState(str, Enum):
    """Audit entry states (§10.2)."""

    OPEN = "Open"
    INVESTIGATING = "Investigating"
    DONE = "Done"


_SECRET_KEY = re.compile(r"(pass(word|phrase)?|secret|privatekey|community|token|key$)", re.I)
MASK = "***"
"""What a secret value becomes in the audit log."""


def mask_secrets(value: Any, secret_keys: frozenset[str] = frozenset()) -> Any:
    """Copy of ``value`` with secret keys' values replaced by ``***``.

    A key is secret when listed in ``secret_keys`` or when its name looks like a
    password, passphrase, private key or community string.
    """
    if isinstance(value, dict):
        out = {}
        for k, v in value.items():
            if k in secret_keys or (isinstance(k, str) and (_SECRET_KEY.search(k)
                                                            or is_secret_key(k))):
                out[k] = MASK if v not in (None, "") else v
            else:
                out[k] = mask_secrets(v, secret_keys)
        return out
    if isinstance(value, list):
        return [mask_secrets(v, secret_keys) for v in value]
    return value


@dataclass(slots=True)
class AuditEntry:
    """One audit log entry."""

    id: int
    ts: float
    user: str
    face: str
    address: str
    action: str
    object: str
    message: str
    severity: Severity
    state: AuditState = AuditState.OPEN
    old: Any = None
    new: Any = None
    comments: list[dict[str, Any]] = field(default_factory=list)
    device: str | None = None

    def to_json(self) -> dict[str, Any]:
        """JSON-ready form (topics, REST, exports)."""
        return {
            "id": self.id, "ts": int(self.ts * 1000), "user": self.user, "face": self.face,
            "address": self.address, "action": self.action, "object": self.object,
            "message": self.message, "severity": self.severity.value,
            "state": self.state.value, "old": self.old, "new": self.new,
            "comments": self.comments, "device": self.device,
        }


@dataclass(slots=True)
class AuditFilter:
    """Filters of the audit view (§10): all optional."""

    severities: set[Severity] | None = None
    states: set[AuditState] | None = None
    user: str | None = None
    device: str | None = None
    text: str | None = None
    since: float | None = None
    until: float | None = None


_COLUMNS = "id, ts, user, face, address, action, object, message, severity, state, old, new, comments, device"


def _row_to_entry(row: tuple[Any, ...]) -> AuditEntry:
    return AuditEntry(
        id=row[0], ts=row[1], user=row[2], face=row[3], address=row[4], action=row[5],
        object=row[6], message=row[7], severity=Severity(row[8]), state=AuditState(row[9]),
        old=json.loads(row[10]) if row[10] is not None else None,
        new=json.loads(row[11]) if row[11] is not None else None,
        comments=json.loads(row[12]), device=row[13],
    )


def like_literal(text: str) -> str:
    """``text`` for a SQL ``LIKE … ESCAPE '\\'`` that matches it literally."""
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _where(flt: AuditFilter) -> tuple[str, list[Any]]:
    """The SQL WHERE clause (with its leading space, or empty) and parameters of a filter."""
    where: list[str] = []
    params: list[Any] = []
    if flt.severities:
        where.append(f"severity IN ({','.join('?' * len(flt.severities))})")
        params += [s.value for s in flt.severities]
    if flt.states:
        where.append(f"state IN ({','.join('?' * len(flt.states))})")
        params += [s.value for s in flt.states]
    if flt.user:
        where.append("user = ?")
        params.append(flt.user)
    if flt.device:
        where.append("device = ?")
        params.append(flt.device)
    if flt.text:
        # the text is matched literally: % and _ are not wildcards, \ escapes them
        where.append("(message LIKE ? ESCAPE '\\' OR object LIKE ? ESCAPE '\\')")
        params += [f"%{like_literal(flt.text)}%"] * 2
    if flt.since is not None:
        where.append("ts >= ?")
        params.append(flt.since)
    if flt.until is not None:
        where.append("ts < ?")
        params.append(flt.until)
    return (" WHERE " + " AND ".join(where)) if where else "", params


class AuditLog:
    """Writes, queries, annotates and purges audit entries.

    Args:
        store: the controller database.
        events: where each new entry is announced (kind ``audit``).
        retention: returns the current retention settings (``config/notifications``)
            as a mapping of key → days; called at each purge.
        clock: wall clock, injectable for tests.
    """

    def __init__(
        self,
        store: Store,
        events: EventBus,
        retention: Callable[[], dict[str, int]] | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._store = store
        self._events = events
        self._retention = retention or (lambda: {})
        self._clock = clock
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        """Start the hourly purge."""
        if self._task is None:
            self._task = asyncio.create_task(self._purge_loop(), name="audit-purge")

    async def stop(self) -> None:
        """Stop the purge task."""
        await cancel_and_wait(self._task)
        self._task = None

    async def _purge_loop(self) -> None:
        # keep purging next hour after a failure; one line, no crash
        await run_every(PURGE_EVERY_S, self._purge_round, logger=log,
                        failure="audit: purge failed", first=True)

    async def _purge_round(self) -> None:
        removed = await self.purge()
        if removed:
            log.info("audit: purged %d entries past retention", removed)

    def _prepare(
        self, principal: Principal, action: str, obj: str, message: str,
        severity: Severity, old: Any, new: Any, device: str | None,
        secret_keys: frozenset[str],
    ) -> tuple[Any, ...]:
        old_m = mask_secrets(old, secret_keys)
        new_m = mask_secrets(new, secret_keys)
        return (
            self._clock(), principal.user, principal.face, principal.address, action, obj,
            None if old is None else json.dumps(old_m, sort_keys=True),
            None if new is None else json.dumps(new_m, sort_keys=True),
            mask_text(message), severity.value, device,
        )

    async def insert(
        self, tx: aiosqlite.Connection, principal: Principal, action: str, obj: str,
        message: str, *, severity: Severity = Severity.INFO, old: Any = None, new: Any = None,
        device: str | None = None, secret_keys: frozenset[str] = frozenset(),
    ) -> AuditEntry:
        """Write an entry inside the caller's transaction (so it commits with the change).

        Call ``announce(entry)`` after the transaction committed.
        """
        row = self._prepare(principal, action, obj, message, severity, old, new, device, secret_keys)
        cur = await tx.execute(
            "INSERT INTO audit (ts, user, face, address, action, object, old, new, message,"
            " severity, device) VALUES (?,?,?,?,?,?,?,?,?,?,?)", row,
        )
        return AuditEntry(
            id=int(cur.lastrowid or 0), ts=row[0], user=row[1], face=row[2], address=row[3],
            action=action, object=obj, message=message, severity=severity,
            old=None if row[6] is None else json.loads(row[6]),
            new=None if row[7] is None else json.loads(row[7]), device=device,
        )

    def announce(self, entry: AuditEntry) -> None:
        """Publish an entry written with ``insert`` once its transaction committed."""
        self._events.publish(Event("audit", str(entry.id), entry))
        # warnings and worse reach the operator's log; the rest stay in the audit log
        level = logging.WARNING if entry.severity.rank >= Severity.WARNING.rank else logging.DEBUG
        log.log(level, "audit: %s (%s@%s via %s)", entry.message, entry.user,
                entry.address or "-", entry.face)

    async def record(
        self, principal: Principal, action: str, obj: str, message: str, *,
        severity: Severity = Severity.INFO, old: Any = None, new: Any = None,
        device: str | None = None, secret_keys: frozenset[str] = frozenset(),
    ) -> AuditEntry:
        """Write one entry in its own transaction and announce it."""
        async with self._store.transaction() as tx:
            entry = await self.insert(
                tx, principal, action, obj, message, severity=severity, old=old, new=new,
                device=device, secret_keys=secret_keys,
            )
        self.announce(entry)
        return entry

    async def get(self, principal: Principal, entry_id: int) -> AuditEntry:
        """One entry by id (``administer``: reading the audit log is an admin's)."""
        require(principal, Action.ADMINISTER, f"audit/{entry_id}")
        return await self._fetch(entry_id)

    async def _fetch(self, entry_id: int) -> AuditEntry:
        row = await self._store.fetchone(f"SELECT {_COLUMNS} FROM audit WHERE id=?", (entry_id,))
        if row is None:
            raise NotFound(f"audit entry {entry_id} does not exist", thing="audit id",
                           value=entry_id, allowed="an existing entry id")
        return _row_to_entry(row)

    async def query(
        self, principal: Principal, flt: AuditFilter | None = None, *,
        limit: int = 100, offset: int = 0,
    ) -> list[AuditEntry]:
        """Entries matching ``flt``, newest first, paged (``administer``)."""
        require(principal, Action.ADMINISTER, "audit")
        where, params = _where(flt or AuditFilter())
        sql = f"SELECT {_COLUMNS} FROM audit{where}"
        sql += " ORDER BY id DESC LIMIT ? OFFSET ?"
        rows = await self._store.fetchall(sql, (*params, int(limit), int(offset)))
        return [_row_to_entry(r) for r in rows]

    async def count(self, principal: Principal, flt: AuditFilter | None = None) -> int:
        """How many entries match ``flt`` (for paging: "entries 1–50 of N"; ``administer``)."""
        require(principal, Action.ADMINISTER, "audit")
        where, params = _where(flt or AuditFilter())
        row = await self._store.fetchone(f"SELECT COUNT(*) FROM audit{where}", tuple(params))
        return int(row[0]) if row else 0

    async def set_state(
        self, principal: Principal, entry_id: int, state: AuditState, comment: str = ""
    ) -> AuditEntry:
        """Move an entry to ``state`` (Open/Investigating/Done); the change is noted in its comments."""
        require(principal, Action.ACK_ALARM, f"audit/{entry_id}")
        entry = await self._fetch(entry_id)
        note = f"state {entry.state.value} → {state.value}"
        comments = [*entry.comments, {"ts": int(self._clock() * 1000), "user": principal.user,
                                      "text": f"{note}{': ' + comment if comment else ''}"}]
        await self._store.execute(
            "UPDATE audit SET state=?, comments=? WHERE id=?",
            (state.value, json.dumps(comments), entry_id),
        )
        entry.state, entry.comments = state, comments
        self._events.publish(Event("audit-changed", str(entry_id), entry))
        return entry

    async def comment(self, principal: Principal, entry_id: int, text: str) -> AuditEntry:
        """Add a comment to an entry."""
        require(principal, Action.ACK_ALARM, f"audit/{entry_id}")
        text = text.strip()
        refuse_control(f"audit/{entry_id}", text, key="comment", multiline={"comment"})
        if not text or len(text) > 2000:
            raise Invalid(f"comment of {len(text)} characters is not allowed",
                          thing="comment", value=text[:40], allowed="1 to 2000 characters")
        entry = await self._fetch(entry_id)
        comments = [*entry.comments, {"ts": int(self._clock() * 1000), "user": principal.user,
                                      "text": text}]
        await self._store.execute("UPDATE audit SET comments=? WHERE id=?",
                                  (json.dumps(comments), entry_id))
        entry.comments = comments
        self._events.publish(Event("audit-changed", str(entry_id), entry))
        return entry

    async def backup_rows(self) -> list[tuple[Any, ...]]:
        """Every entry as stored (time, user, face, address, action, object, message,
        severity, state), oldest first, for a backup that includes the logs."""
        return list(await self._store.fetchall(
            "SELECT ts, user, face, address, action, object, message, severity, state "
            "FROM audit ORDER BY id"))

    async def reset(self) -> None:
        """Factory reset of the audit log: every entry deleted."""
        await self._store.execute("DELETE FROM audit")

    async def purge(self) -> int:
        """Delete entries past their retention (manual §5.8); returns how many."""
        days = self._retention()
        now = self._clock()
        done = AuditState.DONE.value
        rules: list[tuple[str, tuple[Any, ...], int]] = [
            ("severity='Debug'", (), days.get("debugDays", 1)),
            ("severity='Log'", (), days.get("logDays", 1)),
            ("severity='Info'", (), days.get("infoDays", 5)),
            ("severity='Warning' AND state!=?", (done,), days.get("openWarningDays", 5)),
            ("severity='Error' AND state!=?", (done,), days.get("openErrorDays", 5)),
            ("severity='Warning' AND state=?", (done,), days.get("closedWarningDays", 5)),
            ("severity='Error' AND state=?", (done,), days.get("closedErrorDays", 5)),
        ]
        removed = 0
        async with self._store.transaction() as tx:
            for cond, params, keep_days in rules:
                if not keep_days:
                    continue  # 0 = keep forever
                cur = await tx.execute(
                    f"DELETE FROM audit WHERE {cond} AND ts < ?", (*params, now - keep_days * 86400)
                )
                removed += cur.rowcount or 0
        return removed
