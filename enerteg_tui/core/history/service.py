"""The history service: collects every channel in memory, flushes, rolls up, answers queries.

Owns the collector (fed by the poller's sweep listener on the loop: a few ms per
sweep for 100 PDUs), the periodic flush (every ``config/core`` historyFlushSeconds,
aligned to multiples of it; all CPU-heavy encoding runs in a worker thread, the
write is one transaction), the retention purge, and the recovery roll-ups: a coarse
period that began before this run (a restart or crash inside it) is recomputed from
the finer tier in the database once it is complete, so a restart leaves no gap and
no duplicate beyond the downtime. Queries merge the database with the blocks not yet
written, so charts are current to the last 5 seconds.
Called by the controller (start/stop, sweep listener), the console charts, reports
and the export.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

from ..errors import Invalid
from ..live import DeviceLive, LiveState
from ..quantities import DC_PER_PHASE, DC_QUANTITIES, Channel, Component
from ..waiting import cancel_and_wait, run_every
from .collector import ABSENT, ChannelId, ClosedBlock, Collector, round_div
from .db import Block, ChunkWrite, HistoryDB, from_chunk, merge_blocks, to_chunk
from .tiers import RANGES, TIERS, retention_s

__all__ = ["HistoryService", "Point", "Series", "DC_QUANTITIES", "HISTORY_DB_NAME"]

log = logging.getLogger(__name__)

HISTORY_DB_NAME = "history.db"
"""The history database inside the data directory."""
CHART_POINTS = 360
"""Most points a chart series carries (a wide terminal shows ~300 braille columns)."""
FUTURE_SLACK_S = 86400
"""A roll-up watermark further than this ahead of the clock came from a clock set
wrong and then corrected; it is pulled back to now."""


@dataclass(frozen=True, slots=True)
class Point:
    """One block of a channel: start time and min, max, average in the quantity's unit."""

    t: float
    min: float
    max: float
    avg: float


class Series(NamedTuple):
    """A chart series: epoch times and the average, minimum and maximum at each."""

    t: list[float]
    avg: list[float]
    lo: list[float]
    hi: list[float]


def _key(channel: Channel | ChannelId) -> ChannelId:
    return channel.id if isinstance(channel, Channel) else channel


