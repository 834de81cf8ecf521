"""One run of the full-screen console on a transport, shared by every face that has one.

SSH and the serial line differ in how bytes come in and go out (``transport`` and the
``pump`` that feeds input to the driver), not in how a console runs: build the App for
the principal, give it the session's colour system and a ``StreamDriver`` bound to the
transport, feed input while it runs, and clean up whatever way it ends. The caller
learns whether the operator asked for the topic shell (ctrl+t), to run it and come back.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from .terminal_caps import apply_terminal_caps
from .textual_driver import driver_for

__all__ = ["run_console_once"]

log = logging.getLogger(__name__)


async def run_console_once(core: Any, principal: Any, transport: Any, *,
                           pump: Callable[[Any], Awaitable[None]], term: str | None,
                           env: Mapping[str, str] | None = None, mouse: bool = True) -> bool:
    """Run the console until it quits; True when the operator asked for the shell.

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
                     on_open_shell=lambda: (want_shell.set(), app.exit()))
    apply_terminal_caps(app, term, env or {})
    app.driver_class = driver_for(transport)
    pumping = asyncio.get_running_loop().create_task(pump(app))
    try:
        await app.run_async(size=transport.size, mouse=mouse)
    except Exception:
        log.exception("console of %s failed", principal.user)
    finally:
        pumping.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await pumping
        transport.close()
    return want_shell.is_set()
