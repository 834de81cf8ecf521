"""Benchmark: how long one huge command line from a readonly user blocks the controller.

Starts a controller in-process (20 simulated PDUs sweeping every second, SSH on a free
loopback port, a readonly user) with a probe task that wakes every 5 ms and records the
longest gap between wake-ups (how long the loop was blocked), then sends, one at a time:

1. ``stdin``: a 1,000,000-character line as a script on stdin (``ssh -T host < file``);
   ``script-1m``: a script of 20 lines of 50,000 characters (within the limits) on stdin;
2. ``exec-300k``: a 300,000-character exec command (above asyncssh's 256 KiB packet);
3. ``exec-1m``: a 1,000,000-character exec command;
4. ``paste``: a 1 MiB paste and Enter into the interactive shell (pty, ``shell``).

Each line is ``put name="AAAA…"``: one word, shlex's worst case. For each case prints
the wall time until the client got its answer, the longest loop stall, sweeps lost
(poller overruns) and the first line the client saw on stderr. Last line JSON.

Usage: python bench/longline.py [--cases stdin,exec-300k,exec-1m,paste]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import re
import sys
import tempfile
import time
from pathlib import Path

import asyncssh

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from enerteg_tui.controller import Controller, ControllerOptions  # noqa: E402
from enerteg_tui.core.permissions import SYSTEM  # noqa: E402

PASSWORD = "Bench-pass-1"
SSH_OPTS = ["-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null",
            "-o", "PubkeyAuthentication=no", "-o", "LogLevel=ERROR"]
ASKPASS = Path(__file__).resolve().parent.parent / "tests" / "protocols" / "ssh" / "askpass.sh"


class Probe:
    """Wakes every 5 ms and keeps the longest gap seen since the last ``reset``."""

    def __init__(self) -> None:
        self.worst = 0.0
        self.task = asyncio.get_running_loop().create_task(self._run())

    async def _run(self) -> None:
        last = time.perf_counter()
        while True:
            await asyncio.sleep(0.005)
            now = time.perf_counter()
            self.worst = max(self.worst, now - last - 0.005)
            last = now

    def reset(self) -> None:
        self.worst = 0.0


def _line(n: int) -> str:
    head = 'put name="'
    return head + "A" * (n - len(head) - 1) + '"'


async def _openssh(port: int, command: str | None, stdin: bytes) -> tuple[int, str]:
    import os
    env = {**os.environ, "SSH_ASKPASS": str(ASKPASS), "SSH_ASKPASS_REQUIRE": "force",
           "DISPLAY": ":0", "ENERTEG_TEST_PASSWORD": PASSWORD}
    args = ["ssh", "-p", str(port), *SSH_OPTS, "oper@127.0.0.1"]
    if command is None:
        args.insert(1, "-T")
    else:
        # OpenSSH joins its arguments with spaces (inside the quotes: still one word);
        # one argv string may not exceed 128 KiB
        args += [command[i:i + 100_000] for i in range(0, len(command), 100_000)]
    proc = await asyncio.create_subprocess_exec(
        *args, stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE, env=env, start_new_session=True)
    _, err = await asyncio.wait_for(proc.communicate(stdin), 120)
    return proc.returncode or 0, err.decode(errors="replace")


async def _paste(port: int, n: int) -> tuple[int, str]:
    async with asyncssh.connect("127.0.0.1", port, username="oper", password=PASSWORD,
                                known_hosts=None, client_keys=None) as conn:
        proc = await conn.create_process("shell", term_type="xterm", term_size=(100, 30),
                                         encoding=None)
        await proc.stdout.readuntil(b"> ")
        proc.stdin.write(_line(n).encode() + b"\r")
        seen = b""
        # the answer: an error line, then the next prompt
        while b"Error" not in seen or not re.search(rb"> (\x1b\[K)?$", seen):
            chunk = await asyncio.wait_for(proc.stdout.read(1 << 20), 120)
            if not chunk:
                break
            seen = (seen + chunk)[-4096:]
        proc.stdin.write(b"exit\r")
        text = seen.decode(errors="replace")
        return 0, next((ln for ln in text.splitlines() if "Error" in ln), text[-200:])


async def run(cases: list[str]) -> dict:
    logging.basicConfig(level=logging.ERROR)
    results: dict[str, dict] = {}
    with tempfile.TemporaryDirectory() as tmp:
        c = Controller(ControllerOptions(data_dir=Path(tmp), simulate=20, interval=1.0,
                                         ssh_enabled=True, ssh_port=0, bind="127.0.0.1"))
        await c.start()
        await c.users.add(SYSTEM, "oper", PASSWORD, ["readonly"])
        await asyncio.wait_for(c.poller.first_sweep_done.wait(), 30)
        port = c.service("ssh").port
        probe = Probe()
        for case in cases:
            await asyncio.sleep(2)
            probe.reset()
            over0 = c.live.bus.overruns
            t0 = time.perf_counter()
            if case == "stdin":
                code, err = await _openssh(port, None, (_line(1_000_000) + "\n").encode())
            elif case == "script-1m":
                script = "".join(_line(50_000) + "\n" for _ in range(20))
                code, err = await _openssh(port, None, script.encode())
            elif case == "exec-300k":
                code, err = await _openssh(port, _line(300_000), b"")
            elif case == "exec-1m":
                code, err = await _openssh(port, _line(1_000_000), b"")
            elif case == "paste":
                code, err = await _paste(port, 1 << 20)
            else:
                raise SystemExit(f"unknown case {case!r}")
            wall = time.perf_counter() - t0
            await asyncio.sleep(1.5)
            results[case] = {"wall_s": round(wall, 2), "worst_stall_s": round(probe.worst, 3),
                             "sweeps_lost": c.live.bus.overruns - over0, "exit": code,
                             "message": (err.strip().splitlines() or [""])[0][:160]}
            print(case, results[case], flush=True)
        probe.task.cancel()
        await c.stop()
    return results


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cases", default="stdin,script-1m,exec-300k,exec-1m,paste")
    args = ap.parse_args()
    print(json.dumps(asyncio.run(run(args.cases.split(",")))))


if __name__ == "__main__":
    main()
