"""Wait for an event with a timeout, without losing a cancellation.

Python 3.11's ``asyncio.wait_for`` can swallow a ``cancel()`` that arrives in the same
loop turn as the awaited event (the task then returns the result and loops on, so a
service's ``stop()`` waits forever: seen with the mDNS announcer, whose settings waker
and stop met in one turn). ``asyncio.wait`` never swallows it, so background loops that
sleep "until woken or N seconds" use ``wait_event``.
"""

from __future__ import annotations

import asyncio

__all__ = ["wait_event"]


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
