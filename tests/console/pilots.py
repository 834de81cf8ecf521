"""Pilot steps the console tests share (the key tests, tests/console/test_keys_*.py, and
the command palette's system entries).

Each of those tests starts the console App on a controller, lets it settle, opens a
place or a section, and opens dialogs with a key, then waits for them; these helpers
are that set-up once, so every test drives the console the same way and a change to
how the console settles is made in one place.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from textual.pilot import Pilot

from enerteg_tui.controller import Controller
from enerteg_tui.screens.tree import Place
from tests.helpers import wait_for

from .conftest import make_app, settle

__all__ = ["console", "notes", "open_place", "open_screen", "page", "palette", "press"]


def page(app: Any) -> Any:
    """The page shown in the console's frame."""
    return app.main.query_one("#page").children[0]


@asynccontextmanager
async def console(controller: Controller, size: tuple[int, int] = (160, 48),
                  who: str = "admin") -> AsyncIterator[Pilot[Any]]:
    """The console App of ``who`` on ``controller`` at ``size``, running and settled."""
    async with make_app(controller, who).run_test(size=size) as pilot:
        await settle(pilot)
        yield pilot


async def press(pilot: Pilot[Any], *keys: str) -> None:
    """Press each key and let the console settle after it."""
    for key in keys:
        await pilot.press(key)
        await settle(pilot)


async def open_place(pilot: Pilot[Any], place: Place, **kw: Any) -> Any:
    """Open ``place`` in the frame (``kw`` to the App's ``open_place``); returns its page
    once settled."""
    await pilot.app.open_place(place, **kw)
    await settle(pilot)
    return page(pilot.app)


async def open_screen(pilot: Pilot[Any], key: str, cls: type) -> Any:
    """Press ``key``, wait until a ``cls`` screen is shown and settled; returns it."""
    app = pilot.app
    await pilot.press(key)
    await wait_for(lambda: isinstance(app.screen, cls))
    await settle(pilot)
    return app.screen


async def palette(pilot: Pilot[Any], text: str) -> None:
    """Run the command palette's entry ``text``: open it, type, take the first hit."""
    await pilot.press("ctrl+p")
    await settle(pilot)
    await pilot.press(*text)
    await pilot.pause(0.3)
    await pilot.press("enter")
    await settle(pilot)


def notes(app: Any) -> list[str]:
    """The texts of the notifications the app has shown (and not yet expired)."""
    return [str(n.message) for n in app._notifications]
