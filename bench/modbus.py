"""Benchmark: the Modbus TCP server under 20 concurrent clients while the ring is polled,
against pymodbus's own bare server (static datastore) in the same run.

Starts a controller in this process (N full simulated PDUs sweeping every I seconds, the
Modbus server on a free loopback port), measures the poller's sweep durations for a
baseline window without Modbus traffic, then runs a load process (C asyncio clients on
raw sockets, each sending FC03 reads of 125 registers, one at a time, over the record
starts of every PDU: totals/inputs, branches, outlets) for S seconds and measures
requests per second, latency p50/p99 and the sweep durations during the load. Then
starts pymodbus's bare ``ModbusTcpServer`` (one ``SimDevice`` for every unit, a static
block of 20,000 registers) in its own process and runs the same load against it.

Usage: python bench/modbus.py [--pdus 100] [--interval 1] [--clients 20] [--seconds 10]
Prints figures, last line JSON (pdus, clients, requests_per_s, p50_ms, p99_ms,
bare_requests_per_s, ratio, sweep_ms_p99_base, sweep_ms_p99_load, and the sweeps' p50
too: ten sweeps make the p99 their slowest). Goals: >= 2,000
requests/s, p99 < 10 ms, >= half the bare server's rate, sweep p99 within 10 %.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import socket
import struct
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")


ADDRESSES = ([1000 + n * 100 for n in range(9)] + [2000 + n * 100 for n in range(1, 19)]
             + [10000 + n * 100 for n in range(1, 99)])
"""Record starts whose 125-register read stays inside its block."""


# ---------------------------------------------------------------------- load process
async def _client(port: int, units: list[int], seconds: float, offset: int,
                  lat: list[float], errors: list[int]) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    sock = writer.get_extra_info("socket")
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    end = time.perf_counter() + seconds
    i = offset
    tid = 0
    while True:
        t0 = time.perf_counter()
        if t0 >= end:
            break
        unit = units[i % len(units)]
        address = ADDRESSES[(i // len(units)) % len(ADDRESSES)]
        i += 7
        tid = (tid + 1) & 0xFFFF
        writer.write(struct.pack(">HHHBBHH", tid, 0, 6, unit, 3, address, 125))
        head = await reader.readexactly(7)
        body = await reader.readexactly(struct.unpack(">H", head[4:6])[0] - 1)
        lat.append(time.perf_counter() - t0)
        if body[0] != 3 or len(body) != 252:
            errors.append(body[1] if len(body) > 1 else -1)
    writer.close()


async def load(port: int, units: list[int], clients: int, seconds: float) -> dict[str, float]:
    lat: list[float] = []
    errors: list[int] = []
    t0 = time.perf_counter()
    await asyncio.gather(*(_client(port, units, seconds, k * 13, lat, errors)
                           for k in range(clients)))
    took = time.perf_counter() - t0
    return {"requests": len(lat), "requests_per_s": len(lat) / took,
            "p50_ms": pct(lat, 0.5) * 1000, "p99_ms": pct(lat, 0.99) * 1000,
            "max_ms": max(lat, default=0.0) * 1000, "errors": len(errors)}


def run_load(port: int, units: list[int], clients: int, seconds: float) -> dict[str, float]:
    """The load in its own process (so the clients do not share our loop or CPU)."""
    out = subprocess.run([sys.executable, __file__, "--load", str(port), "--units",
                          ",".join(map(str, units)), "--clients", str(clients),
                          "--seconds", str(seconds)], capture_output=True, text=True,
                         timeout=seconds + 120)
    if out.returncode:
        raise SystemExit(f"load failed: {out.stderr.strip()}")
    return json.loads(out.stdout.strip().splitlines()[-1])


# ---------------------------------------------------------------------- bare server
async def bare(port: int) -> None:
    from pymodbus.server import ModbusTcpServer
    from pymodbus.simulator import DataType, SimData, SimDevice
    logging.getLogger("pymodbus.logging").setLevel(logging.ERROR)
    device = SimDevice(id=0, simdata=[SimData(address=0, count=20000, values=0x1234,
                                              datatype=DataType.REGISTERS)])
    server = ModbusTcpServer(device, address=("127.0.0.1", port))
    await server.serve_forever()


# ---------------------------------------------------------------------- ours
async def ours(args: argparse.Namespace) -> dict[str, float]:
    from enerteg_tui.controller import Controller, ControllerOptions, tune_gc
    from enerteg_tui.core.permissions import SYSTEM
    with tempfile.TemporaryDirectory() as tmp:
        port = free_port()
        c = Controller(ControllerOptions(data_dir=Path(tmp), simulate=args.pdus,
                                         interval=args.interval, equipment="full",
                                         ssh_enabled=False, modbus_port=port,
                                         snmp_port=free_port(), bind="127.0.0.1"))
        await c.start()
        try:
            await asyncio.wait_for(c.poller.first_sweep_done.wait(), 120)
            tune_gc()                   # the collector's settings of `enerteg serve`
            await c.config.put(SYSTEM, "modbus", {"enabled": "enabled"})
            while not c.service("modbus").status.running:  # type: ignore[union-attr]
                await asyncio.sleep(0.05)
            units = sorted(d.info.settings.device_id for d in c.live.devices.values())
            await asyncio.sleep(args.interval * 2)
            bus = c.live.bus
            bus.recent_sweep_ms.clear()
            await asyncio.sleep(args.baseline)
            base = list(bus.recent_sweep_ms)
            bus.recent_sweep_ms.clear()
            loop = asyncio.get_running_loop()
            result = await loop.run_in_executor(
                None, run_load, port, units, args.clients, args.seconds)
            during = list(bus.recent_sweep_ms)
            result.update(sweep_ms_p99_base=pct(base, 0.99), sweep_ms_p99_load=pct(during, 0.99),
                          sweep_ms_p50_base=pct(base, 0.5), sweep_ms_p50_load=pct(during, 0.5),
                          sweeps_base=len(base), sweeps_load=len(during), units=len(units))
            result["unit_list"] = units  # type: ignore[assignment]
            return result
        finally:
            await c.stop()


def floor(args: argparse.Namespace, units: list[int]) -> dict[str, float]:
    port = free_port()
    proc = subprocess.Popen([sys.executable, __file__, "--bare", str(port)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        for _ in range(200):
            try:
                socket.create_connection(("127.0.0.1", port), 0.2).close()
                break
            except OSError:
                time.sleep(0.05)
        return run_load(port, units, args.clients, args.seconds)
    finally:
        proc.terminate()
        proc.wait(10)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--pdus", type=int, default=100)
    ap.add_argument("--interval", type=float, default=1.0)
    ap.add_argument("--clients", type=int, default=20)
    ap.add_argument("--seconds", type=float, default=10.0)
    ap.add_argument("--baseline", type=float, default=10.0, help="seconds without Modbus traffic")
    ap.add_argument("--load", type=int, help=argparse.SUPPRESS)
    ap.add_argument("--units", default="", help=argparse.SUPPRESS)
    ap.add_argument("--bare", type=int, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.load:
        units = [int(u) for u in args.units.split(",")]
        print(json.dumps(asyncio.run(load(args.load, units, args.clients, args.seconds))))
        return
    if args.bare:
        asyncio.run(bare(args.bare))
        return
    logging.basicConfig(level=logging.WARNING)
    os.environ.setdefault("PYTHONPATH", str(ROOT))
    a = asyncio.run(ours(args))
    units = a.pop("unit_list")  # type: ignore[arg-type]
    print(f"ours:  {a['requests_per_s']:.0f} requests/s (125 registers each), p50 "
          f"{a['p50_ms']:.2f} ms, p99 {a['p99_ms']:.2f} ms, max {a['max_ms']:.1f} ms, "
          f"{a['errors']:.0f} exceptions; "
          f"sweep p99 {a['sweep_ms_p99_base']:.1f} ms without Modbus, "
          f"{a['sweep_ms_p99_load']:.1f} ms during the load (p50 "
          f"{a['sweep_ms_p50_base']:.1f} and {a['sweep_ms_p50_load']:.1f} ms; ten sweeps "
          "each, so the p99 is their slowest)")
    b = floor(args, units)  # type: ignore[arg-type]
    print(f"bare:  {b['requests_per_s']:.0f} requests/s, p50 {b['p50_ms']:.2f} ms, "
          f"p99 {b['p99_ms']:.2f} ms (pymodbus ModbusTcpServer, static SimDevice)")
    ratio = a["requests_per_s"] / b["requests_per_s"]
    print(f"ratio ours/bare: {ratio:.2f}")
    print(json.dumps({"pdus": args.pdus, "interval_s": args.interval, "clients": args.clients,
                      "requests_per_s": round(a["requests_per_s"]),
                      "p50_ms": round(a["p50_ms"], 2), "p99_ms": round(a["p99_ms"], 2),
                      "max_ms": round(a["max_ms"], 1),
                      "errors": int(a["errors"]),
                      "bare_requests_per_s": round(b["requests_per_s"]),
                      "bare_p99_ms": round(b["p99_ms"], 2), "ratio": round(ratio, 3),
                      "sweep_ms_p99_base": round(a["sweep_ms_p99_base"], 1),
                      "sweep_ms_p99_load": round(a["sweep_ms_p99_load"], 1),
                      "sweep_ms_p50_base": round(a["sweep_ms_p50_base"], 1),
                      "sweep_ms_p50_load": round(a["sweep_ms_p50_load"], 1)}))


if __name__ == "__main__":
    main()
