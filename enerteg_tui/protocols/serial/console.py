"""The serial console: ``login:`` and the topic shell on a serial line (issue 4, item 5).

Why it exists: a controller in a rack must stay reachable when its network is down or
not configured yet. An operator plugs a laptop into the console port, gets a login
prompt, and has the same topic shell as over SSH, with the same accounts, lockout and
forced change of the factory password.

Owns the line: ``SerialConsoleService`` opens the device with pyserial (8N1, raw, no
flow control, non-blocking) and ``SerialTerm`` reads it with ``loop.add_reader`` (no
threads), decoding UTF-8. One login at a time: banner, ``login_prompt``, forced
password change, session registration (``config/cli`` maxSessionsPerUser), the
terminal type (``fullscreen.py``: the console, or ``shell`` for the ``ShellSession``),
logout, and back to the prompt.

Invariants:
    * Every successful login is paired with an audited logout, however the session
      ends: ``exit``, failed password change, session limit, idle timeout, hang-up,
      unexpected error or ``stop()``; the registered session is always closed.
    * A hang-up (read gives EOF/EIO, write gives EIO, the device vanished) ends the
      session; the device is then re-opened every ``retry_s`` seconds, logged once.
    * A device that cannot be opened never stops the controller: one log line, retries.
    * Nothing raised reaches the controller's start or the line; unexpected errors are
      logged and the line goes back to the login prompt.
"""

from __future__ import annotations

import asyncio
import codecs
import contextlib
import errno
import logging
import os
import select
import termios
from collections.abc import Coroutine
from typing import Any, TypeVar

import serial

from ...core.errors import PermissionDenied
from ...core.permissions import Principal
from ...core.users import Session
from ..shell.session import ShellSession, change_password_prompt, login_prompt

__all__ = ["SerialConsoleService", "SerialTerm", "FACE", "RETRY_S"]

log = logging.getLogger(__name__)

T = TypeVar("T")

FACE = "serial"
"""The face name in principals and audit entries."""
RETRY_S = 1.0
"""Seconds between attempts to (re-)open the device."""
STOP_TIMEOUT_S = 1.0
"""How long ``stop()`` waits for the console task to end."""
IDLE_CHECK_S = 1.0
"""Longest wait between two looks at the idle limit (it may change while waiting)."""
READ_CHUNK = 4096
MAX_PENDING_INPUT = 64 * 1024
"""Decoded characters queued but not read yet; beyond this the fd is not read."""
MAX_PENDING_OUTPUT = 256 * 1024
"""Bytes kept for a line that does not drain; more output is dropped."""


