"""The tests' one copy of their common helpers: a cheap password hasher, "poll until"
(in a loop and in a thread), free loopback ports, building a started controller, and
running the ``enerteg`` command (``enerteg serve`` as a process, up to its ready line).

They live here, not in each test package, so a change (a longer default timeout, a port
check) is made once; ``tests/conftest.py`` builds its fixtures from them.
"""

from __future__ import annotations

import asyncio
import inspect
import os
import re
import socket
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from argon2 import PasswordHasher

if TYPE_CHECKING:
    from enerteg_tui.controller import Controller

__all__ = ["FAST_HASHER", "wait_for", "wait_for_blocking", "free_port", "build_controller",
           "REPO", "enerteg_env", "add_user", "start_serve", "wait_ready", "ssh_port_of"]

REPO = Path(__file__).resolve().parents[1]
"""The repository (the command runs from other folders too)."""

FAST_HASHER = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)
"""argon2id at its smallest cost (~0.1 ms a hash instead of ~45 ms): the tests build the
core with it. Hashes name their parameters, so it verifies production hashes too; a
running controller never uses it (``Controller`` has no switch lowering the cost)."""


async def wait_for(cond: Callable[[], object | Awaitable[object]], timeout: float = 5.0,
                   step: float = 0.01) -> None:
    """Poll ``cond`` (a function or a coroutine function) until it returns something
    true; fail the test after ``timeout`` seconds."""
    loop = asyncio.get_running_loop()
    end = loop.time() + timeout
    while True:
        got = cond()
        if inspect.isawaitable(got):
            got = await got
        if got:
            return
        if loop.time() > end:
            raise AssertionError(f"condition not met within {timeout} s")
        await asyncio.sleep(step)


def wait_for_blocking(cond: Callable[[], Any], timeout: float = 5.0, step: float = 0.05,
                      what: str | Callable[[], str] = "condition") -> Any:
    """Blocking "poll until" for tests outside a loop (subprocesses, tmux, servers):
    returns ``cond()``'s first true value, or fails after ``timeout`` seconds naming
    ``what`` (a text, or a function giving the state to show)."""
    end = time.monotonic() + timeout
    while True:
        got = cond()
        if got:
            return got
        if time.monotonic() > end:
            raise AssertionError(f"{what() if callable(what) else what}: not met within "
                                 f"{timeout} s")
        time.sleep(step)


def free_port(kind: int = socket.SOCK_STREAM) -> int:
    """A port free on 127.0.0.1 for both TCP and UDP (checked by binding both)."""
    other = socket.SOCK_DGRAM if kind == socket.SOCK_STREAM else socket.SOCK_STREAM
    for _ in range(50):
        with socket.socket(socket.AF_INET, kind) as s:
            s.bind(("127.0.0.1", 0))
            port = int(s.getsockname()[1])
        try:
            with socket.socket(socket.AF_INET, other) as s2:
                s2.bind(("127.0.0.1", port))
        except OSError:
            continue
        return port
    raise RuntimeError("no free port on 127.0.0.1")


