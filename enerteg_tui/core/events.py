"""Publish/subscribe between the core and its consumers, bounded so nobody stalls.

Two kinds of news travel here. Live value changes are *coalesced*: a subscriber holds
at most one pending entry per device and component instance, so however slow it is,
it only ever sees the latest state and its memory stays bounded by the size of the
ring. Discrete events (audit entries, settings changed, devices found or lost, ring
state) go into a bounded deque per subscriber; when it overflows the oldest are
dropped and counted, never the poller blocked.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from .model import GroupKey
from .waiting import wait_event

__all__ = ["Event", "Batch", "Subscription", "EventBus", "SWEEP"]

SWEEP = "sweep"
"""Pseudo-kind: a paced subscription with it in ``kinds`` wakes at every sweep end."""
DEFAULT_EVENT_BACKLOG = 1000
"""Discrete events kept per subscriber before the oldest are dropped."""


@dataclass(frozen=True, slots=True)
class Event:
    """A discrete event: a kind (``audit``, ``settings``, ``device``, ``ring``) and data."""

    kind: str
    subject: str = ""
    """What it is about: a topic name, a hex id, an audit id."""
    data: Any = None


@dataclass(slots=True)
class Batch:
    """What a subscriber receives at once: coalesced live changes and queued events."""

    live: dict[str, set[GroupKey]] = field(default_factory=dict)
    """Hex id → component instances whose values changed since the last batch."""
    devices: set[str] = field(default_factory=set)
    """Hex ids whose state (not values) changed: stale, reachable, outlet state."""
    events: list[Event] = field(default_factory=list)
    dropped: int = 0
    """Discrete events lost to overflow since the last batch."""

    def __bool__(self) -> bool:
        return bool(self.live or self.devices or self.events or self.dropped)


class Subscription:
    """One consumer's bounded, coalescing inbox. Close it when done."""

    def __init__(self, bus: EventBus, kinds: frozenset[str] | None, backlog: int, *,
                 devices: frozenset[str] | None = None, live: bool = True,
                 paced: bool = False) -> None:
        self._bus = bus
        self.kinds = kinds
        """Event kinds wanted; None for all."""
        self.devices = devices
        """Devices whose live changes and state changes are wanted; None for all."""
        self.live = live
        """Whether live value changes and device state changes are wanted at all."""
        self.paced = paced
        """Live news wakes the consumer only at the end of a sweep (one batch a sweep)."""
        self._live: dict[str, set[GroupKey]] = {}
        self._devices: set[str] = set()
        self._events: deque[Event] = deque(maxlen=backlog)
        self._dropped = 0
        self._wake = asyncio.Event()
        self.closed = False

    def _wants(self, hex_id: str) -> bool:
        return self.live and (self.devices is None or hex_id in self.devices)

    def _push_live(self, hex_id: str, groups: Iterable[GroupKey]) -> None:
        if not self._wants(hex_id):
            return
        pending = self._live.get(hex_id)
        if pending is None:
            self._live[hex_id] = set(groups)
        else:
            pending.update(groups)
        if not self.paced:
            self._wake.set()

    def _push_device(self, hex_id: str) -> None:
        if not self._wants(hex_id):
            return
        self._devices.add(hex_id)
        if not self.paced:
            self._wake.set()

    def _sweep_done(self) -> None:
        if self.paced and (self._live or self._devices or (self.kinds is not None
                                                            and SWEEP in self.kinds)):
            self._wake.set()

    def _push_event(self, event: Event) -> None:
        if self.kinds is not None and event.kind not in self.kinds:
            return
        if len(self._events) == self._events.maxlen:
            self._dropped += 1
        self._events.append(event)
        self._wake.set()

    def take(self) -> Batch:
        """Return and clear everything pending, without waiting."""
        batch = Batch(self._live, self._devices, list(self._events), self._dropped)
        self._live = {}
        self._devices = set()
        self._events.clear()
        self._dropped = 0
        self._wake.clear()
        return batch

    async def get(self, timeout: float | None = None) -> Batch:
        """Wait for news (or ``timeout``) and return it; empty batch on timeout."""
        pending = self._live or self._devices or self._events or self._dropped
        if not pending or (self.paced and not self._wake.is_set()):
            if not await wait_event(self._wake, timeout):
                return Batch()
        return self.take()

    def close(self) -> None:
        """Unsubscribe; further news is not kept."""
        if not self.closed:
            self.closed = True
            self._bus._remove(self)

    def __enter__(self) -> Subscription:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class EventBus:
    """Fan-out of live changes and events to subscriptions; never blocks the publisher."""

    def __init__(self) -> None:
        self._subs: list[Subscription] = []

    def subscribe(
        self, kinds: Iterable[str] | None = None, backlog: int = DEFAULT_EVENT_BACKLOG, *,
        devices: Iterable[str] | None = None, live: bool = True, paced: bool = False,
    ) -> Subscription:
        """A new subscription to live changes and to events of ``kinds`` (all if None).

        Args:
            devices: only these devices' live and state changes (None: all devices).
            live: False for no live or device-state news at all (events only).
            paced: wake for live news only when a sweep ends, so a consumer gets one
                batch per sweep however many devices changed during it. With ``"sweep"``
                in ``kinds`` it also wakes (with an empty batch) at every sweep end.
        """
        sub = Subscription(self, frozenset(kinds) if kinds is not None else None, backlog,
                           devices=frozenset(devices) if devices is not None else None,
                           live=live, paced=paced)
        self._subs.append(sub)
        return sub

    def _remove(self, sub: Subscription) -> None:
        try:
            self._subs.remove(sub)
        except ValueError:
            pass

    @property
    def subscriber_count(self) -> int:
        """Open subscriptions."""
        return len(self._subs)

    def publish_live(self, hex_id: str, groups: set[GroupKey]) -> None:
        """Tell every subscriber that these component instances of a device changed."""
        if groups:
            for sub in self._subs:
                sub._push_live(hex_id, groups)

    def publish_device(self, hex_id: str) -> None:
        """Tell every subscriber that a device's state changed."""
        for sub in self._subs:
            sub._push_device(hex_id)

    def publish(self, event: Event) -> None:
        """Queue a discrete event to every interested subscriber."""
        for sub in self._subs:
            sub._push_event(event)

    def sweep_done(self) -> None:
        """A sweep ended: wake the paced subscriptions (the poller calls this)."""
        for sub in self._subs:
            sub._sweep_done()
