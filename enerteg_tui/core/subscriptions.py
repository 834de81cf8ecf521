"""Event subscriptions: listeners that want alarms and outlet changes pushed to a URL.

Why in the core: a subscription outlives the web server and the controller (it is kept
in the store), who may make or delete one is a permission decision, and every change is
audited, as on every face. The push itself (payload format, delivery, retry) belongs to
the face that speaks the listener's protocol (Redfish: ``protocols/http/redfish/events.py``).

A subscription goes with its owner: deleting the user (or the factory reset) deletes it
(``UserService.forgetters``), so no listener keeps getting events in a name that is gone.

Who may subscribe: whoever may handle alarms (``ack-alarm``: admin, power, poweron,
poweroff, readwrite; Redfish's Administrator and Operator), not a readonly user. Users
see and delete their own subscriptions; ``administer`` sees and deletes all.

Backups (core/backup.py) hold the subscriptions: ``config.json`` ``subscriptions`` has
each one with the names of its HTTP headers, the headers' values (secrets: the
listener's credentials) go only into the backup's encrypted part (``secrets.enc``
``subscriptionHeaders``). A restore brings every subscription back with its id; a
backup without encrypted secrets keeps the current values of the headers of a
subscription that is the same (id, owner, destination) here, and restores the others
without the headers it cannot give them.

Owns the ``event_subscription`` table (``CREATE TABLE IF NOT EXISTS`` here, as
``api_tokens`` does).
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable
from typing import Any
from dataclasses import dataclass, field, replace
from urllib.parse import urlsplit

from .audit import AuditLog, Severity
from .errors import Conflict, Invalid, NotFound, shown
from .permissions import SYSTEM, Action, Principal, allowed, require
from .store import Store

__all__ = ["Subscription", "Subscriptions", "MAX_SUBSCRIPTIONS", "SUBSCRIBE_ACTION"]

MAX_SUBSCRIPTIONS = 32
"""Subscriptions the controller keeps at once (each one costs a queue and a pusher)."""
SUBSCRIBE_ACTION = Action.ACK_ALARM
"""The permission a subscription needs: who may handle alarms may be told of them."""
MAX_CONTEXT = 256
"""Longest ``Context`` string a subscriber may have echoed back."""

_DDL = """CREATE TABLE IF NOT EXISTS event_subscription (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    owner TEXT NOT NULL,
    destination TEXT NOT NULL,
    protocol TEXT NOT NULL,
    context TEXT NOT NULL,
    filters TEXT NOT NULL,
    created REAL NOT NULL,
    headers TEXT NOT NULL DEFAULT '{}'
)"""
_HEADER_NAME = re.compile(r"^[A-Za-z0-9!#$%&'*+.^_`|~-]{1,64}$")
RESERVED_HEADERS = frozenset({"host", "content-length", "content-type", "connection",
                              "transfer-encoding", "odata-version", "user-agent"})
"""Headers the pusher sets itself; a subscription cannot replace them."""
MAX_HEADERS = 8


@dataclass(frozen=True, slots=True)
class Subscription:
    """One listener: where to push, what it wants, whose it is."""

    id: int
    owner: str
    destination: str
    protocol: str
    """The listener's protocol (``Redfish``: an HTTP POST of a Redfish Event)."""
    context: str
    """Echoed back in every event sent to it."""
    filters: dict[str, list[str]] = field(default_factory=dict)
    """What it wants, by filter name (``RegistryPrefixes``, ``ResourceTypes``); an
    absent or empty list takes everything."""
    created: float = 0.0
    headers: dict[str, str] = field(default_factory=dict, repr=False)
    """HTTP headers sent with every event (an ``Authorization`` for the listener): kept,
    sent, never shown (Redfish's ``HttpHeaders`` reads as an empty array)."""


