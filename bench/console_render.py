"""Benchmark: what console sessions cost the controller's loop, measured inside one process.

``bench/console.py`` measures the whole path (SSH, a pyte terminal per client in
another process); on a 2-core machine its clients compete with the controller for
the CPU. This script isolates the controller's side: one process runs the
controller on a simulated ring and N console Apps on in-memory transports (the
same ``run_console_once`` and ``StreamDriver`` as SSH, minus encryption), each on a
device view. It reports

* loop CPU per session per sweep (ms), and per idle session RSS (tracemalloc and RSS);
* loop lag: how late a 5 ms timer fires, p50/p90/p99 (what any key waits for);
* key→frame: a cursor key fed to a session's driver until that session writes its
  next frame, p50/p90 (Textual's processing + rendering of that session only, and
  the wait behind other sessions' frames).

Usage: python bench/console_render.py --pdus 100 --sessions 20 --seconds 30 [--profile F]
Last line JSON.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import gc
import json
import os
import random
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

import psutil

sys.path[:0] = [str(Path(__file__).resolve().parent), str(Path(__file__).resolve().parents[1])]

from benchlib import percentile  # noqa: E402

from enerteg_tui.controller import Controller, ControllerOptions, tune_gc  # noqa: E402
from enerteg_tui.core.permissions import Principal, Role  # noqa: E402
from enerteg_tui.protocols.console_session import run_console_once  # noqa: E402
from enerteg_tui.screens.tree import Place  # noqa: E402

COLS, ROWS = 100, 30


class MemoryTransport:
    """A terminal that keeps nothing: counts bytes and notes when a frame was written."""

    def __init__(self) -> None:
        self.driver = None
        self.bytes = 0
        self.frames = 0
        self.wrote = asyncio.Event()

    def write(self, text: str) -> None:
        self.bytes += len(text)
        self.frames += 1
        self.wrote.set()

    @property
    def size(self) -> tuple[int, int]:
        return COLS, ROWS

    def close(self) -> None:
        pass


async def _session(c: Controller, hex_id: str, ready: asyncio.Event, stop: asyncio.Event,
                   lat: list[float], measuring: asyncio.Event, apps: list) -> None:
    t = MemoryTransport()
    principal = Principal("bench", frozenset({Role.ADMIN}), face="bench")

    async def pump(app) -> None:
        apps.append(app)
        while app.screen is None or getattr(app, "main", None) is None:
            await asyncio.sleep(0.05)
        await asyncio.sleep(0.5)
        app.call_later(app.open_place, Place("device", hex_id))   # in the App's context
        await asyncio.sleep(1.5)
        app.call_later(lambda: app.screen.query_one("#inputs").focus())
        await asyncio.sleep(0.3)
        ready.set()
        down = True
        await asyncio.sleep(random.random())
        while not stop.is_set():
            await asyncio.sleep(0.8 + 0.4 * random.random())
            if not measuring.is_set() or t.driver is None:
                continue
            t.wrote.clear()
            t0 = time.perf_counter()
            t.driver.feed("\x1b[B" if down else "\x1b[A")
            down = not down
            await t.wrote.wait()
            lat.append((time.perf_counter() - t0) * 1000)
        app.exit()

    await run_console_once(c, principal, t, pump=pump, term="xterm-256color")


async def _lag(stop: asyncio.Event, out: list[float]) -> None:
    while not stop.is_set():
        t0 = time.perf_counter()
        await asyncio.sleep(0.005)
        out.append((time.perf_counter() - t0 - 0.005) * 1000)


async def _run(args: argparse.Namespace) -> dict:
    me = psutil.Process()
    with tempfile.TemporaryDirectory() as tmp:
        opts = ControllerOptions(data_dir=Path(tmp), simulate=args.pdus, interval=args.interval,
                                 seed=1, equipment="full", ssh_enabled=False, serial_device="")
        c = Controller(opts)
        await c.start()
        await asyncio.wait_for(c.poller.first_sweep_done.wait(), 30)
        tune_gc()   # what ``enerteg serve`` does once started
        hexes = [d.hex_id for d in c.live.ordered()]
        gc.collect()
        await asyncio.sleep(2)
        rss0 = me.memory_info().rss / 2**20
        stop, measuring = asyncio.Event(), asyncio.Event()
        lat: list[float] = []
        apps: list = []
        tasks = []
        readies = []
        for i in range(args.sessions):
            ready = asyncio.Event()
            readies.append(ready)
            tasks.append(asyncio.create_task(
                _session(c, hexes[i % len(hexes)], ready, stop, lat, measuring, apps)))
            await ready.wait()
            if i == 0:
                await asyncio.sleep(2)
                gc.collect()
                rss1 = me.memory_info().rss / 2**20
                tracemalloc.start()
                snap1 = tracemalloc.take_snapshot()
        await asyncio.sleep(3)
        gc.collect()
        rss_n = me.memory_info().rss / 2**20
        snap_n = tracemalloc.take_snapshot()
        tracemalloc.stop()
        traced = sum(s.size_diff for s in snap_n.compare_to(snap1, "filename")) / 2**20
        top = snap_n.compare_to(snap1, "lineno")[:12]
        lags: list[float] = []
        lag_task = asyncio.create_task(_lag(stop, lags))
        prof = cProfile.Profile() if args.profile else None
        cpu0 = me.cpu_times()
        t0 = time.perf_counter()
        frames0 = sweeps0 = 0
        measuring.set()
        if prof:
            prof.enable()
        await asyncio.sleep(args.seconds)
        if prof:
            prof.disable()
            prof.dump_stats(args.profile)
        wall = time.perf_counter() - t0
        cpu1 = me.cpu_times()
        stop.set()
        measuring.clear()
        for a in apps:
            a.exit()
        await asyncio.wait(tasks, timeout=10)
        lag_task.cancel()
        await c.stop()
    cpu = (cpu1.user + cpu1.system - cpu0.user - cpu0.system) / wall
    n = args.sessions
    per_session = (rss_n - rss1) / max(1, n - 1)
    result = {
        "pdus": args.pdus, "sessions": n, "seconds": args.seconds,
        "cpu_core_fraction": round(cpu, 3),
        "cpu_ms_per_session_per_sweep": round(cpu * 1000 * args.interval / n, 2),
        "loop_lag_ms_p50": round(percentile(lags, 0.5), 2),
        "loop_lag_ms_p90": round(percentile(lags, 0.9), 2),
        "loop_lag_ms_p99": round(percentile(lags, 0.99), 2),
        "key_to_frame_ms_p50": round(percentile(lat, 0.5), 1),
        "key_to_frame_ms_p90": round(percentile(lat, 0.9), 1),
        "key_to_frame_ms_p99": round(percentile(lat, 0.99), 1),
        "keys": len(lat),
        "rss_first_session_mb": round(rss1 - rss0, 1),
        "rss_per_further_session_mb": round(per_session, 2),
        "traced_per_further_session_mb": round(traced / max(1, n - 1), 2),
    }
    if args.verbose:
        for s in top:
            print("   ", s)
    del frames0, sweeps0
    return result


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--pdus", type=int, default=100)
    ap.add_argument("--interval", type=float, default=1.0)
    ap.add_argument("--sessions", type=int, default=20)
    ap.add_argument("--seconds", type=float, default=30.0)
    ap.add_argument("--profile", help="write a cProfile of the measured period here")
    ap.add_argument("--verbose", action="store_true", help="print the largest allocations")
    args = ap.parse_args()
    os.environ.setdefault("TERM", "xterm-256color")
    r = asyncio.run(_run(args))
    print(f"{r['sessions']} in-process console sessions on device views, {r['pdus']} PDUs:")
    print(f"  CPU {r['cpu_core_fraction']} core = {r['cpu_ms_per_session_per_sweep']} ms per "
          f"session per sweep")
    print(f"  loop lag p50/p90/p99 {r['loop_lag_ms_p50']}/{r['loop_lag_ms_p90']}/"
          f"{r['loop_lag_ms_p99']} ms; key→frame p50/p90/p99 {r['key_to_frame_ms_p50']}/"
          f"{r['key_to_frame_ms_p90']}/{r['key_to_frame_ms_p99']} ms ({r['keys']} keys)")
    print(f"  RSS +{r['rss_first_session_mb']} MiB first session, "
          f"+{r['rss_per_further_session_mb']} MiB per further session "
          f"(Python heap {r['traced_per_further_session_mb']} MiB)")
    print(json.dumps(r))


if __name__ == "__main__":
    main()
