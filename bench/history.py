"""Benchmark: the history store on a simulated year of 100 PDUs (generated, not waited for).

Three phases, all through the real collector, flush and codec on the simulated ring's
physics driven by a simulated clock:

A. Hot path: N full PDUs (default 100, ~368 channels each) polled every second for M
   simulated minutes: the sweep listener's cost per sweep and per value, the flush
   time, and bytes per stored value of the 5 s and 1 min tiers.
B. Long term: a few PDUs for a whole year, sampled every S seconds (default 900),
   flushed like the service: bytes per stored value of the hourly and daily tiers.
C. Query targets on 100 PDUs of data: the last 31 days of hourly chunks are copied
   onto 100 PDUs' channels in the database, then a month of one channel (target
   <= 100 ms) and a 30-day room aggregate of all 100 PDUs (target <= 300 ms) are timed.

The year's database size for 100 PDUs is the measured bytes per block (payload plus
the measured per-row overhead of the file) times the blocks each tier keeps in a
steady state. Last line: JSON of the figures.

Usage: python bench/history.py [--pdus 100] [--minutes 65] [--long-pdus 4] [--long-step 900]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import tempfile
import time
from pathlib import Path

from enerteg_tui.core.history import TIERS, HistoryService
from enerteg_tui.core.live import LiveState
from enerteg_tui.core.settings import CoreSettings
from enerteg_tui.drivers.simulated import SimulatedDriver

T0 = 1_767_225_600.0
"""2026-01-01T00:00:00Z."""
STEADY_BLOCKS = {"5s": 4 * 720, "1m": 3 * 1440, "1h": 365 * 24, "1d": 365}
"""Blocks per channel each tier holds after one year with the default retention."""


class Clock:
    def __init__(self, t: float) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t


async def _ring(n: int, clock: Clock) -> tuple[SimulatedDriver, list[str]]:
    d = SimulatedDriver(pdus=n, seed=7, equipment="full", clock=clock, bus_latency_ms=0)
    await d.open()
    return d, [i.hex_id for i in (await d.discover()).devices]


async def _tier_bytes(h: HistoryService) -> dict[str, dict[str, float]]:
    """Per tier: rows, values, payload bytes, and bytes with the file's row overhead."""
    assert h.db is not None
    store = h.db.store
    for sql in ("PRAGMA wal_checkpoint(TRUNCATE)", "VACUUM"):
        async with store._conn.execute(sql):
            pass
    page = (await store.fetchone("PRAGMA page_size"))[0]
    pages = (await store.fetchone("PRAGMA page_count"))[0]
    file_bytes = page * pages
    out: dict[str, dict[str, float]] = {}
    rows_all = payload_all = 0
    for tier in TIERS:
        rows = await store.fetchall("SELECT data FROM chunk WHERE tier=?", (tier.level,))
        n_blocks = sum(int.from_bytes(r[0][1:3], "little") for r in rows)
        payload = sum(len(r[0]) for r in rows)
        out[tier.name] = {"rows": len(rows), "values": 3 * n_blocks, "payload": payload}
        rows_all += len(rows)
        payload_all += payload
    overhead = (file_bytes - payload_all) / max(1, rows_all)
    for t in out.values():
        t["bytes"] = t["payload"] + overhead * t["rows"]
        t["bytes_per_value"] = t["bytes"] / t["values"] if t["values"] else 0.0
    out["_file"] = {"bytes": file_bytes, "row_overhead": overhead}
    return out


async def phase_a(pdus: int, minutes: int, tmp: Path) -> dict:
    clock = Clock(T0)
    driver, ids = await _ring(pdus, clock)
    live = LiveState()
    h = HistoryService(tmp / "a", live, lambda: CoreSettings(), clock=clock)
    (tmp / "a").mkdir()
    await h.open()
    sweep_ms: list[float] = []
    flush_ms: list[float] = []
    values = 0
    for _ in range(minutes * 60):
        samples = [await driver.poll(x) for x in ids]
        t = time.perf_counter()
        for s in samples:
            h.collector.ingest(s.hex_id, s.groups, s.taken_at)
        sweep_ms.append((time.perf_counter() - t) * 1000)
        values += sum(s.channel_count() for s in samples)
        clock.t += 1
        if int(clock.t) % 300 == 0:
            t = time.perf_counter()
            await h.flush()
            flush_ms.append((time.perf_counter() - t) * 1000)
    sizes = await _tier_bytes(h)
    await h.db.close()
    await driver.close()
    channels = sum(len(d.keys) for d in h.collector.devices.values())
    return {"pdus": pdus, "channels": channels, "values_ingested": values,
            "sweep_ms_median": statistics.median(sweep_ms),
            "sweep_ms_p99": sorted(sweep_ms)[int(len(sweep_ms) * 0.99)],
            "ingest_values_per_s": values / (sum(sweep_ms) / 1000),
            "flush_ms_median": statistics.median(flush_ms), "sizes": sizes}


async def phase_b(pdus: int, step: int, tmp: Path, days: int = 365) -> tuple[dict, HistoryService]:
    clock = Clock(T0)
    driver, ids = await _ring(pdus, clock)
    (tmp / "b").mkdir()
    h = HistoryService(tmp / "b", LiveState(), lambda: CoreSettings(), clock=clock)
    await h.open()
    t = time.perf_counter()
    end = T0 + days * 86400
    while clock.t < end:
        for x in ids:
            s = await driver.poll(x)
            h.collector.ingest(s.hex_id, s.groups, s.taken_at)
        clock.t += step
        if int(clock.t) % 86400 < step:  # once a day: the long tiers only
            h.collector.close_until(clock.t)
            h.collector.take(0)
            h.collector.take(1)
            await h.flush()
    await driver.close()
    sizes = await _tier_bytes(h)
    return {"pdus": pdus, "days": days, "step_s": step, "seconds": time.perf_counter() - t,
            "sizes": sizes}, h


