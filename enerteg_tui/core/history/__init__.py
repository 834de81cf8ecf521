"""Measurement history: 5-second blocks in memory, four tiers on disk, chart queries.

The package splits by layer: ``codec`` (compact chunk bytes), ``tiers`` (the tier
plan), ``collector`` (in-memory blocks, the sweep listener's hot path), ``db`` (the
history database) and ``service`` (flush, roll-ups, queries). See docs/history.md.
"""

from .service import DC_QUANTITIES, HISTORY_DB_NAME, HistoryService, Point, Series
from .tiers import RANGES, TIERS, Tier

__all__ = ["HistoryService", "Point", "Series", "DC_QUANTITIES", "HISTORY_DB_NAME", "RANGES",
           "TIERS", "Tier"]
