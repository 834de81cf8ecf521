"""Benchmark: the topic shell over SSH under load, as scripts and monitoring use it.

Starts ``enerteg serve`` as a separate process (so its CPU is measured alone) on a
temporary data directory with N simulated PDUs sweeping every I seconds and SSH on a
free loopback port. Then:

1. channel round trip: C concurrent asyncssh clients, each on one open connection,
   run ``cat sensor/<hexid>/t/_data`` on a new channel again and again for S seconds
   (each client its own PDU): requests/s, p50/p90/p99 latency, controller CPU as a
   fraction of one core and its RSS;
2. full command: K runs of OpenSSH ``ssh user@host 'cat …'`` one after another
   (connect, key exchange, password, channel, command, exit): p50/p90.

Usage: python bench/shell.py --pdus 100 --interval 1 --clients 20 --seconds 20
Prints figures, last line JSON. Targets: channel round trip p90 < 20 ms; full ssh
command < 150 ms on loopback.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

import asyncssh
import psutil

from benchlib import PASSWORD, percentile, start_serve

ASKPASS = Path(__file__).resolve().parent.parent / "tests" / "protocols" / "ssh" / "askpass.sh"
SSH_OPTS = ["-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null",
            "-o", "PubkeyAuthentication=no", "-o", "LogLevel=ERROR"]


async def _client(port: int, hexid: str, end: float, lat: list[float]) -> None:
    async with asyncssh.connect("127.0.0.1", port, username="bench", password=PASSWORD,
                                known_hosts=None, client_keys=None) as conn:
        while time.perf_counter() < end:
            t0 = time.perf_counter()
            r = await conn.run(f"cat sensor/{hexid}/t/_data")
            if r.exit_status != 0:
                raise SystemExit(f"command failed: {r.stderr}")
            lat.append((time.perf_counter() - t0) * 1000)


async def _channels(port: int, clients: int, seconds: float, hexids: list[str],
                    server: psutil.Process) -> dict:
    lat: list[float] = []
    cpu0 = server.cpu_times()
    t0 = time.perf_counter()
    end = t0 + seconds
    await asyncio.gather(*(_client(port, hexids[i % len(hexids)], end, lat)
                           for i in range(clients)))
    wall = time.perf_counter() - t0
    cpu1 = server.cpu_times()
    cpu = (cpu1.user + cpu1.system - cpu0.user - cpu0.system) / wall
    return {"requests": len(lat), "requests_per_s": round(len(lat) / wall, 1),
            "channel_ms_p50": round(percentile(lat, 0.5), 2), "channel_ms_p90": round(percentile(lat, 0.9), 2),
            "channel_ms_p99": round(percentile(lat, 0.99), 2), "server_cpu_core_fraction": round(cpu, 3),
            "server_rss_mb": round(server.memory_info().rss / 2**20, 1)}


def _full_ssh(port: int, runs: int, hexid: str) -> dict:
    env = {**os.environ, "SSH_ASKPASS": str(ASKPASS), "SSH_ASKPASS_REQUIRE": "force",
           "DISPLAY": ":0", "ENERTEG_TEST_PASSWORD": PASSWORD}
    times: list[float] = []
    for _ in range(runs):
        t0 = time.perf_counter()
        r = subprocess.run(["ssh", "-p", str(port), *SSH_OPTS, "bench@127.0.0.1",
                            f"cat sensor/{hexid}/t/_data"], env=env, capture_output=True,
                           text=True, stdin=subprocess.DEVNULL, start_new_session=True)
        times.append((time.perf_counter() - t0) * 1000)
        if r.returncode != 0:
            raise SystemExit(f"ssh failed: {r.stderr}")
    return {"full_ssh_ms_p50": round(statistics.median(times), 1),
            "full_ssh_ms_p90": round(percentile(times, 0.9), 1)}


async def _hexids(port: int) -> list[str]:
    async with asyncssh.connect("127.0.0.1", port, username="bench", password=PASSWORD,
                                known_hosts=None, client_keys=None) as conn:
        await conn.run("cd config/cli; put maxSessionsPerUser=100", check=True)
        r = await conn.run("format json; ls sensor", check=True)
        entries = json.loads(r.stdout)["entries"]
        return [n.strip("/") for n in entries if re.fullmatch(r"[0-9a-f]{4,8}/", n)]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--pdus", type=int, default=100)
    ap.add_argument("--interval", type=float, default=1.0)
    ap.add_argument("--clients", type=int, default=20)
    ap.add_argument("--seconds", type=float, default=20.0)
    ap.add_argument("--ssh-runs", type=int, default=30)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        proc, port = start_serve(Path(tmp), args.pdus, args.interval)
        try:
            server = psutil.Process(proc.pid)
            hexids = asyncio.run(_hexids(port))
            if not hexids:
                raise SystemExit("no PDUs listed under sensor/")
            time.sleep(args.interval * 2)
            idle0 = server.cpu_times()
            time.sleep(3)
            idle1 = server.cpu_times()
            idle_cpu = (idle1.user + idle1.system - idle0.user - idle0.system) / 3
            idle_rss = server.memory_info().rss / 2**20
            result = asyncio.run(_channels(port, args.clients, args.seconds, hexids, server))
            result.update(_full_ssh(port, args.ssh_runs, hexids[0]))
        finally:
            proc.terminate()
            proc.wait(timeout=10)
    result = {"pdus": args.pdus, "interval_s": args.interval, "clients": args.clients,
              "seconds": args.seconds, "server_idle_cpu_core_fraction": round(idle_cpu, 3),
              "server_idle_rss_mb": round(idle_rss, 1),
              **result}
    print(f"{args.clients} clients, {args.pdus} PDUs at {args.interval:g} s, {args.seconds:g} s:")
    print(f"  {result['requests_per_s']} req/s; channel round trip p50 {result['channel_ms_p50']} ms, "
          f"p90 {result['channel_ms_p90']} ms, p99 {result['channel_ms_p99']} ms")
    print(f"  controller CPU {result['server_cpu_core_fraction']} core under load "
          f"({result['server_idle_cpu_core_fraction']} idle), RSS {result['server_rss_mb']} MiB "
          f"({result['server_idle_rss_mb']} MiB before the load)")
    print(f"  full ssh command p50 {result['full_ssh_ms_p50']} ms, p90 {result['full_ssh_ms_p90']} ms")
    print(json.dumps(result))


if __name__ == "__main__":
    main()
