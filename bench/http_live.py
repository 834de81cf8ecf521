"""Benchmark: the REST API's GET of one PDU's live values at R requests a second from C
kept-alive connections while the ring is polled, against a bare endpoint (``/healthz``)
on the same server stack in the same run as the floor (issue 20's benchmark).

Starts a controller in this process (N full simulated PDUs sweeping every I seconds, the
web server on free loopback ports, an API token for a readonly user). Then, for K rounds,
three windows of S seconds each: no HTTP (the baseline sweeps), ``GET
/api/v1/devices/<hex>`` (the PDU and its live totals, signed in with the token, through
the same core call and permission check as the shell's ``cat sensor/<hex>``) and
``GET /healthz`` (the floor: uvicorn + FastAPI + the loop, nothing of ours), at the same
rate over the same connections; the rounds alternate so the machine's other load drifts
over all three alike. The clients are two other processes (C/2 threads each, one
connection per thread, TCP_NODELAY), each thread paced at R/C requests a second; a
request's time is from its send to its whole body received.

Usage: python bench/http_live.py [--pdus 100] [--interval 1] [--rate 200]
       [--connections 20] [--seconds 10] [--rounds 3]
Prints figures, last line JSON (live_/floor_ p50/p90/p99 ms, p90_ratio, requests, the
sweeps' p99 per phase). Goals: live GET p90 <= 3x the floor's and < 10 ms; sweep p99
while served within 10 % of the baseline.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
# this file lives in bench/ beside http.py: bench/ goes to the END of the path, or that
# file hides the standard library's http package from starlette, uvicorn and http.client
BENCH = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != BENCH]
sys.path.insert(0, str(ROOT))
sys.path.append(str(BENCH))

from benchlib import percentile as pct, web_controller  # noqa: E402


# ---------------------------------------------------------------------- client process
def client(url: str, token: str, seconds: float, threads: int, rate: float) -> dict[str, Any]:
    """``threads`` connections, each GETting ``url`` at ``rate`` requests a second."""
    import http.client
    from urllib.parse import urlsplit
    parts = urlsplit(url)
    lat: list[float] = []
    errors: list[str] = []
    lock = threading.Lock()
    start = time.perf_counter() + 0.2

    def one(k: int) -> None:
        conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
        conn.connect()
        conn.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        mine: list[float] = []
        offset = k / (threads * rate)             # spread the threads over the period
        n = 0
        while True:
            due = start + offset + n / rate
            if due - start > seconds:
                break
            time.sleep(max(0.0, due - time.perf_counter()))
            n += 1
            t0 = time.perf_counter()
            conn.request("GET", parts.path, headers={"Authorization": f"Bearer {token}"})
            resp = conn.getresponse()
            resp.read()
            mine.append(time.perf_counter() - t0)
            if resp.status != 200:
                with lock:
                    errors.append(f"HTTP {resp.status}")
                break
        conn.close()
        with lock:
            lat.extend(mine)

    pool = [threading.Thread(target=one, args=(k,)) for k in range(threads)]
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    if errors:
        raise SystemExit(f"{url}: {errors[0]}")
    return {"lat_ms": [x * 1000 for x in lat]}


def run_clients(url: str, token: str, seconds: float, connections: int,
                rate: float) -> list[float]:
    """The clients in two processes of their own (they share neither our loop nor our
    GIL, nor one GIL among all connections)."""
    half = [connections // 2, connections - connections // 2]
    procs = [subprocess.Popen([sys.executable, __file__, "--client", url, "--token", token,
                               "--seconds", str(seconds), "--threads", str(n),
                               "--rate", str(rate / connections)],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for n in half if n]
    lat: list[float] = []
    for p in procs:
        out, err = p.communicate(timeout=seconds + 120)
        if p.returncode:
            raise SystemExit(f"client failed: {err.strip()}")
        lat += json.loads(out.strip().splitlines()[-1])["lat_ms"]
    return lat


# ---------------------------------------------------------------------- ours
async def measure(args: argparse.Namespace) -> dict[str, Any]:
    from enerteg_tui.controller import tune_gc
    from enerteg_tui.core.permissions import SYSTEM
    async with web_controller(args.pdus, args.interval) as (c, svc, _data):
        tune_gc()                            # as `enerteg serve` does once started
        await c.users.add(SYSTEM, "reader", "Bench-Pass-2026!x", ["readonly"])
        _info, token = await c.core.tokens.create(SYSTEM, "bench", days=1, user="reader")
        base_url = f"http://127.0.0.1:{svc.port}"
        hex_id = c.live.ordered()[len(c.live.ordered()) // 2].info.hex_id
        await asyncio.sleep(args.interval * 2)
        bus = c.live.bus
        loop = asyncio.get_running_loop()
        pooled: dict[str, dict[str, list[float]]] = {
            name: {"lat_ms": [], "sweeps": []} for name in ("base", "live", "floor")}
        plan = [("base", ""), ("live", f"/api/v1/devices/{hex_id}"),
                ("floor", "/healthz")] * args.rounds
        for phase, path in plan:
            bus.recent_sweep_ms.clear()
            if not path:
                await asyncio.sleep(args.seconds)
            else:
                pooled[phase]["lat_ms"] += await loop.run_in_executor(
                    None, run_clients, base_url + path, token, args.seconds,
                    args.connections, args.rate)
            pooled[phase]["sweeps"] += list(bus.recent_sweep_ms)
        out: dict[str, Any] = {"pdus": args.pdus, "rate": args.rate,
                               "connections": args.connections, "device": hex_id}
        for phase, got in pooled.items():
            if phase != "base":
                lat = got["lat_ms"]
                out[f"{phase}_requests"] = len(lat)
                out[f"{phase}_req_per_s"] = len(lat) / (args.seconds * args.rounds)
                for q in (50, 90, 99):
                    out[f"{phase}_ms_p{q}"] = pct(lat, q / 100)
            out[f"{phase}_sweep_ms_p50"] = pct(got["sweeps"], 0.5)
            out[f"{phase}_sweep_ms_p99"] = pct(got["sweeps"], 0.99)
            out[f"{phase}_sweeps"] = len(got["sweeps"])
        out["p90_ratio"] = out["live_ms_p90"] / out["floor_ms_p90"]
        out["sweep_p99_change"] = out["live_sweep_ms_p99"] / out["base_sweep_ms_p99"] - 1
        return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--pdus", type=int, default=100)
    ap.add_argument("--interval", type=float, default=1.0)
    ap.add_argument("--rate", type=float, default=200.0, help="requests a second, in all")
    ap.add_argument("--connections", type=int, default=20)
    ap.add_argument("--seconds", type=float, default=10.0, help="seconds per window")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--client", help=argparse.SUPPRESS)
    ap.add_argument("--token", default="", help=argparse.SUPPRESS)
    ap.add_argument("--threads", type=int, default=1, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.client:
        print(json.dumps(client(args.client, args.token, args.seconds, args.threads,
                                args.rate)))
        return
    logging.basicConfig(level=logging.WARNING)
    r = asyncio.run(measure(args))
    print(f"{r['pdus']} full PDUs at {args.interval:g} s; GET /api/v1/devices/{r['device']} "
          f"at {r['live_req_per_s']:.0f} req/s from {r['connections']} connections")
    for phase in ("live", "floor"):
        print(f"  {phase:5}: p50 {r[f'{phase}_ms_p50']:.2f} ms, p90 {r[f'{phase}_ms_p90']:.2f} "
              f"ms, p99 {r[f'{phase}_ms_p99']:.2f} ms ({r[f'{phase}_requests']} requests); "
              f"sweep p99 {r[f'{phase}_sweep_ms_p99']:.0f} ms")
    print(f"  base : sweep p99 {r['base_sweep_ms_p99']:.0f} ms; live p90 / floor p90 = "
          f"{r['p90_ratio']:.2f}; sweep p99 change {r['sweep_p99_change'] * 100:+.1f} %")
    print(json.dumps(r))


if __name__ == "__main__":
    main()
