"""Crash trials: kill -9 the real ``enerteg serve`` after acknowledged changes and reads.

Issue 14 item 7. A real PDU keeps a setting the moment it acknowledges it and its
energy counters never decrease; the simulated ring must too. Each trial, on one data
directory kept across trials:

1. start ``enerteg serve --simulate P`` (SSH on a free loopback port);
2. over SSH (asyncssh, an admin user): ``put name=trial-N`` in one PDU's
   ``sensor/<hexid>/config`` (acknowledged "updated successfully"), then read every
   energy counter of every PDU (totals and outlets) for a few seconds;
3. kill -9 the controller at once;
4. start it again and read the name and every counter.

A trial "lost the setting" when the name read back is not ``trial-N``; it "went
backwards" when any counter read after the restart is below the largest value read
before the kill.

Usage: PYTHONPATH=. python bench/crash_trials.py --trials 20 --pdus 4
Prints one line per trial, last line JSON (settings kept, backwards count).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import asyncssh
from benchlib import launch_serve

USER = "crash"
PASSWORD = "Crash-pass-1"


def _start(data: Path, pdus: int) -> tuple[subprocess.Popen[str], int]:
    return launch_serve(data, "--simulate", str(pdus), "--interval", "0.5")


async def _run(conn: asyncssh.SSHClientConnection, cmd: str, stream: str = "stdout") -> str:
    r = await conn.run(cmd)
    if r.exit_status != 0:
        raise SystemExit(f"{cmd!r} failed: {r.stderr}")
    return str(r.stdout if stream == "stdout" else r.stderr)


async def _counters(conn: asyncssh.SSHClientConnection, hexids: list[str]) -> dict[str, float]:
    """Every energy counter of every PDU, by (pdu, component, quantity)."""
    out: dict[str, float] = {}
    for h in hexids:
        docs = [("t", json.loads(await _run(conn, f"format json; cat sensor/{h}/t/_data")))]
        items = json.loads(await _run(conn, f"format json; cat sensor/{h}/o/_data")).get("items", [])
        docs += [(f"o{d.get('index')}", d) for d in items]
        for where, doc in docs:
            for q in ("energy", "apparentEnergy"):
                if isinstance(doc.get(q), int | float):
                    out[f"{h}/{where}/{q}"] = float(doc[q])
    return out


async def _connect(port: int) -> asyncssh.SSHClientConnection:
    return await asyncssh.connect("127.0.0.1", port, username=USER, password=PASSWORD,
                                  known_hosts=None, client_keys=None)


async def _before(port: int, trial: int, read_s: float) -> tuple[str, dict[str, float]]:
    async with await _connect(port) as conn:
        entries = json.loads(await _run(conn, "format json; ls sensor"))["entries"]
        hexids = [n.strip("/") for n in entries if re.fullmatch(r"[0-9a-f]{4,8}/", n)]
        target = hexids[trial % len(hexids)]
        ack = await _run(conn, f"cd sensor/{target}/config; put name=trial-{trial}", "stderr")
        assert "updated successfully" in ack, ack
        seen: dict[str, float] = {}
        end = time.monotonic() + read_s
        while time.monotonic() < end:
            for k, v in (await _counters(conn, hexids)).items():
                seen[k] = max(v, seen.get(k, v))
        return target, seen


async def _after(port: int, target: str) -> tuple[str, dict[str, float]]:
    async with await _connect(port) as conn:
        await asyncio.sleep(1.5)  # one or two sweeps
        name = json.loads(await _run(conn, f"format json; cat sensor/{target}/config/_data"))
        entries = json.loads(await _run(conn, "format json; ls sensor"))["entries"]
        hexids = [n.strip("/") for n in entries if re.fullmatch(r"[0-9a-f]{4,8}/", n)]
        return name["u"]["name"], await _counters(conn, hexids)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--trials", type=int, default=20)
    ap.add_argument("--pdus", type=int, default=4)
    ap.add_argument("--read-seconds", type=float, default=3.0)
    args = ap.parse_args()
    data = Path(tempfile.mkdtemp(prefix="enerteg-crash-")) / "d"
    subprocess.run([sys.executable, "-m", "enerteg_tui", "user", "add", USER, "--role", "admin",
                    "--data-dir", str(data)], input=PASSWORD + "\n", text=True, check=True,
                   capture_output=True)
    kept = backwards = 0
    for trial in range(args.trials):
        proc, port = _start(data, args.pdus)
        try:
            target, seen = asyncio.run(_before(port, trial, args.read_seconds))
        finally:
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait()
        proc, port = _start(data, args.pdus)
        try:
            name, after = asyncio.run(_after(port, target))
        finally:
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait()
        back = {k: (v, after[k]) for k, v in seen.items() if k in after and after[k] < v}
        kept += name == f"trial-{trial}"
        backwards += bool(back)
        worst = max((v - a for v, a in back.values()), default=0.0)
        print(f"trial {trial}: name {name!r} ({'kept' if name == f'trial-{trial}' else 'LOST'}),"
              f" {len(back)} of {len(seen)} counters back (worst {worst:.2f})", flush=True)
    print(json.dumps({"trials": args.trials, "settings_kept": kept,
                      "trials_with_counters_backwards": backwards}))
    shutil.rmtree(data.parent, ignore_errors=True)


if __name__ == "__main__":
    main()
