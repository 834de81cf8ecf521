"""The opt-in credential cache of directory logins (``config/auth`` ``ldapCacheHours``).

Exists because issue 22 allows no credential caching unless the operator turns it on,
and then bounded: with ``ldapCacheHours`` = N, ``UserService`` keeps, after each
successful password login through the directory, the argon2id hash of the password (the
local accounts' hasher: never the password), the role, the DN and the directory URL for
N hours. ``UserService`` accepts an entry ONLY while the directory cannot be asked, and
only for the same ``ldapUrl``; a refusal by the directory, ``unlock NAME`` or N = 0
forgets entries. At most ``MAX_ENTRIES`` users are kept (the oldest dropped). The
entries live in the store's ``meta`` table (key ``META_KEY``), so they survive a
restart; backups do not carry them.
"""

from __future__ import annotations

import json
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import asdict, dataclass

from .store import Store

__all__ = ["CachedLogin", "CredentialCache", "META_KEY", "MAX_ENTRIES"]

META_KEY = "ldap_cache"
MAX_ENTRIES = 1000


@dataclass(slots=True)
class CachedLogin:
    """What a successful directory login left behind (no password)."""

    hash: str
    """argon2id hash of the password that logged in."""
    role: str
    dn: str
    origin: str
    """The group the role came from (audit text)."""
    url: str
    """``ldapUrl`` of the directory that vouched for it."""
    ts: float
    """When (wall clock)."""


class CredentialCache:
    """Cached directory logins by name, bounded in age (``ldapCacheHours``) and count.

    Args:
        store: the controller database (``meta`` table).
        policy: returns ``config/auth`` now.
        clock: wall clock.
    """

    def __init__(self, store: Store, policy: Callable[[], object],
                 clock: Callable[[], float] = time.time) -> None:
        self._store = store
        self._policy = policy
        self._clock = clock
        self.entries: OrderedDict[str, CachedLogin] = OrderedDict()

    @property
    def max_age_s(self) -> float:
        """Seconds an entry is usable; 0 = the cache is off."""
        return 3600.0 * int(getattr(self._policy(), "ldapCacheHours", 0) or 0)

    async def load(self) -> None:
        """Read the entries kept in the store (bad text: start empty)."""
        row = await self._store.fetchone("SELECT value FROM meta WHERE key=?", (META_KEY,))
        self.entries.clear()
        try:
            for name, e in (json.loads(row[0]) if row else {}).items():
                self.entries[str(name)] = CachedLogin(**e)
        except (ValueError, TypeError):
            self.entries.clear()

    async def _save(self) -> None:
        if self.entries:
            await self._store.execute(
                "INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)",
                (META_KEY, json.dumps({n: asdict(e) for n, e in self.entries.items()})))
        else:
            await self._store.execute("DELETE FROM meta WHERE key=?", (META_KEY,))

    async def tidy(self) -> None:
        """Forget every entry when the cache is off, and entries too old."""
        limit = self.max_age_s
        now = self._clock()
        stale = [n for n, e in self.entries.items() if not limit or now - e.ts > limit
                 or e.ts > now + 300]        # from the future: a clock set back, not trusted
        for n in stale:
            del self.entries[n]
        if stale:
            await self._save()

    async def get(self, name: str, url: str) -> CachedLogin | None:
        """The usable entry of ``name`` for directory ``url``, or None."""
        await self.tidy()
        entry = self.entries.get(name)
        return entry if entry is not None and entry.url == url else None

    async def put(self, name: str, entry: CachedLogin) -> None:
        """Keep ``entry`` for ``name`` (replacing theirs), dropping the oldest beyond
        ``MAX_ENTRIES``."""
        self.entries.pop(name, None)
        self.entries[name] = entry
        while len(self.entries) > MAX_ENTRIES:
            self.entries.popitem(last=False)
        await self._save()

    async def forget(self, name: str) -> bool:
        """Drop ``name``'s entry; whether there was one."""
        if self.entries.pop(name, None) is None:
            return False
        await self._save()
        return True
