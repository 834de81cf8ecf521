"""In-memory history blocks: every channel's samples folded into 5-second blocks and up.

Owns the blocks not yet written to the history database. The poller's sweep listener
feeds it the readings of each device (only readings with a new timestamp, so a stale
PDU adds nothing); each reading updates the open 5-second block of its channels
(min, max, sum, count as plain floats in per-device lists: no allocation per value).
When a reading falls into a later block the open block is closed into fixed-point
integers (``array('i')``, the catalogue's precision) and folded into the open
1-minute block, which folds into the hour, which folds into the day: every tier is
built as the data arrive, so the flush writes rather than recomputes. Invariants:
min <= avg <= max in every closed block; a coarse block's min/max are the min/max of
its inputs and its average is the mean of their averages (rounded); a clock that
jumps backward merely closes the open block and opens an earlier one (the database
merges, newer wins); an energy counter never goes down in the history: a reading below
the largest one seen for its channel (in this run, or stored before it: ``floors``) is
refused and counted in ``refused``. Called by ``HistoryService`` (sweep listener, flush, queries).
"""

from __future__ import annotations

import asyncio
from array import array
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from ..live import LiveState
from ..model import GroupKey
from ..quantities import BY_KEY, COUNTER_QUANTITIES, ChannelId, Component
from .tiers import TIERS

__all__ = ["ABSENT", "COUNTERS", "ChannelId", "ClosedBlock", "Collector"]

ABSENT = -(2**31)
"""Marks a slot with no value in a closed block."""
_MAX = 2**31 - 1
_MIN = -(2**31) + 1

COUNTERS = COUNTER_QUANTITIES
"""Quantities that are counters: a real meter's counter never decreases."""


def _fix(x: float) -> int:
    v = round(x)
    return _MAX if v > _MAX else _MIN if v < _MIN else v


@dataclass(slots=True)
class ClosedBlock:
    """One finished block of one device at one tier: fixed-point values per slot."""

    start: int
    """Block start, epoch seconds."""
    mn: array
    mx: array
    av: array


@dataclass(slots=True)
class _Coarse:
    """The open block of one coarse tier (1 min, 1 h, 1 d) of one device."""

    block: int | None = None
    mn: list[int] = field(default_factory=list)
    mx: list[int] = field(default_factory=list)
    sm: list[int] = field(default_factory=list)
    n: list[int] = field(default_factory=list)


@dataclass(slots=True)
class _Device:
    """Accumulators of one device."""

    slots: dict[GroupKey, dict[str, int]] = field(default_factory=dict)
    keys: list[tuple[Component, int, str]] = field(default_factory=list)
    scale: list[float] = field(default_factory=list)
    last_ts: dict[GroupKey, float] = field(default_factory=dict)
    block: int | None = None
    mn: list[float] = field(default_factory=list)
    mx: list[float] = field(default_factory=list)
    sm: list[float] = field(default_factory=list)
    n: list[int] = field(default_factory=list)
    floor: list[float | None] = field(default_factory=list)
    """Per slot: the largest counter reading so far (None: not a counter)."""
    coarse: list[_Coarse] = field(default_factory=lambda: [_Coarse() for _ in TIERS[1:]])
    pending: list[list[ClosedBlock]] = field(default_factory=lambda: [[] for _ in TIERS])
    """Closed blocks per tier not yet handed to the flush."""


