"""Routing of an SSH session channel to what the client asked for.

* a command (``ssh host 'cd config; cat _data'``) runs as a topic-shell script:
  data on stdout, messages on stderr, exit status 0 / 1 / 2 (see ``ShellSession``);
* ``ssh -t host shell`` (a pty and the command ``shell``) opens the interactive shell;
* a pty and no command opens the full-screen console (``console.py``), from which
  ctrl+t reaches the shell and ``exit`` returns;
* no pty and no command (``ssh host < script``, ``ssh -T host``) reads the commands
  from stdin and runs them as a script.

A login that still has the factory-default password may not run commands: exec and
stdin scripts are refused with a message saying how to change it; an interactive
login must set a new password first. Nothing here raises into asyncssh: an unexpected
error is logged and the client gets one line and exit status 1.

Nothing outlives its channel: when the channel closes (client gone, connection lost),
whatever still runs for it is cancelled after ``CLOSE_GRACE_S``. A signal or break
request on an exec channel interrupts the running command (exit status 130); with a
pty they arrive as Ctrl-C (``terminal.py``).
"""

from __future__ import annotations

import asyncio
import codecs
import contextlib
import logging
from typing import Any

import asyncssh

from ...core.audit import Severity
from ...core.i18n import _, session_language, use
from ...core.waiting import wait_event
from ..shell.parse import MAX_SCRIPT_CHARS
from ..shell.session import (EXIT_FAILED, EXIT_INTERRUPTED, EXIT_OK, EXIT_USAGE, ShellSession,
                             change_password_prompt)
from .terminal import SSHTerminal

__all__ = ["route_channel", "MAX_EXEC_PACKET"]

log = logging.getLogger(__name__)

MAX_EXEC_PACKET = 2 << 20
"""Largest SSH packet taken once logged in (asyncssh ``max_pktsize``; before login it
stays asyncssh's 256 KiB). An exec command up to this size reaches the shell, which
answers one over ``MAX_SCRIPT_CHARS`` with the limit instead of the connection being
dropped ("Max packet size exceeded")."""
CLOSE_GRACE_S = 1.0
"""Time a session's work has to end by itself after its channel closed, then cancelled."""


def _writer(stream: Any) -> Any:
    def write(text: str) -> None:
        try:
            stream.write(text.encode("utf-8", errors="replace"))
        except (BrokenPipeError, ConnectionError, asyncssh.Error):
            pass
    return write


async def route_channel(service: Any, process: asyncssh.SSHServerProcess) -> None:
    """Serve one session channel; always ends with ``process.exit``."""
    conn = process.get_extra_info("connection")
    owner = conn.get_owner()
    code = EXIT_FAILED
    work = asyncio.ensure_future(_serve(service, owner, process))
    closed = asyncio.ensure_future(process.wait_closed())
    try:
        await asyncio.wait([work, closed], return_when=asyncio.FIRST_COMPLETED)
        if not work.done():
            # the channel closed under it: a moment to end by itself, then cancelled
            await asyncio.wait([work], timeout=CLOSE_GRACE_S)
            if not work.done():
                work.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await work
                return
        code = work.result()
    except asyncio.CancelledError:
        work.cancel()
        raise
    except Exception:  # never a traceback to a client
        log.exception("ssh: session of %s failed",
                      owner.principal.user if owner.principal else "?")
        _writer(process.stderr)("Error: internal error; the session was closed (see the "
                                "controller log)\n")
    finally:
        closed.cancel()
        if not process.is_closing():
            process.exit(code)


