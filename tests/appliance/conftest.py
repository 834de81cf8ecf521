"""Fixtures of the appliance tests: a fake NTP server on loopback."""

from __future__ import annotations

import socket
import struct
import threading
import time
from collections.abc import Iterator

import pytest

NTP_EPOCH_OFFSET = 2208988800


class FakeNtpServer:
    """An SNTP server on 127.0.0.1 (a free UDP port) whose clock is ``offset`` seconds
    ahead of this host's; ``silent`` drops requests. Counts the requests it answered."""

    def __init__(self) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.offset = 0.0
        self.silent = False
        self.answered = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    @staticmethod
    def _ntp(ts: float) -> bytes:
        return struct.pack("!II", int(ts) + NTP_EPOCH_OFFSET, int((ts % 1) * 2**32))

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                data, peer = self.sock.recvfrom(512)
            except (TimeoutError, OSError):
                continue
            if self.silent or len(data) < 48:
                continue
            now = time.time() + self.offset
            reply = (bytes([0x24, 2, 6, 0xEC]) + b"\x00" * 8 + b"GPS\x00" + self._ntp(now)
                     + data[40:48] + self._ntp(now) + self._ntp(time.time() + self.offset))
            self.sock.sendto(reply, peer)
            self.answered += 1

    def close(self) -> None:
        self._stop.set()
        self._thread.join(2)
        self.sock.close()


@pytest.fixture
def ntp_server() -> Iterator[FakeNtpServer]:
    server = FakeNtpServer()
    try:
        yield server
    finally:
        server.close()