async def build_controller(data_dir: Path, *, pdus: int = 8, interval: float = 0.1,
                           seed: int = 1, latency: float = 0.0,
                           clock: Callable[[], float] | None = None,
                           **options: Any) -> Controller:
    """A started controller on ``pdus`` simulated PDUs with the cheap hasher, once its
    first sweep is done. ``options`` go to ``ControllerOptions`` (SSH off unless asked; the
SNMP agent and the Modbus server, if a test enables them, on free ports unless asked)."""
    from enerteg_tui.controller import Controller, ControllerOptions

    options.setdefault("ssh_enabled", False)
    # nor ask pool.ntp.org: a test that checks the clock runs a fake server (ntp_port)
    options.setdefault("ntp_port", 0)
    options.setdefault("answer_error_rate", 0.0)  # a perfect bus unless a test asks
    # under manage_host, never the host's NTP client (/etc/chrony, /etc/systemd)
    options.setdefault("chrony_sources", data_dir / "host" / "chrony" / "sources.d" / "enerteg.sources")
    options.setdefault("timesyncd_conf", data_dir / "host" / "timesyncd.conf.d" / "enerteg.conf")
    # a test that enables config/snmp_agent must never bind UDP 161 (we run as root)
    options.setdefault("snmp_port", free_port(socket.SOCK_DGRAM))
    # nor TCP 502 for config/modbus
    options.setdefault("modbus_port", free_port())
    # nor TCP 80/443 for config/http_server
    options.setdefault("http_port", free_port())
    while options.get("https_port") in (None, options["http_port"]):
        options["https_port"] = free_port()
    opts = ControllerOptions(data_dir=data_dir, simulate=pdus, interval=interval, seed=seed,
                             bus_latency_ms=latency, **options)
    kw: dict[str, Any] = {"password_hasher": FAST_HASHER}
    if clock is not None:
        kw["clock"] = clock
    c = Controller(opts, **kw)
    await c.start()
    await asyncio.wait_for(c.poller.first_sweep_done.wait(), 10)
    return c


def enerteg_env(**extra: str) -> dict[str, str]:
    """This process's environment with the repository on ``PYTHONPATH`` (so
    ``python -m enerteg_tui`` runs this tree from any folder), plus ``extra``."""
    return {**os.environ, "PYTHONPATH": os.pathsep.join(
        p for p in (str(REPO), os.environ.get("PYTHONPATH", "")) if p), **extra}


def add_user(data: Path, name: str, password: str, role: str = "admin") -> None:
    """``enerteg user add name --role role`` on ``data`` (offline, the password on
    stdin); fails the test with the command's stderr if it is refused."""
    done = subprocess.run([sys.executable, "-m", "enerteg_tui", "user", "--data-dir", str(data),
                           "add", name, "--role", role], input=password + "\n", text=True,
                          capture_output=True, env=enerteg_env(), timeout=60)
    assert done.returncode == 0, done.stderr


def start_serve(data: Path, *extra: str, cwd: Path | None = None,
                env: dict[str, str] | None = None,
                stdout: int | None = subprocess.PIPE) -> subprocess.Popen[str]:
    """``enerteg serve --data-dir data *extra`` as a process (stderr piped, text); SSH on
    a free loopback port unless ``extra`` names ``--ssh-port``. ``env``: variables added
    to ``enerteg_env()``; ``stdout`` None: this process's. Read its ready line with
    ``wait_ready``."""
    if "--ssh-port" not in extra:
        extra = (*extra, "--ssh-port", "0", "--bind", "127.0.0.1")
    return subprocess.Popen(
        [sys.executable, "-m", "enerteg_tui", "serve", "--data-dir", str(data), *extra],
        stdout=stdout, stderr=subprocess.PIPE, text=True, cwd=cwd,
        env=enerteg_env(**(env or {})))


def wait_ready(proc: subprocess.Popen[str], timeout: float = 60,
               seen: list[str] | None = None) -> str:
    """The ``enerteg ready:`` line of ``proc``'s stderr; kills it and fails the test with
    what it wrote if that line does not come within ``timeout`` seconds. ``seen``: a
    list that gets every line read, the ready line too."""
    assert proc.stderr is not None
    end = time.monotonic() + timeout
    lines = seen if seen is not None else []
    while time.monotonic() < end:
        line = proc.stderr.readline()
        if not line:
            break
        lines.append(line)
        if "enerteg ready:" in line:
            return line
    proc.kill()
    raise AssertionError("no ready line:\n" + "".join(lines))


def ssh_port_of(line: str) -> int:
    """The SSH port a ready line names (``ssh=127.0.0.1:<port>``)."""
    m = re.search(r"ssh=127\.0\.0\.1:(\d+)", line)
    assert m, line
    return int(m.group(1))
