"""Wait for an event with a timeout, without losing a cancellation; run a periodic task.

Python 3.11's ``asyncio.wait_for`` can swallow a ``cancel()`` that arrives in the same
loop turn as the awaited event (the task then returns the result and loops on, so a
service's ``stop()`` waits forever: seen with the mDNS announcer, whose settings waker
and stop met in one turn). ``asyncio.wait`` never swallows it, so background loops that
sleep "until woken or N seconds" use ``wait_event``.

``run_every`` is the one "wait N seconds, do X, log a failure and go on" loop of the
background services (certificate expiry check, audit purge, scheduled backup, history
flush, Modbus idle reaper), so each keeps its exception handling the same way;
``cancel_and_wait`` is their one way to stop such a task.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import logging
from collections.abc import Callable
from typing import Any, NoReturn

__all__ = ["wait_event", "run_every", "cancel_and_wait"]


async def wait_event(event: asyncio.Event, timeout: float | None) -> bool:
    """Wait until ``event`` is set or ``timeout`` seconds pass (None: no limit); True if
    it was set. A cancellation of the caller always propagates."""
    if event.is_set():
        return True
    waiter = asyncio.ensure_future(event.wait())
    try:
        done, _ = await asyncio.wait({waiter}, timeout=None if timeout is None
                                     else max(0.0, timeout))
    finally:
        waiter.cancel()
    return bool(done)


async def run_every(interval: float | Callable[[], float], fn: Callable[[], object], *,
                    logger: logging.Logger, failure: str, first: bool = False,
                    wake: asyncio.Event | None = None) -> NoReturn:
    """Call ``fn`` (awaiting what it returns if that is awaitable) every ``interval``
    seconds, for ever; run it as a task and cancel that to stop.

    ``interval`` may be a callable giving the next wait (asked before each wait).
    ``first``: call ``fn`` once before the first wait. ``wake``: setting this event
    ends the current wait early (it is cleared). An exception of ``fn`` is logged with
    ``logger.exception(failure)`` and the loop goes on; a cancellation ends it.
    """
    if first:
        await _call(fn, logger, failure)
    while True:
        delay = interval() if callable(interval) else interval
        if wake is None:
            await asyncio.sleep(delay)
        elif await wait_event(wake, delay):
            wake.clear()
        await _call(fn, logger, failure)


async def _call(fn: Callable[[], object], logger: logging.Logger, failure: str) -> None:
    try:
        result = fn()
        if inspect.isawaitable(result):
            await result
    except asyncio.CancelledError:
        raise
    except Exception:  # a periodic task outlives a failure of one round
        logger.exception(failure)


async def cancel_and_wait(*tasks: asyncio.Future[Any] | None) -> None:
    """Cancel each task (None: skipped) and wait until it has ended, one after the
    other; its own ``CancelledError`` is not raised (another exception of it is)."""
    for task in tasks:
        if task is None:
            continue
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
