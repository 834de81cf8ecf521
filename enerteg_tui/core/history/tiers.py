"""The tier plan of the history store: block length, chunk period and retention per tier.

Owns the arithmetic that decides the store's size (DESIGN.md, Storage): four tiers,
each a roll-up of the one below. A chunk (one channel, one period) holds at most
``period_s / block_s`` blocks; periods nest (each divides the next), so a coarse
period always covers whole finer periods. Retention comes from ``config/core``.
Called by the collector (block numbers), the database layer (periods, purge) and
the queries (which tier fits a range).
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Tier", "TIERS", "RANGES", "RangeSpec", "tier_for_span", "retention_s"]


@dataclass(frozen=True, slots=True)
class Tier:
    """One resolution of the history."""

    level: int
    """0 for the 5-second blocks, then 1, 2, 3 for coarser ones."""
    name: str
    """Short name used in docs, exports and the bench: 5s, 1m, 1h, 1d."""
    block_s: int
    """Length of one block (min, max, average) in seconds."""
    period_s: int
    """Length of the period one chunk row covers, in seconds (a multiple of block_s)."""
    retention_key: str
    """``config/core`` key holding this tier's retention."""
    retention_unit_s: int
    """Seconds per unit of that key (3600 for hours, 86400 for days)."""

    def block(self, t: float) -> int:
        """Block number (since the epoch) of wall-clock time ``t``."""
        return int(t // self.block_s)

    def period_start(self, t: float) -> int:
        """Start (epoch seconds) of the period that holds ``t``."""
        return int(t // self.period_s) * self.period_s


TIERS: tuple[Tier, ...] = (
    Tier(0, "5s", 5, 300, "historyKeep5sHours", 3600),
    Tier(1, "1m", 60, 3600, "historyKeep1mDays", 86400),
    Tier(2, "1h", 3600, 86400, "historyKeep1hDays", 86400),
    Tier(3, "1d", 86400, 30 * 86400, "historyKeep1dDays", 86400),
)
"""5 s blocks in 5-minute chunks (the manual's 5-second blocks, written every 5 minutes),
1-minute blocks in hourly chunks (3-day charts), hourly blocks in daily chunks
(week, month, year and the DC charts), daily blocks in 30-day chunks (long term)."""


@dataclass(frozen=True, slots=True)
class RangeSpec:
    """A chart range: how far back and which tier answers it."""

    span_s: int
    tier: int


RANGES: dict[str, RangeSpec] = {
    "4h": RangeSpec(4 * 3600, 0),
    "3d": RangeSpec(3 * 86400, 1),
    "week": RangeSpec(7 * 86400, 2),
    "month": RangeSpec(31 * 86400, 2),
    "year": RangeSpec(366 * 86400, 2),
}
"""The manual's chart ranges (§7.2.2, §8.5) besides realtime."""


def tier_for_span(span_s: float) -> int:
    """The finest tier whose retention plan still fits a time span (for reports)."""
    if span_s <= 4 * 3600:
        return 0
    if span_s <= 2 * 86400:
        return 1
    return 2


def retention_s(core: object, tier: Tier) -> int:
    """Retention of ``tier`` in seconds from the ``config/core`` settings model."""
    return int(getattr(core, tier.retention_key)) * tier.retention_unit_s
