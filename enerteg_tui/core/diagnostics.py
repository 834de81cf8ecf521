"""Per-PDU bus diagnostics (manual §8.7 "diagnostics", issue 19 item 6).

Owns ``BusStats``: what the poller measures about talking to one PDU — the answer time
of each successful query (a window of recent ones for p50/p99), timeouts, retries,
failed queries, the last error and when, and the uptime the PDU reports. The poller is
its only writer (``Poller._poll_one``); ``diag_document`` is the one rendering every
face uses (the topic ``sensor/<hexid>/diag`` and the console's Diagnostics tab), so
the figures and their names are the same everywhere.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from typing import Any

__all__ = ["BusStats", "WINDOW", "diag_document", "percentile"]

WINDOW = 200
"""Answer times kept per PDU for the percentiles: 200 polls are 16 minutes at 5 s."""


def percentile(values: "deque[float] | list[float]", pct: float) -> float | None:
    """Nearest-rank percentile of ``values`` (None when empty)."""
    data = sorted(values)
    if not data:
        return None
    k = min(len(data) - 1, max(0, round(pct / 100 * (len(data) - 1))))
    return data[k]


@dataclass(slots=True)
class BusStats:
    """What the poller measured about one PDU on the databus since the controller started."""

    answer_ms: deque[float] = field(default_factory=lambda: deque(maxlen=WINDOW))
    """Answer times (ms) of the recent successful queries, retries included."""
    queries: int = 0
    """Queries sent (first tries and retries)."""
    answers: int = 0
    """Queries answered."""
    timeouts: int = 0
    """Queries the PDU did not answer within the driver's timeout."""
    retries: int = 0
    """Queries repeated within the same sweep after a failed one."""
    failures: int = 0
    """Queries that failed for another reason (a garbled answer, the link gone)."""
    last_error: str = ""
    last_error_at: float | None = None
    """Wall-clock time of the last failed query."""
    uptime_s: float | None = None
    """Seconds since the PDU's last start, as it reported at ``uptime_at``."""
    uptime_at: float | None = None

    def answered(self, ms: float) -> None:
        """Count one answered query that took ``ms``."""
        self.queries += 1
        self.answers += 1
        self.answer_ms.append(ms)

    def failed(self, why: str, at: float, *, timeout: bool) -> None:
        """Count one failed query."""
        self.queries += 1
        if timeout:
            self.timeouts += 1
        else:
            self.failures += 1
        self.last_error, self.last_error_at = why, at

    def uptime(self, now: float) -> float | None:
        """The PDU's uptime at ``now`` from its last report (None if it never said)."""
        if self.uptime_s is None or self.uptime_at is None:
            return None
        return self.uptime_s + max(0.0, now - self.uptime_at)


def _ms(t: float | None) -> int | None:
    return None if t is None else int(t * 1000)


def _r(v: float | None) -> float | None:
    return None if v is None else round(v, 2)


def diag_document(live: Any, now: float) -> dict[str, Any]:
    """The ``sensor/<hexid>/diag/_data`` document (times in ms since the epoch).

    Args:
        live: a ``core.live.DeviceLive`` (not imported: ``live`` imports this module).
        now: wall-clock time for the uptime and ``ts``.
    """
    s = live.diag
    ident = live.info.identification
    uptime = s.uptime(now) if not live.stale else None
    return {
        "ts": _ms(now), "state": live.state.value, "ringPosition": live.info.position,
        "firmware": ident.firmware_version, "hardware": ident.hardware_version,
        "uptimeS": None if uptime is None else int(uptime),
        "answerMsP50": _r(percentile(s.answer_ms, 50)),
        "answerMsP99": _r(percentile(s.answer_ms, 99)),
        "answerMsLast": _r(s.answer_ms[-1] if s.answer_ms else None),
        "window": len(s.answer_ms), "queries": s.queries, "answers": s.answers,
        "timeouts": s.timeouts, "retries": s.retries, "failures": s.failures,
        "missedSweeps": live.missed, "lastError": s.last_error or None,
        "lastErrorAt": _ms(s.last_error_at), "lastOkAt": _ms(live.last_ok_at),
    }
