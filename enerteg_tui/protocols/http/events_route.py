"""The ``/events`` route of the web face: the Server-Sent Events answer over an
``EventHub`` (``events.py``, which holds no web framework so that a disabled web server
never imports FastAPI).

Who may read it: anyone the web faces' one sign-in admits (``signin.py``: a session or
API token, Basic over HTTPS; face ``rest``) with the read permission. ``metricsToken``
is for ``/metrics`` only. A stream opened with a session token ends when the session
does (logout, deleted over Redfish), at the next event or keep-alive, and keeps the
session from idling out while it runs.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import PlainTextResponse, Response
from starlette.types import Receive, Scope, Send

from ...core.errors import PermissionDenied
from ...core.permissions import Action, allowed
from ...core.users import AuthFailed
from .events import EventHub, EventStream, FINAL_SECONDS, RETRY_MS, _frame, _race
from .signin import SignedIn, TooManyFailures, sign_in, sign_out

FACE = "rest"
"""``/events`` signs in as the REST API does (its sessions and tokens)."""

__all__ = ["mount_events", "session_alive"]


class _StreamResponse(Response):
    """The ``text/event-stream`` answer: writes the stream's frames as they come.

    Every wait also ends when the client leaves (``gone``), when the stream is dropped
    and when the hub closes (the web server stops or restarts its listeners), so a
    stalled reader never holds the stream, and a stop never waits for a client."""

    def __init__(self, stream: EventStream, alive: Callable[[], bool] | None = None) -> None:
        super().__init__(media_type="text/event-stream")
        self.stream = stream
        self.alive = alive
        """Whether the session the stream was opened with is still open (checked at
        each event and keep-alive); None for credentials without a session."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        stream, hub = self.stream, self.stream.hub
        gone = asyncio.Event()

        async def watch() -> None:
            while (await receive())["type"] != "http.disconnect":
                pass
            gone.set()

        def body(data: bytes, more: bool = True) -> Awaitable[None]:
            return send({"type": "http.response.body", "body": data, "more_body": more})

        watcher = asyncio.create_task(watch())
        closing = hub.closing
        stops = [gone, stream.dropped, closing]
        try:
            await send({"type": "http.response.start", "status": 200, "headers": [
                (b"content-type", b"text/event-stream; charset=utf-8"),
                (b"cache-control", b"no-cache"), (b"x-accel-buffering", b"no")]})
            pending = f"retry: {RETRY_MS}\n: connected\n\n".encode() + stream.take()
            while not any(e.is_set() for e in stops):
                if self.alive is not None and not self.alive():
                    break                       # its session ended (logout, timeout)
                if pending and not await _race(body(pending), stops):
                    break
                if await _race(stream.wake.wait(), stops, hub.keepalive):
                    pending = stream.take()
                else:
                    pending = b"" if any(e.is_set() for e in stops) else b": keep-alive\n\n"
            if gone.is_set():
                return
            final = b""
            if stream.dropped.is_set() and not closing.is_set():
                final = _frame("", "dropped", {
                    "why": f"more than {hub.queue_limit} events waited for this client; "
                           "reconnect with Last-Event-ID to resume"})
            await _race(body(final, more=False), [gone, closing], FINAL_SECONDS)
        finally:
            hub.streams.discard(stream)
            watcher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await watcher


def _bad(text: str, status: int = 400, headers: dict[str, str] | None = None) -> Response:
    return PlainTextResponse(f"{status} {text}\n", status_code=status, headers=headers)


def mount_events(app: FastAPI, core: Any, hub: Callable[[], EventHub | None]) -> None:
    """Add ``GET /events`` to ``app``; ``hub`` gives the web server's hub."""

    @app.get("/events", summary="Alarm and device state changes (Server-Sent Events)",
             response_class=Response,
             responses={200: {"content": {"text/event-stream": {}},
                              "description": "A stream of `alarm`, `device`, `gap` and "
                                             "`dropped` events (docs/http.md)"},
                        400: {"description": "device or element names nothing"},
                        401: {"description": "no valid credentials: a session or API "
                                             "token, or Basic over HTTPS"},
                        403: {"description": "the user may not read"},
                        429: {"description": "too many failed logins from the address"},
                        503: {"description": "too many open streams"}})
    async def events(request: Request, device: str | None = None,
                     element: str | None = None, lastEventId: str | None = None
                     ) -> Response:
        try:
            signed: SignedIn = await sign_in(core, request, FACE)
        except TooManyFailures as exc:
            return _bad(f"Too Many Requests: {exc.message}", 429,
                        {"Retry-After": str(exc.retry_after)})
        except AuthFailed as exc:
            return _bad(f"Unauthorized: {exc.message}", 401, {
                "WWW-Authenticate": 'Bearer realm="enerteg", Basic realm="enerteg"'})
        except PermissionDenied as exc:             # maxSessionsPerUser (Basic)
            return _bad(f"Forbidden: {exc.message}", 403)
        try:
            if not allowed(signed.principal, Action.READ):
                return _bad(f"Forbidden: user {signed.principal.user!r} may not read "
                            "(roles " + signed.principal.role_names + ")", 403)
            answer = _open_stream(request, core, hub, device, element, lastEventId)
            if isinstance(answer, _StreamResponse):
                answer.alive = session_alive(core, signed)
            return answer
        finally:
            await sign_out(core, signed)        # a Basic login ends; its stream goes on


def session_alive(core: Any, signed: SignedIn) -> Callable[[], bool] | None:
    """A stream opened with a session lives while the session does, and keeps it from
    idling out (an open stream is the session in use); None (no check) for credentials
    without a session (an API token, a Basic login). ``/events`` and Redfish's SSE
    stream both give it to ``_StreamResponse``."""
    if signed.web_session is None:
        return None
    ws, sessions = signed.web_session, core.tokens.sessions

    def alive() -> bool:
        if ws is None or not sessions.is_open(ws):
            return False
        ws.core.touch()
        return True
    return alive


def _open_stream(request: Request, core: Any, hub: Callable[[], EventHub | None],
             device: str | None, element: str | None, lastEventId: str | None
             ) -> Response:
    the_hub = hub()
    if the_hub is None:
        return _bad("Service Unavailable: the event stream is not running", 503)
    dev = device.strip().lower() if device is not None else None
    if dev is not None and core.live.get(dev) is None:
        known = ", ".join(sorted(core.live.devices)[:10])
        return _bad(f"Bad Request: device={device!r} is not a PDU on the ring "
                    f"(allowed: a hex id such as {known or 'none yet'})")
    el: int | None = None
    if element is not None:
        if not element.strip().isdigit() or core.structure.kind_of(int(element)) is None:
            return _bad(f"Bad Request: element={element!r} is not a DC element "
                        "(allowed: the id of an existing room, row or rack, as "
                        "structure/ lists them)")
        el = int(element)
    if len(the_hub.streams) >= the_hub.max_streams:
        return PlainTextResponse(
            f"503 Service Unavailable: {the_hub.max_streams} /events streams are open "
            "already; close one or retry later\n", status_code=503,
            headers={"Retry-After": "10"})
    last = (request.headers.get("last-event-id") or lastEventId or "").strip()
    stream = the_hub.open(the_hub.subjects_of(dev, el), last)
    return _StreamResponse(stream)
