"""Admission of network logins: how many may be under way, how fast one source may come
back, and how many password checks the controller spends per second.

Why: every connection's key exchange and every password check (argon2id, ~45 ms of a
core) run beside the poller on a two-core controller. A per-address back-off alone is
bypassed by rotating source addresses (2,002 tries in 12 s at 100 % CPU from
127.0.0.x), so three bounds apply, after OpenSSH's ``MaxStartups`` and
``PerSourcePenalties``:

* ``MaxStartups start:rate:full`` — with ``start`` connections still logging in, a new
  one is refused with probability ``rate`` %, rising linearly to 100 % at ``full``;
* per source: a new-connection rate (token bucket) and a penalty for each failed login
  that, once it passes a threshold, refuses the source's new connections until it has
  drained (it drains one second per second, capped);
* ``VerifyBudget``: password verifications per second for the whole controller, so the
  argon2 CPU stays bounded whatever the number of sources (a caller waits for its
  turn; waiting costs no CPU).

Faces (the SSH server) call ``Admission``; ``core.users`` spends the ``VerifyBudget``.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

__all__ = ["Admission", "MaxStartups", "TokenBucket", "VerifyBudget", "MAX_SOURCES"]

MAX_SOURCES = 4096
"""Sources remembered at once (oldest forgotten first), so a flood of addresses cannot
grow memory without bound."""


@dataclass(frozen=True, slots=True)
class MaxStartups:
    """OpenSSH's ``MaxStartups start:rate:full`` for connections still logging in."""

    start: int = 20
    rate: int = 30
    full: int = 24

    def drop_probability(self, in_progress: int) -> float:
        """Chance of refusing a new connection when ``in_progress`` others are logging in."""
        if in_progress < self.start:
            return 0.0
        if in_progress >= self.full:
            return 1.0
        span = max(1, self.full - self.start)
        return (self.rate + (100 - self.rate) * (in_progress - self.start) / span) / 100


class TokenBucket:
    """``rate`` tokens a second, at most ``burst`` saved up."""

    def __init__(self, rate: float, burst: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.rate, self.burst, self._clock = rate, burst, clock
        self._tokens, self._at = burst, clock()

    def _refill(self) -> None:
        now = self._clock()
        self._tokens = min(self.burst, self._tokens + (now - self._at) * self.rate)
        self._at = now

    def try_take(self) -> bool:
        """Take a token if one is there now."""
        self._refill()
        if self._tokens >= 1:
            self._tokens -= 1
            return True
        return False

    def reserve(self) -> float:
        """Take a token (possibly in debt); seconds to wait before using it."""
        self._refill()
        self._tokens -= 1
        return 0.0 if self._tokens >= 0 else -self._tokens / self.rate


class VerifyBudget:
    """Password verifications per second for the whole controller (argon2 CPU bound).

    The default, 12 a second with 24 saved up, keeps argon2 under about half of one core
    (~45 ms each) while twenty operators logging in at once all get in within a second.
    """

    def __init__(self, rate: float = 12.0, burst: float = 24.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.bucket = TokenBucket(rate, burst, clock)

    async def spend(self) -> None:
        """Wait for this verification's turn."""
        wait = self.bucket.reserve()
        if wait > 0:
            await asyncio.sleep(wait)


@dataclass(slots=True)
class _Source:
    bucket: TokenBucket
    penalty: float = 0.0
    at: float = 0.0


class Admission:
    """Decides whether a new network connection may start logging in.

    Args:
        startups: the ``MaxStartups`` triple.
        conn_rate, conn_burst: new connections per second per source.
        authfail_penalty: seconds of penalty per failed login from a source.
        penalty_min: penalty at which the source's new connections are refused.
        penalty_max: most penalty a source can hold.
        clock, rng: for tests.
    """

    def __init__(self, startups: MaxStartups = MaxStartups(), conn_rate: float = 10.0,
                 conn_burst: float = 30.0, authfail_penalty: float = 2.0,
                 penalty_min: float = 15.0, penalty_max: float = 60.0,
                 clock: Callable[[], float] = time.monotonic,
                 rng: random.Random | None = None) -> None:
        self.startups = startups
        self.conn_rate, self.conn_burst = conn_rate, conn_burst
        self.authfail_penalty, self.penalty_min, self.penalty_max = (
            authfail_penalty, penalty_min, penalty_max)
        self._clock = clock
        self.rng = rng or random.Random()
        """Draws MaxStartups' random early drops (a test may fix it)."""
        self._sources: OrderedDict[str, _Source] = OrderedDict()

    def _source(self, source: str) -> _Source:
        s = self._sources.get(source)
        if s is None:
            s = _Source(TokenBucket(self.conn_rate, self.conn_burst, self._clock), 0.0,
                        self._clock())
            self._sources[source] = s
            while len(self._sources) > MAX_SOURCES:
                self._sources.popitem(last=False)
        else:
            self._sources.move_to_end(source)
        now = self._clock()
        s.penalty = max(0.0, s.penalty - (now - s.at))
        s.at = now
        return s

    def penalty(self, source: str) -> float:
        """Seconds of penalty ``source`` holds now."""
        return self._source(source).penalty if source in self._sources else 0.0

    def admit(self, source: str, in_progress: int) -> str | None:
        """None to admit a new connection from ``source``, else why it is refused.

        ``in_progress``: other connections still logging in (this one not counted).
        """
        if self.rng.random() < self.startups.drop_probability(in_progress):
            return (f"too many connections logging in ({in_progress}; MaxStartups "
                    f"{self.startups.start}:{self.startups.rate}:{self.startups.full})")
        s = self._source(source)
        if s.penalty >= self.penalty_min:
            return (f"too many failed logins from {source} (new connections refused for "
                    f"another {int(s.penalty - self.penalty_min) + 1} s)")
        if not s.bucket.try_take():
            return (f"too many new connections from {source} (at most {self.conn_rate:g} a "
                    "second)")
        return None

    def auth_failed(self, source: str) -> None:
        """Note a failed login from ``source``."""
        s = self._source(source)
        s.penalty = min(self.penalty_max, s.penalty + self.authfail_penalty)
