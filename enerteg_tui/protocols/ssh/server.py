"""The SSH server: listener, admission, authentication, and routing of channels.

``SSHService`` is the controller's SSH face (a ``controller.Service``). It owns the
asyncssh listener and the policy asyncssh leaves to the application:

* admission (``core.admission``): OpenSSH's ``MaxStartups 20:30:24`` for connections
  still logging in (key exchange runs on the controller's one loop, beside the poller),
  per-source connection rate and failed-login penalties, at most ``MAX_CONNECTIONS`` in
  all. The service accepts connections itself and decides before asyncssh sees them
  (``asyncssh.run_server`` on the accepted socket): a refused connection costs an accept,
  one line with the reason and a close — no SSH state, no key exchange — so a flood from
  rotating addresses cannot turn refusals into CPU; refusals are logged once per
  ``REFUSAL_LOG_S``, with their count;
* at most ``MAX_AUTH_TRIES`` failed logins per connection, the back-off and lockout per
  (account, source) of ``core.lockout`` on top; a locked login is told so in the
  banner, in words that do not say whether the user exists;
* identity is bound to the user name the key or password was checked for, only when
  authentication completes (a public-key *query* proves nothing);
* the algorithms of ``algorithms.py`` (cheap, modern, no ssh-audit [fail]), no agent,
  X11 or port forwarding, a 30 s login timeout and keepalives.

Each authenticated connection is one session in ``users.sessions`` (per-user limit
``config/cli maxSessionsPerUser``); each channel is routed by ``route_channel`` in
``channels.py``; SFTP by ``sftp.py``. Changes to ``config/cli`` (enabled, port,
address, banner) restart the listener; open connections stay.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import errno
import logging
import os
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import asyncssh

from ...core.admission import MaxStartups
from ...core.errors import Invalid, PermissionDenied
from ...core.permissions import Principal
from ...core.users import AuthFailed, LockedOut, Session
from ...core.waiting import wait_event
from .algorithms import (COMPRESSION_ALGS, ENCRYPTION_ALGS, MAC_ALGS, available_kex_algs,
                         restrict_host_key_algs)
from .hostkeys import HostKeys, load_or_create_host_keys

__all__ = ["SSHService", "SSHOptions", "MAX_STARTUPS", "MAX_UNAUTHENTICATED", "MAX_CONNECTIONS",
           "MAX_AUTH_TRIES"]

log = logging.getLogger(__name__)

MAX_STARTUPS = MaxStartups(start=20, rate=30, full=24)
"""Connections in key exchange or login at the same time: from 20 a new one is refused
with 30 % probability, rising to 100 % at 24 (a shift of 20 operators reconnecting at
once gets in; a flood does not starve the poller)."""
MAX_UNAUTHENTICATED = MAX_STARTUPS.full
"""Connections logging in at once beyond which every new one is refused."""
MAX_CONNECTIONS = 64
"""Connections allowed in all (logged in or not)."""
CLOSE_WAIT_S = 1.0
"""At stop, how long to wait for the closed connections to be gone (their logouts)."""
MAX_AUTH_TRIES = 6
"""Failed authentication attempts on one connection before it is closed."""
REFUSAL_LOG_S = 10.0
"""Refused connections are logged at most this often (with how many since)."""
LOGIN_TIMEOUT_S = 30
"""Time to log in before the connection is closed."""
KEEPALIVE_S, KEEPALIVE_MAX = 30, 3
"""Keepalive interval and how many may go unanswered (dead-peer detection)."""

FACE = "ssh"


def default_port() -> int:
    """The manual's default SSH port: 22 when run as root, 2022 otherwise."""
    return 22 if os.geteuid() == 0 else 2022


@dataclass(slots=True)
class SSHOptions:
    """Overrides from the command line; None means "from ``config/cli``".

    ``port`` 0 asks the OS for a free port (tests, benchmarks).
    """

    port: int | None = None
    address: str | None = None
    enabled: bool | None = None
    idle_timeout_s: float | None = None
    """Idle timeout in seconds instead of ``config/cli idleTimeoutMinutes`` (tests)."""


