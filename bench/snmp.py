"""Benchmark: the SNMP agent under a full bulk walk while the ring is polled, against
net-snmp's own snmpd in the same run.

Starts a controller in this process (N full simulated PDUs sweeping every I seconds,
the agent on a free loopback port), measures the poller's sweep durations for a
baseline window without SNMP traffic, then runs ``snmpbulkwalk -Cr<R>`` of the whole
enterprise subtree (``ENERTEG-PDU-MIB``) W times and measures OIDs per second and the
sweep durations during the walks. Then starts net-snmp's ``snmpd`` on another loopback
port with a padded ``hrSWRunTable`` (P extra sleeping processes: a table it builds from
live /proc data per request, as ours comes from live state) and walks it the same way
until at least as many OIDs were read, for a ratio measured on the same machine, now.

Usage: python bench/snmp.py [--pdus 100] [--interval 1] [--walks 10] [--repetitions 50]
Prints figures, last line JSON (pdus, oids, oids_per_s, snmpd_oids_per_s, ratio,
sweep_ms_p99_base, sweep_ms_p99_walk). Goals: >= 10,000 OIDs/s, >= 1/3 of snmpd, the
sweep p99 within 10 % of the baseline.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

from enerteg_tui.controller import Controller, ControllerOptions
from enerteg_tui.core.permissions import SYSTEM


def free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def p99(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(0.99 * len(ordered)))] if ordered else float("nan")


def netsnmp_env(state: Path) -> dict[str, str]:
    (state / "cert_indexes").mkdir(parents=True, exist_ok=True)
    return dict(os.environ, MIBS="", MIBDIRS="", SNMPCONFPATH="/nonexistent",
                SNMP_PERSISTENT_DIR=str(state))


async def walk(env: dict[str, str], port: int, oid: str, repetitions: int) -> tuple[int, float]:
    """(varbinds read, seconds) of one snmpbulkwalk."""
    t0 = time.perf_counter()
    proc = await asyncio.create_subprocess_exec(
        "snmpbulkwalk", "-v2c", "-c", "public", "-On", "-t", "10", "-r", "1",
        f"-Cr{repetitions}", f"127.0.0.1:{port}", oid,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    out, err = await proc.communicate()
    seconds = time.perf_counter() - t0
    if proc.returncode:
        raise SystemExit(f"snmpbulkwalk failed: {err.decode().strip()}")
    return out.count(b"\n"), seconds


async def ours(args: argparse.Namespace, env: dict[str, str]) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as tmp:
        port = free_udp_port()
        c = Controller(ControllerOptions(data_dir=Path(tmp), simulate=args.pdus,
                                         interval=args.interval, equipment="full",
                                         ssh_enabled=False, snmp_port=port, bind="127.0.0.1"))
        await c.start()
        try:
            await asyncio.wait_for(c.poller.first_sweep_done.wait(), 120)
            await c.config.put(SYSTEM, "snmp_agent", {"enabled": "enabled"})
            while not c.service("snmp").status.running:  # type: ignore[union-attr]
                await asyncio.sleep(0.05)
            await asyncio.sleep(args.interval * 2)
            bus = c.live.bus
            bus.recent_sweep_ms.clear()
            await asyncio.sleep(args.baseline)
            base = list(bus.recent_sweep_ms)
            bus.recent_sweep_ms.clear()
            oids, seconds = 0, 0.0
            for _ in range(args.walks):
                n, s = await walk(env, port, ".1.3.6.1.4.1.28402.12.2", args.repetitions)
                oids, seconds = oids + n, seconds + s
            during = list(bus.recent_sweep_ms)
            return {"oids_per_walk": oids / args.walks, "oids": oids, "seconds": seconds,
                    "oids_per_s": oids / seconds, "sweep_ms_p99_base": p99(base),
                    "sweep_ms_p99_walk": p99(during), "sweeps_base": len(base),
                    "sweeps_walk": len(during)}
        finally:
            await c.stop()


async def snmpd(args: argparse.Namespace, env: dict[str, str], target_oids: int) -> dict[str, float]:
    if shutil.which("snmpd") is None and not Path("/usr/sbin/snmpd").exists():
        raise SystemExit("snmpd is not installed (Debian package snmpd)")
    binary = shutil.which("snmpd") or "/usr/sbin/snmpd"
    with tempfile.TemporaryDirectory() as tmp:
        conf = Path(tmp) / "snmpd.conf"
        conf.write_text("rocommunity public 127.0.0.1\n")
        port = free_udp_port()
        sleepers = [subprocess.Popen(["sleep", "600"]) for _ in range(args.padding)]
        proc = subprocess.Popen([binary, "-f", "-Ln", "-C", "-c", str(conf), "-p",
                                 str(Path(tmp) / "pid"), f"udp:127.0.0.1:{port}"], env=env,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            for _ in range(100):                       # until it answers
                p = await asyncio.create_subprocess_exec(
                    "snmpget", "-v2c", "-c", "public", "-t", "0.2", "-r", "0",
                    f"127.0.0.1:{port}", ".1.3.6.1.2.1.1.3.0", env=env,
                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
                if await p.wait() == 0:
                    break
            oids, seconds = 0, 0.0
            while oids < target_oids:
                n, s = await walk(env, port, ".1.3.6.1.2.1.25.4.2", args.repetitions)
                oids, seconds = oids + n, seconds + s
            return {"snmpd_oids": oids, "snmpd_seconds": seconds,
                    "snmpd_oids_per_s": oids / seconds, "snmpd_oids_per_walk": n}
        finally:
            proc.terminate()
            proc.wait(10)
            for s in sleepers:
                s.kill()
                s.wait()


async def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--pdus", type=int, default=100)
    ap.add_argument("--interval", type=float, default=1.0)
    ap.add_argument("--walks", type=int, default=10,
                    help="walks of the subtree (10 hold about ten sweeps for the p99)")
    ap.add_argument("--repetitions", type=int, default=50)
    ap.add_argument("--baseline", type=float, default=20.0, help="seconds without SNMP traffic")
    ap.add_argument("--padding", type=int, default=400,
                    help="extra processes padding snmpd's hrSWRunTable")
    args = ap.parse_args()
    logging.basicConfig(level=logging.WARNING)
    with tempfile.TemporaryDirectory() as state:
        env = netsnmp_env(Path(state))
        a = await ours(args, env)
        print(f"ours:   {a['oids_per_walk']:.0f} OIDs per walk, {a['oids_per_s']:.0f} OIDs/s; "
              f"sweep p99 {a['sweep_ms_p99_base']:.1f} ms without SNMP, "
              f"{a['sweep_ms_p99_walk']:.1f} ms during the walks")
        b = await snmpd(args, env, int(a["oids"]))
        print(f"snmpd:  {b['snmpd_oids_per_walk']:.0f} OIDs per walk (hrSWRunTable, "
              f"{args.padding} padding processes), {b['snmpd_oids_per_s']:.0f} OIDs/s")
    ratio = a["oids_per_s"] / b["snmpd_oids_per_s"]
    print(f"ratio ours/snmpd: {ratio:.2f}")
    print(json.dumps({"pdus": args.pdus, "interval_s": args.interval,
                      "repetitions": args.repetitions, "oids": int(a["oids"]),
                      "oids_per_walk": int(a["oids_per_walk"]),
                      "oids_per_s": round(a["oids_per_s"]),
                      "snmpd_oids_per_s": round(b["snmpd_oids_per_s"]),
                      "ratio": round(ratio, 3),
                      "sweep_ms_p99_base": round(a["sweep_ms_p99_base"], 1),
                      "sweep_ms_p99_walk": round(a["sweep_ms_p99_walk"], 1)}))


if __name__ == "__main__":
    asyncio.run(main())
