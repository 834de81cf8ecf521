"""The web server as a controller service, following ``config/http_server`` live.

Always among the controller's services, running or not. At start and on every change
of the topic it (re)starts its listeners, without a restart of the controller: HTTPS
on ``httpsPort`` (when ``httpsEnabled``) with the configured certificate or the
self-signed one (``tls``), and plain HTTP on ``port`` serving the app while
``insecureEnabled`` is on, or redirecting to HTTPS while it is off. Each listener is a
``uvicorn.Server`` whose ``serve`` runs as a task on the controller's own loop (no
thread, no second process; uvicorn's signal capture is turned off so the controller
keeps its own). FastAPI and uvicorn are imported only when the server is enabled.

Sockets are bound here before uvicorn gets them, so a port in use (or a privileged
port, or an address not on this host) is one log line, an audit entry of severity
error and ``status`` saying why, as for the other faces; a certificate that cannot be
used likewise. ``status`` (also ``core.faces`` under ``http_server``) is what the shell
and the console show. The Grafana dashboard is put into the file tree's ``/docs``.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import shutil
import socket
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from ...core.services import CoreServices
from ...core.settings import HttpServerSettings
from ..settings_face import SettingsDrivenFace, bind_problem
from .events import EventHub
from .metrics import Exposition
from .tls import TlsProblem, certificate_summary, self_signed, server_context

__all__ = ["HttpService", "DASHBOARD_PATH"]

log = logging.getLogger(__name__)

TOPIC = "http_server"
DASHBOARD_PATH = Path(__file__).with_name("grafana-dashboard.json")
"""The Grafana dashboard (site, rack and PDU views), shipped in /docs."""
DASHBOARD_NAME = "enerteg-grafana-dashboard.json"
"""Its name in the file tree's ``/docs``."""
WARM_SECONDS = 120.0
"""After a scrape, how long the channel families are built at each sweep's end."""
STOP_SECONDS = 3.0
"""How long a listener may take to finish open requests when it stops."""


