"""Failed-login streaks per (account, source): back-off and lockout that lock out the
guesser, not everyone.

Why: a lockout per account let anyone lock the admin out from anywhere, and a back-off
per address whose cap equalled the 30 s login timeout refused the right admin password
for minutes. Here a streak belongs to one login name *and* one source address:

* after each failure the next try of that pair waits ``addressBackoffSeconds`` doubling,
  at most ``BACKOFF_CAP_S`` (8 s, well below the 30 s login timeout);
* after ``lockoutFailures`` failures in a row the pair is locked for ``lockoutMinutes``:
  the right password is refused *from that source*; another source, and every other
  account from that source, are not affected;
* the streak counts for names that do not exist as well, so "locked" says nothing about
  whether a user exists;
* the local faces (serial and local console) are never locked out (physical access is
  the recovery path); their failures still back off;
* locks survive a restart (kept in the store's ``meta`` table by ``core.users``, written
  only when a lock is set or cleared, so a flood of failures is not a flood of writes)
  and an admin clears them with ``unlock`` (shell, Users page, ``enerteg user unlock``);
* names are kept to ``MAX_NAME`` characters, so long made-up names cannot grow memory.

Pure bookkeeping: no I/O, a clock for tests.
"""

from __future__ import annotations

import json
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

__all__ = ["LockoutBook", "Streak", "LOCAL_FACES", "BACKOFF_CAP_S", "MAX_STREAKS", "META_KEY"]

BACKOFF_CAP_S = 8.0
"""Longest back-off before a login attempt (well below the 30 s login timeout)."""
LOCAL_FACES = frozenset({"serial", "local"})
"""Faces at the controller itself, exempt from lockout."""
MAX_STREAKS = 10_000
"""Streaks remembered (oldest forgotten first): random names cannot grow memory."""
FORGET_S = 24 * 3600.0
"""A streak with no failure for this long is forgotten."""
MAX_NAME = 64
"""Characters of a login name kept in a streak (real names have at most 32)."""
META_KEY = "login.lockout"
"""Key of the persisted streaks in the store's ``meta`` table."""


@dataclass(slots=True)
class Streak:
    """Failures in a row of one account from one source."""

    failures: int = 0
    last: float = 0.0
    locked_until: float = 0.0


class LockoutBook:
    """Streaks by (account, source).

    Args:
        policy: current ``config/auth`` (``lockoutFailures``, ``lockoutMinutes``,
            ``addressBackoffSeconds``).
        clock: wall clock (persisted times survive a restart).
    """

    def __init__(self, policy: Callable[[], object], clock: Callable[[], float] = time.time) -> None:
        self._policy = policy
        self._clock = clock
        self._streaks: OrderedDict[tuple[str, str], Streak] = OrderedDict()

    def clear(self) -> None:
        """Forget every streak and lock (factory reset)."""
        self._streaks.clear()

    def _get(self, account: str, source: str) -> Streak | None:
        account = account[:MAX_NAME]
        s = self._streaks.get((account, source))
        if s is not None and self._clock() - s.last > FORGET_S and s.locked_until < self._clock():
            del self._streaks[(account, source)]
            return None
        return s

    def delay(self, account: str, source: str) -> float:
        """Seconds to wait before checking the next password of ``account`` from ``source``."""
        s = self._get(account, source)
        base = float(getattr(self._policy(), "addressBackoffSeconds", 2))
        if s is None or s.failures == 0 or base == 0:
            return 0.0
        return min(BACKOFF_CAP_S, base * 2 ** (s.failures - 1))

    def locked(self, account: str, source: str, face: str = "") -> float:
        """Seconds ``account`` stays locked from ``source`` (0 = not locked)."""
        if face in LOCAL_FACES:
            return 0.0
        s = self._get(account, source)
        return max(0.0, s.locked_until - self._clock()) if s else 0.0

    def failed(self, account: str, source: str, face: str = "") -> int:
        """Count a failure; returns the lockout minutes if it locked the pair now, else 0."""
        key = (account[:MAX_NAME], source)
        s = self._streaks.pop(key, None) or Streak()
        self._streaks[key] = s
        while len(self._streaks) > MAX_STREAKS:
            self._streaks.popitem(last=False)
        now = self._clock()
        if s.locked_until and s.locked_until <= now:
            s.failures, s.locked_until = 0, 0.0      # a lock that ended starts a new streak
        s.failures += 1
        s.last = now
        policy = self._policy()
        limit = int(getattr(policy, "lockoutFailures", 5))
        if face not in LOCAL_FACES and s.failures >= limit and s.locked_until <= now:
            minutes = int(getattr(policy, "lockoutMinutes", 5))
            s.locked_until = now + minutes * 60
            return minutes
        return 0

    def succeeded(self, account: str, source: str) -> bool:
        """A login of ``account`` from ``source`` succeeded: its streak ends. True if that
        cleared a lock (one that ended, on a local face) — the persisted state changed."""
        s = self._streaks.pop((account[:MAX_NAME], source), None)
        return s is not None and s.locked_until > 0

    def unlock(self, account: str) -> int:
        """Forget every streak of ``account``; returns how many sources were locked."""
        keys = [k for k in self._streaks if k[0] == account]
        now = self._clock()
        locked = sum(1 for k in keys if self._streaks[k].locked_until > now)
        for k in keys:
            del self._streaks[k]
        return locked

    def locked_sources(self, account: str) -> dict[str, float]:
        """Sources ``account`` is locked from now, with seconds left."""
        now = self._clock()
        return {src: s.locked_until - now for (acc, src), s in self._streaks.items()
                if acc == account and s.locked_until > now}

    def dumps(self) -> str:
        """The locks still in force as JSON (for the store's ``meta``)."""
        now = self._clock()
        return json.dumps([[a, src, s.failures, s.last, s.locked_until]
                           for (a, src), s in self._streaks.items() if s.locked_until > now])

    def loads(self, text: str | None) -> None:
        """Replace the streaks with those of ``dumps`` (bad text: start empty)."""
        self._streaks.clear()
        try:
            rows = json.loads(text) if text else []
            for a, src, n, last, until in rows[-MAX_STREAKS:]:
                self._streaks[(str(a), str(src))] = Streak(int(n), float(last), float(until))
        except (ValueError, TypeError):
            self._streaks.clear()