class _Connection(asyncssh.SSHServer):
    """Per-connection authentication state (asyncssh makes one per client)."""

    def __init__(self, service: SSHService) -> None:
        self.service = service
        self.conn: asyncssh.SSHServerConnection | None = None
        self.address = ""
        self.principal: Principal | None = None
        self.session: Session | None = None
        self.refusal: str | None = None
        """Why this login may not open channels (session limit), or None."""
        self.must_change = False
        """The user still has the factory-default password."""
        self._failures = 0
        self._key_user: str | None = None
        self._key_fp: str | None = None
        self._authenticated = False
        self.ready = asyncio.Event()
        """Set when authentication has completed and the identity is bound."""

    # ------------------------------------------------------------------ admission
    def connection_made(self, conn: asyncssh.SSHServerConnection) -> None:
        self.conn = conn
        peer = conn.get_extra_info("peername") or ("", 0)
        self.address = str(peer[0])
        svc = self.service
        svc.connections.add(self)
        svc.none_open.clear()
        svc.unauthenticated.add(self)

    def _disconnect(self, code: int, reason: str) -> None:
        if self.conn is not None:
            with contextlib.suppress(Exception):
                self.conn.disconnect(code, reason)

    def connection_lost(self, exc: Exception | None) -> None:
        svc = self.service
        svc.connections.discard(self)
        if not svc.connections:
            svc.none_open.set()
        svc.unauthenticated.discard(self)
        if self.principal is not None and self._authenticated:
            principal, session = self.principal, self.session
            self.principal = None
            if session is not None:
                svc.spawn(svc.core.users.end_session(session))
            else:                               # refused at admission: its login ends
                svc.spawn(svc.core.users.logout(principal))

    # ------------------------------------------------------------------ authentication
    def begin_auth(self, username: str) -> bool:
        banner = self.service.banner()
        if banner and self.conn is not None:
            self.conn.send_auth_banner(banner.rstrip("\n") + "\n")
        return True

    def password_auth_supported(self) -> bool:
        return True

    def public_key_auth_supported(self) -> bool:
        return True

    async def validate_password(self, username: str, password: str) -> bool:
        users = self.service.core.users
        delay = users.login_delay(username, self.address)
        if delay:
            await asyncio.sleep(delay)
        try:
            self.principal = await users.authenticate(username, password, FACE, self.address)
            return True
        except LockedOut as exc:          # no password check was spent: no penalty
            self._banner(f"{exc}\n")
            self._count_failure()
        except AuthFailed:
            self.service.admission.auth_failed(self.address)
            self._count_failure()
        return False

    async def validate_public_key(self, username: str, key: asyncssh.SSHKey) -> bool:
        # Called for the client's key query as well as for the signed request: it only
        # answers "is this one of the user's keys"; identity is bound in auth_completed.
        fp = key.get_fingerprint("sha256")
        ok = await self.service.core.users.has_key(username, fp)
        if ok:
            self._key_user, self._key_fp = username, fp
        return ok

    def _banner(self, text: str) -> None:
        if self.conn is not None:
            with contextlib.suppress(Exception):
                self.conn.send_auth_banner(text)

    def _count_failure(self) -> None:
        self._failures += 1
        if self._failures >= MAX_AUTH_TRIES:
            log.warning("ssh: %s: %d failed logins on one connection; disconnecting",
                        self.address, self._failures)
            asyncio.get_running_loop().call_soon(
                self._disconnect, asyncssh.DISC_NO_MORE_AUTH_METHODS_AVAILABLE,
                "Too many authentication failures")

    async def auth_completed(self) -> None:
        try:
            await self._bind_identity()
        finally:
            self.ready.set()

    async def _bind_identity(self) -> None:
        svc = self.service
        svc.unauthenticated.discard(self)
        assert self.conn is not None  # noqa: S101
        username = self.conn.get_extra_info("username")
        if self.principal is None or self.principal.user != username:
            # public-key login: bind to the user the verified key belongs to
            if self._key_user != username or self._key_fp is None:
                self._disconnect(asyncssh.DISC_NO_MORE_AUTH_METHODS_AVAILABLE,
                                 "Authentication failed")
                return
            try:
                self.principal = await svc.core.users.authenticate_key(
                    username, self._key_fp, FACE, self.address)
            except AuthFailed:
                self.principal = None
                self._disconnect(asyncssh.DISC_NO_MORE_AUTH_METHODS_AVAILABLE,
                                 "Authentication failed")
                return
        sock = self.conn.get_extra_info("sockname")
        if sock:    # the controller's address this client reached (network confirm)
            reached = str(sock[0]).removeprefix("::ffff:")
            self.principal = dataclasses.replace(self.principal, reached=reached)
        self._authenticated = True
        self.must_change = await svc.core.users.must_change(username)
        try:       # the core's one session admission (limit, audit), as on every face
            self.session = await svc.core.users.start_session(
                self.principal,
                end=lambda reason: self._disconnect(asyncssh.DISC_BY_APPLICATION, reason))
        except PermissionDenied as exc:
            self.refusal = str(exc)

    # ------------------------------------------------------------------ no forwarding
    def connection_requested(self, *args: Any) -> bool:
        return False

    def server_requested(self, *args: Any) -> bool:
        return False

    def unix_connection_requested(self, *args: Any) -> bool:
        return False

    def unix_server_requested(self, *args: Any) -> bool:
        return False


