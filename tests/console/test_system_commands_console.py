"""Pilot tests of the system commands from the console's command palette (manual §5.1.1):
admins only, refusal naming --manage-host, restart behind a confirmation, audited."""

from __future__ import annotations

from typing import Any

from enerteg_tui.screens.dialogs import ConfirmDialog
from tests.conftest import principal
from tests.helpers import wait_for

from .conftest import make_app, settle


async def _palette(pilot: Any, text: str) -> None:
    await pilot.press("ctrl+p")
    await settle(pilot)
    await pilot.press(*text)
    await pilot.pause(0.3)
    await pilot.press("enter")
    await settle(pilot)


def _notes(app: Any) -> list[str]:
    return [str(n.message) for n in app._notifications]


async def _system_audit(c: Any) -> list[tuple[str, str]]:
    entries = await c.audit.query(principal("admin"), limit=100)
    return [(e.user, e.action) for e in entries if e.action.startswith("system.")]


async def test_readonly_sees_no_system_command(frozen) -> None:
    app = make_app(frozen, "readonly")
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        from enerteg_tui.screens.palette import ConsoleCommands
        texts = [t for t, _h, _c in ConsoleCommands(app.screen)._entries()]
        assert "Restart controller" not in texts and "Power off host" not in texts
        await _palette(pilot, "Restart controller")
        assert not isinstance(app.screen, ConfirmDialog)
    assert frozen.core.system.requested is None
    assert await _system_audit(frozen) == []


async def test_admin_poweroff_refused_naming_the_flag(frozen) -> None:
    assert not frozen.core.system.manage_host
    app = make_app(frozen)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        await _palette(pilot, "Power off host")
        await wait_for(lambda: any("--manage-host" in n for n in _notes(app)), timeout=10)
        assert not isinstance(app.screen, ConfirmDialog)      # refused before asking
        assert any("poweroff of the host is not allowed" in n for n in _notes(app))
    assert frozen.core.system.requested is None
    assert await _system_audit(frozen) == []


async def test_admin_restart_asks_then_calls_the_core(frozen) -> None:
    app = make_app(frozen)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        await _palette(pilot, "Restart controller")
        assert isinstance(app.screen, ConfirmDialog)
        await pilot.press("n")                                  # no: nothing happens
        await settle(pilot)
        assert not isinstance(app.screen, ConfirmDialog)
        assert frozen.core.system.requested is None
        await _palette(pilot, "Restart controller")
        assert isinstance(app.screen, ConfirmDialog)
        await pilot.press("y")
        await wait_for(lambda: frozen.core.system.requested == "restart", timeout=10)
        await wait_for(lambda: any("restarts now" in n for n in _notes(app)), timeout=10)
    assert await _system_audit(frozen) == [("admin", "system.restart")]


async def test_czech_admin_sees_the_system_commands_in_czech(frozen) -> None:
    """The palette's system entries, the confirmation and its outcome in the session's
    language (issue 23 item 4); the core's action stays the same."""
    from enerteg_tui.core.permissions import SYSTEM

    await frozen.users.add(SYSTEM, "jana", "Corr3ct-horse", ["admin"])
    await frozen.users.prefs.set(SYSTEM, "jana", {"language": "cs"})
    app = make_app(frozen, principal("admin", user="jana"))
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        from enerteg_tui.core import i18n
        from enerteg_tui.screens.palette import ConsoleCommands
        assert app.language == "cs"
        with i18n.use("cs"):                          # read the entries as the session does
            texts = [t for t, _h, _c in ConsoleCommands(app.screen)._entries()]
        assert {"Restartovat řadič", "Vypnout hostitele", "Stav servisního přístupu",
                "Otevřít servisní přístup na 1 hodinu", "Otevřít servisní přístup na 4 hodiny",
                "Otevřít servisní přístup na 24 hodin"} <= set(texts)
        assert "Restart controller" not in texts
        await _palette(pilot, "Restartovat řadič")
        assert isinstance(app.screen, ConfirmDialog)
        await settle(pilot)
        assert "Restartovat řadič hned?" in str(app.screen.query_one("#question").render())
        await pilot.press("n")
        await wait_for(lambda: any("Restartovat řadič: zrušeno; nic se nestalo" in n
                                   for n in _notes(app)), timeout=10)
    assert frozen.core.system.requested is None
