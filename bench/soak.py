"""Soak: run the controller on a 100-PDU ring at 1 s and watch memory stay flat.

Starts a whole controller in-process with a subscriber draining events (as a console
would), samples RSS every ``--sample`` seconds for ``--minutes`` minutes, and prints
the samples and a least-squares slope (MiB per hour) after the first two minutes of
warm-up. Last line JSON: pdus, interval_s, minutes, rss_start_mb, rss_end_mb,
rss_slope_mb_per_h, sweeps, overruns, cpu_core_fraction.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import tempfile
import time
from pathlib import Path

import psutil

from enerteg_tui.controller import Controller, ControllerOptions


async def run(pdus: int, interval: float, minutes: float, sample: float) -> dict:
    proc = psutil.Process()
    with tempfile.TemporaryDirectory() as tmp:
        c = Controller(ControllerOptions(data_dir=Path(tmp), simulate=pdus, interval=interval,
                                         equipment="full"))
        await c.start()
        sub = c.events.subscribe()

        async def drain() -> None:
            while True:
                await sub.get()

        task = asyncio.create_task(drain())
        samples: list[tuple[float, float]] = []
        t0 = time.monotonic()
        cpu0 = proc.cpu_times()
        while time.monotonic() - t0 < minutes * 60:
            await asyncio.sleep(sample)
            rss = proc.memory_info().rss / 2**20
            samples.append((time.monotonic() - t0, rss))
            print(f"t={samples[-1][0]:7.0f}s rss={rss:6.1f} MiB sweeps={c.live.bus.sweeps}", flush=True)
        cpu1 = proc.cpu_times()
        wall = time.monotonic() - t0
        sweeps, overruns = c.live.bus.sweeps, c.live.bus.overruns
        task.cancel()
        sub.close()
        await c.stop()
    steady = [s for s in samples if s[0] >= min(120.0, wall / 3)] or samples
    n = len(steady)
    mx = sum(t for t, _ in steady) / n
    my = sum(r for _, r in steady) / n
    var = sum((t - mx) ** 2 for t, _ in steady) or 1.0
    slope = sum((t - mx) * (r - my) for t, r in steady) / var * 3600
    return {"pdus": pdus, "interval_s": interval, "minutes": minutes,
            "rss_start_mb": round(steady[0][1], 1), "rss_end_mb": round(steady[-1][1], 1),
            "rss_slope_mb_per_h": round(slope, 2), "sweeps": sweeps, "overruns": overruns,
            "cpu_core_fraction": round((cpu1.user - cpu0.user + cpu1.system - cpu0.system) / wall, 3)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--pdus", type=int, default=100)
    ap.add_argument("--interval", type=float, default=1.0)
    ap.add_argument("--minutes", type=float, default=10.0)
    ap.add_argument("--sample", type=float, default=30.0)
    args = ap.parse_args()
    logging.basicConfig(level=logging.WARNING)
    print(json.dumps(asyncio.run(run(args.pdus, args.interval, args.minutes, args.sample))))


if __name__ == "__main__":
    main()