class SerialTerm:
    """A ``TermIO`` over an open serial port: non-blocking fd, ``add_reader``/``add_writer``.

    ``read`` returns ``""`` for ever once the line hung up or was closed; ``write``
    never blocks (what the kernel does not take is kept, up to a limit, and sent when
    the line drains). ``last_input`` is the loop time of the last byte received.
    """

    def __init__(self, port: serial.Serial) -> None:
        """Take over the open ``port`` (its fd is read and written directly)."""
        self._port = port
        self._fd = port.fileno()
        os.set_blocking(self._fd, False)
        self._loop = asyncio.get_running_loop()
        self._decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        self._queue: asyncio.Queue[str] = asyncio.Queue()
        self._queued = 0
        self._reading = False
        self._out = bytearray()
        self._eof_returned = False
        self.hung_up = False
        """True once input has ended (hang-up, vanished device, or ``close()``)."""
        self.closed = False
        """True once ``close()`` released the device."""
        self.last_input = self._loop.time()
        """Loop time of the last input received (or of the opening)."""
        self._resume_reading()

    # ------------------------------------------------------------------ TermIO
    @property
    def size(self) -> tuple[int, int]:
        """A serial terminal does not report its size: assume 80 × 24."""
        return (80, 24)

    async def read(self) -> str:
        """Return the next decoded input, ``""`` (for ever) after a hang-up."""
        if self._eof_returned:
            return ""
        chunk = await self._queue.get()
        if chunk == "":
            self._eof_returned = True
            return ""
        self._queued -= len(chunk)
        if self._queued <= MAX_PENDING_INPUT:
            self._resume_reading()
        return chunk

    def write(self, text: str) -> None:
        """Send ``text`` as UTF-8; ignored once the line hung up."""
        if self.hung_up or not text:
            return
        data = text.encode("utf-8", "replace")
        if self._out:                                   # keep the order: queue behind
            room = MAX_PENDING_OUTPUT - len(self._out)
            self._out += data[:max(0, room)]
            return
        try:
            sent = os.write(self._fd, data)
        except (BlockingIOError, InterruptedError):
            sent = 0
        except OSError as exc:
            log.debug("serial console: write failed: %s", exc)
            self._hang_up()
            return
        if sent < len(data):
            self._out += data[sent:sent + MAX_PENDING_OUTPUT]
            self._loop.add_writer(self._fd, self._on_writable)

    @property
    def backlog(self) -> int:
        """Bytes written but not yet taken by the line."""
        return len(self._out)

    # ------------------------------------------------------------------ life
    def close(self) -> None:
        """End input and release the device; output not sent yet is discarded."""
        if self.closed:
            return
        self._hang_up()
        self.closed = True
        with contextlib.suppress(termios.error, OSError):
            termios.tcflush(self._fd, termios.TCIOFLUSH)  # a closing tty waits for its output
        with contextlib.suppress(Exception):
            self._port.close()

    # ------------------------------------------------------------------ fd callbacks
    def _resume_reading(self) -> None:
        if not self._reading and not self.hung_up:
            self._loop.add_reader(self._fd, self._on_readable)
            self._reading = True

    def _pause_reading(self) -> None:
        if self._reading:
            self._loop.remove_reader(self._fd)
            self._reading = False

    def _on_readable(self) -> None:
        try:
            data = os.read(self._fd, READ_CHUNK)
        except (BlockingIOError, InterruptedError):
            return
        except OSError as exc:                          # EIO: the line or device is gone
            log.debug("serial console: read failed: %s", exc)
            data = b""
        if not data:
            self._hang_up()
            return
        self.last_input = self._loop.time()
        text = self._decoder.decode(data)
        if text:
            self._queue.put_nowait(text)
            self._queued += len(text)
            if self._queued > MAX_PENDING_INPUT:
                self._pause_reading()

    def _on_writable(self) -> None:
        try:
            sent = os.write(self._fd, self._out)
        except (BlockingIOError, InterruptedError):
            return
        except OSError as exc:
            log.debug("serial console: write failed: %s", exc)
            self._hang_up()
            return
        del self._out[:sent]
        if not self._out:
            self._loop.remove_writer(self._fd)

    def _hang_up(self) -> None:
        """Stop reading and writing; readers get what was decoded, then ``""``."""
        if self.hung_up:
            return
        self.hung_up = True
        self._pause_reading()
        if self._out:
            self._out.clear()
            self._loop.remove_writer(self._fd)
        tail = self._decoder.decode(b"", final=True)
        if tail:
            self._queue.put_nowait(tail)
        self._queue.put_nowait("")


def _hung_up(fd: int) -> bool:
    """Whether the tty on ``fd`` reports a hang-up or an error right now."""
    poller = select.poll()
    poller.register(fd, select.POLLIN)
    return any(events & (select.POLLHUP | select.POLLERR | select.POLLNVAL)
               for _, events in poller.poll(0))


