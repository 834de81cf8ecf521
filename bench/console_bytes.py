"""Benchmark: bytes per second a console sends while nobody touches it (issue 18 item 5).

A 115200-baud serial line carries about 11,500 bytes/s (8N1); a console that repaints
more than that per second falls behind on the line and the operator reads stale
values. Starts ``enerteg serve`` with N simulated full PDUs sweeping every I seconds,
opens one console over SSH (asyncssh client with a pty of the given TERM and size),
leaves it on a page (``dashboard``: the site dashboard; ``device``: the first PDU's
device view, the page with the most live values) for a settling time, then counts the
bytes the controller sends during S seconds.

Usage: python bench/console_bytes.py --pdus 100 --interval 1 --seconds 30 \
           --term vt100 --size 80x24 --page dashboard
Prints figures, last line JSON.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import tempfile
import time
from pathlib import Path

import asyncssh

from benchlib import PASSWORD, start_serve

LINE_BYTES_PER_S = 115200 / 10
"""What a 115200-baud 8N1 line carries (10 bits per byte)."""


async def _measure(port: int, term: str, cols: int, rows: int, page: str, settle: float,
                   seconds: float) -> dict[str, float | str]:
    conn = await asyncssh.connect("127.0.0.1", port, username="bench", password=PASSWORD,
                                  known_hosts=None, client_keys=None)
    process = await conn.create_process(term_type=term, term_size=(cols, rows), encoding=None)
    got = bytearray()
    counting = [False]
    counted = [0]

    async def read() -> None:
        while True:
            data = await process.stdout.read(65536)
            if not data:
                return
            if counting[0]:
                counted[0] += len(data)
            else:
                got.extend(data)
                del got[:-262144]

    reader = asyncio.get_running_loop().create_task(read())

    async def wait_for(text: bytes, timeout: float = 60) -> None:
        end = time.monotonic() + timeout
        while text not in got:
            if time.monotonic() > end:
                raise SystemExit(f"{text!r} did not appear")
            await asyncio.sleep(0.1)

    await wait_for(b"Site dashboard")
    if page == "device":
        process.stdin.write(b"\x10")                       # ctrl+p
        await asyncio.sleep(0.5)
        process.stdin.write(b"Devices")
        await asyncio.sleep(0.5)
        process.stdin.write(b"\r")
        await asyncio.sleep(2)
        process.stdin.write(b"\r")                         # the first PDU of the list
        await wait_for(b"Peak voltage")
    await asyncio.sleep(settle)
    counting[0] = True
    start = time.monotonic()
    await asyncio.sleep(seconds)
    elapsed = time.monotonic() - start
    counting[0] = False
    reader.cancel()
    conn.close()
    rate = counted[0] / elapsed
    return {"term": term, "size": f"{cols}x{rows}", "page": page,
            "bytes_per_s": round(rate), "line_share": round(rate / LINE_BYTES_PER_S, 3)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--pdus", type=int, default=100)
    ap.add_argument("--interval", type=float, default=1.0)
    ap.add_argument("--seconds", type=float, default=30.0)
    ap.add_argument("--settle", type=float, default=5.0)
    ap.add_argument("--term", default="vt100")
    ap.add_argument("--size", default="80x24")
    ap.add_argument("--page", choices=("dashboard", "device"), default="dashboard")
    args = ap.parse_args()
    cols, rows = (int(v) for v in args.size.split("x"))
    with tempfile.TemporaryDirectory() as tmp:
        proc, port = start_serve(Path(tmp) / "d", args.pdus, args.interval)
        try:
            result = asyncio.run(_measure(port, args.term, cols, rows, args.page,
                                          args.settle, args.seconds))
        finally:
            proc.terminate()
            proc.wait(timeout=30)
    print(f"{result['page']} {result['term']} {result['size']}: {result['bytes_per_s']} B/s "
          f"idle = {result['line_share'] * 100:.0f}% of a 115200-baud line")
    print(json.dumps(result))


if __name__ == "__main__":
    main()
