"""One run of the full-screen console on a transport, shared by every face that has one.

SSH and the serial line differ in how bytes come in and go out (``transport`` and the
``pump`` that feeds input to the driver), not in how a console runs: build the App for
the principal, give it the session's colour system and a ``StreamDriver`` bound to the
transport, feed input while it runs, and clean up whatever way it ends. The caller
learns how it ended (``ConsoleEnd``): quit, the topic shell asked for (ctrl+t, to run it
and come back), or an unexpected error (logged with an incident id; the face says so and
starts a fresh console in the same session, up to ``INCIDENTS_PER_SESSION`` times).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from enum import Enum
from typing import Any

from .terminal_caps import apply_terminal_caps
from .textual_driver import driver_for

__all__ = ["ConsoleEnd", "ConsoleRun", "INCIDENTS_PER_SESSION", "incident_text", "run_console_once"]

log = logging.getLogger(__name__)


class ConsoleEnd(Enum):
    """How a console App ended, for the face's loop."""

    QUIT = "quit"
    """The operator quit (or the input ended): the session ends."""
    SHELL = "shell"
    """The operator asked for the topic shell."""
    INCIDENT = "incident"
    """An unexpected error ended it (logged with an incident id): start a fresh one."""


INCIDENTS_PER_SESSION = 3
"""Fresh consoles a session gets after unexpected errors before it is ended."""


def incident_text(incident: str, left: int) -> str:
    """What the operator reads when the console hit an unexpected error."""
    then = ("the console starts again" if left > 0
            else "the session ends; log in again or tell your administrator")
    return (f"The console hit an internal error (incident {incident}, logged for the "
            f"administrator); {then}.\r\n")


@dataclass(frozen=True, slots=True)
class ConsoleRun:
    """How one run of the console ended."""

    end: ConsoleEnd
    incident: str | None = None
    """The id logged with the traceback, for ``ConsoleEnd.INCIDENT``."""
    place: Any = None
    """Where the operator was (a ``screens.tree.Place``): the next run opens it."""


async def run_console_once(core: Any, principal: Any, transport: Any, *,
                           pump: Callable[[Any], Awaitable[None]], term: str | None,
                           env: Mapping[str, str] | None = None, mouse: bool = True,
                           start_place: Any = None) -> ConsoleRun:
    """Run the console until it ends; returns how, where the operator was, and the
    incident id of an error. ``start_place``: the page to open first.

    Args:
        core: the core services.
        principal: who is logged in.
        transport: a ``TerminalTransport`` (with ``size`` and ``close()``).
        pump: coroutine function fed the App; reads input into ``transport.driver``
            and calls ``app.exit()`` at end of input. Cancelled when the App ends.
        term: the client's TERM; env: the variables it sent (NO_COLOR, COLORTERM).
        mouse: ask the terminal for mouse reports.
    """
    from ..app import ConsoleApp

    want_shell = asyncio.Event()
    app = ConsoleApp(core, principal, hostname=core.config.get("hostname").hostname,
                     on_open_shell=lambda: (want_shell.set(), app.exit()),
                     start_place=start_place)
    apply_terminal_caps(app, term, env or {})
    app.driver_class = driver_for(transport)
    pumping = asyncio.get_running_loop().create_task(pump(app))
    try:
        await app.run_async(size=transport.size, mouse=mouse)
    except Exception:
        app.incident = app.incident or secrets.token_hex(3)
        log.exception("console incident %s (user %r) failed", app.incident, principal.user)
    finally:
        pumping.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await pumping
        transport.close()
    if app.incident is not None:
        return ConsoleRun(ConsoleEnd.INCIDENT, app.incident)
    return ConsoleRun(ConsoleEnd.SHELL if want_shell.is_set() else ConsoleEnd.QUIT,
                      place=app.place)
