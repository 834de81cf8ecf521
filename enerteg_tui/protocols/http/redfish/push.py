"""Pushing Redfish Event documents to subscribers' listener URLs, with retry.

Why a module of its own: delivery must never hold up the core or another subscriber.
Each subscription has one ``Pusher``: a bounded queue (``QUEUE_LIMIT`` events; on
overflow the oldest is dropped and counted) and one task that POSTs the events in order.
A POST that fails (no connection, timeout, a status other than 2xx) is tried again
``DeliveryRetryAttempts`` times, ``DeliveryRetryIntervalSeconds`` apart; then that event
is given up and the subscription ends (Redfish's ``TerminateAfterRetries``: ``on_spent``
deletes it, audited). A dead listener therefore costs its own task and queue only, and
only for as long as its retries last. The HTTP client is a small HTTP/1.1 POST over asyncio streams
(one connection per event, ``Connection: close``): the controller needs no HTTP client
library at run time. HTTPS listeners are verified against the certificate store's trust
(``core.certs.client_context``).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import ssl
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

__all__ = ["Pusher", "RetryPolicy", "post_json", "QUEUE_LIMIT", "TIMEOUT_SECONDS"]

log = logging.getLogger(__name__)

QUEUE_LIMIT = 100
"""Events one subscriber may have waiting; beyond it the oldest is dropped."""
TIMEOUT_SECONDS = 10.0
"""One POST (connect, send, answer) must be done within this."""


@dataclass
class RetryPolicy:
    """EventService's ``DeliveryRetryAttempts`` and ``DeliveryRetryIntervalSeconds``."""

    attempts: int = 3
    interval_s: float = 5.0


async def post_json(url: str, doc: dict[str, Any], *, ssl_context: ssl.SSLContext | None,
                    headers: dict[str, str] | None = None,
                    timeout: float = TIMEOUT_SECONDS) -> int:
    """POST ``doc`` as JSON to ``url``; the answer's status code. Raises ``OSError``
    (connection), ``TimeoutError`` or ``ValueError`` (an answer that is not HTTP)."""
    parts = urlsplit(url)
    https = parts.scheme == "https"
    host = parts.hostname or ""
    port = parts.port or (443 if https else 80)
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    body = json.dumps(doc, separators=(",", ":")).encode()
    host_header = f"[{host}]" if ":" in host else host
    if parts.port:
        host_header += f":{parts.port}"
    head = (f"POST {path} HTTP/1.1\r\nHost: {host_header}\r\n"
            "Content-Type: application/json; charset=utf-8\r\n"
            f"Content-Length: {len(body)}\r\nOData-Version: 4.0\r\n"
            "User-Agent: EnerTEG-controller-Redfish\r\nConnection: close\r\n"
            + "".join(f"{k}: {v}\r\n" for k, v in (headers or {}).items())
            + "\r\n").encode()

    async def exchange() -> int:
        reader, writer = await asyncio.open_connection(
            host, port, ssl=ssl_context if https else None,
            server_hostname=host if https else None)
        try:
            writer.write(head + body)
            await writer.drain()
            status_line = await reader.readline()
            fields = status_line.decode("latin-1").split()
            if len(fields) < 2 or not fields[0].startswith("HTTP/") or not fields[1].isdigit():
                raise ValueError(f"the answer is not HTTP: {status_line[:60]!r}")
            return int(fields[1])
        finally:
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()

    return await asyncio.wait_for(exchange(), timeout)


class Pusher:
    """One subscriber's queue and delivery task."""

    def __init__(self, sub_id: int, destination: str, policy: Callable[[], RetryPolicy],
                 ssl_context: Callable[[], ssl.SSLContext | None], *,
                 on_spent: Callable[[Pusher], Awaitable[None]] | None = None,
                 headers: dict[str, str] | None = None,
                 queue_limit: int = QUEUE_LIMIT) -> None:
        self.sub_id = sub_id
        self.destination = destination
        self.policy = policy
        self.ssl_context = ssl_context
        self.queue: deque[dict[str, Any]] = deque()
        self.queue_limit = queue_limit
        self.wake = asyncio.Event()
        self.delivered = 0
        self.given_up = 0
        """Events not delivered after every retry."""
        self.overflowed = 0
        """Events dropped because the queue was full (the listener is slow or dead)."""
        self.last_error = ""
        self.on_spent = on_spent
        self.headers = dict(headers or {})
        """The subscription's HttpHeaders, sent with every event."""
        self.task = asyncio.create_task(self._run(), name=f"redfish-push-{sub_id}")

    def offer(self, doc: dict[str, Any]) -> None:
        """Queue an event without waiting; a full queue drops its oldest."""
        if len(self.queue) >= self.queue_limit:
            self.queue.popleft()
            self.overflowed += 1
        self.queue.append(doc)
        self.wake.set()

    async def close(self) -> None:
        self.task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self.task

    async def _run(self) -> None:
        while True:
            await self.wake.wait()
            self.wake.clear()
            while self.queue:
                doc = self.queue.popleft()
                if await self._deliver(doc):
                    self.delivered += 1
                    continue
                self.given_up += 1
                log.warning("Redfish: event %s to subscription %d (%s) given up after "
                            "its retries: %s", doc.get("Id"), self.sub_id,
                            self.destination, self.last_error)
                if self.on_spent is not None:
                    self.queue.clear()
                    await self.on_spent(self)
                    return

    async def _deliver(self, doc: dict[str, Any]) -> bool:
        policy = self.policy()
        for attempt in range(1 + max(0, policy.attempts)):
            if attempt:
                await asyncio.sleep(policy.interval_s)
            try:
                status = await post_json(self.destination, doc, headers=self.headers,
                                         ssl_context=self.ssl_context())
            except (OSError, TimeoutError, ValueError, ssl.SSLError) as exc:
                self.last_error = f"{type(exc).__name__}: {exc}"
                continue
            if 200 <= status < 300:
                self.last_error = ""
                return True
            self.last_error = f"the listener answered {status}"
        return False
