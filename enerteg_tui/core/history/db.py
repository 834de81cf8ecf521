"""The history database: chunk rows per (tier, channel, period), channels and watermarks.

Owns ``history.db`` (SQLite, WAL, its own numbered migrations, separate from the
controller database so that its size and write rate never slow settings or audit).
A chunk row holds the blocks of one channel in one period of one tier (``codec``);
writing merges with the row already there (newer blocks win at the same time), so a
restart inside a period or a clock set back never duplicates a block. Every write of
one flush commits in one transaction with the watermarks it advances: a kill -9
loses only what was not yet flushed, and the database always opens. Called by
``HistoryService`` and the export.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..quantities import BY_KEY
from ..store import Store
from . import codec
from .collector import COUNTERS, ChannelId, round_div
from .tiers import TIERS

__all__ = ["HISTORY_MIGRATIONS", "HistoryDB", "Block", "merge_blocks"]

HISTORY_MIGRATIONS: list[tuple[int, str]] = [
    (
        1,
        """
        CREATE TABLE channel (
            id INTEGER PRIMARY KEY,
            device TEXT NOT NULL,
            component TEXT NOT NULL,
            idx INTEGER NOT NULL,
            quantity TEXT NOT NULL,
            UNIQUE (device, component, idx, quantity)
        );
        CREATE TABLE chunk (
            tier INTEGER NOT NULL,
            channel INTEGER NOT NULL,
            start INTEGER NOT NULL,
            data BLOB NOT NULL,
            PRIMARY KEY (tier, channel, start)
        ) WITHOUT ROWID;
        CREATE INDEX chunk_time ON chunk (tier, start);
        CREATE TABLE state (
            key TEXT PRIMARY KEY,
            value TEXT NOT NULL
        )
        """,
    ),
]
"""Schema of history.db; ``PRAGMA user_version`` records the last applied."""

Block = tuple[int, int, int, int]
"""(start epoch seconds, min, max, avg) in fixed point."""


def merge_blocks(old: Iterable[Block], new: Iterable[Block]) -> list[Block]:
    """Blocks of both, sorted by time; two blocks of the same time are combined.

    Two blocks share a start when a reading stamped before a flush boundary arrives
    after it, when a stop wrote an unfinished block that the next run continues, or
    after the clock was set back over a stored period. Their minimum and maximum are
    exact; the average is the mean of both averages (blocks keep no sample count),
    clamped to the combined range. Combining a block with itself gives it back, so a
    block read both from the database and from memory while it is written counts once.
    """
    by_t = {b[0]: b for b in old}
    for b in new:
        cur = by_t.get(b[0])
        if cur is None or cur == b:
            by_t[b[0]] = b
            continue
        lo, hi = min(cur[1], b[1]), max(cur[2], b[2])
        avg = round_div(cur[3] + b[3], 2)
        by_t[b[0]] = (b[0], lo, hi, min(max(avg, lo), hi))
    return [by_t[t] for t in sorted(by_t)]


def to_chunk(tier: int, period_start: int, blocks: list[Block]) -> bytes:
    """Encode blocks (sorted, one period) as a chunk of ``tier``."""
    step = TIERS[tier].block_s
    return codec.encode([(b[0] - period_start) // step for b in blocks], [b[1] for b in blocks],
                        [b[2] for b in blocks], [b[3] for b in blocks])


def from_chunk(tier: int, period_start: int, data: bytes) -> list[Block]:
    """Decode a chunk of ``tier`` into blocks."""
    step = TIERS[tier].block_s
    offs, mins, maxs, avgs = codec.decode(data)
    return [(period_start + o * step, lo, hi, a) for o, lo, hi, a in zip(offs, mins, maxs, avgs)]


@dataclass(slots=True)
class ChunkWrite:
    """One chunk to write: replaces the row (the caller merged already)."""

    tier: int
    channel: int
    start: int
    data: bytes


class HistoryDB:
    """An open history database with the channel registry cached in memory."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.channels: dict[ChannelId, int] = {}
        self.by_id: dict[int, ChannelId] = {}
        self._next_id = 1

    @classmethod
    async def open(cls, path: Path) -> HistoryDB:
        """Open (creating and migrating) ``history.db`` and load the channel registry."""
        db = cls(await Store.open(path, HISTORY_MIGRATIONS))
        for cid, dev, comp, idx, q in await db.store.fetchall(
                "SELECT id, device, component, idx, quantity FROM channel"):
            key = (dev, comp, int(idx), q)
            db.channels[key] = int(cid)
            db.by_id[int(cid)] = key
            db._next_id = max(db._next_id, int(cid) + 1)
        return db

    async def close(self) -> None:
        """Checkpoint and close."""
        await self.store.close()

    # ------------------------------------------------------------------ channels
    def assign(self, keys: Iterable[ChannelId]) -> list[tuple[int, ChannelId]]:
        """Ids for channels, new ones allocated (returned, to be inserted with the flush)."""
        new: list[tuple[int, ChannelId]] = []
        for key in keys:
            if key not in self.channels:
                cid = self._next_id
                self._next_id += 1
                self.channels[key] = cid
                self.by_id[cid] = key
                new.append((cid, key))
        return new

    def forget(self, new: list[tuple[int, ChannelId]]) -> None:
        """Undo ``assign`` of channels whose flush failed."""
        for cid, key in new:
            self.channels.pop(key, None)
            self.by_id.pop(cid, None)

    def channel_id(self, key: ChannelId) -> int | None:
        """Id of a known channel."""
        return self.channels.get(key)

    # ------------------------------------------------------------------ rows
    async def existing(self, tier: int, start: int, channels: set[int] | None = None
                       ) -> dict[int, bytes]:
        """Chunk rows of one period of a tier (optionally only some channels)."""
        rows = await self.store.fetchall(
            "SELECT channel, data FROM chunk WHERE tier=? AND start=?", (tier, start))
        return {int(c): d for c, d in rows if channels is None or int(c) in channels}

    async def range_all(self, tier: int, start: int, end: int) -> list[tuple[int, int, bytes]]:
        """Every channel's chunks of ``tier`` whose period starts in [start, end)."""
        rows = await self.store.fetchall(
            "SELECT channel, start, data FROM chunk WHERE tier=? AND start>=? AND start<?",
            (tier, start, end))
        return [(int(c), int(s), d) for c, s, d in rows]

    async def read(self, tier: int, channel: int, t0: float, t1: float) -> list[Block]:
        """Stored blocks of one channel with start in [t0, t1)."""
        period = TIERS[tier].period_s
        p0 = int(t0 // period) * period
        rows = await self.store.fetchall(
            "SELECT start, data FROM chunk WHERE tier=? AND channel=? AND start>=? AND start<?",
            (tier, channel, p0, t1))
        out: list[Block] = []
        for start, data in rows:
            out += [b for b in from_chunk(tier, int(start), data) if t0 <= b[0] < t1]
        return out

    async def read_many(self, tier: int, channels: list[int], t0: float, t1: float
                        ) -> dict[int, list[Block]]:
        """Stored blocks of several channels with start in [t0, t1)."""
        period = TIERS[tier].period_s
        p0 = int(t0 // period) * period
        out: dict[int, list[Block]] = {c: [] for c in channels}
        for i in range(0, len(channels), 500):
            part = channels[i:i + 500]
            marks = ",".join("?" * len(part))
            rows = await self.store.fetchall(
                f"SELECT channel, start, data FROM chunk WHERE tier=? AND channel IN ({marks})"
                " AND start>=? AND start<?", (tier, *part, p0, t1))
            for c, start, data in rows:
                blocks = from_chunk(tier, int(start), data)
                if blocks and (blocks[0][0] < t0 or blocks[-1][0] >= t1):
                    blocks = [b for b in blocks if t0 <= b[0] < t1]
                out[int(c)] += blocks
        for blocks in out.values():
            blocks.sort()
        return out

    async def first_start(self, tier: int, after: int) -> int | None:
        """Earliest period start of ``tier`` at or after ``after``."""
        row = await self.store.fetchone("SELECT MIN(start) FROM chunk WHERE tier=? AND start>=?",
                                        (tier, after))
        return None if row is None or row[0] is None else int(row[0])

    async def write(self, new_channels: list[tuple[int, ChannelId]], chunks: list[ChunkWrite],
                    state: dict[str, Any]) -> None:
        """One flush: new channels, chunk rows and watermarks, all or nothing."""
        async with self.store.transaction() as tx:
            if new_channels:
                await tx.executemany(
                    "INSERT INTO channel (id, device, component, idx, quantity) VALUES (?,?,?,?,?)",
                    [(cid, *key) for cid, key in new_channels])
            if chunks:
                await tx.executemany(
                    "INSERT OR REPLACE INTO chunk (tier, channel, start, data) VALUES (?,?,?,?)",
                    [(c.tier, c.channel, c.start, c.data) for c in chunks])
            for key, value in state.items():
                await tx.execute("INSERT OR REPLACE INTO state (key, value) VALUES (?,?)",
                                 (key, json.dumps(value)))

    async def counter_floors(self) -> dict[ChannelId, float]:
        """The largest stored value of every counter channel (energy), in its unit.

        Reads the latest chunk of each counter channel in every tier (an index seek
        each), so a restart refuses counter readings below what is already stored.
        """
        out: dict[ChannelId, float] = {}
        marks = ",".join("?" * len(COUNTERS))
        for tier in range(len(TIERS)):
            rows = await self.store.fetchall(
                "SELECT c.channel, c.start, c.data FROM chunk c JOIN channel h ON h.id = c.channel"
                f" WHERE c.tier=? AND h.quantity IN ({marks}) AND c.start = (SELECT MAX(start)"
                " FROM chunk WHERE tier=c.tier AND channel=c.channel)", (tier, *sorted(COUNTERS)))
            for cid, start, data in rows:
                key = self.by_id.get(int(cid))
                blocks = from_chunk(tier, int(start), data)
                if key is None or not blocks:
                    continue
                q = BY_KEY.get(key[3])
                top = max(b[2] for b in blocks) / 10.0 ** (q.precision if q else 3)
                out[key] = max(out.get(key, top), top)
        return out

    async def get_state(self, key: str, default: Any = None) -> Any:
        """A watermark or other state value."""
        row = await self.store.fetchone("SELECT value FROM state WHERE key=?", (key,))
        return default if row is None else json.loads(row[0])

    async def purge(self, tier: int, before: int) -> None:
        """Delete chunks of ``tier`` whose whole period ended before ``before``."""
        period = TIERS[tier].period_s
        await self.store.execute("DELETE FROM chunk WHERE tier=? AND start<?",
                                 (tier, before - period))

    async def stats(self) -> dict[str, int]:
        """Rows and payload bytes per tier, and the file size (bench, docs)."""
        out: dict[str, int] = {}
        for tier, rows, size in await self.store.fetchall(
                "SELECT tier, COUNT(*), SUM(LENGTH(data)) FROM chunk GROUP BY tier"):
            out[f"rows_{TIERS[int(tier)].name}"] = int(rows)
            out[f"bytes_{TIERS[int(tier)].name}"] = int(size or 0)
        return out
