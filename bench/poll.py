"""Benchmark: the real poller on a simulated ring, CPU and memory at a given cadence.

Starts a whole controller (store, registry, poller, live state, event bus) on a
temporary data directory with N simulated PDUs sweeping every I seconds, lets the
first sweep settle, then measures S seconds: sweep durations, CPU time of this
process as a fraction of one core, and resident memory. A subscriber drains live
changes the way a console would, so event fan-out is part of the cost.

Usage: python bench/poll.py --pdus 100 --interval 1 --seconds 30 --equipment full
Prints figures, last line JSON (pdus, channels, interval_s, sweep_ms_p50,
sweep_ms_p99, cpu_core_fraction, rss_mb). Targets: 100 full PDUs at 1 s ≤ 0.15 core;
1,000 PDUs at 5 s ≤ 1 core.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import statistics
import tempfile
import time
from pathlib import Path

import psutil

from enerteg_tui.controller import Controller, ControllerOptions


async def run(pdus: int, interval: float, seconds: float, equipment: str, latency: float) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        c = Controller(ControllerOptions(data_dir=Path(tmp), simulate=pdus, interval=interval,
                                         bus_latency_ms=latency, equipment=equipment))
        await c.start()
        await asyncio.wait_for(c.poller.first_sweep_done.wait(), 120)
        sub = c.events.subscribe()

        async def drain() -> None:
            while True:
                await sub.get()

        drainer = asyncio.create_task(drain())
        await asyncio.sleep(interval * 2)  # settle: registry writes of the first sweep are done
        proc = psutil.Process()
        sweeps0 = c.live.bus.sweeps
        c.live.bus.recent_sweep_ms.clear()
        durations: list[float] = []
        cpu0 = proc.cpu_times()
        t0 = time.perf_counter()
        end = t0 + seconds
        while time.perf_counter() < end:
            await asyncio.sleep(min(1.0, end - time.perf_counter()))
            durations.extend(c.live.bus.recent_sweep_ms)
            c.live.bus.recent_sweep_ms.clear()
        wall = time.perf_counter() - t0
        cpu1 = proc.cpu_times()
        rss = proc.memory_info().rss / 2**20
        sweeps = c.live.bus.sweeps - sweeps0
        channels = sum(d.channel_count() for d in c.live.devices.values())
        overruns = c.live.bus.overruns
        drainer.cancel()
        sub.close()
        await c.stop()
    durations.sort()
    cpu = (cpu1.user - cpu0.user + cpu1.system - cpu0.system) / wall

    def pct(p: float) -> float:
        return durations[min(len(durations) - 1, int(p / 100 * len(durations)))] if durations else 0.0

    return {
        "pdus": pdus, "channels": channels, "interval_s": interval, "seconds": round(wall, 1),
        "sweeps": sweeps, "overruns": overruns, "bus_latency_ms": latency,
        "sweep_ms_p50": round(pct(50), 1), "sweep_ms_p99": round(pct(99), 1),
        "sweep_ms_mean": round(statistics.fmean(durations), 1) if durations else 0.0,
        "cpu_core_fraction": round(cpu, 3), "rss_mb": round(rss, 1),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--pdus", type=int, default=100)
    ap.add_argument("--interval", type=float, default=1.0)
    ap.add_argument("--seconds", type=float, default=30.0)
    ap.add_argument("--equipment", choices=("mixed", "full"), default="full")
    ap.add_argument("--bus-latency-ms", type=float, default=2.0)
    args = ap.parse_args()
    logging.basicConfig(level=logging.WARNING)
    res = asyncio.run(run(args.pdus, args.interval, args.seconds, args.equipment,
                          args.bus_latency_ms))
    for k, v in res.items():
        print(f"{k:>18}: {v}")
    print(json.dumps(res))


if __name__ == "__main__":
    main()
