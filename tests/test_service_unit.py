"""The watchdog behind ``autoRestart`` (issue 19 item 7): with it enabled a stalled event
loop stops the ``WATCHDOG=1`` pings (systemd then restarts the controller); with it
disabled the pings go on. Pings counted on a real ``$NOTIFY_SOCKET`` datagram socket."""

from __future__ import annotations

import asyncio
import socket
import time
from pathlib import Path

import pytest

from enerteg_tui.service_unit import Notifier, Watchdog


def _drain(sock: socket.socket) -> int:
    n = 0
    sock.setblocking(False)
    while True:
        try:
            msg = sock.recv(4096)
        except BlockingIOError:
            return n
        n += msg == b"WATCHDOG=1"


@pytest.mark.parametrize("auto_restart", [True, False])
async def test_a_stalled_loop_stops_the_pings_only_with_auto_restart(
        tmp_path: Path, auto_restart: bool) -> None:
    path = tmp_path / "notify"
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(str(path))
    dog = Watchdog(Notifier(str(path)), 0.1, lambda: auto_restart)
    dog.start()
    try:
        deadline = time.monotonic() + 10
        while dog.pings < 3 and time.monotonic() < deadline:   # the loop beats: pings flow
            await asyncio.sleep(0.05)
        assert dog.pings >= 3
        _drain(sock)
        time.sleep(3.5)                       # the event loop hangs: a stall is seen at 3 s
        _drain(sock)
        time.sleep(2.5)                       # ... and goes on hanging
        during = _drain(sock)
        if auto_restart:
            assert during <= 1                # no pings: systemd's watchdog will fire
        else:
            assert during >= 10               # ~25 at 0.1 s: the thread goes on
        deadline = time.monotonic() + 10
        while _drain(sock) == 0 and time.monotonic() < deadline:
            await asyncio.sleep(0.1)          # the loop beats again: pings again
        assert time.monotonic() < deadline
    finally:
        await dog.stop()
        sock.close()


def test_notifier_without_socket_does_nothing() -> None:
    assert Notifier(None).send("READY=1") is False
