"""The web server's ASGI applications: the FastAPI app, HSTS, and the HTTPS redirect.

``build_app`` makes the FastAPI application both listeners serve: ``/metrics``
(Prometheus, optionally behind a bearer token), ``/healthz`` (a bare answer: liveness
checks and the benchmark's floor) and ``/`` (what is here). ``SecurityHeaders`` wraps it
and adds Strict-Transport-Security to HTTPS answers while ``config/http_server hsts`` is
on. ``RedirectToHttps`` is what plain HTTP serves while ``insecureEnabled`` is off: every
request is sent to the same path on the HTTPS port. Settings that need no new listener
(token, HSTS) are read per request, so a change applies to the next request.

Imported only when the web server is enabled (FastAPI is not loaded otherwise).
"""

from __future__ import annotations

import hmac
import re
from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import PlainTextResponse, Response

from ... import __version__
from ...core.services import CoreServices
from .events import EventHub
from .events_route import mount_events
from .metrics import CONTENT_TYPE, Exposition

__all__ = ["build_app", "SecurityHeaders", "RedirectToHttps", "HSTS_VALUE"]

HSTS_VALUE = b"max-age=31536000"
"""One year, the value browsers and scanners expect (no includeSubDomains: the
controller does not speak for its domain's other hosts)."""

Scope = dict[str, Any]
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

_HOST = re.compile(r"^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]+)(?::\d+)?$")


def _settings(core: CoreServices) -> Any:
    return core.config.get("http_server")


class _Exposition(Response):
    """``/metrics``' answer: the exposition's parts sent in turn without a copy, the
    megabytes last (nothing waits for the client to drain them)."""

    media_type = CONTENT_TYPE

    def __init__(self, parts: tuple[bytes, ...]) -> None:
        super().__init__(media_type=CONTENT_TYPE)
        self.parts = parts
        self.headers["content-length"] = str(sum(len(p) for p in parts))

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": self.status_code,
                    "headers": self.raw_headers})
        for i, part in enumerate(self.parts):
            await send({"type": "http.response.body", "body": part,
                        "more_body": i < len(self.parts) - 1})


def build_app(core: CoreServices, expo: Exposition,
              hub: Callable[[], EventHub | None] = lambda: None) -> FastAPI:
    """The FastAPI application of the web server (``expo`` writes ``/metrics``, ``hub``
    gives the ``/events`` streams their events)."""
    app = FastAPI(title="EnerTEG controller", version=__version__, docs_url=None,
                  redoc_url=None)

    @app.get("/", response_class=PlainTextResponse, summary="What this server offers")
    async def index() -> str:
        return ("EnerTEG controller\n"
                "/metrics  Prometheus text format (docs/http.md)\n"
                "/events   alarm and device state changes (Server-Sent Events)\n"
                "/healthz  liveness\n"
                "/redfish  Redfish (docs/redfish.md)\n")

    @app.get("/healthz", response_class=PlainTextResponse, summary="Liveness")
    async def healthz() -> str:
        return "ok\n"

    @app.get("/metrics", summary="Live state in the Prometheus text format",
             response_class=Response,
             responses={200: {"content": {CONTENT_TYPE: {}}}, 401: {"description": "metricsToken is set and the request did "
                                             "not send it as a bearer token"}})
    async def metrics(request: Request) -> Response:
        token = _settings(core).metricsToken
        if token:
            sent = request.headers.get("authorization", "")
            scheme, _, value = sent.partition(" ")
            if scheme.lower() != "bearer" or not hmac.compare_digest(
                    value.strip().encode(), token.encode()):
                return PlainTextResponse(
                    "401 Unauthorized: /metrics needs the bearer token of config/"
                    "http_server metricsToken (Authorization: Bearer <token>)\n",
                    status_code=401,
                    headers={"WWW-Authenticate": 'Bearer realm="enerteg metrics"'})
        return _Exposition(expo.body())

    mount_events(app, core, hub)               # before the API's mount: /events
    from .redfish import build_router          # Redfish: /redfish (docs/redfish.md)
    app.include_router(build_router(core, hub))
    from .api import build_api, install_outer   # the REST API v1 (docs/rest.md)
    app.mount("/api/v1", build_api(core))
    install_outer(app)
    return app


class SecurityHeaders:
    """Adds Strict-Transport-Security to HTTPS answers while ``hsts`` says so."""

    def __init__(self, app: ASGIApp, hsts: Callable[[], bool]) -> None:
        self.app = app
        self.hsts = hsts

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope.get("scheme") != "https" or not self.hsts():
            await self.app(scope, receive, send)
            return

        async def send_with_hsts(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []),
                                      (b"strict-transport-security", HSTS_VALUE)]
            await send(message)

        await self.app(scope, receive, send_with_hsts)


class RedirectToHttps:
    """Plain HTTP while ``insecureEnabled`` is off: every request moves to HTTPS.

    GET and HEAD get 301, other methods 308 (keeps the method and body). The target is
    the request's Host (without its port) on ``https_port``; a Host that is not a host
    name or address falls back to the address the request came in on.
    """

    def __init__(self, https_port: int) -> None:
        self.https_port = https_port

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        host = ""
        for name, value in scope.get("headers", []):
            if name == b"host":
                host = value.decode("latin-1")
                break
        m = _HOST.match(host)
        if m:
            host = m.group(1)
        else:
            server = scope.get("server") or ("localhost", 0)
            host = f"[{server[0]}]" if ":" in str(server[0]) else str(server[0])
        port = "" if self.https_port == 443 else f":{self.https_port}"
        path = scope.get("raw_path") or scope.get("path", "/").encode()
        query = scope.get("query_string") or b""
        location = f"https://{host}{port}".encode() + path + (b"?" + query if query else b"")
        status = 301 if scope.get("method") in ("GET", "HEAD") else 308
        body = b"Moved to HTTPS: " + location + b"\n"
        await send({"type": "http.response.start", "status": status,
                    "headers": [(b"location", location),
                                (b"content-type", b"text/plain; charset=utf-8"),
                                (b"content-length", str(len(body)).encode())]})
        await send({"type": "http.response.body", "body": body})