class SSHService:
    """The SSH face of the controller (a ``controller.Service``).

    Args:
        core: the core services.
        options: command-line overrides of ``config/cli``.
    """

    name = "ssh"

    def __init__(self, core: Any, options: SSHOptions | None = None) -> None:
        self.core = core
        self.options = options or SSHOptions()
        self.connections: set[_Connection] = set()
        self.none_open = asyncio.Event()
        """Set while no connection is open (``stop`` waits for it, rather than polling)."""
        self.none_open.set()
        self.unauthenticated: set[_Connection] = set()
        self.refused = 0
        """Connections refused by admission since start."""
        self.admission = core.users.admission     # one failed-login penalty per source,
        self.admission.startups = MAX_STARTUPS     # shared with the web faces
        self.last_refusal = ""
        """Why the last refused connection was refused."""
        self._listener: socket.socket | None = None
        self._accepting: asyncio.Task[None] | None = None
        self._options: asyncssh.SSHServerConnectionOptions | None = None
        self._starting = 0
        """Admitted connections still in key exchange or login."""
        self._refusals_unlogged = 0
        self._refusal_logged_at = -REFUSAL_LOG_S
        self.host_keys: HostKeys | None = None
        self._bound: tuple[str, int] | None = None
        self._tasks: set[asyncio.Task[Any]] = set()
        self._watch: asyncio.Task[None] | None = None
        self.channel_handler: Callable[..., Any] | None = None

    # ------------------------------------------------------------------ settings
    def _wanted(self) -> tuple[bool, str, int]:
        cli = self.core.config.get("cli")
        enabled = self.options.enabled if self.options.enabled is not None else bool(cli.enabled)
        address = self.options.address if self.options.address is not None else cli.listenAddress
        if address in ("", "0.0.0.0"):
            address = "0.0.0.0"
        if self.options.port is not None:
            port = self.options.port
        else:
            port = int(cli.port) or default_port()
        return enabled, address, port

    def idle_timeout_s(self) -> float:
        """Seconds without input before an interactive session is closed (0 = never)."""
        if self.options.idle_timeout_s is not None:
            return self.options.idle_timeout_s
        return float(self.core.config.get("cli").idleTimeoutMinutes) * 60.0

    def banner(self) -> str:
        """The pre-login banner of ``config/cli``."""
        return str(self.core.config.get("cli").banner or "")

    @property
    def port(self) -> int | None:
        """The port actually listened on, None when not listening."""
        return self._bound[1] if self._bound else None

    @property
    def address(self) -> str | None:
        """The address listened on (0.0.0.0 = all), None when not listening."""
        return self._bound[0] if self._bound else None

    # ------------------------------------------------------------------ lifecycle
    async def start(self) -> None:
        """Load or make the host keys and start listening (when enabled)."""
        appliers = self.core.config.appliers
        appliers.register("cli", "ssh")
        for face in ("console", "shell"):  # reached over SSH; they show config/hostname
            appliers.register("hostname", face)
        self.host_keys = await asyncio.to_thread(
            load_or_create_host_keys, self.core.paths.ssh_keys)
        await self._listen()
        self._watch = asyncio.create_task(self._watch_settings(), name="ssh-settings")

    async def _listen(self) -> None:
        enabled, address, port = self._wanted()
        if not enabled:
            log.info("ssh: disabled by config/cli")
            return
        from .channels import MAX_EXEC_PACKET, route_channel
        from .sftp import make_sftp_factory

        assert self.host_keys is not None  # noqa: S101
        self._options = asyncssh.SSHServerConnectionOptions(
            server_factory=lambda: _Connection(self),
            server_host_keys=restrict_host_key_algs(self.host_keys.keys), send_server_host_keys=True,
            login_timeout=LOGIN_TIMEOUT_S, keepalive_interval=KEEPALIVE_S,
            keepalive_count_max=KEEPALIVE_MAX, agent_forwarding=False, x11_forwarding=False,
            kex_algs=list(available_kex_algs()), encryption_algs=list(ENCRYPTION_ALGS),
            mac_algs=list(MAC_ALGS), compression_algs=COMPRESSION_ALGS,
            process_factory=lambda process: route_channel(self, process),
            max_pktsize=MAX_EXEC_PACKET,
            encoding=None, line_editor=False, allow_pty=True,
            sftp_factory=make_sftp_factory(self), allow_scp=True, server_version="EnerTEG")
        family = socket.AF_INET6 if ":" in address else socket.AF_INET
        try:
            sock = socket.create_server((address, port), family=family, backlog=128)
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                raise Invalid(
                    f"SSH port {port} on {address} is already in use; choose another with "
                    "--ssh-port or config/cli port", thing="ssh port", value=port,
                    allowed="a free TCP port") from None
            if exc.errno == errno.EACCES:
                raise Invalid(
                    f"SSH port {port} needs root; run as root or choose a port above 1023 "
                    "with --ssh-port or config/cli port", thing="ssh port", value=port,
                    allowed="a port above 1023 when not root") from None
            raise Invalid(f"SSH server cannot listen on {address}:{port}: {exc.strerror or exc}",
                          thing="ssh address", value=f"{address}:{port}",
                          allowed="a local address and free port") from None
        sock.setblocking(False)
        self._listener = sock
        self._bound = (address, sock.getsockname()[1])
        self._accepting = asyncio.create_task(self._accept(sock), name="ssh-accept")
        log.info("ssh: listening on %s:%d", *self._bound)

    async def _accept(self, sock: socket.socket) -> None:
        """Accept connections; admit or refuse each before asyncssh sees it."""
        loop = asyncio.get_running_loop()
        while True:
            try:
                client, peer = await loop.sock_accept(sock)
            except OSError as exc:          # out of descriptors: let some close first
                log.warning("ssh: accept failed: %s", exc)
                await asyncio.sleep(0.1)
                continue
            source = str(peer[0])
            why = self.admission.admit(source, self._starting)
            logged_in = len(self.connections - self.unauthenticated)
            if why is None and logged_in + self._starting >= MAX_CONNECTIONS:
                why = f"too many connections ({MAX_CONNECTIONS} in all)"
            if why is not None:
                self._refuse(client, source, why)
                continue
            self._starting += 1
            self.spawn(self._run(client))

    def _refuse(self, client: socket.socket, source: str, why: str) -> None:
        self.refused += 1
        self.last_refusal = why
        with contextlib.suppress(OSError):
            client.send(f"Refused: {why}; try again later\r\n".encode())
        client.close()
        self._refusals_unlogged += 1
        now = time.monotonic()
        if now - self._refusal_logged_at >= REFUSAL_LOG_S:
            log.warning("ssh: refused %d connection(s) in the last %g s; the last from %s: %s",
                        self._refusals_unlogged, REFUSAL_LOG_S, source, why)
            self._refusals_unlogged, self._refusal_logged_at = 0, now

    async def _run(self, client: socket.socket) -> None:
        """asyncssh's server on an admitted connection, until it is logged in or gone."""
        try:
            await asyncssh.run_server(client, options=self._options)
        except (asyncssh.Error, OSError, asyncio.TimeoutError):
            pass                            # the login failed or the peer went
        finally:
            self._starting -= 1

    async def _close_listener(self) -> None:
        if self._accepting is not None:
            self._accepting.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._accepting
            self._accepting = None
        if self._listener is not None:
            self._listener.close()
            self._listener = None
            self._bound = None

    async def _watch_settings(self) -> None:
        with self.core.events.subscribe(kinds={"settings"}) as sub:
            current = self._wanted()
            while True:
                batch = await sub.get()
                if not any(ev.subject == "cli" for ev in batch.events):
                    continue
                wanted = self._wanted()
                if wanted == current:
                    continue
                current = wanted
                await self._close_listener()
                try:
                    await self._listen()
                except Invalid as exc:
                    log.error("ssh: %s", exc)

    async def stop(self) -> None:
        """Stop listening and close every connection (sessions end, logouts audited)."""
        if self._watch is not None:
            self._watch.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._watch
        await self._close_listener()
        for conn in list(self.connections):
            if conn.conn is not None:
                conn.conn.close()
        await wait_event(self.none_open, CLOSE_WAIT_S)
        if self._tasks:
            await asyncio.wait(list(self._tasks), timeout=1)

    def spawn(self, coro: Any) -> asyncio.Task[Any]:
        """Run a background coroutine tied to the service (awaited at stop)."""
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    def describe(self) -> str:
        """``ssh=ADDR:PORT ssh-ed25519=SHA256:… ssh-rsa=SHA256:…`` for the ready line."""
        if self._bound is None:
            return "ssh=off"
        prints = self.host_keys.fingerprints if self.host_keys else {}
        keys = " ".join(f"ssh-{kind}={fp}" for kind, fp in prints.items())
        return f"ssh={self._bound[0]}:{self._bound[1]} {keys}"
