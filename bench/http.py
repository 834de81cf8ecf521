"""Benchmark: ``/metrics`` of the web server for N full PDUs while the ring is polled,
against a bare endpoint (``/healthz``) on the same stack in the same run as the floor.

Starts a controller in this process (N full simulated PDUs sweeping every I seconds, the
web server on free loopback ports) and times the exposition built in-process (from live
state, and with the channel families kept since the sweep). Then, for R rounds, three
windows of S seconds each: no HTTP (the baseline), ``/metrics`` at Q scrapes a second
(default 1: Prometheus's most eager interval) and ``/healthz`` at the same rate (the
floor: uvicorn + FastAPI + the loop, nothing of ours); the rounds alternate so that the
machine's other load drifts over all three alike. Last, one window each of ``/metrics``
and ``/healthz`` back to back (a stress far beyond any scraper). The client is another
process (one kept-alive connection, TCP_NODELAY as Prometheus's Go client); each phase
gives time per request (p50/p99, whole body received) and the sweep durations meanwhile.

Usage: python bench/http.py [--pdus 100] [--interval 1] [--seconds 10] [--rounds 3]
       [--rate 1] [--https]
Prints figures, last line JSON (pdus, bytes, samples, build_ms, kept_ms_median,
sweep_ms_p99_base, and per phase paced/floor_paced/stress/floor_stress: _ms_p50,
_ms_p99, _sweep_ms_p99). Goals: /metrics < 250 ms; sweep p99 while scraped at R/s
within 10 % of the baseline.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import socket
import ssl
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
# this file is bench/http.py: bench/ goes to the END of the path, or this file hides the
# standard library's http package from starlette, uvicorn and http.client
BENCH = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != BENCH]
sys.path.insert(0, str(ROOT))
sys.path.append(str(BENCH))

from benchlib import percentile as pct, web_controller  # noqa: E402


# ---------------------------------------------------------------------- client process
def client(url: str, seconds: float, cafile: str, rate: float = 0.0) -> dict[str, float]:
    """GET ``url`` over one keep-alive connection for ``seconds``: ``rate`` requests per
    second, or back to back (0)."""
    import http.client
    from urllib.parse import urlsplit
    parts = urlsplit(url)
    if parts.scheme == "https":
        ctx = ssl.create_default_context(cafile=cafile)
        conn: http.client.HTTPConnection = http.client.HTTPSConnection(
            parts.hostname, parts.port, context=ctx, timeout=30)
    else:
        conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
    conn.connect()
    conn.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)   # as Go's client does
    lat: list[float] = []
    sizes: list[int] = []
    start = time.perf_counter()
    end = start + seconds
    n = 0
    while time.perf_counter() < end:
        if rate:
            time.sleep(max(0.0, start + n / rate - time.perf_counter()))
            n += 1
        t0 = time.perf_counter()
        conn.request("GET", parts.path)
        resp = conn.getresponse()
        body = resp.read()
        lat.append(time.perf_counter() - t0)
        sizes.append(len(body))
        if resp.status != 200:
            raise SystemExit(f"{url}: HTTP {resp.status}")
    conn.close()
    return {"requests": len(lat), "lat_ms": [x * 1000 for x in lat],
            "p50_ms": pct(lat, 0.5) * 1000,
            "p99_ms": pct(lat, 0.99) * 1000, "max_ms": max(lat) * 1000,
            "bytes": sum(sizes) / len(sizes)}


def run_client(url: str, seconds: float, cafile: str, rate: float = 0.0) -> dict[str, float]:
    """The client in its own process (so it shares neither our loop nor our GIL)."""
    out = subprocess.run([sys.executable, __file__, "--client", url, "--seconds", str(seconds),
                          "--cafile", cafile, "--rate", str(rate)], capture_output=True, text=True,
                         timeout=seconds + 120)
    if out.returncode:
        raise SystemExit(f"client failed: {out.stderr.strip()}")
    return json.loads(out.stdout.strip().splitlines()[-1])


# ---------------------------------------------------------------------- ours
async def measure(args: argparse.Namespace) -> dict[str, float]:
    from enerteg_tui.protocols.http.metrics import Exposition
    async with web_controller(args.pdus, args.interval, https=args.https) as (c, svc, tmp):
        cafile = str(Path(tmp) / "ca.pem")
        Path(cafile).write_text(svc.certificate)  # type: ignore[union-attr]
        scheme, port = (("https", svc.https_port) if args.https  # type: ignore[union-attr]
                        else ("http", svc.port))  # type: ignore[union-attr]
        base_url = f"{scheme}://localhost:{port}"
        expo = Exposition(c.core)
        builds, warm = [], []
        for _ in range(5):
            expo.forget()                 # built from live state, nothing kept
            t0 = time.perf_counter()
            text = expo.text()
            builds.append((time.perf_counter() - t0) * 1000)
            t0 = time.perf_counter()
            expo.text()                   # the channel families kept since the sweep
            warm.append((time.perf_counter() - t0) * 1000)
        samples = sum(1 for line in text.splitlines() if line and line[0] != "#")
        await asyncio.sleep(args.interval * 2)
        bus = c.live.bus
        loop = asyncio.get_running_loop()
        # the paced phases alternate with windows without HTTP, round after round, so
        # that the machine's other load drifts over all of them alike
        pooled: dict[str, dict[str, Any]] = {
            name: {"lat_ms": [], "sweeps": [], "bytes": 0.0}
            for name in ("base", "paced", "floor_paced", "stress", "floor_stress")}
        plan = [("base", "", 0.0), ("paced", "/metrics", args.rate),
                ("floor_paced", "/healthz", args.rate)] * args.rounds
        plan += [("stress", "/metrics", 0.0), ("floor_stress", "/healthz", 0.0)]
        for phase, path, rate in plan:
            bus.recent_sweep_ms.clear()
            if not path:
                await asyncio.sleep(args.seconds)
            else:
                got = await loop.run_in_executor(None, run_client, base_url + path,
                                                 args.seconds, cafile, rate)
                pooled[phase]["lat_ms"] += got["lat_ms"]
                pooled[phase]["bytes"] = got["bytes"]
            pooled[phase]["sweeps"] += list(bus.recent_sweep_ms)
        base = pooled.pop("base")["sweeps"]
        phases = {name: {"requests": len(v["lat_ms"]), "p50_ms": pct(v["lat_ms"], 0.5),
                         "p99_ms": pct(v["lat_ms"], 0.99), "sweeps": v["sweeps"],
                         "bytes": v["bytes"]} for name, v in pooled.items()}
        out: dict[str, Any] = {
            "samples": samples, "bytes": phases["paced"]["bytes"],
            "build_ms": min(builds), "build_ms_median": sorted(builds)[2],
            "kept_ms_median": sorted(warm)[2],
            "sweep_ms_p50_base": pct(base, 0.5), "sweep_ms_p99_base": pct(base, 0.99),
            "sweeps_base": len(base),
        }
        for phase, got in phases.items():
            out[f"{phase}_requests"] = got["requests"]
            out[f"{phase}_ms_p50"] = got["p50_ms"]
            out[f"{phase}_ms_p99"] = got["p99_ms"]
            out[f"{phase}_sweep_ms_p50"] = pct(got["sweeps"], 0.5)
            out[f"{phase}_sweep_ms_p99"] = pct(got["sweeps"], 0.99)
            out[f"{phase}_sweeps"] = len(got["sweeps"])
        return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--pdus", type=int, default=100)
    ap.add_argument("--interval", type=float, default=1.0)
    ap.add_argument("--seconds", type=float, default=10.0, help="seconds per window")
    ap.add_argument("--rounds", type=int, default=3,
                    help="rounds of (no HTTP, /metrics paced, /healthz paced) windows")
    ap.add_argument("--https", action="store_true", help="scrape over HTTPS (TLS 1.2+)")
    ap.add_argument("--rate", type=float, default=1.0,
                    help="scrapes per second of the paced phases (Prometheus: 1/15 to 1)")
    ap.add_argument("--client", help=argparse.SUPPRESS)
    ap.add_argument("--cafile", default="", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.client:
        print(json.dumps(client(args.client, args.seconds, args.cafile, args.rate)))
        return
    logging.basicConfig(level=logging.WARNING)
    os.environ.setdefault("PYTHONPATH", str(ROOT))
    r = asyncio.run(measure(args))
    proto = "HTTPS" if args.https else "HTTP"
    print(f"/metrics over {proto}, {args.pdus} full PDUs sweeping every {args.interval:g} s: "
          f"{r['bytes'] / 1e6:.2f} MB, {r['samples']} samples per scrape; built from live "
          f"state in {r['build_ms']:.1f} ms (median {r['build_ms_median']:.1f}), "
          f"{r['kept_ms_median']:.1f} ms with the channel families kept since the sweep")
    print(f"sweep without HTTP: p50 {r['sweep_ms_p50_base']:.0f} ms, p99 "
          f"{r['sweep_ms_p99_base']:.0f} ms ({r['sweeps_base']} sweeps)")
    for phase, words in (("paced", f"/metrics at {args.rate:g}/s"),
                         ("floor_paced", f"/healthz at {args.rate:g}/s (floor)"),
                         ("stress", "/metrics back to back"),
                         ("floor_stress", "/healthz back to back (floor)")):
        print(f"{words}: {r[phase + '_requests']} requests, p50 {r[phase + '_ms_p50']:.2f} ms, "
              f"p99 {r[phase + '_ms_p99']:.2f} ms; sweep p50 {r[phase + '_sweep_ms_p50']:.0f} "
              f"ms, p99 {r[phase + '_sweep_ms_p99']:.0f} ms ({r[phase + '_sweeps']} sweeps)")
    print(json.dumps({"pdus": args.pdus, "interval_s": args.interval, "https": args.https,
                      "rate": args.rate,
                      **{k: (round(v, 2) if isinstance(v, float) else v) for k, v in r.items()}}))


if __name__ == "__main__":
    main()
