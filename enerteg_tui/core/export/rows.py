"""The rows an export writes: flushed 5-second history blocks after a watermark, batched.

Owns the one row layout every sink shares (``COLUMNS``: time, device, device name,
component, index, quantity, unit, min, avg, max) and the turning of history chunks
into encoded rows. A *watermark* is an epoch second, a multiple of 5: every block
that starts before it has been exported, none at or after it. The reader works one
5-minute chunk period of the finest tier at a time: it decodes every channel's chunk
of the period once (in a worker thread, into compact per-block-time columns), splits
the period into batches of whole 5-second block times of about ``BATCH_ROWS`` rows
(one block time of every channel is the smallest batch, so a watermark always falls
between block times), and encodes each batch as CSV or JSON lines, again in a worker
thread. The event loop only schedules. Every ``PACE_ROWS`` rows (``PACE_CHUNKS``
chunks) a worker thread gives the event loop a turn (``LoopTurn``: it waits until the
loop has run the callbacks ready at that moment) and hands each C-level call a slice of
at most that many rows: a Python thread that never lets go of the interpreter lock makes
the event loop wait for it, and the export is never urgent. Called by ``ExportService``.
"""

from __future__ import annotations

import asyncio
import csv
import io
import json
import logging
import threading
from array import array
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from ..errors import Invalid
from ..history.collector import ChannelId
from ..history.db import from_chunk
from ..history.tiers import TIERS
from ..quantities import BY_KEY, Component

__all__ = ["COLUMNS", "BATCH_ROWS", "LoopTurn", "no_turn", "ChannelMeta", "Batch", "Period",
           "decode_period", "describe", "plan_batches", "encode_rows", "csv_header", "iso_time"]

log = logging.getLogger(__name__)

COLUMNS: tuple[str, ...] = ("time", "device", "device_name", "component", "index", "quantity",
                            "unit", "min", "avg", "max")
"""Column names of every export (CSV header, JSON keys, PostgreSQL columns)."""
BATCH_ROWS = 40_000
"""Rows aimed at per batch (one transaction, one file append). A batch always holds
whole block times, so with more channels than this a batch is one block time."""
PACE_ROWS = 1000
"""Rows a worker thread encodes between two turns of the event loop."""
PACE_CHUNKS = 250
"""Chunks a worker thread decodes between two turns of the event loop."""
TURN_LIMIT_S = 1.0
"""Longest a worker waits for its turn to come back (a loop that has stopped)."""
BLOCK_S = TIERS[0].block_s
PERIOD_S = TIERS[0].period_s


class LoopTurn:
    """Called from a worker thread: returns once the event loop has had a turn.

    It queues a callback on the loop (``call_soon_threadsafe``, which wakes the loop)
    and blocks on a ``threading.Event`` that callback sets, so the worker lets go of the
    interpreter lock exactly until the loop has run every callback that was ready — no
    guessed sleep, however busy the loop or the machine. On a closed loop it returns at
    once; a loop that is not running (stopping) releases it after ``TURN_LIMIT_S``.
    """

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self._done = threading.Event()

    def __call__(self) -> None:
        self._done.clear()
        try:
            self._loop.call_soon_threadsafe(self._done.set)
        except RuntimeError:        # the loop is closed: nothing to give way to
            return
        self._done.wait(TURN_LIMIT_S)


def no_turn() -> None:
    """The pause of a caller without an event loop to give way to (tests, tools)."""


@dataclass(frozen=True, slots=True)
class ChannelMeta:
    """What a row says about its channel besides the values."""

    device: str
    """Hex id of the PDU."""
    device_name: str
    component: str
    """Component word: total, input, branch, outlet, sensor."""
    index: int
    quantity: str
    """camelCase quantity key (``activePower``)."""
    unit: str
    scale: float
    """Fixed-point scale of the stored values (10 ** precision)."""


@dataclass(slots=True)
class Batch:
    """Encoded rows of whole block times, and the watermark they advance to."""

    until: int
    """Watermark once this batch is written: every block before it is exported."""
    rows: int = 0
    data: bytes = b""
    """Rows encoded for the sink (CSV without header, or JSON lines)."""
    day: str = ""
    """UTC day (YYYY-MM-DD) of the rows (a chunk period never crosses midnight)."""


Columns = tuple[array, array, array, array]
"""Channel ids, minima, maxima and averages of every channel at one block time."""


@dataclass(slots=True)
class Period:
    """One decoded chunk period of the finest tier, by block time."""

    blocks: dict[int, Columns]
    damaged: int = 0
    """Chunks that could not be decoded (skipped)."""

    def times(self) -> list[int]:
        """Block times present, oldest first."""
        return sorted(self.blocks)