async def phase_c(h: HistoryService, copies: int) -> dict:
    """Copy the last 31 days of hourly chunks onto ``copies`` PDUs, then time queries."""
    assert h.db is not None
    store = h.db.store
    end = h._clock()
    since = int(end - 31 * 86400)
    src = await store.fetchall("SELECT id, device, component, idx, quantity FROM channel")
    devices = sorted({r[1] for r in src})
    next_id = max(r[0] for r in src) + 1
    new_channels, mapping = [], []
    for n in range(copies):
        base = devices[n % len(devices)]
        name = f"c{n:03d}"
        for cid, dev, comp, idx, q in src:
            if dev == base:
                new_channels.append((next_id, name, comp, idx, q))
                mapping.append((cid, next_id))
                next_id += 1
    async with store.transaction() as tx:
        await tx.executemany("INSERT INTO channel VALUES (?,?,?,?,?)", new_channels)
        await tx.execute("CREATE TEMP TABLE map (src INTEGER, dst INTEGER)")
        await tx.executemany("INSERT INTO map VALUES (?,?)", mapping)
        await tx.execute("INSERT INTO chunk SELECT c.tier, m.dst, c.start, c.data FROM chunk c "
                         "JOIN map m ON m.src = c.channel WHERE c.tier = 2 AND c.start >= ?",
                         (since,))
    async with h.db.store._conn.execute("ANALYZE"):
        pass
    h.db.channels.clear()
    h.db.by_id.clear()
    for cid, dev, comp, idx, q in await store.fetchall("SELECT * FROM channel"):
        h.db.channels[(dev, comp, int(idx), q)] = int(cid)
    rows = (await store.fetchone("SELECT COUNT(*) FROM chunk WHERE tier=2 AND start>=?",
                                 (since,)))[0]
    one = (f"c{copies // 2:03d}", "i", 1, "current")

    async def timed(coro_fn, n=5) -> float:
        times = []
        for _ in range(n):
            t = time.perf_counter()
            await coro_fn()
            times.append((time.perf_counter() - t) * 1000)
        return statistics.median(times)

    room = [f"c{n:03d}" for n in range(copies)]
    return {
        "pdus": copies, "hourly_rows_31d": rows,
        "month_one_channel_ms": await timed(lambda: h.series(one, "month")),
        "year_one_channel_ms": await timed(lambda: h.series(one, "year")),
        "room_30d_all_phases_ms": await timed(lambda: h.dc_series(room, "current", 30)),
        "room_30d_one_phase_ms": await timed(lambda: h.dc_series(room, "activePower", 30, 2)),
    }


async def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--pdus", type=int, default=100)
    ap.add_argument("--minutes", type=int, default=65)
    ap.add_argument("--long-pdus", type=int, default=4)
    ap.add_argument("--long-step", type=int, default=900)
    ap.add_argument("--days", type=int, default=365)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        a = await phase_a(args.pdus, args.minutes, tmp)
        print(f"A: {a['pdus']} PDUs, {a['channels']} channels: sweep ingest "
              f"{a['sweep_ms_median']:.1f} ms median ({a['sweep_ms_p99']:.1f} p99), "
              f"{a['ingest_values_per_s'] / 1e6:.2f} M values/s, flush {a['flush_ms_median']:.0f} ms")
        b, h = await phase_b(args.long_pdus, args.long_step, tmp, args.days)
        print(f"B: {b['pdus']} PDUs x {b['days']} days in {b['seconds']:.0f} s")
        c = await phase_c(h, args.pdus)
        await h.db.close()
    per_value = {**{k: a["sizes"][k]["bytes_per_value"] for k in ("5s", "1m")},
                 **{k: b["sizes"][k]["bytes_per_value"] for k in ("1h", "1d")}}
    channels_100 = a["channels"] / a["pdus"] * 100
    year_bytes = sum(per_value[k] * 3 * STEADY_BLOCKS[k] * channels_100 for k in STEADY_BLOCKS)
    values = sum(3 * STEADY_BLOCKS[k] * channels_100 for k in STEADY_BLOCKS)
    fig = {
        "bytes_per_value": {k: round(v, 3) for k, v in per_value.items()},
        "bytes_per_value_year_mix": round(year_bytes / values, 3),
        "year_db_gb_100_pdus": round(year_bytes / 1e9, 2),
        "channels_100_pdus": int(channels_100),
        "ingest_ms_per_sweep_100_pdus": round(a["sweep_ms_median"] * 100 / a["pdus"], 2),
        "ingest_core_fraction_at_1s": round(a["sweep_ms_median"] * 100 / a["pdus"] / 1000, 4),
        "ingest_values_per_s": int(a["ingest_values_per_s"]),
        "flush_ms_100_pdus_5min": round(a["flush_ms_median"] * 100 / a["pdus"]),
        **{k: round(v, 1) if isinstance(v, float) else v for k, v in c.items()},
    }
    for k, v in fig.items():
        print(f"{k:32} {v}")
    print(json.dumps(fig))


if __name__ == "__main__":
    asyncio.run(main())