class SerialConsoleService:
    """The serial console as a controller ``Service``: one login at a time on ``device``.

    Args:
        core: the core services.
        device: path of the serial device, e.g. ``/dev/ttyS0``.
        baud: line speed; the line is 8N1, raw, without flow control.
        idle_timeout_s: idle limit in seconds, overriding ``config/cli``
            idleTimeoutMinutes (tests); None = from the settings, 0 = never.
        retry_s: seconds between attempts to (re-)open the device.
    """

    name = "serial"

    def __init__(self, core: Any, device: str, baud: int = 115200, *,
                 idle_timeout_s: float | None = None, retry_s: float = RETRY_S) -> None:
        self.core = core
        self.device = device
        self.baud = int(baud)
        self.idle_timeout_s = idle_timeout_s
        self.retry_s = retry_s
        self._task: asyncio.Task[None] | None = None
        self._term: SerialTerm | None = None

    # ------------------------------------------------------------------ Service
    def describe(self) -> str:
        """For the ready line: ``serial=/dev/ttyS0@115200``."""
        return f"serial={self.device}@{self.baud}"

    async def start(self) -> None:
        """Start serving the line; returns at once (opening is retried in the background)."""
        appliers = self.core.config.appliers
        appliers.register("cli", "serial console")
        for face in ("console", "shell"):
            appliers.register("hostname", face)
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name=f"serial-console {self.device}")

    async def stop(self) -> None:
        """End any session (logout audited), stop retrying and close the device."""
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            done, _ = await asyncio.wait({task}, timeout=STOP_TIMEOUT_S)
            if not done:
                log.warning("serial console: %s did not stop within %g s", self.device,
                            STOP_TIMEOUT_S)
            elif not task.cancelled() and task.exception() is not None:
                log.error("serial console: %s ended with %r", self.device, task.exception())
        if self._term is not None:
            self._term.close()
            self._term = None

    # ------------------------------------------------------------------ the line
    def _open(self) -> SerialTerm:
        port = serial.Serial(
            port=self.device, baudrate=self.baud, bytesize=serial.EIGHTBITS,
            parity=serial.PARITY_NONE, stopbits=serial.STOPBITS_ONE, timeout=0,
            xonxoff=False, rtscts=False, dsrdtr=False, exclusive=True)
        try:
            if _hung_up(port.fileno()):                 # e.g. a pty whose far end is gone
                raise OSError(errno.EIO, "the line is hung up")
            return SerialTerm(port)
        except BaseException:
            port.close()
            raise

    async def _run(self) -> None:
        """Open the device (retrying), serve it until it hangs up, and again."""
        quiet = False                                   # the failure was already logged
        while True:
            try:
                term = self._open()
            except Exception as exc:  # never fatal: say it once, keep trying
                if not quiet:
                    expected = isinstance(exc, (serial.SerialException, OSError, ValueError))
                    log.warning("serial console: cannot open %s (%s); retrying every %g s",
                                self.device, exc, self.retry_s, exc_info=not expected)
                    quiet = True
                await asyncio.sleep(self.retry_s)
                continue
            log.info("serial console: login prompt on %s at %d baud", self.device, self.baud)
            self._term = term
            try:
                await self._serve(term)
            finally:
                term.close()
                self._term = None
            log.warning("serial console: %s hung up; re-opening it when it is back", self.device)
            quiet = True
            await asyncio.sleep(self.retry_s)

    async def _serve(self, term: SerialTerm) -> None:
        """Logins one after the other until the line hangs up."""
        while not term.hung_up:
            try:
                await self._login(term)
            except Exception:  # never a traceback on the line; back to the prompt
                log.exception("serial console: unexpected error on %s", self.device)
                term.write("\r\nInternal error; the session has ended.\r\n")
                await asyncio.sleep(self.retry_s)

    def _banner(self) -> str:
        config = self.core.config
        banner = "\r\n".join(config.get("cli").banner.splitlines())
        host = config.get("hostname").hostname
        head = f"\r\n{banner}" if banner.strip() else ""
        return f"{head}\r\n{host} serial console on {self.device}\r\n"

    async def _login(self, term: SerialTerm) -> None:
        """One login: banner, prompt, then the session; returns at logout or hang-up."""
        term.write(self._banner())
        principal = await login_prompt(term, self.core, FACE, self.device)
        if principal is None:                           # hung up at the prompt
            return
        session = None
        idle: float | None = None
        try:
            session, idle = await self._session(term, principal)
        finally:
            try:                   # the core audits the end: logout, and a timeout
                if session is not None:
                    await self.core.users.end_session(session, timed_out_after=idle)
                else:
                    await self.core.users.logout(principal)
            except Exception:
                log.exception("serial console: could not audit the logout of %r", principal.user)

    async def _session(self, term: SerialTerm, principal: Principal
                       ) -> tuple[Session | None, float | None]:
        """Forced password change, admission and the shell of a logged-in user.

        Returns the session the core admitted (None if it never started) and, when it
        ended for lack of input, the idle limit in seconds (for the audit)."""
        core = self.core
        users = core.users
        if await users.must_change(principal.user):
            timed_out, changed = await self._idle_limited(
                term, change_password_prompt(term, core, principal))
            if timed_out:
                self._timed_out(term)
                return None, None
            if not changed:
                term.write("Password not changed; logging out.\r\n")
                return None, None
        ended: list[str] = []
        running: list[asyncio.Future[Any]] = []

        def end(reason: str) -> None:  # a factory reset ends every session
            ended.append(reason)
            for task in running:
                task.cancel()

        try:           # the core's one session admission (limit, audit), as on every face
            session = await users.start_session(principal, end=end)
        except PermissionDenied as exc:
            term.write(f"{exc}\r\n")
            return None, None
        try:
            face = asyncio.ensure_future(self._face(term, principal, session))
            running.append(face)
            timed_out, _ = await self._idle_limited(term, _ended_ok(face, ended))
        except BaseException:      # hung up, cancelled, a bug: the session still ends
            await users.end_session(session)
            raise
        if timed_out:
            self._timed_out(term)
            return session, self._idle_limit() or 0.0
        if ended:
            term.write(f"\r\n{ended[0]}\r\n")
        return session, None

    async def _face(self, term: SerialTerm, principal: Principal, session: Any) -> None:
        """Ask for the terminal type, then the full-screen console or the line shell."""
        from .fullscreen import ask_terminal_type, run_serial_console

        kind = await ask_terminal_type(term)
        if kind is None:
            return
        if kind.lower() != "shell":
            await run_serial_console(term, self.core, principal, session, kind)
            return
        shell = ShellSession(self.core, principal)
        shell.session = session
        await shell.run_interactive(term)

    # ------------------------------------------------------------------ idle limit
    def _idle_limit(self) -> float | None:
        """Seconds without input that end a session; None = never."""
        if self.idle_timeout_s is not None:
            seconds = float(self.idle_timeout_s)
        else:
            seconds = 60.0 * int(self.core.config.get("cli").idleTimeoutMinutes)
        return seconds if seconds > 0 else None

    async def _idle_limited(self, term: SerialTerm,
                            coro: Coroutine[Any, Any, T]) -> tuple[bool, T | None]:
        """Run ``coro``; cancel it once no input arrived for the idle limit.

        Returns ``(True, None)`` when it timed out, else ``(False, its result)``.
        """
        loop = asyncio.get_running_loop()
        task = asyncio.ensure_future(coro)
        try:
            while True:
                limit = self._idle_limit()
                wait = IDLE_CHECK_S
                if limit is not None:
                    wait = min(wait, term.last_input + limit - loop.time())
                done, _ = await asyncio.wait({task}, timeout=max(0.0, wait))
                if done:
                    return False, task.result()
                if limit is not None and loop.time() - term.last_input >= limit:
                    return True, None
        finally:
            if not task.done():
                task.cancel()
                await asyncio.wait({task})              # a stop() now still cancels us
            if task.done() and not task.cancelled():
                task.exception()                        # retrieved: raised above or dropped

    def _timed_out(self, term: SerialTerm) -> None:
        limit = self._idle_limit() or 0.0
        if limit >= 60 and limit % 60 == 0:
            amount = "1 minute" if limit == 60 else f"{limit / 60:g} minutes"
        else:
            amount = f"{limit:g} seconds"
        term.write(f"\r\nSession timed out after {amount} without input.\r\n")
        log.info("serial console: session on %s timed out", self.device)


async def _ended_ok(face: asyncio.Future[None], ended: list[str]) -> None:
    """Wait for the face; its cancellation by ``Session.end`` is a normal end."""
    try:
        await face
    except asyncio.CancelledError:
        if not ended:
            raise