def downsample(points: list[Point], max_points: int) -> list[Point]:
    """Merge consecutive points so at most ``max_points`` remain (min of mins, max of
    maxes, mean of averages)."""
    if len(points) <= max_points:
        return points
    step = -(-len(points) // max_points)
    out = []
    for i in range(0, len(points), step):
        grp = points[i:i + step]
        out.append(Point(grp[0].t, min(p.min for p in grp), max(p.max for p in grp),
                         sum(p.avg for p in grp) / len(grp)))
    return out


class HistoryService:
    """Every channel's min/max/average over time, in four tiers.

    Args:
        data_dir: where ``history.db`` lives.
        live: live state (read by the sweep listener).
        core: returns the current ``config/core`` settings (flush interval, retention).
        clock: wall clock (tests inject a simulated one).
    """

    def __init__(self, data_dir: Path, live: LiveState, core: Callable[[], Any],
                 clock: Callable[[], float] = time.time) -> None:
        self.path = data_dir / HISTORY_DB_NAME
        self._core = core
        self._clock = clock
        self.collector = Collector(live)
        self.db: HistoryDB | None = None
        self._task: asyncio.Task[None] | None = None
        self._lock = asyncio.Lock()
        self._inflight: dict[int, dict[str, list[ClosedBlock]]] = {}
        self._rolled: dict[int, int | None] = {}
        self.flushes = 0
        self.last_flush_ms = 0.0
        self.flushed_until: float | None = None
        """Wall-clock time up to which every closed block is in the database."""

    # ------------------------------------------------------------------ lifecycle
    async def open(self) -> None:
        """Open the database (without the periodic flush: tests and the bench)."""
        self.db = await HistoryDB.open(self.path)
        for level in range(1, len(TIERS)):
            self._rolled[level] = await self.db.get_state(f"rolled{level}")
        self.flushed_until = await self.db.get_state("flushed_until")
        self.collector.floors = await self.db.counter_floors()

    async def start(self) -> None:
        """Open the database and start the periodic flush."""
        if self.db is None:
            await self.open()
        self._task = asyncio.create_task(self._run(), name="history-flush")

    async def stop(self) -> None:
        """Stop the periodic flush, write every block (open ones too) and close."""
        await cancel_and_wait(self._task)
        self._task = None
        if self.db is not None:
            try:
                await self.flush(final=True)
            except Exception:
                log.exception("history: final flush failed")
            await self.db.close()
            self.db = None

    def on_sweep(self) -> None:
        """Sweep listener: fold the new readings of every device into the open blocks."""
        self.collector.on_sweep()

    def on_device(self, live: DeviceLive) -> None:
        """Device listener: fold one device's new readings in (after its poll)."""
        self.collector.ingest(live.hex_id, live.groups, live.group_ts)

    async def _run(self) -> None:
        await run_every(self._until_flush, self.flush, logger=log,
                        failure="history: flush failed; the blocks are kept for the next one")

    def _until_flush(self) -> float:
        """Seconds until just after the next multiple of the flush period."""
        every = max(1, int(self._core().historyFlushSeconds))
        return every - (self._clock() % every) + 0.2

    # ------------------------------------------------------------------ flush
    async def flush(self, *, final: bool = False, now: float | None = None) -> None:
        """Write closed blocks of every tier, roll up finished periods, purge old chunks.

        Args:
            final: also close and write open blocks and unfinished periods (stop).
            now: the time to flush at (defaults to the clock).
        """
        assert self.db is not None
        async with self._lock:
            t0 = time.perf_counter()
            now = self._clock() if now is None else now
            col = self.collector
            if final:
                col.close_all()
            else:
                col.close_until(now)
            taken = {level: col.take(level, None if final or level != 1 else now)
                     for level in range(len(TIERS))}
            self._inflight = taken
            try:
                await self._write_taken(taken)
            except BaseException:
                for level, per_dev in taken.items():  # give them back for the next flush
                    for hex_id, blocks in per_dev.items():
                        col.devices[hex_id].pending[level][:0] = blocks
                raise
            finally:
                self._inflight = {}
            self.flushed_until = (now // TIERS[0].block_s) * TIERS[0].block_s
            await self.db.write([], [], {"flushed_until": self.flushed_until})
            await self._recover(now)
            await self._purge(now)
            self.flushes += 1
            self.last_flush_ms = (time.perf_counter() - t0) * 1000

    async def _write_taken(self, taken: dict[int, dict[str, list[ClosedBlock]]]) -> None:
        assert self.db is not None
        col = self.collector
        keys = {hex_id: list(col.devices[hex_id].keys) for per in taken.values() for hex_id in per}
        groups = await asyncio.to_thread(_columns, taken, keys)
        if not groups:
            return
        new = self.db.assign({k for (_, k, _) in groups})
        try:
            wanted: dict[tuple[int, int], set[int]] = defaultdict(set)
            for level, key, start in groups:
                wanted[(level, start)].add(self.db.channels[key])
            existing: dict[tuple[int, int, int], bytes] = {}
            for (level, start), chans in wanted.items():
                for cid, data in (await self.db.existing(level, start, chans)).items():
                    existing[(level, cid, start)] = data
            chunks = await asyncio.to_thread(_encode, groups, existing, self.db.channels)
            await self.db.write(new, chunks, {})
        except BaseException:
            self.db.forget(new)
            raise

    async def _recover(self, now: float) -> None:
        """Recompute coarse periods that began before this run, once they are complete."""
        assert self.db is not None
        run_start = self.collector.first_ts if self.collector.first_ts is not None else now
        for level in range(1, len(TIERS)):
            tier = TIERS[level]
            limit = tier.period_start(run_start)
            w = self._rolled.get(level)
            if w is None or w > now + FUTURE_SLACK_S:
                w = limit
            while w <= limit and w + tier.period_s <= now:
                nxt = await self.db.first_start(level - 1, w)
                if nxt is None or nxt > limit + tier.period_s:
                    w = limit + tier.period_s
                    break
                if nxt >= w + tier.period_s:
                    w = tier.period_start(nxt)
                    continue
                await self.rollup_period(level, w)
                w += tier.period_s
            if w != self._rolled.get(level):
                self._rolled[level] = w
                await self.db.write([], [], {f"rolled{level}": w})

    async def rollup_period(self, level: int, start: int) -> None:
        """Recompute the chunks of one period of ``level`` from the tier below in the
        database (every channel), replacing what is there."""
        assert self.db is not None
        tier = TIERS[level]
        rows = await self.db.range_all(level - 1, start, start + tier.period_s)
        chunks = await asyncio.to_thread(_rollup, level, start, rows)
        await self.db.write([], chunks, {})

    async def _purge(self, now: float) -> None:
        assert self.db is not None
        core = self._core()
        for tier in TIERS:
            await self.db.purge(tier.level, int(now) - retention_s(core, tier))

    # ------------------------------------------------------------------ queries
    async def read(self, channel: Channel | ChannelId, tier: int, t0: float, t1: float
                   ) -> list[Point]:
        """Blocks of one channel at one tier with start in [t0, t1), in its unit."""
        if not 0 <= tier < len(TIERS):
            raise Invalid(f"history tier {tier} does not exist; tiers are 0 to {len(TIERS) - 1}", thing="tier", value=tier,
                          allowed=f"0 to {len(TIERS) - 1}")
        key = _key(channel)
        return (await self.read_many([key], tier, t0, t1))[key]

    async def read_many(self, channels: list[ChannelId], tier: int, t0: float, t1: float
                        ) -> dict[ChannelId, list[Point]]:
        """Blocks of several channels (one query), each merged with unwritten blocks."""
        assert self.db is not None
        ids = {k: self.db.channel_id(k) for k in channels}
        stored = await self.db.read_many(tier, [c for c in ids.values() if c is not None], t0, t1)
        out: dict[ChannelId, list[Point]] = {}
        for key in channels:
            cid = ids[key]
            blocks = stored.get(cid, []) if cid is not None else []
            mem = self._memory(key, tier)
            if mem:
                blocks = merge_blocks(blocks, [b for b in mem if t0 <= b[0] < t1])
            sc = self.collector.scale(key[3])
            out[key] = [Point(float(t), lo / sc, hi / sc, a / sc) for t, lo, hi, a in blocks]
        return out

    def channels_of(self, hex_id: str) -> set[ChannelId]:
        """Every channel of a PDU the history knows (stored, or collected since the start)."""
        out = {k for k in (self.db.channels if self.db is not None else {}) if k[0] == hex_id}
        dev = self.collector.devices.get(hex_id)
        if dev is not None:
            out |= {(hex_id, c.value, i, q) for c, i, q in dev.keys}
        return out

    def _known(self, key: ChannelId) -> bool:
        """Whether the history holds ``key`` (stored, or collected since the start)."""
        assert self.db is not None
        return (self.db.channel_id(key) is not None
                or self.collector.slot(key[0], key[1], key[2], key[3]) is not None)

    def _memory(self, key: ChannelId, level: int) -> list[Block]:
        hex_id = key[0]
        slot = self.collector.slot(hex_id, key[1], key[2], key[3])
        if slot is None:
            return []
        out: list[Block] = []
        for b in self._inflight.get(level, {}).get(hex_id, []):
            if slot < len(b.av) and b.av[slot] != ABSENT:
                out.append((b.start, b.mn[slot], b.mx[slot], b.av[slot]))
        return out + self.collector.recent(hex_id, slot, level)

    async def series(self, channel: Channel | ChannelId, range_key: str, *,
                     now: float | None = None, max_points: int = CHART_POINTS) -> Series:
        """A chart range of one channel (``4h``, ``3d``, ``week``, ``month``, ``year``)."""
        spec = RANGES.get(range_key)
        if spec is None:
            raise Invalid(f"chart range {range_key!r} does not exist; ranges are {', '.join(RANGES)}", thing="range",
                          value=range_key, allowed=", ".join(RANGES))
        now = self._clock() if now is None else now
        pts = downsample(await self.read(channel, spec.tier, now - spec.span_s, now + 1),
                         max_points)
        return Series([p.t for p in pts], [p.avg for p in pts], [p.min for p in pts],
                      [p.max for p in pts])

    async def dc_series(self, devices: list[str], quantity: str, days: int,
                        phase: int | None = None, *, now: float | None = None,
                        max_points: int = CHART_POINTS) -> Series:
        """Sum over devices of a DC quantity over 1, 7, 14 or 30 days (manual §7.2.3).

        Per-phase quantities (current, powers) over all phases read each PDU's total
        (the sum of its phases, one channel instead of three: a 30-day room of 100
        PDUs decodes a third of the chunks), or the input phases for a PDU without a
        stored total; one phase reads that input phase. Residual and neutral current
        come from each PDU's totals. The average is the sum of averages; min and max
        are the sums of minima and maxima (bounds).
        """
        if quantity not in DC_QUANTITIES:
            raise Invalid(f"DC chart quantity {quantity!r} is not offered; choose one of "
                          f"{', '.join(DC_QUANTITIES)}", thing="quantity",
                          value=quantity, allowed=", ".join(DC_QUANTITIES))
        if days not in (1, 7, 14, 30):
            raise Invalid(f"DC chart range of {days} days is not offered; choose 1, 7, 14 or 30", thing="days",
                          value=days, allowed="1, 7, 14 or 30")
        if phase is not None and phase not in (1, 2, 3):
            raise Invalid(f"phase {phase} does not exist; choose 1, 2, 3 or all", thing="phase", value=phase,
                          allowed="1, 2, 3 or all")
        now = self._clock() if now is None else now
        assert self.db is not None
        keys: list[ChannelId] = []
        for d in devices:
            total: ChannelId = (d, Component.TOTAL.value, 0, quantity)
            if quantity not in DC_PER_PHASE or (phase is None and self._known(total)):
                keys.append(total)   # all phases: the PDU's total is their sum, one channel
            else:
                keys += [(d, Component.INPUT.value, p, quantity)
                         for p in ((phase,) if phase else (1, 2, 3))]
        tier = 1 if days == 1 else 2
        t0, t1 = now - days * 86400, now + 1
        ids = {k: self.db.channel_id(k) for k in keys}
        stored = await self.db.read_many(tier, [c for c in ids.values() if c is not None], t0, t1)
        acc: dict[int, list[int]] = {}  # fixed point: every key has the same quantity
        for key in keys:
            cid = ids[key]
            blocks = stored.get(cid, []) if cid is not None else []
            mem = self._memory(key, tier)
            if mem:
                blocks = merge_blocks(blocks, [b for b in mem if t0 <= b[0] < t1])
            for t, lo, hi, a in blocks:
                cur = acc.get(t)
                if cur is None:
                    acc[t] = [a, lo, hi]
                else:
                    cur[0] += a
                    cur[1] += lo
                    cur[2] += hi
        sc = self.collector.scale(quantity)
        pts = downsample([Point(float(t), v[1] / sc, v[2] / sc, v[0] / sc)
                          for t, v in sorted(acc.items())], max_points)
        return Series([p.t for p in pts], [p.avg for p in pts], [p.min for p in pts],
                      [p.max for p in pts])

    async def clear(self) -> None:
        """Delete every block, in memory and on disk (factory reset)."""
        assert self.db is not None
        async with self._lock:
            self.collector.settle()
            self.collector.devices.clear()  # with them the per-channel counter floors
            self.collector.floors = {}
            self.collector.first_ts = None
            async with self.db.store.transaction() as tx:
                for table in ("chunk", "channel", "state"):
                    await tx.execute(f"DELETE FROM {table}")
            self.db.channels.clear()
            self.db.by_id.clear()
            self._rolled = {}
            self.flushed_until = None

    async def size(self) -> dict[str, int]:
        """Rows and bytes per tier and the database file size."""
        assert self.db is not None
        out = await self.db.stats()
        out["file_bytes"] = sum(p.stat().st_size for p in self.path.parent.glob(self.path.name + "*"))
        return out


# ---------------------------------------------------------------------- thread work
def _columns(taken: dict[int, dict[str, list[ClosedBlock]]],
             keys: dict[str, list[Any]]) -> dict[tuple[int, ChannelId, int], list[Block]]:
    """Regroup closed blocks (device-major) into columns per (tier, channel, period)."""
    groups: dict[tuple[int, ChannelId, int], list[Block]] = defaultdict(list)
    for level, per_dev in taken.items():
        period = TIERS[level].period_s
        for hex_id, blocks in per_dev.items():
            names = [(hex_id, c.value, i, q) for c, i, q in keys[hex_id]]
            for b in blocks:
                p = b.start // period * period
                mn, mx = b.mn, b.mx
                for s, a in enumerate(b.av):
                    if a != ABSENT:
                        groups[(level, names[s], p)].append((b.start, mn[s], mx[s], a))
    return groups


def _encode(groups: dict[tuple[int, ChannelId, int], list[Block]],
            existing: dict[tuple[int, int, int], bytes], ids: dict[ChannelId, int]
            ) -> list[ChunkWrite]:
    out = []
    for (level, key, start), blocks in groups.items():
        cid = ids[key]
        old = existing.get((level, cid, start))
        merged = merge_blocks(from_chunk(level, start, old) if old else [], blocks)
        out.append(ChunkWrite(level, cid, start, to_chunk(level, start, merged)))
    return out


def _rollup(level: int, start: int, rows: list[tuple[int, int, bytes]]) -> list[ChunkWrite]:
    """Aggregate the source chunks of one coarse period into that period's chunks."""
    step = TIERS[level].block_s
    acc: dict[int, dict[int, list[int]]] = defaultdict(dict)
    for cid, src_start, data in rows:
        per = acc[cid]
        for t, lo, hi, a in from_chunk(level - 1, src_start, data):
            tb = t // step * step
            cur = per.get(tb)
            if cur is None:
                per[tb] = [lo, hi, a, 1]
            else:
                if lo < cur[0]:
                    cur[0] = lo
                if hi > cur[1]:
                    cur[1] = hi
                cur[2] += a
                cur[3] += 1
    out = []
    for cid, per in acc.items():
        blocks = [(t, v[0], v[1], round_div(v[2], v[3])) for t, v in sorted(per.items())]
        out.append(ChunkWrite(level, cid, start, to_chunk(level, start, blocks)))
    return out
