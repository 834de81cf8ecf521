"""ICMP echo (ping) in the controller's own process: no ``ping`` program, no child process.

Why: the shell's ``ping`` ran the host's iputils ``ping`` as a child process, which
needs iputils installed and outlived the session that started it (seven
connect/ping/disconnect cycles left seven pings). Here an echo is a datagram on the
controller's loop: cancelling the command (Ctrl-C, an SSH signal or break, the channel
closing) stops it at once and leaves nothing behind.

The socket is an unprivileged ICMP datagram socket where the kernel allows it
(``net.ipv4.ping_group_range``), else a raw socket (root or ``CAP_NET_RAW``). IPv4
and IPv6. Count and wait are bounded by the caller; one echo a second, like iputils.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import struct
import time
from collections.abc import Callable
from dataclasses import dataclass, field

__all__ = ["EchoReply", "PingResult", "ping", "IcmpUnavailable"]

PAYLOAD = 56
"""Data bytes in each echo request (as iputils sends)."""
INTERVAL_S = 1.0


class IcmpUnavailable(OSError):
    """No ICMP socket can be opened (not root, and datagram ICMP not allowed)."""


@dataclass(frozen=True, slots=True)
class EchoReply:
    """One answered echo."""

    seq: int
    address: str
    rtt_ms: float
    ttl: int | None
    size: int


@dataclass(slots=True)
class PingResult:
    """What a ping run saw."""

    host: str
    address: str
    transmitted: int = 0
    replies: list[EchoReply] = field(default_factory=list)


def _checksum(data: bytes) -> int:
    if len(data) % 2:
        data += b"\0"
    total = sum(struct.unpack(f"!{len(data) // 2}H", data))
    total = (total >> 16) + (total & 0xFFFF)
    total += total >> 16
    return ~total & 0xFFFF


def _open(family: int) -> tuple[socket.socket, bool]:
    """An ICMP socket for ``family`` and whether it is raw (replies carry the IPv4 header)."""
    proto = socket.IPPROTO_ICMP if family == socket.AF_INET else socket.IPPROTO_ICMPV6
    errors = []
    for kind in (socket.SOCK_DGRAM, socket.SOCK_RAW):
        try:
            sock = socket.socket(family, kind, proto)
        except OSError as exc:
            errors.append(exc)
            continue
        sock.setblocking(False)
        return sock, kind == socket.SOCK_RAW
    raise IcmpUnavailable(f"no ICMP socket: {errors[-1].strerror if errors else 'unknown'}; the "
                          "controller needs root (or CAP_NET_RAW) or net.ipv4.ping_group_range "
                          "including its group")


def _request(family: int, ident: int, seq: int) -> bytes:
    kind = 8 if family == socket.AF_INET else 128
    payload = struct.pack("!d", time.monotonic()) + bytes(range(PAYLOAD - 8))
    header = struct.pack("!BBHHH", kind, 0, 0, ident, seq)
    if family == socket.AF_INET:   # the kernel computes the ICMPv6 checksum
        header = struct.pack("!BBHHH", kind, 0, _checksum(header + payload), ident, seq)
    return header + payload


def _parse(data: bytes, family: int, raw: bool) -> tuple[int, int, int, int | None] | None:
    """(type, ident, seq, ttl) of an ICMP message, None if too short."""
    ttl = None
    if family == socket.AF_INET and raw:
        if len(data) < 20:
            return None
        ihl = (data[0] & 0x0F) * 4
        ttl = data[8]
        data = data[ihl:]
    if len(data) < 8:
        return None
    kind, _code, _sum, ident, seq = struct.unpack("!BBHHH", data[:8])
    return kind, ident, seq, ttl


async def ping(host: str, count: int, wait_s: float,
               on_reply: Callable[[EchoReply], None] | None = None,
               on_start: Callable[[str], None] | None = None) -> PingResult:
    """Send ``count`` echoes to ``host``, one a second, waiting at most ``wait_s`` for the
    last; returns what came back. Cancel the task to stop it.

    Raises:
        socket.gaierror: ``host`` does not resolve.
        IcmpUnavailable: no ICMP socket may be opened.
    """
    loop = asyncio.get_running_loop()
    async with asyncio.timeout(wait_s + 5):
        infos = await loop.getaddrinfo(host, None, type=socket.SOCK_RAW)
    family, _, _, _, sockaddr = infos[0]
    address = str(sockaddr[0])
    result = PingResult(host, address)
    sock, raw = _open(family)
    ident = os.getpid() & 0xFFFF ^ id(result) & 0xFFFF
    reply_kind = 0 if family == socket.AF_INET else 129
    sent_at: dict[int, float] = {}
    if on_start is not None:
        on_start(address)

    async def receive(deadline: float) -> None:
        # asyncio.timeout_at, not wait_for: 3.11's wait_for loses a cancel that arrives
        # together with a reply, which left a cancelled ping waiting for its deadline
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout_at(deadline):
                while len(result.replies) < count:
                    data, peer = await loop.sock_recvfrom(sock, 65535)
                    take(data, peer)

    def take(data: bytes, peer: tuple) -> None:
        parsed = _parse(data, family, raw)
        if parsed is None:
            return
        kind, got_ident, seq, ttl = parsed
        # a datagram socket's replies are ours (the kernel sets and matches the id)
        if kind != reply_kind or (raw and got_ident != ident) or seq not in sent_at:
            return
        if any(r.seq == seq for r in result.replies):
            return
        reply = EchoReply(seq, str(peer[0]), (time.monotonic() - sent_at[seq]) * 1000, ttl,
                          len(data) - (20 if raw and family == socket.AF_INET else 0))
        result.replies.append(reply)
        if on_reply is not None:
            on_reply(reply)

    receiver: asyncio.Task[None] | None = None
    try:
        receiver = asyncio.ensure_future(receive(loop.time() + (count - 1) * INTERVAL_S + wait_s))
        for seq in range(1, count + 1):
            sent_at[seq] = time.monotonic()
            with contextlib.suppress(OSError):   # e.g. network unreachable: counts as lost
                await loop.sock_sendto(sock, _request(family, ident, seq), sockaddr)
            result.transmitted += 1
            if seq < count:
                await asyncio.wait([receiver], timeout=INTERVAL_S)
        await receiver
    finally:
        if receiver is not None and not receiver.done():
            receiver.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await receiver
        sock.close()
    return result
