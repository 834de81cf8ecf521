"""Subscriptions are bounded and coalescing: a slow consumer never stalls the publisher."""

from __future__ import annotations

import asyncio

from enerteg_tui.core.events import Event, EventBus
from enerteg_tui.core.quantities import Component

T = (Component.TOTAL, 0)
O1 = (Component.OUTLET, 1)


async def test_live_changes_coalesce() -> None:
    bus = EventBus()
    sub = bus.subscribe()
    for _ in range(10_000):
        bus.publish_live("1f6c1", {T, O1})
    batch = await sub.get(timeout=1)
    assert batch.live == {"1f6c1": {T, O1}}
    assert not sub.take()


async def test_event_backlog_is_bounded_and_counts_drops() -> None:
    bus = EventBus()
    sub = bus.subscribe(backlog=10)
    for i in range(25):
        bus.publish(Event("audit", str(i)))
    batch = sub.take()
    assert [e.subject for e in batch.events] == [str(i) for i in range(15, 25)]
    assert batch.dropped == 15


async def test_kinds_filter_and_close() -> None:
    bus = EventBus()
    sub = bus.subscribe(kinds={"settings"})
    bus.publish(Event("audit", "1"))
    bus.publish(Event("settings", "core"))
    assert [e.kind for e in sub.take().events] == ["settings"]
    sub.close()
    assert bus.subscriber_count == 0
    bus.publish(Event("settings", "core"))
    assert not sub.take()


async def test_get_waits_then_times_out() -> None:
    bus = EventBus()
    sub = bus.subscribe()
    assert not await sub.get(timeout=0.01)
    asyncio.get_running_loop().call_later(0.01, bus.publish_device, "abc")
    batch = await sub.get(timeout=1)
    assert batch.devices == {"abc"}


async def test_device_filter_and_sweep_pacing() -> None:
    bus = EventBus()
    mine = bus.subscribe(kinds=("alarm",), devices={"aaaaa"}, paced=True)
    ticks = bus.subscribe(kinds=("ring", "sweep"), live=False, paced=True)
    bus.publish_live("bbbbb", {T})                 # another device: not wanted
    bus.publish_device("bbbbb")
    bus.publish_live("aaaaa", {T})
    assert not await ticks.get(timeout=0.05)       # no live news for an events-only sub
    waiter = asyncio.ensure_future(mine.get())
    await asyncio.sleep(0.02)
    assert not waiter.done()
    bus.sweep_done()
    batch = await asyncio.wait_for(waiter, 1)
    assert batch.live == {"aaaaa": {T}} and not batch.devices
    tick = asyncio.ensure_future(ticks.get())
    bus.sweep_done()
    assert not await asyncio.wait_for(tick, 1)     # woken, with an empty batch
    bus.publish(Event("alarm", "1"))              # discrete events are not paced
    assert (await asyncio.wait_for(mine.get(), 1)).events[0].subject == "1"
