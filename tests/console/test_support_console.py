"""Pilot tests of the support access in the console's command palette (manual §5.1,
issue 23 item 7): refused in the core's words while remote management is disabled (no
question asked, nothing opened); opened behind a confirmation with the one-time password
shown once and working; closed behind a confirmation; readonly users see none of it."""

from __future__ import annotations

from typing import Any

from enerteg_tui.core.permissions import SYSTEM
from enerteg_tui.screens.dialogs import ConfirmDialog, ShownOnce
from enerteg_tui.screens.palette import ConsoleCommands
from tests.helpers import wait_for

from .conftest import make_app, settle
from .pilots import notes, palette


async def test_support_access_from_the_palette(make_controller: Any) -> None:
    c = await make_controller(pdus=1)
    support = c.core.support

    ro = make_app(c, "readonly")
    async with ro.run_test(size=(110, 32)) as pilot:
        await settle(pilot)
        texts = [t for t, _h, _c in ConsoleCommands(ro.screen)._entries()]
        assert not [t for t in texts if "upport access" in t]

    app = make_app(c)
    async with app.run_test(size=(110, 32)) as pilot:
        await settle(pilot)
        texts = [t for t, _h, _c in ConsoleCommands(app.screen)._entries()]
        assert "Open support access for 4 hours" in texts
        assert "Close support access now" not in texts          # nothing open to close

        # remote management disabled: refused at once in the core's words, no question
        await palette(pilot, "Open support access for 4 hours")
        await wait_for(lambda: any("remoteManagement is disabled" in n for n in notes(app)),
                       timeout=10)
        assert not isinstance(app.screen, ConfirmDialog)
        assert not support.enabled

        await c.config.put(SYSTEM, "core", {"remoteManagement": "enabled"})
        await palette(pilot, "Open support access for 4 hours")
        assert isinstance(app.screen, ConfirmDialog)
        await pilot.press("n")                                   # cancelled: nothing opened
        await settle(pilot)
        assert not support.enabled
        await palette(pilot, "Open support access for 4 hours")
        await pilot.press("y")
        await wait_for(lambda: isinstance(app.screen, ShownOnce), timeout=10)
        shown = app.screen
        assert isinstance(shown, ShownOnce)
        password = shown.text
        assert support.enabled and support.status()["role"] == "admin"
        left = support.status()["secondsLeft"]
        assert 4 * 3600 - 60 < left <= 4 * 3600
        principal = await c.users.authenticate("support", password, face="ssh",
                                               address="127.0.0.1")
        assert principal.user == "support"                       # the password works
        await pilot.press("enter")                                # shown once: gone
        await settle(pilot)
        assert not isinstance(app.screen, ShownOnce)

        await palette(pilot, "Support access status")
        await wait_for(lambda: any("Support access: enabled until" in n
                                   for n in notes(app)), timeout=10)

        await palette(pilot, "Close support access now")
        assert isinstance(app.screen, ConfirmDialog)
        await pilot.press("y")
        await wait_for(lambda: not support.enabled, timeout=10)
        await wait_for(lambda: any("Support access closed" in n for n in notes(app)),
                       timeout=10)
    actions = [e.action for e in await c.audit.query(SYSTEM, limit=50)]
    assert "support.enable" in actions and "support.disable" in actions
