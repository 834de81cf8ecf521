"""What the optional network faces say about themselves, for the shell and console.

A face started by its settings topic (the SNMP agent by ``config/snmp_agent``) reports
here whether it runs and why not ("running on UDP 0.0.0.0:161 (v1/v2c, read-only)",
"not running: cannot listen on UDP 0.0.0.0:161: Address already in use"). Faces live
outside core, so the shell and the console read the report here, by topic name, without
holding the face. A face reports after every change of its topic, even when nothing
changed for it, so a ``put`` can wait for the answer to its own change.
"""

from __future__ import annotations

import asyncio
import contextlib

__all__ = ["FaceStatus"]


class FaceStatus:
    """The latest report of each face, keyed by its settings topic (``snmp_agent``)."""

    def __init__(self) -> None:
        self._text: dict[str, str] = {}
        self._waiters: dict[str, list[asyncio.Future[str]]] = {}

    def report(self, topic: str, text: str) -> None:
        """The face of ``topic`` says ``text`` (and wakes whoever waits for it)."""
        self._text[topic] = text
        for fut in self._waiters.pop(topic, []):
            if not fut.done():
                fut.set_result(text)

    def text(self, topic: str) -> str | None:
        """The latest report for ``topic``, or None when no face reports for it."""
        return self._text.get(topic)

    def next_report(self, topic: str) -> asyncio.Future[str] | None:
        """A future for the next report of ``topic``'s face (None: no such face); take it
        before making the change, then ``await wait(fut)``."""
        if topic not in self._text:
            return None
        fut: asyncio.Future[str] = asyncio.get_running_loop().create_future()
        self._waiters.setdefault(topic, []).append(fut)
        return fut

    async def wait(self, topic: str, fut: asyncio.Future[str], timeout: float = 3.0) -> str:
        """The report ``fut`` promised, or the latest one after ``timeout`` seconds."""
        with contextlib.suppress(asyncio.TimeoutError):
            return await asyncio.wait_for(fut, timeout)
        waiters = self._waiters.get(topic, [])
        if fut in waiters:
            waiters.remove(fut)
        return self._text.get(topic, "")