def check_headers(headers: dict[str, str]) -> dict[str, str]:
    """Header names of HTTP token characters, values without line breaks, at most
    ``MAX_HEADERS``, none of ``RESERVED_HEADERS``; ``Invalid`` names the bad one."""
    if len(headers) > MAX_HEADERS:
        raise Invalid(f"{len(headers)} HTTP headers; at most {MAX_HEADERS} are allowed",
                      thing="HttpHeaders", value=str(len(headers)),
                      allowed=f"at most {MAX_HEADERS}")
    for name, value in headers.items():
        if not _HEADER_NAME.match(name) or name.lower() in RESERVED_HEADERS:
            raise Invalid(f"HTTP header name {shown(name)} is not allowed", thing="HttpHeaders",
                          value=shown(name), allowed="a header name (letters, digits, -) "
                          "other than " + ", ".join(sorted(RESERVED_HEADERS)))
        bad = not isinstance(value, str) or len(value) > 4096
        if bad or any(c in value for c in "\r\n\0"):
            raise Invalid(f"the value of HTTP header {shown(name)} is not allowed",
                          thing="HttpHeaders", value=shown(name),
                          allowed="text of at most 4096 characters without line breaks")
    return dict(headers)


def check_destination(url: str) -> str:
    """An ``http://`` or ``https://`` URL with a host; ``Invalid`` names what is wrong."""
    url = url.strip()
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise Invalid(f"Destination {shown(url)} is not an http:// or https:// URL with "
                      "a host", thing="Destination", value=shown(url),
                      allowed="an http:// or https:// URL such as https://listener:8443/events")
    try:
        parts.port
    except ValueError:
        raise Invalid(f"Destination {shown(url)} has a port that is not 1 to 65535",
                      thing="Destination", value=shown(url),
                      allowed="a port 1 to 65535") from None
    return url