def describe(cids: set[int], keys: dict[int, ChannelId], names: dict[str, str]
             ) -> dict[int, ChannelMeta]:
    """What the rows say about channels ``cids`` (worker thread): ``keys`` maps a history
    channel id to its channel, ``names`` a hex id to the device's name (as it is now)."""
    out: dict[int, ChannelMeta] = {}
    for cid in cids:
        hex_id, comp, idx, q = keys[cid]
        try:
            word = Component(comp).word
        except ValueError:
            word = comp
        quantity = BY_KEY.get(q)
        out[cid] = ChannelMeta(
            device=hex_id, device_name=names.get(hex_id, hex_id), component=word,
            index=int(idx), quantity=q, unit=quantity.unit if quantity else "",
            scale=10.0 ** quantity.precision if quantity else 1000.0)
    return out


def decode_period(chunks: list[tuple[int, int, bytes]], lo: int, hi: int,
                  turn: Callable[[], None] = no_turn) -> Period:
    """Blocks of chunks ``(channel, period start, data)`` with start in [lo, hi), regrouped
    by block time (worker thread; ``turn`` every ``PACE_CHUNKS`` chunks). A damaged chunk
    is skipped and counted."""
    blocks: dict[int, Columns] = {}
    damaged = 0
    for n, (cid, start, data) in enumerate(sorted(chunks, key=lambda c: c[0])):
        if n % PACE_CHUNKS == PACE_CHUNKS - 1:
            turn()
        try:
            decoded = from_chunk(0, start, data)
        except Invalid:
            damaged += 1
            continue
        for t, mn, mx, av in decoded:
            if lo <= t < hi:
                cols = blocks.get(t)
                if cols is None:
                    cols = blocks[t] = (array("q"), array("q"), array("q"), array("q"))
                cols[0].append(cid)
                cols[1].append(mn)
                cols[2].append(mx)
                cols[3].append(av)
    return Period(blocks, damaged)


def plan_batches(period: Period, hi: int, budget: int = BATCH_ROWS
                 ) -> list[tuple[list[int], int]]:
    """Split a period's block times into batches of about ``budget`` rows.

    Returns ``(block times, watermark after)`` pairs; the last batch's watermark is
    ``hi`` (the end of the range read), every other one the next batch's first time.
    """
    times = period.times()
    groups: list[list[int]] = []
    cur: list[int] = []
    rows = 0
    for t in times:
        n = len(period.blocks[t][0])
        if cur and rows + n > budget:
            groups.append(cur)
            cur, rows = [], 0
        cur.append(t)
        rows += n
    if cur:
        groups.append(cur)
    return [(g, groups[i + 1][0] if i + 1 < len(groups) else hi) for i, g in enumerate(groups)]


def iso_time(t: int) -> str:
    """Epoch seconds as ISO 8601 UTC (``2026-01-01T00:00:05Z``)."""
    return datetime.fromtimestamp(t, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def csv_header() -> bytes:
    """The header line of a CSV export file."""
    out = io.StringIO()
    csv.writer(out, lineterminator="\n", quoting=csv.QUOTE_NONNUMERIC).writerow(COLUMNS)
    return out.getvalue().encode()


def encode_rows(times: list[int], period: Period, meta: dict[int, ChannelMeta], fmt: str,
                until: int, turn: Callable[[], None] = no_turn) -> Batch:
    """Encode the rows of ``times`` as ``csv`` (strings quoted, numbers bare: valid for
    PostgreSQL ``COPY ... CSV`` and spreadsheets) or ``jsonl`` (worker thread; ``turn``
    every ``PACE_ROWS`` rows)."""
    out = io.StringIO()
    rows = 0
    if fmt == "csv":
        w = csv.writer(out, lineterminator="\n", quoting=csv.QUOTE_NONNUMERIC)
        for t in times:
            ts = iso_time(t)
            cids, mns, mxs, avs = period.blocks[t]
            for i in range(0, len(cids), PACE_ROWS):
                w.writerows(_rows(ts, cids[i:i + PACE_ROWS], mns[i:i + PACE_ROWS],
                                  mxs[i:i + PACE_ROWS], avs[i:i + PACE_ROWS], meta))
                turn()
            rows += len(cids)
    else:
        dumps = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode
        for t in times:
            ts = iso_time(t)
            cids, mns, mxs, avs = period.blocks[t]
            for n, row in enumerate(_rows(ts, cids, mns, mxs, avs, meta)):
                out.write(dumps(dict(zip(COLUMNS, row, strict=True))))
                out.write("\n")
                if n % PACE_ROWS == PACE_ROWS - 1:
                    turn()
            rows += len(cids)
    day = iso_time(times[0])[:10] if times else ""
    return Batch(until=until, rows=rows, data=out.getvalue().encode(), day=day)


def _rows(ts: str, cids: array, mns: array, mxs: array, avs: array,
          meta: dict[int, ChannelMeta]) -> list[tuple[object, ...]]:
    out = []
    for cid, mn, mx, av in zip(cids, mns, mxs, avs, strict=True):
        m = meta[cid]
        sc = m.scale
        out.append((ts, m.device, m.device_name, m.component, m.index, m.quantity, m.unit,
                    mn / sc, av / sc, mx / sc))
    return out