class HttpService(SettingsDrivenFace):
    """Runs (or not) the HTTP and HTTPS listeners as ``config/http_server`` says."""

    name = "http"
    TOPIC = TOPIC
    TITLE = "Web server"
    APPLIER = "web server"

    def __init__(self, core: CoreServices, *, port: int | None = None,
                 https_port: int | None = None, address: str | None = None) -> None:
        """``port``/``https_port``/``address`` override the settings (tests, ``--bind``)."""
        super().__init__(core)
        self._port_override = port
        self._https_override = https_port
        self._address_override = address
        self._servers: list[tuple[Any, asyncio.Task[None]]] = []
        self._applied: tuple[Any, ...] | None = None
        self.address = ""
        self.port: int | None = None
        """The plain HTTP port while it listens."""
        self.https_port: int | None = None
        """The HTTPS port while it listens."""
        self.certificate = ""
        """The PEM served over HTTPS now (tests pass it to curl as --cacert)."""
        self._cert_source = "self-signed certificate"
        """Which certificate HTTPS serves, for the status line."""
        self.started_at = _process_start()
        self.exposition: Exposition | None = None
        """What ``/metrics`` answers from, while the server runs."""
        self._prebuild: asyncio.Task[None] | None = None
        self._tls_front: Any = None
        """The SSL context the HTTPS listener was made with; its SNI callback hands each
        handshake ``_tls_live``, the context of the certificate served now."""
        self._tls_live: Any = None
        self._certs_watch: asyncio.Task[None] | None = None
        self.events_hub: EventHub | None = None
        """What ``/events`` streams from, while the server is enabled (kept across
        restarts of the listeners, so Last-Event-ID resume survives a port change)."""

    def describe(self) -> str:
        ports = [f"http={self.address}:{self.port}" if self.port else "",
                 f"https={self.address}:{self.https_port}" if self.https_port else ""]
        return " ".join(p for p in ports if p) or "http=off"

    # ------------------------------------------------------------------ apply
    async def _apply(self, settings: HttpServerSettings) -> None:
        address = self._address_override or settings.listenAddress or "0.0.0.0"
        port = self._port_override if self._port_override is not None else settings.port
        https_port = (self._https_override if self._https_override is not None
                      else settings.httpsPort)
        tls_id = hashlib.sha256("\0".join((settings.certificatePem, settings.privateKeyPem,
                                           settings.privateKeyPassword,
                                           self.core.certs.serving_id("web-server"))
                                          ).encode()).hexdigest()
        wanted = ((address, port, settings.insecureEnabled, settings.httpsEnabled and https_port,
                   settings.httpsEnabled and tls_id) if settings.enabled else None)
        async with self._lock:
            if wanted == self._applied and (self._servers or wanted is None):
                self._set_status(self._status.running, self._running_text(settings)
                                 if self._servers else self._status.text)   # answer the put
                return
            if await self._swap_identity(settings, wanted):
                return
            self._applied = wanted
            await self._close()
            if not settings.enabled:
                await self._close_hub()
                await self.core.tokens.sessions.close_all()     # no server, no sessions
                self._set_status(False, f"disabled (config/{TOPIC} enabled=disabled)")
                return
            await self._open(settings, address, port, https_port)

    async def _swap_identity(self, settings: HttpServerSettings, wanted: Any) -> bool:
        """Only the certificate changed and HTTPS listens: serve the new one from the
        next handshake on, without restarting the listeners (open connections, such as
        ``/events`` streams, stay). False when a restart is needed (or the new
        certificate cannot be used: the restart path then says why)."""
        old = self._applied
        if (wanted is None or old is None or self._tls_front is None or not self._servers
                or wanted[:4] != old[:4] or not wanted[4]):
            return False
        try:
            ctx = self._tls_context(settings)
        except (TlsProblem, OSError):
            return False
        self._tls_live = ctx
        self._applied = wanted
        text = self._running_text(settings)
        self._set_status(True, text)
        log.info("Web server: HTTPS now serves the %s (%s), without a restart",
                 self._cert_source, certificate_summary(self.certificate))
        return True

    def _select_context(self, sslobj: Any, _name: str | None, ctx: Any) -> None:
        """Every handshake (SNI or not) gets the context of the certificate now served."""
        live = self._tls_live
        if live is not None and live is not ctx:
            sslobj.context = live

    async def _open(self, settings: HttpServerSettings, address: str, port: int,
                    https_port: int) -> None:
        ctx = None
        if settings.httpsEnabled:
            try:
                ctx = self._tls_context(settings)
                self._tls_front = self._tls_live = ctx
                ctx.sni_callback = self._select_context
            except (TlsProblem, OSError) as exc:
                await self._not_started(f"HTTPS: {exc}", "http.error")
                return
        socks: list[Any] = []
        plan = [("HTTP", port, "config/http_server port")]
        if settings.httpsEnabled:
            plan.append(("HTTPS", https_port, "config/http_server httpsPort"))
        for proto, p, key in plan:
            try:
                socks.append(_bind(address, p))
            except OSError as exc:
                for s in socks:
                    s.close()
                await self._not_started(bind_problem(exc, f"TCP ({proto})", address, p, key),
                                        "http.error")
                return
        try:
            from .app import RedirectToHttps, SecurityHeaders, build_app   # FastAPI when enabled
            self.exposition = Exposition(self.core, self.started_at)
            self._prebuild = asyncio.create_task(self._prebuild_after_sweeps(self.exposition),
                                                 name="http-metrics-prebuild")
            if self.events_hub is None:
                self.events_hub = EventHub(self.core)
            app = SecurityHeaders(build_app(self.core, self.exposition,
                                            lambda: self.events_hub),
                                  lambda: bool(self.core.config.get(TOPIC).hsts))
            https_sock = socks[1] if ctx is not None else None
            plain = app if settings.insecureEnabled else RedirectToHttps(
                https_sock.getsockname()[1] if https_sock is not None else https_port)
            await self._serve(plain, socks[0], None)
            if https_sock is not None:
                await self._serve(app, https_sock, ctx)
        except Exception as exc:
            log.exception("Web server not started")
            for s in socks:
                s.close()
            await self._close()
            self._set_status(False, f"not running: {type(exc).__name__}: {exc}")
            return
        self.address = address
        self.port = socks[0].getsockname()[1]
        self.https_port = socks[1].getsockname()[1] if len(socks) > 1 else None
        self._set_status(True, self._running_text(settings))
        log.info("Web server %s", self._status.text)

    def _tls_context(self, settings: HttpServerSettings) -> Any:
        scratch = self.core.paths.root
        if settings.certificatePem:
            ctx = server_context(settings.certificatePem, settings.privateKeyPem,
                                 settings.privateKeyPassword, scratch=scratch)
            self.certificate = settings.certificatePem
            self._cert_source = "configured certificate"
            return ctx
        stored = self.core.certs.server_pem("web-server")    # docs/certificates.md
        if stored is not None:
            self.certificate, self._cert_source = stored[0], "certificate store"
            return server_context(stored[0], stored[1], scratch=scratch)
        paths = self.core.paths
        extra = [settings.listenAddress] if settings.listenAddress else []
        cert, key, made = self_signed(paths.https_certificate, paths.https_key,
                                      self.core.config.get("hostname").hostname, extra)
        if made:
            log.info("Web server: made a self-signed certificate (%s) in %s",
                     certificate_summary(cert), paths.https_certificate)
        self.certificate = cert
        self._cert_source = "self-signed certificate"
        return server_context(cert, key, scratch=scratch)

    async def _serve(self, app: Any, sock: Any, ctx: Any) -> None:
        """Start one uvicorn server on ``sock`` as a task and wait until it listens."""
        import uvicorn

        class _Server(uvicorn.Server):
            @contextlib.contextmanager
            def capture_signals(self) -> Iterator[None]:
                yield                       # the controller handles its own signals

        # uvicorn's own lines ("Started server process", "Uvicorn running on") repeat
        # what our status line says at every restart of a listener: warnings only
        logging.getLogger("uvicorn.error").setLevel(logging.WARNING)
        config = uvicorn.Config(app, lifespan="off", log_config=None, access_log=False,
                                ws="none", proxy_headers=False, server_header=False,
                                timeout_graceful_shutdown=int(STOP_SECONDS))
        config.load()
        config.ssl = ctx
        server = _Server(config)
        task = asyncio.create_task(server.serve(sockets=[sock]), name="http-listener")
        self._servers.append((server, task))
        for _ in range(500):
            if server.started or task.done():
                break
            await asyncio.sleep(0.01)
        if task.done():
            task.result()                   # raises what stopped it
            raise RuntimeError("the listener stopped at once")
        if not server.started:
            raise RuntimeError("the listener did not start within 5 s")

    def _running_text(self, settings: HttpServerSettings) -> str:
        parts = []
        if self.https_port:
            parts.append(f"HTTPS {self.address}:{self.https_port} "
                         f"({self._cert_source}, TLS 1.2+)")
        if self.port:
            parts.append(f"HTTP {self.address}:{self.port} " + (
                "(redirects to HTTPS)" if not settings.insecureEnabled else "(plain)"))
        auth = "needs the metrics token" if settings.metricsToken else "open"
        return f"running on {', '.join(parts)}; /metrics {auth}"

    async def _prebuild_after_sweeps(self, expo: Exposition) -> None:
        """While someone scrapes, build the channel families when a sweep ends (the bus
        is idle then), so a scrape only sends them; forget them when nobody scrapes."""
        with self.core.events.subscribe(kinds={"sweep"}, live=False, paced=True) as sub:
            while True:
                await sub.get()
                if time.monotonic() - expo.last_scrape < WARM_SECONDS:
                    expo.prepare()
                else:
                    expo.forget()

    async def start(self) -> None:
        await super().start()
        self._certs_watch = asyncio.create_task(self._follow_certs(), name="http-certs")

    async def stop(self) -> None:
        if self._certs_watch is not None:
            self._certs_watch.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._certs_watch
            self._certs_watch = None
        await super().stop()
        await self._close_hub()
        await self.core.tokens.sessions.close_all()

    async def _follow_certs(self) -> None:
        """The certificate store changed (import, delete, usage, restore): apply again;
        a new web-server certificate is served from the next handshake."""
        with self.core.events.subscribe(kinds={"certs"}, live=False) as sub:
            while True:
                await sub.get()
                try:
                    await self._apply(self.core.config.get(TOPIC))
                except Exception:
                    log.exception("Web server: applying a certificate store change failed")

    async def _close_hub(self) -> None:
        if self.events_hub is not None:
            hub, self.events_hub = self.events_hub, None
            await hub.close()

    async def _close(self) -> None:
        if self._prebuild is not None:
            self._prebuild.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._prebuild
            self._prebuild = None
        servers, self._servers = self._servers, []
        if servers and self.events_hub is not None:
            self.events_hub.end_streams()       # open /events streams end now
        for server, _task in servers:
            server.should_exit = True
        for server, task in servers:
            try:
                await asyncio.wait_for(asyncio.shield(task), STOP_SECONDS + 2)
            except asyncio.TimeoutError:
                server.force_exit = True
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
            except Exception:
                log.exception("Web server: stopping a listener failed")
        self.port = self.https_port = None
        self._tls_front = self._tls_live = None

    # ------------------------------------------------------------------ data files
    def _publish_docs(self) -> None:
        """Put the Grafana dashboard into the file tree's /docs."""
        docs = self.core.paths.root / "docs"
        try:
            docs.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(DASHBOARD_PATH, docs / DASHBOARD_NAME)
        except OSError as exc:
            log.warning("Web server: cannot copy the Grafana dashboard into %s: %s", docs, exc)


def _process_start() -> float | None:
    """When this process started (Unix time), for ``process_start_time_seconds``."""
    try:
        import psutil
        return float(psutil.Process().create_time())
    except Exception:
        return None


def _bind(address: str, port: int) -> socket.socket:
    """A bound, listening, non-blocking TCP socket (IPv6 when the address is one).

    Made with ``IPPROTO_TCP`` spelled out: asyncio sets TCP_NODELAY only on connections
    of sockets whose protocol says TCP, and without it every answer on a kept-alive
    connection waited some 40 ms for the client's delayed ACK (headers and body are two
    writes)."""
    family = socket.AF_INET6 if ":" in address else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((address, port))
        sock.listen(128)
        sock.setblocking(False)
    except OSError:
        sock.close()
        raise
    return sock
