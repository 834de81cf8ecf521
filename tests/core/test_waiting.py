"""A cancel that meets the wake-up event in one loop turn must end the waiting loop.

Python 3.11's ``asyncio.wait_for`` returns the event's result instead of raising when
the event completes in the same turn as the ``cancel()``: a loop waiting that way runs
on, and the ``stop()`` that cancelled it awaits it for ever. ``core.waiting.wait_event``
does not swallow it; these tests set the event and cancel the task in one synchronous
block, then count loop turns (never time) until the task has ended.
"""

from __future__ import annotations

import asyncio
import types
from collections.abc import Callable

import pytest

from enerteg_tui.core.events import EventBus
from enerteg_tui.core.waiting import wait_event
from enerteg_tui.protocols.http.events import EventHub

TURNS = 50
"""Loop turns a cancelled task gets to end in; a swallowed cancel never ends it."""


async def _turns_until(cond: Callable[[], bool], limit: int = 100_000) -> int:
    for n in range(limit):
        if cond():
            return n
        await asyncio.sleep(0)
    raise AssertionError(f"condition not met in {limit} loop turns")


def _waiters(event: asyncio.Event) -> int:
    return len(event._waiters)  # type: ignore[attr-defined]


async def _cancel_in_wake_turn(task: asyncio.Task, event: asyncio.Event,
                               others: int = 0) -> bool:
    """Once ``task`` waits on ``event`` (besides ``others`` waiters already there), set
    ``event`` and cancel ``task`` in one turn; True if the task ended cancelled within
    ``TURNS`` turns."""
    await _turns_until(lambda: _waiters(event) > others)
    event.set()
    task.cancel()
    for _ in range(TURNS):
        if task.done():
            break
        await asyncio.sleep(0)
    done = task.done()
    if not done:          # the bug: end the runaway loop so the test can fail cleanly
        task.cancel()
        await asyncio.wait({task}, timeout=5)
    return done and task.cancelled()


async def _wait_for_loop(event: asyncio.Event) -> None:
    while True:
        event.clear()
        try:
            await asyncio.wait_for(event.wait(), 3600)
        except TimeoutError:
            pass


async def test_wait_for_swallows_the_cancel_on_this_python() -> None:
    """The hazard is real here (so the tests below test something)."""
    event = asyncio.Event()
    task = asyncio.create_task(_wait_for_loop(event))
    assert not await _cancel_in_wake_turn(task, event)


@pytest.mark.parametrize("timeout", [3600.0, None])
async def test_wait_event_lets_the_cancel_through(timeout: float | None) -> None:
    event = asyncio.Event()

    async def loop() -> None:
        while True:
            event.clear()
            await wait_event(event, timeout)

    assert await _cancel_in_wake_turn(asyncio.create_task(loop()), event)


async def test_wait_event_results() -> None:
    event = asyncio.Event()
    assert not await wait_event(event, 0)
    asyncio.get_running_loop().call_soon(event.set)
    assert await wait_event(event, None)
    assert await wait_event(event, 0)          # already set: no wait at all


async def test_poller_stop_survives_a_refresh_in_the_same_turn(make_controller) -> None:
    c = await make_controller(pdus=2, interval=3600)
    poller = c.core.poller
    sweeps = c.live.bus.sweeps
    assert await _cancel_in_wake_turn(poller._task, poller._wake)
    assert c.live.bus.sweeps == sweeps              # no sweep ran after the cancel
    poller._task = None


async def test_export_sleep_survives_a_wake_in_the_same_turn(make_controller) -> None:
    c = await make_controller(pdus=1)
    export = c.core.export
    others = _waiters(export._wake)                 # the export loop itself (off)
    task = asyncio.create_task(export._sleep(3600))
    assert await _cancel_in_wake_turn(task, export._wake, others)


async def test_subscription_get_survives_news_in_the_same_turn() -> None:
    bus = EventBus()
    sub = bus.subscribe(live=False)

    async def consume() -> None:
        while True:
            await sub.get(timeout=3600)

    assert await _cancel_in_wake_turn(asyncio.create_task(consume()), sub._wake)


async def test_http_event_hub_close_survives_an_event_in_the_same_turn() -> None:
    bus = EventBus()
    hub = EventHub(types.SimpleNamespace(events=bus))
    assert await _cancel_in_wake_turn(hub._task, hub._sub._wake)
    hub._sub.close()

