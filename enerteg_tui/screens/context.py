"""What every console widget needs to reach the core: controller, principal and clock.

One ``ConsoleContext`` per session, owned by ``ConsoleApp``; widgets reach it through
``console_context(widget)`` so that no widget imports the App class (screens stay
testable on their own). ``LiveListener`` is the one way a widget hears about live
changes: it subscribes to the core's event bus on mount, drops the subscription on
unmount, and hands the widget coalesced batches no faster than ``MIN_GAP_S``, so a
slow session never slows the poller and a fast ring never floods a session.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from textual.dom import DOMNode

from ..core.events import SWEEP, Batch, Subscription
from ..core.permissions import Action, Principal, allowed

if TYPE_CHECKING:
    from ..core.services import CoreServices

__all__ = ["MIN_GAP_S", "ConsoleContext", "LiveListener", "console_context"]

PHASE_SPREAD_S = 0.5
"""Sessions redraw within this long after a sweep ends (see ``ConsoleContext.phase``)."""
MIN_GAP_S = 0.2
"""Shortest time between two redraws driven by live changes (one sweep is ≥ 1 s)."""


@dataclass(slots=True)
class ConsoleContext:
    """The session's view of the controller: who is logged in and what clock to show."""

    core: CoreServices
    principal: Principal
    hostname: str = "enerteg"
    clock: Callable[[], float] = time.time
    """Everything shown time-wise reads this (snapshots freeze it)."""
    extras: dict[str, Any] = field(default_factory=dict)
    phase: float = field(default_factory=lambda: random.uniform(0.0, PHASE_SPREAD_S))
    """This session's delay after a sweep before it redraws: sessions spread their
    frames over the sweep instead of all drawing at once, so a key pressed in any
    session waits behind one frame at most, not behind every session's frame."""

    def may(self, action: Action) -> bool:
        """Whether the session's principal may do ``action`` (to grey out controls)."""
        return allowed(self.principal, action)


def _merge(first: Batch, second: Batch) -> Batch:
    """Two consecutive batches as one (later news wins, nothing dropped)."""
    live = {k: set(v) for k, v in first.live.items()}
    for k, v in second.live.items():
        live.setdefault(k, set()).update(v)
    return Batch(live, first.devices | second.devices, first.events + second.events,
                 first.dropped + second.dropped)


def console_context(node: DOMNode) -> ConsoleContext:
    """The session context of the App ``node`` belongs to."""
    return node.app.context  # type: ignore[attr-defined,no-any-return]


class LiveListener:
    """Mixin for widgets that redraw on live changes; implement ``on_live_batch``.

    Call ``listen()`` from ``on_mount``. The subscription is closed when the widget is
    unmounted (the worker is cancelled with its node).
    """

    LIVE_KINDS: Iterable[str] | None = ()
    """Discrete event kinds wanted besides live value changes (None for all)."""
    LIVE_VALUES = True
    """Whether live value and device-state changes are wanted at all."""
    LIVE_TICK = False
    """Also be called (maybe with an empty batch) at the end of every sweep."""

    _live_sub: Subscription | None = None

    def live_devices(self) -> Iterable[str] | None:
        """The devices whose changes matter to this widget (None: all)."""
        return None

    def listen(self) -> None:
        """Subscribe to the event bus and start delivering batches.

        Batches are paced to the sweep: live changes collected during a sweep arrive
        once, when it ends, so every widget of a session redraws in the same frame,
        once per sweep (discrete events still arrive at once).
        """
        node: Any = self
        ctx = console_context(node)
        kinds = None if self.LIVE_KINDS is None else (
            (*self.LIVE_KINDS, SWEEP) if self.LIVE_TICK else tuple(self.LIVE_KINDS))
        self._live_sub = ctx.core.events.subscribe(
            kinds=kinds, devices=self.live_devices(), live=self.LIVE_VALUES, paced=True)
        node.run_worker(self._live_loop(), group="live", exit_on_error=False)

    async def _live_loop(self) -> None:
        sub = self._live_sub
        assert sub is not None
        phase = console_context(self).phase  # type: ignore[arg-type]
        try:
            while True:
                batch = await sub.get()
                if not batch.events:                    # a sweep's news or tick, not an alarm
                    await asyncio.sleep(phase)          # this session's slot after a sweep
                    more = sub.take()                   # (nothing new is lost meanwhile)
                    batch = _merge(batch, more) if more else batch
                if batch or self.LIVE_TICK:
                    self.on_live_batch(batch)
                await asyncio.sleep(MIN_GAP_S)
        finally:
            sub.close()

    def on_live_batch(self, batch: Batch) -> None:
        """Handle one coalesced batch of changes (override)."""

    def on_unmount(self) -> None:
        if self._live_sub is not None:
            self._live_sub.close()
