"""Benchmark: how much a PDU firmware transfer stretches the sweeps of the other PDUs.

Starts a whole controller on N simulated PDUs (bus latency L ms per query, the
default 2 ms) sweeping every I seconds, records the sweep durations for S seconds
without an update, then during a firmware update of the whole ring with the shipped
image (24 KiB = 97 blocks of 256 bytes per PDU, one bus transaction each, sent between
sweeps; ``--no-pace`` sends them during sweeps too), and prints both (median, p90, max) and the time each PDU took.

Usage: python bench/firmware.py --pdus 20 --interval 1 --seconds 10 [--no-pace]
Last line JSON.
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

from enerteg_tui.controller import Controller, ControllerOptions
from enerteg_tui.core.permissions import SYSTEM


def _stats(values: list[float]) -> dict[str, float]:
    ordered = sorted(values)
    return {"n": len(ordered), "p50": round(statistics.median(ordered), 1),
            "p90": round(ordered[int(0.9 * (len(ordered) - 1))], 1),
            "max": round(ordered[-1], 1)}


async def main(pdus: int, interval: float, seconds: float, latency: float,
               pace: bool = True) -> dict:
    logging.basicConfig(level=logging.ERROR)
    with tempfile.TemporaryDirectory() as tmp:
        c = Controller(ControllerOptions(data_dir=Path(tmp), simulate=pdus, interval=interval,
                                         bus_latency_ms=latency, ssh_enabled=False,
                                         ntp_port=0, answer_error_rate=0.0))
        await c.start()
        await c.poller.first_sweep_done.wait()
        c.driver.firmware_reboot_s = 1.0
        if not pace:  # blocks interleave with polls one for one (the bus lock's FIFO)
            c.firmware._bus_free = None
        bus = c.live.bus
        bus.recent_sweep_ms.clear()
        start = bus.sweeps
        await asyncio.sleep(seconds)
        idle = list(bus.recent_sweep_ms)[-(bus.sweeps - start):]
        bus.recent_sweep_ms.clear()
        start = bus.sweeps
        t0 = time.monotonic()
        job = await c.firmware.update(SYSTEM, "shipped", None)
        while c.firmware.status().running:
            await asyncio.sleep(0.2)
        took = time.monotonic() - t0
        during = list(bus.recent_sweep_ms)[-(bus.sweeps - start):]
        await c.stop()
    return {"pdus": pdus, "paced": pace, "interval_s": interval, "latency_ms": latency,
            "sweep_ms_idle": _stats(idle), "sweep_ms_during_update": _stats(during),
            "update_s": round(took, 1), "per_pdu_s": round(took / len(job.steps), 2),
            "state": job.state}


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--pdus", type=int, default=20)
    ap.add_argument("--interval", type=float, default=1.0)
    ap.add_argument("--seconds", type=float, default=10.0)
    ap.add_argument("--latency", type=float, default=2.0)
    ap.add_argument("--no-pace", action="store_true",
                    help="send blocks during sweeps too (the figure without pacing)")
    a = ap.parse_args()
    print(json.dumps(asyncio.run(main(a.pdus, a.interval, a.seconds, a.latency,
                                      not a.no_pace))))