class Subscriptions:
    """The subscriptions, in memory and in the store."""

    def __init__(self, store: Store, audit: AuditLog, *,
                 clock: Callable[[], float] = time.time) -> None:
        self._store = store
        self._audit = audit
        self._clock = clock
        self._subs: dict[int, Subscription] = {}

    async def load(self) -> None:
        await self._store.execute(_DDL)
        rows = await self._store.fetchall(
            "SELECT id, owner, destination, protocol, context, filters, created, headers "
            "FROM event_subscription ORDER BY id")
        self._subs = {r[0]: Subscription(r[0], r[1], r[2], r[3], r[4], json.loads(r[5]),
                                         r[6], json.loads(r[7])) for r in rows}

    def all(self) -> list[Subscription]:
        """Every subscription (for the pusher; no permission check: it sends, not shows)."""
        return list(self._subs.values())

    def visible(self, principal: Principal) -> list[Subscription]:
        """The subscriptions ``principal`` may see: all with ``administer``, else its own."""
        require(principal, Action.READ, "subscriptions")
        every = allowed(principal, Action.ADMINISTER)
        return [s for s in self._subs.values() if every or s.owner == principal.user]

    def get(self, principal: Principal, sub_id: int) -> Subscription:
        for s in self.visible(principal):
            if s.id == sub_id:
                return s
        raise NotFound(f"There is no subscription {sub_id} of yours", thing="subscription",
                       value=str(sub_id), allowed="an id the subscription list shows")

    async def add(self, principal: Principal, destination: str, *, protocol: str,
                  context: str = "", filters: dict[str, list[str]] | None = None,
                  headers: dict[str, str] | None = None, face: str = "") -> Subscription:
        """Make a subscription (``ack-alarm``); audited ``subscription.add``."""
        require(principal, SUBSCRIBE_ACTION, "subscriptions")
        destination = check_destination(destination)
        if len(context) > MAX_CONTEXT:
            raise Invalid(f"Context is {len(context)} characters long; at most "
                          f"{MAX_CONTEXT} are allowed", thing="Context",
                          value=f"{len(context)} characters", allowed=f"at most {MAX_CONTEXT}")
        if len(self._subs) >= MAX_SUBSCRIPTIONS:
            raise Conflict(f"{MAX_SUBSCRIPTIONS} subscriptions exist already; delete one "
                           "first", thing="subscriptions", value=str(len(self._subs)),
                           allowed=f"at most {MAX_SUBSCRIPTIONS}")
        flt = {k: list(v) for k, v in (filters or {}).items() if v}
        hdrs = check_headers(headers or {})
        now = self._clock()
        async with self._store.transaction() as tx:
            cur = await tx.execute(
                "INSERT INTO event_subscription (owner, destination, protocol, context, "
                "filters, created, headers) VALUES (?,?,?,?,?,?,?)",
                (principal.user, destination, protocol, context, json.dumps(flt), now,
                 json.dumps(hdrs)))
            sub_id = int(cur.lastrowid or 0)
            entry = await self._audit.insert(
                tx, principal, "subscription.add", f"subscription/{sub_id}",
                f"Event subscription {sub_id} added: {protocol} events to {destination}"
                + (f" ({face})" if face else ""),
                new={"destination": destination, "protocol": protocol, "filters": flt,
                     "httpHeaders": sorted(hdrs)})
        self._audit.announce(entry)
        sub = Subscription(sub_id, principal.user, destination, protocol, context, flt, now,
                           hdrs)
        self._subs[sub_id] = sub
        return sub

    async def update(self, principal: Principal, sub_id: int, *, context: str | None = None,
                     headers: dict[str, str] | None = None) -> Subscription:
        """Change a subscription's context or HTTP headers (as ``delete`` may: one's own,
        or anyone's with ``administer``); audited ``subscription.change``."""
        sub = self.get(principal, sub_id)
        require(principal, Action.ADMINISTER if sub.owner != principal.user
                else SUBSCRIBE_ACTION, f"subscription/{sub_id}")
        if context is not None and len(context) > MAX_CONTEXT:
            raise Invalid(f"Context is {len(context)} characters long; at most "
                          f"{MAX_CONTEXT} are allowed", thing="Context",
                          value=f"{len(context)} characters", allowed=f"at most {MAX_CONTEXT}")
        new = replace(sub, context=sub.context if context is None else context,
                      headers=sub.headers if headers is None else check_headers(headers))
        async with self._store.transaction() as tx:
            await tx.execute("UPDATE event_subscription SET context=?, headers=? WHERE id=?",
                             (new.context, json.dumps(new.headers), sub_id))
            entry = await self._audit.insert(
                tx, principal, "subscription.change", f"subscription/{sub_id}",
                f"Event subscription {sub_id} ({sub.destination}) changed: "
                + ", ".join(k for k, v in (("context", context), ("HTTP headers", headers))
                            if v is not None),
                new={"context": new.context, "httpHeaders": sorted(new.headers)})
        self._audit.announce(entry)
        self._subs[sub_id] = new
        return new

    async def delete(self, principal: Principal, sub_id: int) -> None:
        """Delete one's own subscription (``ack-alarm``) or anyone's (``administer``)."""
        sub = self.get(principal, sub_id)
        if sub.owner != principal.user:
            require(principal, Action.ADMINISTER, f"subscription/{sub_id}")
        else:
            require(principal, SUBSCRIBE_ACTION, f"subscription/{sub_id}")
        async with self._store.transaction() as tx:
            await tx.execute("DELETE FROM event_subscription WHERE id=?", (sub_id,))
            entry = await self._audit.insert(
                tx, principal, "subscription.delete", f"subscription/{sub_id}",
                f"Event subscription {sub_id} ({sub.destination}) deleted",
                severity=Severity.INFO)
        self._audit.announce(entry)
        self._subs.pop(sub_id, None)

    async def terminate(self, sub_id: int, why: str) -> None:
        """End a subscription whose listener cannot be reached (the pusher's retries are
        spent: Redfish's ``TerminateAfterRetries``); audited as the system's act."""
        sub = self._subs.pop(sub_id, None)
        if sub is None:
            return
        async with self._store.transaction() as tx:
            await tx.execute("DELETE FROM event_subscription WHERE id=?", (sub_id,))
            entry = await self._audit.insert(
                tx, SYSTEM, "subscription.delete", f"subscription/{sub_id}",
                f"Event subscription {sub_id} of {sub.owner!r} ({sub.destination}) ended: "
                f"{why}", severity=Severity.WARNING)
        self._audit.announce(entry)

    # ------------------------------------------------------------------ backups
    def backup_state(self) -> tuple[list[dict[str, Any]], dict[str, dict[str, str]]]:
        """(rows for ``config.json``: each with its header names, never their values;
        ``{id: headers}`` for the encrypted part)."""
        rows = [{"id": s.id, "owner": s.owner, "destination": s.destination,
                 "protocol": s.protocol, "context": s.context, "filters": s.filters,
                 "created": s.created, "httpHeaders": sorted(s.headers)}
                for s in self._subs.values()]
        return rows, {str(s.id): dict(s.headers) for s in self._subs.values() if s.headers}

    @staticmethod
    def validate_backup(rows: Any, users: set[str]) -> None:
        """``Invalid`` naming the first subscription of a backup that cannot be restored."""
        if not isinstance(rows, list) or len(rows) > MAX_SUBSCRIPTIONS:
            raise Invalid(f"subscriptions of the backup is not a list of at most "
                          f"{MAX_SUBSCRIPTIONS}", thing="subscriptions",
                          value=type(rows).__name__, allowed=f"at most {MAX_SUBSCRIPTIONS} "
                          "subscription rows")
        seen: set[int] = set()
        for r in rows:
            what = r.get("id") if isinstance(r, dict) else r
            try:
                ok = (isinstance(r, dict) and type(r.get("id")) is int and r["id"] > 0
                      and r["id"] not in seen and r.get("owner") in users
                      and isinstance(r.get("protocol"), str)
                      and isinstance(r.get("context"), str)
                      and len(r["context"]) <= MAX_CONTEXT
                      and isinstance(r.get("created"), (int, float))
                      and isinstance(r.get("filters"), dict)
                      and all(isinstance(v, list) and all(isinstance(x, str) for x in v)
                              for v in r["filters"].values())
                      and isinstance(r.get("httpHeaders", []), list))
                if ok:
                    check_destination(str(r.get("destination", "")))
            except Invalid:
                ok = False
            if not ok:
                raise Invalid(f"event subscription {shown(what)} of the backup is not a valid "
                              "subscription (a positive id used once, an owner among the "
                              "backup's users, an http(s) destination, a context of at most "
                              f"{MAX_CONTEXT} characters, filters of lists of names)",
                              thing="subscription", value=shown(what),
                              allowed="a subscription row as a backup writes it")
            seen.add(r["id"])

    async def restore_state(self, tx: Any, rows: list[dict[str, Any]] | None,
                            headers: dict[str, dict[str, str]] | None,
                            users: set[str]) -> None:
        """Replace the subscriptions inside a restore's transaction ``tx``. ``headers``:
        the values from the backup's encrypted part (None: the backup has none; the
        current values of an identical subscription are kept). A backup without
        subscriptions (older) keeps those of the users it restores."""
        if rows is None:
            marks = ",".join("?" * len(users))
            await tx.execute(f"DELETE FROM event_subscription WHERE owner NOT IN ({marks})",
                             tuple(sorted(users)))
            return
        await tx.execute("DELETE FROM event_subscription")
        for r in rows:
            if headers is not None:
                hdrs = check_headers(headers.get(str(r["id"]), {}))
            else:
                here = self._subs.get(r["id"])
                same = (here is not None and here.owner == r["owner"]
                        and here.destination == r["destination"])
                hdrs = {k: v for k, v in (here.headers if same and here else {}).items()
                        if k in r.get("httpHeaders", [])}
            await tx.execute(
                "INSERT INTO event_subscription (id, owner, destination, protocol, context, "
                "filters, created, headers) VALUES (?,?,?,?,?,?,?,?)",
                (r["id"], r["owner"], r["destination"], r["protocol"], r["context"],
                 json.dumps({k: list(v) for k, v in r["filters"].items() if v}),
                 float(r["created"]), json.dumps(hdrs)))

    async def forget(self, tx: Any, owner: str | None) -> None:
        """Drop ``owner``'s subscriptions (None: all) in the caller's transaction (a user
        deleted, the factory reset); ``UserService`` calls it."""
        if owner is None:
            await tx.execute("DELETE FROM event_subscription")
            self._subs.clear()
            return
        await tx.execute("DELETE FROM event_subscription WHERE owner=?", (owner,))
        for sub_id in [s.id for s in self._subs.values() if s.owner == owner]:
            del self._subs[sub_id]
