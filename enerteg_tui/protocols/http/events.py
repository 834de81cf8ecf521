"""``/events``: alarm and device state changes as a Server-Sent Events stream.

Integrations that want to know when an alarm is raised, escalated, acknowledged or
cleared, or when a PDU goes stale or comes back, need not poll: they keep one
``GET /events`` open (``?device=<hex id>`` or ``?element=<DC element id>`` to narrow it).

One ``EventHub`` per web server holds the one subscription to the core's event bus
(``alarm`` and ``device`` events, never live values), numbers each event once
(``<run>-<seq>``: ``run`` changes with every start of the hub, so an id of an earlier run
is recognised), encodes it once, keeps the last ``RING_SIZE`` in a ring buffer for
``Last-Event-ID`` resume, and hands the bytes to every stream whose filter takes it.
Each stream has a bounded queue; the hub only appends (never awaits a client), so the
core's publisher (the poller, the alarm evaluator) is never held up by a slow reader. A
stream whose queue overflows is dropped: it gets a final ``dropped`` event (written if
its connection takes it within ``FINAL_SECONDS``, else the connection is closed) and ends. A comment line every
``KEEPALIVE_SECONDS`` keeps proxies from closing an idle stream.

Authentication is interim: the bearer token of ``config/http_server metricsToken`` (as
``/metrics``), until the REST API's sessions and tokens land.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable
from typing import Any

from ...core.element_rules import element_key
from ...core.events import Event

__all__ = ["EventHub", "EventStream", "RING_SIZE", "QUEUE_LIMIT",
           "MAX_STREAMS", "KEEPALIVE_SECONDS"]

log = logging.getLogger(__name__)

RING_SIZE = 1000
"""Events kept for ``Last-Event-ID`` resume."""
QUEUE_LIMIT = 256
"""Events a stream may have waiting to be written before it is dropped."""
MAX_STREAMS = 32
"""Concurrent ``/events`` streams; one more is answered 503."""
KEEPALIVE_SECONDS = 15.0
"""A ``: keep-alive`` comment after this long without an event."""
FINAL_SECONDS = 30.0
"""How long a dropped stream's final event may wait for its connection to take it (the
client reads again or leaves); then the connection is closed."""
RETRY_MS = 3000
"""The reconnection delay the stream suggests to EventSource clients."""
KINDS = frozenset({"alarm", "device"})
"""Bus event kinds streamed."""

Scope = dict[str, Any]
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]


def _frame(event_id: str, kind: str, data: dict[str, Any]) -> bytes:
    """One SSE event; without ``event_id`` no ``id:`` line (the client's last id stays
    that of the last numbered event it got)."""
    head = f"id: {event_id}\n" if event_id else ""
    return (f"{head}event: {kind}\ndata: "
            f"{json.dumps(data, separators=(',', ':'), default=str)}\n\n").encode()


@dataclasses.dataclass(frozen=True, slots=True)
class _Record:
    seq: int
    subject: str
    """The alarm's device (hex id, ``ring``, ``dc:<id>``) or the device's hex id."""
    frame: bytes


class EventStream:
    """One open ``/events`` response: its filter and its bounded queue."""

    def __init__(self, hub: EventHub, subjects: Callable[[], set[str]] | None) -> None:
        self.hub = hub
        self.subjects = subjects
        """What the filter takes in now (None: everything)."""
        self.queue: deque[bytes] = deque()
        self.wake = asyncio.Event()
        self.dropped = asyncio.Event()
        """Set when the queue overflowed; the stream ends with a final event."""

    def wants(self, subject: str) -> bool:
        return self.subjects is None or subject in self.subjects()

    def offer(self, frame: bytes) -> None:
        """Queue a frame without waiting; overflow drops the stream."""
        if self.dropped.is_set():
            return
        if len(self.queue) >= self.hub.queue_limit:
            self.queue.clear()
            self.dropped.set()
            self.hub.streams.discard(self)
            self.hub.dropped_streams += 1
            log.info("Web server: an /events stream was dropped (more than %d events "
                     "waiting: the client reads too slowly)", self.hub.queue_limit)
        else:
            self.queue.append(frame)
        self.wake.set()

    def take(self) -> bytes:
        data = b"".join(self.queue)
        self.queue.clear()
        self.wake.clear()
        return data


class EventHub:
    """The bus subscription, the numbered ring buffer and the open streams.

    A face with its own event vocabulary (Redfish's EventService) subclasses it: what it
    follows on the bus (``bus_kinds``, ``bus_live``) and ``_pump`` are its own; the ring,
    resume and the bounded streams are these."""

    bus_kinds: frozenset[str] = KINDS
    bus_live = False
    """Whether device state changes (``Batch.devices``) are wanted, paced by the sweep."""

    def __init__(self, core: Any, *, ring_size: int = RING_SIZE,
                 queue_limit: int = QUEUE_LIMIT, max_streams: int = MAX_STREAMS) -> None:
        self.core = core
        self.run = format(int(time.time() * 1000), "x")
        self.seq = 0
        self.ring: deque[_Record] = deque(maxlen=ring_size)
        self.queue_limit = queue_limit
        self.max_streams = max_streams
        self.keepalive = KEEPALIVE_SECONDS
        self.streams: set[EventStream] = set()
        self.closing = asyncio.Event()
        """Set when the listeners stop: every stream ends at once."""
        self.dropped_streams = 0
        """Streams dropped for overflow since the hub started."""
        self.companions: dict[str, Any] = {}
        """Hubs of other faces that live and close with this one (by name)."""
        self._sub = core.events.subscribe(kinds=self.bus_kinds, live=self.bus_live,
                                          paced=self.bus_live)
        self._task = asyncio.create_task(self._pump(), name="http-events")

    def end_streams(self) -> None:
        """End every open stream (the listeners stop); new ones may open afterwards
        (clients reconnect with Last-Event-ID and miss nothing the ring keeps)."""
        self.closing.set()
        self.closing = asyncio.Event()
        self.streams.clear()
        for companion in self.companions.values():
            companion.end_streams()

    async def close(self) -> None:
        """Stop following the bus and end the streams (the web server stops)."""
        for companion in list(self.companions.values()):
            await companion.close()
        self.companions.clear()
        self.end_streams()
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task
        self._sub.close()

    async def _pump(self) -> None:
        while True:
            batch = await self._sub.get()
            if batch.dropped:
                self._add("", "gap", {"lost": batch.dropped, "why": "the controller's "
                                      "event bus overflowed"})
            for ev in batch.events:
                try:
                    subject, data = self._describe(ev)
                except Exception:
                    log.exception("Web server: cannot describe event %r for /events", ev.kind)
                    continue
                self._add(subject, ev.kind, data)

    def _describe(self, ev: Event) -> tuple[str, dict[str, Any]]:
        if ev.kind == "alarm":
            alarm = dataclasses.asdict(ev.data.alarm)
            return str(alarm["device"]), {"change": ev.data.change, **alarm}
        live = self.core.live.get(ev.subject)
        name = live.info.settings.name if live is not None else ""
        return ev.subject, {"device": ev.subject, "state": str(ev.data), "name": name,
                            "time": time.time()}

    def _add(self, subject: str, kind: str, data: dict[str, Any]) -> None:
        self.seq += 1
        rec = _Record(self.seq, subject, _frame(f"{self.run}-{self.seq}", kind, data))
        self.ring.append(rec)
        for stream in list(self.streams):
            if not subject or stream.wants(subject):
                stream.offer(rec.frame)

    # ------------------------------------------------------------------ streams
    def subjects_of(self, device: str | None, element: int | None
                    ) -> Callable[[], set[str]] | None:
        """The filter: the device, or the element's PDUs, itself and what is under it."""
        if device is None and element is None:
            return None
        structure = self.core.structure

        def subjects() -> set[str]:
            out: set[str] = set()
            if device is not None:
                out.add(device)
            if element is not None:
                out |= set(structure.devices_in(element))
                out |= {element_key(e) for e in structure.subtree(element)}
            return out
        return subjects

    def open(self, subjects: Callable[[], set[str]] | None, last_id: str) -> EventStream:
        """A new stream, with what it missed since ``last_id`` already queued."""
        stream = EventStream(self, subjects)
        if last_id:
            run, _, seq_text = last_id.partition("-")
            same_run = run == self.run and seq_text.isdigit()
            seq = int(seq_text) if same_run else 0
            oldest = self.ring[0].seq if self.ring else self.seq + 1
            if not same_run or seq < oldest - 1:
                stream.queue.append(_frame("", "gap", {
                    "lastEventId": last_id, "why": "events after it are no longer kept "
                    "(another run of the controller, or more than "
                    f"{self.ring.maxlen} since)"}))
            for rec in self.ring:
                if rec.seq > seq and (not rec.subject or stream.wants(rec.subject)):
                    stream.queue.append(rec.frame)
        self.streams.add(stream)
        return stream


async def _race(aw: Awaitable[Any], stops: list[asyncio.Event],
                timeout: float | None = None) -> bool:
    """Await ``aw`` unless one of ``stops`` is set first (or ``timeout`` passes): True
    when ``aw`` finished, False when it was given up (and cancelled)."""
    main = asyncio.ensure_future(aw)
    waiters = [asyncio.ensure_future(e.wait()) for e in stops]
    try:
        await asyncio.wait([main, *waiters], timeout=timeout,
                           return_when=asyncio.FIRST_COMPLETED)
    finally:
        for w in waiters:
            w.cancel()
    if main.done():
        main.result()
        return True
    main.cancel()
    with contextlib.suppress(asyncio.CancelledError, Exception):
        await main
    return False
