"""Benchmark: logins as an attacker and an operator see them (issue 14 item 5).

Starts ``enerteg serve`` (benchlib) on loopback and measures, with asyncssh clients
whose source addresses are 127.x.y.z (so per-address limits see many sources):

1. timing: median time of a refused login for a user that does not exist and for an
   existing user with a wrong password (each try from its own address, so no back-off
   applies) — equal times do not tell whether a user exists. (Against a build that
   locks an account from every address, keep ``--timing-samples`` below its
   ``lockoutFailures``: a locked account answers without checking the password.);
2. lockout: after ``lockoutFailures`` wrong passwords for ``bench`` from one address,
   whether its right password is accepted from that address, from another one, and
   whether another account logs in from that address;
3. flood: C concurrent guessers, each connection from a new source address, for S
   seconds: password tries per second answered, and the controller's CPU (fraction of
   one core).

Usage: python bench/logins.py [--seconds 12] [--concurrency 32]
Prints figures, last line JSON.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import statistics
import tempfile
import time
from pathlib import Path

import asyncssh
import psutil

from benchlib import PASSWORD, USER, start_serve

_addresses = (f"127.{a}.{b}.{c}" for a, b, c in itertools.product(range(10, 250), range(1, 250),
                                                                   range(1, 250)))


async def _try(port: int, user: str, password: str, source: str | None = None) -> tuple[str, float]:
    """One login; ("ok" | "denied" | "refused", seconds)."""
    t0 = time.perf_counter()
    try:
        conn = await asyncio.wait_for(asyncssh.connect(
            "127.0.0.1", port, username=user, password=password, known_hosts=None,
            client_keys=None, preferred_auth="password",
            local_addr=(source or next(_addresses), 0)), 40)
    except asyncssh.PermissionDenied:
        return "denied", time.perf_counter() - t0
    except (asyncssh.Error, OSError, asyncio.TimeoutError):
        return "refused", time.perf_counter() - t0
    conn.close()
    return "ok", time.perf_counter() - t0


async def _timing(port: int, n: int) -> dict:
    unknown, wrong = [], []
    for _ in range(n):
        unknown.append((await _try(port, "no-such-user", "Wrong-pass-1"))[1])
        wrong.append((await _try(port, USER, "Wrong-pass-1"))[1])
    return {"no_such_user_ms": round(statistics.median(unknown) * 1000, 1),
            "wrong_password_ms": round(statistics.median(wrong) * 1000, 1)}


async def _lockout(port: int) -> dict:
    source, other = next(_addresses), next(_addresses)
    for _ in range(5):
        await _try(port, USER, "Wrong-pass-1", source)
    same, t_same = await _try(port, USER, PASSWORD, source)
    elsewhere, _ = await _try(port, USER, PASSWORD, other)
    admin_same, _ = await _try(port, "admin", "admin", source)
    return {"right_password_same_address": same, "right_password_same_address_s":
            round(t_same, 1), "right_password_other_address": elsewhere,
            "other_account_same_address": admin_same}


async def _flood(port: int, seconds: float, concurrency: int, server: psutil.Process) -> dict:
    counts = {"ok": 0, "denied": 0, "refused": 0}
    end = time.perf_counter() + seconds

    async def guesser(i: int) -> None:
        n = 0
        while time.perf_counter() < end:
            n += 1
            what, _ = await _try(port, f"guess{i}", f"Wrong-{n}")
            counts[what] += 1

    cpu0 = server.cpu_times()
    t0 = time.perf_counter()
    await asyncio.gather(*(guesser(i) for i in range(concurrency)))
    wall = time.perf_counter() - t0
    cpu1 = server.cpu_times()
    used = (cpu1.user - cpu0.user) + (cpu1.system - cpu0.system)
    return {"seconds": round(wall, 1), "tries_answered": counts["denied"],
            "tries_per_s": round(counts["denied"] / wall, 1),
            "connections_refused": counts["refused"], "controller_cpu": round(used / wall, 2)}


async def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=12)
    ap.add_argument("--concurrency", type=int, default=32)
    ap.add_argument("--timing-samples", type=int, default=9)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        proc, port = start_serve(Path(tmp) / "data", 4, 5)
        try:
            server = psutil.Process(proc.pid)
            await asyncio.sleep(1)
            result = {"timing": await _timing(port, args.timing_samples)}
            print("timing", result["timing"], flush=True)
            result["lockout"] = await _lockout(port)
            print("lockout", result["lockout"], flush=True)
            result["flood"] = await _flood(port, args.seconds, args.concurrency, server)
            print("flood", result["flood"], flush=True)
        finally:
            proc.terminate()
            proc.wait(10)
    print(json.dumps(result))


if __name__ == "__main__":
    asyncio.run(main())