class Collector:
    """Builds the blocks of every tier in memory from live readings.

    Args:
        live: live state, read by ``on_sweep``.
    """

    def __init__(self, live: LiveState | None = None) -> None:
        self._live = live
        self.devices: dict[str, _Device] = {}
        self.samples = 0
        """Values folded in since start (bench and tests)."""
        self.first_ts: float | None = None
        """Timestamp of the first reading of this run."""
        self._closing: deque[tuple[_Device, tuple[Any, ...]]] = deque()
        """5-second blocks taken off the accumulators, waiting to be encoded and folded.
        When a block boundary passes, every device closes a block in the same sweep
        (~0.6 ms each, 60-80 ms for 100 PDUs): done one device per loop turn, so keys
        and console frames are not held up behind all of them."""
        self._closer: asyncio.Handle | None = None
        self.floors: dict[ChannelId, float] = {}
        """Largest counter value stored before this run, per channel (set on open)."""
        self.refused = 0
        """Counter readings refused because they were below one already stored."""

    # ------------------------------------------------------------------ hot path
    def on_sweep(self) -> None:
        """Sweep listener: fold every device's new readings into the open blocks."""
        assert self._live is not None
        for hex_id, live in self._live.devices.items():
            self.ingest(hex_id, live.groups, live.group_ts)

    def ingest(self, hex_id: str, groups: dict[GroupKey, dict[str, float]],
               group_ts: dict[GroupKey, float] | float) -> None:
        """Fold one device's readings in; ``group_ts`` is per group or one time for all."""
        dev = self.devices.get(hex_id)
        if dev is None:
            dev = self.devices[hex_id] = _Device()
        last = dev.last_ts
        one_ts = group_ts if isinstance(group_ts, float | int) else None
        mn, mx, sm, n = dev.mn, dev.mx, dev.sm, dev.n
        floor = dev.floor
        count = 0
        for key, vals in groups.items():
            ts = one_ts if one_ts is not None else group_ts.get(key)  # type: ignore[union-attr]
            if ts is None or last.get(key) == ts:
                continue
            last[key] = ts
            if self.first_ts is None:
                self.first_ts = float(ts)
            b = int(ts // 5)
            if b != dev.block:
                if dev.block is not None:
                    self._close(dev, defer=True)
                    mn, mx, sm, n = dev.mn, dev.mx, dev.sm, dev.n
                dev.block = b
            slots = dev.slots.get(key)
            if slots is None:
                slots = dev.slots[key] = {}
            for q, v in vals.items():
                s = slots.get(q)
                if s is None:
                    s = self._new_slot(hex_id, dev, key, q)
                    mn, mx, sm, n = dev.mn, dev.mx, dev.sm, dev.n
                f = floor[s]
                if f is not None:
                    if v < f:
                        self.refused += 1
                        continue
                    floor[s] = v
                if n[s]:
                    if v < mn[s]:
                        mn[s] = v
                    if v > mx[s]:
                        mx[s] = v
                    sm[s] += v
                    n[s] += 1
                else:
                    mn[s] = mx[s] = sm[s] = v
                    n[s] = 1
                count += 1
        self.samples += count

    def _new_slot(self, hex_id: str, dev: _Device, key: GroupKey, q: str) -> int:
        s = len(dev.keys)
        dev.floor.append(self.floors.get((hex_id, key[0].value, key[1], q), float("-inf"))
                         if q in COUNTERS else None)
        dev.slots[key][q] = s
        dev.keys.append((key[0], key[1], q))
        dev.scale.append(10.0 ** BY_KEY[q].precision if q in BY_KEY else 1000.0)
        dev.mn.append(0.0)
        dev.mx.append(0.0)
        dev.sm.append(0.0)
        dev.n.append(0)
        return s

    # ------------------------------------------------------------------ closing
    def _close(self, dev: _Device, defer: bool = False) -> None:
        """Close the open 5-second block: take it off the accumulators now, encode it
        into integers and fold it upward now or (``defer``, on a running loop) soon."""
        size = len(dev.keys)
        assert dev.block is not None
        taken = (dev.block, size, dev.mn, dev.mx, dev.sm, dev.n, list(dev.scale))
        dev.block = None
        dev.mn = [0.0] * size
        dev.mx = [0.0] * size
        dev.sm = [0.0] * size
        dev.n = [0] * size
        self._closing.append((dev, taken))
        if defer:
            try:
                loop = asyncio.get_running_loop()
            except RuntimeError:
                loop = None
            if loop is not None:
                if self._closer is None:
                    self._closer = loop.call_soon(self._close_one)
                return
        self.settle()

    def _close_one(self) -> None:
        self._closer = None
        if self._closing:
            self._encode(*self._closing.popleft())
        if self._closing:
            self._closer = asyncio.get_running_loop().call_soon(self._close_one)

    def settle(self) -> None:
        """Finish every deferred block close now (before reading or flushing)."""
        while self._closing:
            self._encode(*self._closing.popleft())

    def _encode(self, dev: _Device, taken: tuple[Any, ...]) -> None:
        start, size, fmn, fmx, fsm, n, scale = taken
        mn = array("i", [ABSENT]) * size
        mx = array("i", [ABSENT]) * size
        av = array("i", [ABSENT]) * size
        for s in range(size):
            c = n[s]
            if c:
                sc = scale[s]
                lo = _fix(fmn[s] * sc)
                hi = _fix(fmx[s] * sc)
                a = _fix(fsm[s] / c * sc)
                mn[s] = lo
                mx[s] = hi
                av[s] = lo if a < lo else hi if a > hi else a
        block = ClosedBlock(start * TIERS[0].block_s, mn, mx, av)
        dev.pending[0].append(block)
        self._fold(dev, 1, block)

    def _fold(self, dev: _Device, level: int, src: ClosedBlock) -> None:
        if level >= len(TIERS):
            return
        acc = dev.coarse[level - 1]
        b = src.start // TIERS[level].block_s
        if acc.block is not None and b != acc.block:
            self._close_coarse(dev, level)
        size = len(src.av)
        if acc.block is None:
            acc.block = b
            acc.mn = [0] * size
            acc.mx = [0] * size
            acc.sm = [0] * size
            acc.n = [0] * size
        elif len(acc.n) < size:
            grow = size - len(acc.n)
            acc.mn += [0] * grow
            acc.mx += [0] * grow
            acc.sm += [0] * grow
            acc.n += [0] * grow
        amn, amx, asm, an = acc.mn, acc.mx, acc.sm, acc.n
        smn, smx = src.mn, src.mx
        for s, v in enumerate(src.av):
            if v == ABSENT:
                continue
            if an[s]:
                if smn[s] < amn[s]:
                    amn[s] = smn[s]
                if smx[s] > amx[s]:
                    amx[s] = smx[s]
                asm[s] += v
                an[s] += 1
            else:
                amn[s] = smn[s]
                amx[s] = smx[s]
                asm[s] = v
                an[s] = 1

    def _close_coarse(self, dev: _Device, level: int) -> None:
        acc = dev.coarse[level - 1]
        size = len(acc.n)
        mn = array("i", [ABSENT]) * size
        mx = array("i", [ABSENT]) * size
        av = array("i", [ABSENT]) * size
        for s in range(size):
            c = acc.n[s]
            if c:
                mn[s] = acc.mn[s]
                mx[s] = acc.mx[s]
                av[s] = round_div(acc.sm[s], c)
        assert acc.block is not None
        block = ClosedBlock(acc.block * TIERS[level].block_s, mn, mx, av)
        acc.block = None
        dev.pending[level].append(block)
        self._fold(dev, level + 1, block)

    def close_until(self, now: float) -> None:
        """Close every open block (each tier) that ended at or before ``now``."""
        self.settle()
        for dev in self.devices.values():
            if dev.block is not None and (dev.block + 1) * TIERS[0].block_s <= now:
                self._close(dev)
            for level in range(1, len(TIERS)):
                acc = dev.coarse[level - 1]
                if acc.block is not None and (acc.block + 1) * TIERS[level].block_s <= now:
                    self._close_coarse(dev, level)

    def close_all(self) -> None:
        """Close every open block, finished or not (controller stopping)."""
        self.settle()
        for dev in self.devices.values():
            if dev.block is not None:
                self._close(dev)
            for level in range(1, len(TIERS)):
                if dev.coarse[level - 1].block is not None:
                    self._close_coarse(dev, level)

    # ------------------------------------------------------------------ reading
    def take(self, level: int, before: float | None = None) -> dict[str, list[ClosedBlock]]:
        """Remove and return closed blocks of ``level`` per device (those whose chunk
        period ended at or before ``before``, or all when None)."""
        self.settle()
        out: dict[str, list[ClosedBlock]] = {}
        period = TIERS[level].period_s
        for hex_id, dev in self.devices.items():
            pend = dev.pending[level]
            if not pend:
                continue
            if before is None:
                out[hex_id], dev.pending[level] = pend, []
                continue
            keep = [b for b in pend if (b.start // period + 1) * period > before]
            done = [b for b in pend if (b.start // period + 1) * period <= before]
            if done:
                out[hex_id] = done
                dev.pending[level] = keep
        return out

    def channel(self, hex_id: str, slot: int) -> ChannelId:
        """The channel of a device's slot."""
        comp, idx, q = self.devices[hex_id].keys[slot]
        return (hex_id, comp.value, idx, q)

    def slot(self, hex_id: str, component: str, index: int, quantity: str) -> int | None:
        """A channel's slot in its device's accumulators, or None."""
        dev = self.devices.get(hex_id)
        if dev is None:
            return None
        slots = dev.slots.get((Component(component), index))
        return None if slots is None else slots.get(quantity)

    def recent(self, hex_id: str, slot: int, level: int) -> list[tuple[int, int, int, int]]:
        """Unwritten closed blocks plus the open one of a channel at ``level``:
        (start, min, max, avg) in fixed point, oldest first."""
        self.settle()
        dev = self.devices.get(hex_id)
        if dev is None:
            return []
        out = [(b.start, b.mn[slot], b.mx[slot], b.av[slot]) for b in dev.pending[level]
               if slot < len(b.av) and b.av[slot] != ABSENT]
        if level == 0:
            if dev.block is not None and slot < len(dev.n) and dev.n[slot]:
                sc = dev.scale[slot]
                lo, hi = _fix(dev.mn[slot] * sc), _fix(dev.mx[slot] * sc)
                a = min(hi, max(lo, _fix(dev.sm[slot] / dev.n[slot] * sc)))
                out.append((dev.block * TIERS[0].block_s, lo, hi, a))
        else:
            acc = dev.coarse[level - 1]
            if acc.block is not None and slot < len(acc.n) and acc.n[slot]:
                out.append((acc.block * TIERS[level].block_s, acc.mn[slot], acc.mx[slot],
                             round_div(acc.sm[slot], acc.n[slot])))
        return out

    def scale(self, quantity: str) -> float:
        """Fixed-point scale of a quantity."""
        return 10.0 ** BY_KEY[quantity].precision if quantity in BY_KEY else 1000.0


def round_div(total: int, count: int) -> int:
    """``total / count`` rounded half away from zero, in integers (exact)."""
    q, r = divmod(abs(total), count)
    if 2 * r >= count:
        q += 1
    return q if total >= 0 else -q
