"""A cancel that meets the wake-up event in one loop turn must end the waiting loop.

Python 3.11's ``asyncio.wait_for`` returns the event's result instead of raising when
the event completes in the same turn as the ``cancel()``: a loop waiting that way runs
on, and the ``stop()`` that cancelled it awaits it for ever. ``core.waiting.wait_event``
does not swallow it; these tests set the event and cancel the task in one synchronous
block, then count loop turns (never time) until the task has ended.
"""

from __future__ import annotations

import asyncio
import logging
import types
from collections.abc import Callable

import pytest

from enerteg_tui.core.events import EventBus
from enerteg_tui.core.waiting import run_every, wait_event
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



# ---------------------------------------------------------------- run_every
LOG = logging.getLogger("tests.run_every")


async def test_run_every_logs_a_failure_and_goes_on(caplog: pytest.LogCaptureFixture) -> None:
    calls: list[int] = []

    async def round_() -> None:
        calls.append(len(calls))
        if len(calls) == 2:
            raise RuntimeError("disk full")

    with caplog.at_level(logging.ERROR, logger=LOG.name):
        task = asyncio.create_task(run_every(0, round_, logger=LOG, failure="purge failed"))
        await _turns_until(lambda: len(calls) >= 5)
        task.cancel()
        await asyncio.wait({task})
    assert task.cancelled()
    failures = [r for r in caplog.records if r.name == LOG.name]
    assert [r.getMessage() for r in failures] == ["purge failed"]
    assert failures[0].exc_info and "disk full" in str(failures[0].exc_info[1])


async def test_run_every_first_interval_callable_and_sync_fn() -> None:
    calls: list[str] = []
    asked: list[int] = []

    def interval() -> float:
        asked.append(1)
        return 3600.0

    task = asyncio.create_task(run_every(interval, lambda: calls.append("x"), logger=LOG,
                                         failure="x failed", first=True))
    await _turns_until(lambda: bool(asked))
    assert calls == ["x"]                  # once before the first (hour-long) wait
    task.cancel()
    await asyncio.wait({task})
    assert task.cancelled() and calls == ["x"]


async def test_run_every_wake_ends_the_wait_early() -> None:
    wake = asyncio.Event()
    calls: list[int] = []
    task = asyncio.create_task(run_every(3600, lambda: calls.append(1), logger=LOG,
                                         failure="x failed", wake=wake))
    for n in (1, 2):
        await _turns_until(lambda: _waiters(wake) > 0)
        wake.set()
        await _turns_until(lambda: len(calls) >= n)
    assert not wake.is_set() and len(calls) == 2
    assert await _cancel_in_wake_turn(task, wake)
    assert len(calls) == 2


# ---------------------------------------------------------------- cancel_and_wait
async def test_cancel_and_wait_ends_each_task_in_turn_and_skips_none() -> None:
    from enerteg_tui.core.waiting import cancel_and_wait

    ended: list[str] = []

    async def sleeper(name: str) -> None:
        try:
            await asyncio.Event().wait()
        finally:
            ended.append(name)

    a, b = asyncio.create_task(sleeper("a")), asyncio.create_task(sleeper("b"))
    await asyncio.sleep(0)                         # both are waiting now
    await cancel_and_wait(a, None, b)
    assert ended == ["a", "b"] and a.cancelled() and b.cancelled()
    await cancel_and_wait(a)                       # an ended task: nothing to do

    async def fails() -> None:
        raise RuntimeError("boom")

    broken = asyncio.create_task(fails())
    await asyncio.wait({broken})
    with pytest.raises(RuntimeError, match="boom"):  # only its own cancel is swallowed
        await cancel_and_wait(broken)
