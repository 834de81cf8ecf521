"""Shared by the benchmarks: start ``enerteg serve`` with a benchmark user (shell.py,
console.py, which drive a controller process over SSH), a controller in the benchmark's
own process with its web server running (http.py, http_live.py), free ports and
percentiles.

The controller's stderr is read until the ready line and then drained by a thread
for as long as the process lives: an undrained pipe fills (64 KiB of warnings) and
then blocks the controller's one loop, which would be measured as latency.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

__all__ = ["PASSWORD", "USER", "free_port", "percentile", "start_serve", "web_controller"]

USER = "bench"
PASSWORD = "Bench-pass-1"


def free_port() -> int:
    """A TCP port on loopback that nothing listens on now."""
    import socket
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def percentile(values: list[float], q: float) -> float:
    """The ``q`` quantile (0..1) of ``values`` by rank; NaN for no values."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")


@asynccontextmanager
async def web_controller(pdus: int, interval: float, *, https: bool = False
                         ) -> AsyncIterator[tuple[Any, Any, Path]]:
    """A controller in this process on ``pdus`` full simulated PDUs sweeping every
    ``interval`` s, past its first sweep, with its web server running on free loopback
    ports (HTTPS too when ``https``); yields (the controller, its web service, its data
    directory) and stops it after."""
    import asyncio
    import tempfile

    from enerteg_tui.controller import Controller, ControllerOptions
    from enerteg_tui.core.permissions import SYSTEM
    with tempfile.TemporaryDirectory() as tmp:
        c = Controller(ControllerOptions(
            data_dir=Path(tmp), simulate=pdus, interval=interval, equipment="full",
            ssh_enabled=False, modbus_port=free_port(), snmp_port=free_port(),
            http_port=free_port(), https_port=free_port(), bind="127.0.0.1"))
        await c.start()
        try:
            await asyncio.wait_for(c.poller.first_sweep_done.wait(), 120)
            await c.config.put(SYSTEM, "http_server", {"enabled": "enabled",
                                                       "httpsEnabled": https})
            svc = c.service("http")
            for _ in range(600):
                if svc.status.running:
                    break
                await asyncio.sleep(0.05)
            else:
                raise SystemExit(f"web server: {svc.status.text}")
            yield c, svc, Path(tmp)
        finally:
            await c.stop()


def start_serve(data: Path, pdus: int, interval: float) -> tuple[subprocess.Popen[str], int]:
    """Add the admin ``bench`` user, start ``enerteg serve`` on full PDUs with SSH on a free
    loopback port; returns the process and the port. ``BENCH_PROFILE=FILE`` runs it
    under cProfile."""
    subprocess.run([sys.executable, "-m", "enerteg_tui", "user", "add", USER, "--role", "admin",
                    "--data-dir", str(data)], input=PASSWORD + "\n", text=True, check=True,
                   capture_output=True)
    profile = ["-m", "cProfile", "-o", os.environ["BENCH_PROFILE"]] if os.environ.get(
        "BENCH_PROFILE") else []
    return launch_serve(data, "--simulate", str(pdus), "--interval", str(interval),
                        "--equipment", "full", python_args=profile)


def launch_serve(data: Path, *serve_args: str, python_args: list[str] | None = None
                 ) -> tuple[subprocess.Popen[str], int]:
    """Start ``enerteg serve`` on ``data`` with SSH on a free loopback port and wait for
    its ready line; returns the process and the port (its stderr is drained after)."""
    proc = subprocess.Popen(
        [sys.executable, *(python_args or []), "-m", "enerteg_tui", "serve", "--data-dir",
         str(data), *serve_args, "--ssh-port", "0", "--bind", "127.0.0.1",
         "--log-level", "WARNING"],
        stderr=subprocess.PIPE, text=True)
    assert proc.stderr is not None
    for line in proc.stderr:
        m = re.search(r"ssh=127\.0\.0\.1:(\d+)", line)
        if "enerteg ready:" in line and m:
            threading.Thread(target=lambda: [None for _ in proc.stderr],  # type: ignore[union-attr]
                             daemon=True, name="serve-stderr").start()
            return proc, int(m.group(1))
    raise SystemExit("controller did not start")
