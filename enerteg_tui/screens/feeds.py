"""Feed A and B side by side on a rack's dashboard: current and power per phase and feed.

A rack is usually fed twice (A and B, manual §7.1.1); what an operator checks is that
either feed could carry the whole rack, so the two columns stand next to each other per
phase instead of on two pages. Each PDU counts towards the feed set in its
configuration; PDUs on feed C or D, or on none, get their own column only when the
rack has some, so nothing is hidden. Values are summed from the PDUs' live input
phases (a single-phase PDU counts on L1); a PDU without a value (not running) adds
nothing, and a feed with no value at all says how many PDUs it has.
"""

from __future__ import annotations

from collections.abc import Iterable

from rich.text import Text

from ..core.live import DeviceLive
from ..core.model import Feed
from ..core.quantities import Component
from .cells import value
from .livetable import Column, Row

__all__ = ["FEED_PHASES", "feed_columns", "feed_rows", "feeds_of"]

FEED_PHASES = (1, 2, 3)
"""Phases shown (single-phase PDUs contribute to L1)."""

ALWAYS_SHOWN = (Feed.A, Feed.B)
"""The two feeds of a dual-fed rack, shown even when one has no PDU."""


def feeds_of(devices: Iterable[DeviceLive]) -> list[Feed]:
    """A and B, then any other feed (C, D, none) some PDU of ``devices`` is set to."""
    present = {d.info.settings.feed for d in devices}
    return [*ALWAYS_SHOWN, *(f for f in Feed if f in present and f not in ALWAYS_SHOWN)]


def _label(feed: Feed) -> str:
    return "No feed" if feed is Feed.NONE else f"Feed {feed.value}"


def feed_columns(feeds: list[Feed]) -> list[Column]:
    """Phase, then current and power per feed."""
    cols = [Column("phase", "Phase", 5, "left")]
    for f in feeds:
        cols.append(Column(f"{f.value}-A", _label(f), 11))
        cols.append(Column(f"{f.value}-kW", "kW", 7))
    return cols


def feed_rows(devices: list[DeviceLive], feeds: list[Feed]) -> list[Row]:
    """One row per phase and a total row: each feed's summed current and active power."""
    sums: dict[tuple[Feed, int], dict[str, float]] = {}
    counts = {f: 0 for f in feeds}
    for d in devices:
        feed = d.info.settings.feed
        if feed not in counts:
            continue
        counts[feed] += 1
        for p in range(1, d.info.model.phases + 1):
            cell = sums.setdefault((feed, p), {})
            for q in ("current", "activePower"):
                v = d.value(Component.INPUT, p, q)
                if v is not None:
                    cell[q] = cell.get(q, 0.0) + v
    rows = []
    for p in FEED_PHASES:
        cells: dict[str, str | Text] = {"phase": f"L{p}"}
        for f in feeds:
            got = sums.get((f, p), {})
            cells[f"{f.value}-A"] = value("current", got.get("current")) if got else "—"
            w = got.get("activePower")
            cells[f"{f.value}-kW"] = f"{w / 1000:.2f}" if w is not None else "—"
        rows.append(Row(key=p, cells=cells))
    total: dict[str, str | Text] = {"phase": Text("Total", style="bold")}
    for f in feeds:
        cur = [s["current"] for (ff, _p), s in sums.items() if ff is f and "current" in s]
        pw = [s["activePower"] for (ff, _p), s in sums.items() if ff is f and "activePower" in s]
        total[f"{f.value}-A"] = (value("current", sum(cur)) if cur
                                 else Text(f"{counts[f]} PDUs", style="dim"))
        total[f"{f.value}-kW"] = f"{sum(pw) / 1000:.2f}" if pw else "—"
    rows.append(Row(key="total", cells=total))
    return rows