async def _serve(service: Any, owner: Any, process: asyncssh.SSHServerProcess) -> int:
    core = service.core
    err = _writer(process.stderr)
    # asyncssh may open the channel while auth_completed is still binding the identity
    if not await wait_event(owner.ready, 10):
        raise TimeoutError("the SSH login did not complete within 10 s")
    principal = owner.principal
    if principal is None:
        err("Error: not logged in\n")
        return EXIT_FAILED
    if owner.refusal:
        err(f"Error: {owner.refusal}\n")
        return EXIT_FAILED
    if owner.session is not None:
        owner.session.touch()
    command = process.command
    has_pty = process.get_terminal_type() is not None
    if has_pty and command is None:
        return await _console(service, owner, process)
    if has_pty and command.strip() == "shell":
        return await _interactive(service, owner, process)
    reason = await core.users.change_reason(principal.user)
    if reason is not None:
        err(f"Error: the password of {principal.user!r} {reason} and must be "
            "changed before commands can be run. Log in interactively (ssh -t "
            f"{principal.user}@host) to set a new one, or run `enerteg user passwd "
            f"{principal.user} --data-dir DIR` on the controller.\n")
        return EXIT_FAILED
    if command is None or command.strip() == "shell":
        data = await _read_stdin(process)
        if data is None:
            err(f"Error: the script on stdin is longer than {MAX_SCRIPT_CHARS:,} characters, "
                "the limit. Split it into smaller scripts\n")
            return EXIT_USAGE
        command = data
    shell = ShellSession(core, principal)
    shell.session = owner.session
    watch = asyncio.ensure_future(_interrupt_on_signal(process, shell))
    try:
        return await shell.run_script(command, _writer(process.stdout), err)
    finally:
        watch.cancel()


async def _interrupt_on_signal(process: asyncssh.SSHServerProcess, shell: ShellSession) -> None:
    """Interrupt the script's running command on each signal or break request, until the
    client closes its input (the script's own input was the command line or already read)."""
    while True:
        try:
            data = await process.stdin.read(65536)
        except (asyncssh.BreakReceived, asyncssh.SignalReceived):
            shell.interrupt()
            continue
        except asyncssh.TerminalSizeChanged:
            continue
        except (asyncssh.Error, ConnectionError, BrokenPipeError):
            return
        if not data:
            return


async def _read_stdin(process: asyncssh.SSHServerProcess) -> str | None:
    """The script on stdin; None once it is longer than ``MAX_SCRIPT_CHARS``."""
    decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
    chunks: list[str] = []
    size = 0
    while True:
        try:
            data = await process.stdin.read(65536)
        except (asyncssh.TerminalSizeChanged, asyncssh.BreakReceived, asyncssh.SignalReceived):
            continue
        if not data:
            break
        text = decoder.decode(data)
        size += len(text)
        if size > MAX_SCRIPT_CHARS:
            return None
        chunks.append(text)
    return "".join(chunks) + decoder.decode(b"", final=True)


async def _console(service: Any, owner: Any, process: asyncssh.SSHServerProcess) -> int:
    from .console import run_console

    term = SSHTerminal(process, idle_timeout_s=service.idle_timeout_s())
    if not await _new_password_first(service.core, owner.principal, term):
        return EXIT_FAILED
    return await run_console(service, owner, process)


async def _new_password_first(core: Any, principal: Any, term: SSHTerminal) -> bool:
    """Whether an interactive login may go on: its password is not the factory default,
    or the user has just replaced it (asked twice, policy checked)."""
    if not await core.users.must_change(principal.user):
        return True
    if await change_password_prompt(term, core, principal):
        return True
    with use(await session_language(core, principal.user)):
        term.write(_("The password was not changed; logging out.") + "\r\n")
    return False


async def _interactive(service: Any, owner: Any, process: asyncssh.SSHServerProcess) -> int:
    core = service.core
    principal = owner.principal
    idle_s = service.idle_timeout_s()
    session = owner.session
    term = SSHTerminal(process, idle_timeout_s=idle_s,
                       on_input=session.touch if session is not None else None)
    if not await _new_password_first(core, principal, term):
        return EXIT_FAILED
    host = core.config.get("hostname").hostname
    term.write(f"EnerTEG controller {host}. Type 'help' for the commands, 'exit' to log out.\r\n")
    shell = ShellSession(core, principal)
    shell.session = session
    code = await shell.run_interactive(term)
    if term.timed_out:
        await core.audit.record(
            principal, "session.timeout", f"user/{principal.user}",
            f"SSH session of {principal.user!r} from {principal.address} closed after "
            f"{idle_s / 60:g} min without input", severity=Severity.INFO)
    return code if code in (EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_INTERRUPTED) else EXIT_OK
