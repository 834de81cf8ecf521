"""Benchmark: 20 full-screen console sessions over SSH on a live 100-PDU ring.

Starts ``enerteg serve`` as its own process (its CPU and memory are measured alone)
with N simulated full PDUs (24 outlets each) sweeping every I seconds. C asyncssh
clients open a console with a pty, use pyte as their terminal, and go to a device
view (ctrl+p, hex id, Enter), each to another PDU. Then:

* memory: controller RSS before any session, and with C sessions idle on their device
  views (live values repainting every sweep) → MiB per idle session. The history is
  set to flush every 10 s so its in-memory blocks do not grow while sessions open
  (a control window of 10 s without sessions shows what the ring alone adds);
* for S seconds each client, about once a second, presses a key and times key → the
  result on its screen: p50/p90. ``--keys cursor`` (default) moves the table cursor
  down/up (the everyday key: the cursor row must move on screen); ``--keys tabs``
  switches tab (``2``: Identification, ``1``: Information; a full redraw);
* controller CPU over those S seconds as a fraction of one core.

Usage: python bench/console.py --pdus 100 --interval 1 --sessions 20 --seconds 60
Prints figures, last line JSON. Targets: key→screen p90 < 50 ms, ≤ 5 MiB per idle
session, the whole controller ≤ 1 core.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import re
import tempfile
import time
from pathlib import Path

import asyncssh
import psutil

from benchlib import PASSWORD, percentile, start_serve
import pyte

from enerteg_tui.screens.tree import tree_width

COLS, ROWS = 100, 30
TABLE_X = tree_width(COLS) + 2
"""A column inside the page's tables at this size: right of the DC tree, whose width
follows the terminal (``tree_width``)."""
MARKERS = {b"2": "Part number", b"1": "Peak voltage"}


class Session:
    """One console session with a pyte screen."""

    def __init__(self, conn: asyncssh.SSHClientConnection, process: asyncssh.SSHClientProcess) -> None:
        self.conn = conn
        self.process = process
        self.screen = pyte.Screen(COLS, ROWS)
        self.stream = pyte.ByteStream(self.screen)
        self.changed = asyncio.Event()
        self.reader = asyncio.get_running_loop().create_task(self._read())

    async def _read(self) -> None:
        while True:
            data = await self.process.stdout.read(65536)
            if not data:
                return
            self.stream.feed(data)
            self.changed.set()

    def cursor_line(self) -> int | None:
        """Screen line of the table cursor, or None: the row whose label (first column,
        which never flashes: flashing cells are reverse video too) is in reverse video."""
        buf = self.screen.buffer
        for y in range(2, ROWS - 1):
            if buf[y][TABLE_X].reverse and buf[y][TABLE_X + 1].reverse:
                return y
        return None

    async def wait_cursor(self, expect: int, timeout: float = 10) -> None:
        end = time.perf_counter() + timeout
        while self.cursor_line() != expect:
            self.changed.clear()
            left = end - time.perf_counter()
            if left <= 0:
                raise SystemExit(f"cursor never reached line {expect}:\n" +
                                 "\n".join(self.screen.display))
            try:
                await asyncio.wait_for(self.changed.wait(), left)
            except TimeoutError:
                pass

    def shows(self, text: str) -> bool:
        return any(text in line for line in self.screen.display)

    async def wait_for(self, text: str, timeout: float = 30) -> None:
        end = time.perf_counter() + timeout
        while not self.shows(text):
            self.changed.clear()
            left = end - time.perf_counter()
            if left <= 0:
                raise SystemExit(f"{text!r} never appeared:\n" + "\n".join(self.screen.display))
            try:
                await asyncio.wait_for(self.changed.wait(), left)
            except TimeoutError:
                pass


async def _open(port: int, hexid: str) -> Session:
    conn = await asyncssh.connect("127.0.0.1", port, username="bench", password=PASSWORD,
                                  known_hosts=None, client_keys=None)
    process = await conn.create_process(term_type="xterm-256color", term_size=(COLS, ROWS),
                                        encoding=None)
    s = Session(conn, process)
    await s.wait_for("Site dashboard")
    process.stdin.write(b"\x10")                       # ctrl+p
    await asyncio.sleep(0.3)
    process.stdin.write(hexid.encode())
    await asyncio.sleep(0.5)
    process.stdin.write(b"\r")
    await s.wait_for("Peak voltage")
    return s


async def _drive_cursor(s: Session, end: float, lat: list[float]) -> None:
    start = s.cursor_line()
    if start is None:
        raise SystemExit("no table cursor on the device view:\n" + "\n".join(s.screen.display))
    down = True
    await asyncio.sleep(random.random())
    while time.perf_counter() < end:
        here = s.cursor_line() or start
        t0 = time.perf_counter()
        s.process.stdin.write(b"\x1b[B" if down else b"\x1b[A")
        await s.wait_cursor(here + (1 if down else -1))
        lat.append((time.perf_counter() - t0) * 1000)
        down = not down
        await asyncio.sleep(0.8 + 0.4 * random.random())


async def _drive(s: Session, end: float, lat: list[float]) -> None:
    key = b"2"
    await asyncio.sleep(random.random())
    while time.perf_counter() < end:
        t0 = time.perf_counter()
        s.process.stdin.write(key)
        await s.wait_for(MARKERS[key], timeout=10)
        lat.append((time.perf_counter() - t0) * 1000)
        key = b"1" if key == b"2" else b"2"
        await asyncio.sleep(0.8 + 0.4 * random.random())


async def _run(port: int, sessions: int, seconds: float, server: psutil.Process,
               keys: str) -> dict:
    async with asyncssh.connect("127.0.0.1", port, username="bench", password=PASSWORD,
                                known_hosts=None, client_keys=None) as conn:
        await conn.run("cd config/cli; put maxSessionsPerUser=100", check=True)
        # the history keeps 5-s blocks in memory until it flushes (every 300 s by
        # default): growing by several MiB while the sessions open, it would be
        # counted as theirs. Flushing every 10 s keeps it flat, so RSS is the sessions'.
        await conn.run("cd /config/core; put historyFlushSeconds=10", check=True)
        r = await conn.run("format json; ls sensor", check=True)
    hexids = [n.strip("/") for n in json.loads(r.stdout)["entries"]
              if re.fullmatch(r"[0-9a-f]{4,8}/", n)]
    await asyncio.sleep(12)
    rss_before = server.memory_info().rss / 2**20
    await asyncio.sleep(10)                            # control: no session, same ring
    rss_control = server.memory_info().rss / 2**20
    opened: list[Session] = [await _open(port, hexids[0])]
    await asyncio.sleep(3)
    rss_one = server.memory_info().rss / 2**20          # the first session loads Textual
    for i in range(1, sessions):                        # one after the other, as people log in
        opened.append(await _open(port, hexids[i % len(hexids)]))
    await asyncio.sleep(5)                             # idle on device views, values live
    rss_idle = server.memory_info().rss / 2**20
    cpu0 = server.cpu_times()
    idle_t0 = time.perf_counter()
    await asyncio.sleep(5)
    cpu1 = server.cpu_times()
    idle_cpu = (cpu1.user + cpu1.system - cpu0.user - cpu0.system) / (time.perf_counter() - idle_t0)
    lat: list[float] = []
    me = psutil.Process()
    me0 = me.cpu_times()
    cpu0 = server.cpu_times()
    t0 = time.perf_counter()
    drive = _drive_cursor if keys == "cursor" else _drive
    await asyncio.gather(*(drive(s, t0 + seconds, lat) for s in opened))
    wall = time.perf_counter() - t0
    cpu1 = server.cpu_times()
    me1 = me.cpu_times()
    rss_end = server.memory_info().rss / 2**20
    for s in opened:
        s.conn.close()
    return {
        "key_to_screen_ms_p50": round(percentile(lat, 0.5), 1),
        "key_to_screen_ms_p90": round(percentile(lat, 0.9), 1),
        "key_to_screen_ms_p99": round(percentile(lat, 0.99), 1),
        "keys": len(lat),
        "server_cpu_core_fraction": round((cpu1.user + cpu1.system - cpu0.user - cpu0.system)
                                          / wall, 3),
        "server_cpu_idle_sessions_core_fraction": round(idle_cpu, 3),
        "client_cpu_core_fraction": round((me1.user + me1.system - me0.user - me0.system) / wall, 3),
        "rss_before_mb": round(rss_before, 1),
        "rss_control_growth_mb_10s": round(rss_control - rss_before, 1),
        "rss_idle_sessions_mb": round(rss_idle, 1),
        "rss_first_session_mb": round(rss_one - rss_before, 1),
        "rss_per_idle_session_mb": round((rss_idle - rss_one) / max(1, sessions - 1), 2),
        "rss_end_mb": round(rss_end, 1),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--pdus", type=int, default=100)
    ap.add_argument("--interval", type=float, default=1.0)
    ap.add_argument("--sessions", type=int, default=20)
    ap.add_argument("--seconds", type=float, default=60.0)
    ap.add_argument("--keys", choices=("cursor", "tabs"), default="cursor",
                    help="cursor: up/down in the table (the everyday key); tabs: switch "
                         "between the Information and Identification tabs (a full redraw)")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        proc, port = start_serve(Path(tmp), args.pdus, args.interval)
        try:
            result = asyncio.run(_run(port, args.sessions, args.seconds,
                                      psutil.Process(proc.pid), args.keys))
        finally:
            proc.terminate()
            proc.wait(timeout=40)   # the controller exits within 30 s (SHUTDOWN_LIMIT_S)
    result = {"pdus": args.pdus, "interval_s": args.interval, "sessions": args.sessions,
              "seconds": args.seconds, "keys_kind": args.keys, **result}
    print(f"{args.sessions} console sessions on device views, {args.pdus} PDUs at "
          f"{args.interval:g} s, {args.seconds:g} s of "
          f"{'cursor moves' if args.keys == 'cursor' else 'tab switching'}:")
    print(f"  key→screen p50 {result['key_to_screen_ms_p50']} ms, p90 "
          f"{result['key_to_screen_ms_p90']} ms, p99 {result['key_to_screen_ms_p99']} ms "
          f"({result['keys']} keys)")
    print(f"  controller CPU {result['server_cpu_core_fraction']} core while typing, "
          f"{result['server_cpu_idle_sessions_core_fraction']} with the sessions idle; the "
          f"benchmark's own clients (pyte terminals) {result['client_cpu_core_fraction']} core")
    print(f"  RSS {result['rss_before_mb']} MiB before, +{result['rss_first_session_mb']} MiB for "
          f"the first session (Textual loaded), {result['rss_idle_sessions_mb']} MiB with "
          f"{args.sessions} idle sessions = {result['rss_per_idle_session_mb']} MiB per further "
          f"session; {result['rss_end_mb']} MiB at the end")
    print(json.dumps(result))


if __name__ == "__main__":
    main()
