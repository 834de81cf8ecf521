"""The console in the session's language (issue 23 item 4, manual §5.1): a Czech user's
console reads Czech while an English user's console, open at the same time in the same
process, stays English; the display dialog switches the language at once and for the
next login; the system default comes from ``config/core``."""

from __future__ import annotations

from typing import Any

import pytest

from textual.widgets import Button

from enerteg_tui.core.permissions import SYSTEM
from enerteg_tui.screens.dialogs import ConfirmDialog
from enerteg_tui.screens.display import DisplayDialog
from enerteg_tui.screens.keybar import KeyBar
from enerteg_tui.screens.page import PageTitle
from tests.conftest import principal
from tests.helpers import wait_for

from .conftest import make_app, settle
from .test_live_marks import open_display_dialog

JANA = principal("admin", user="jana")


def title(pilot: Any) -> str:
    """The page titles shown (two for a moment while a page replaces another)."""
    return " | ".join(str(t.render()) for t in pilot.app.main.query(PageTitle))


def keys(pilot: Any) -> str:
    return " | ".join(k.render().plain for k in pilot.app.main.query(KeyBar))


@pytest.mark.asyncio
async def test_czech_and_english_consoles_side_by_side(frozen) -> None:
    await frozen.users.add(SYSTEM, "jana", "Corr3ct-horse", ["admin"])
    await frozen.users.prefs.set(SYSTEM, "jana", {"language": "cs"})
    czech, english = make_app(frozen, JANA), make_app(frozen, "admin")
    async with czech.run_test(size=(120, 40)) as cz, english.run_test(size=(120, 40)) as en:
        await wait_for(lambda: "Přehled areálu" in title(cz) and "Site dashboard" in title(en),
                       timeout=10)
        await cz.press("f4")
        await en.press("f4")
        await wait_for(lambda: "Alarmy" in title(cz) and "Alarms" in title(en)
                       and "Kvitovat" in keys(cz) and "Acknowledge" in keys(en), timeout=10)
        assert "Kvitovat" not in keys(en) and "Acknowledge" not in keys(cz)
        await cz.press("f9")
        await en.press("f9")
        await wait_for(lambda: "Nastavení" in title(cz) and "Settings" in title(en), timeout=10)
        assert cz.app.language == "cs" and en.app.language == "en"
        await cz.press("q")
        await en.press("q")
        await wait_for(lambda: isinstance(cz.app.screen, ConfirmDialog)
                       and isinstance(en.app.screen, ConfirmDialog)
                       and cz.app.screen.query("#no") and en.app.screen.query("#question"),
                       timeout=10)
        await settle(cz)
        assert "Opustit konzoli EnerTEG?" in str(cz.app.screen.query_one("#question").render())
        assert "Zůstat (n)" in str(cz.app.screen.query_one("#no", Button).label)
        assert "Leave the EnerTEG console?" in str(en.app.screen.query_one("#question").render())


@pytest.mark.asyncio
async def test_display_dialog_switches_language_now_and_for_next_login(frozen) -> None:
    async with make_app(frozen, "admin").run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        assert "Site dashboard" in title(pilot)
        dialog = await open_display_dialog(pilot)
        await pilot.click("#lang-cs")
        await wait_for(lambda: pilot.app.language == "cs", timeout=10)
        dialog.dismiss(None)
        await wait_for(lambda: "Přehled areálu" in title(pilot) and "Strom" in keys(pilot),
                       timeout=10)
    assert (await frozen.users.prefs.get("admin")).language == "cs"
    async with make_app(frozen, "admin").run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        assert "Přehled areálu" in title(pilot)
        pilot.app.action_display_prefs()             # the palette lists it in Czech now
        await wait_for(lambda: isinstance(pilot.app.screen, DisplayDialog)
                       and pilot.app.screen.query(".label"), timeout=10)
        await settle(pilot)
        assert pilot.app.screen.query_one(".label").render().plain == "Změněné hodnoty"
        await pilot.press("l")                       # cs → default (config/core: en)
        await wait_for(lambda: pilot.app.language == "en", timeout=10)
    assert (await frozen.users.prefs.get("admin")).language == ""
    await frozen.config.put(SYSTEM, "core", {"language": "cs"})
    async with make_app(frozen, "readonly").run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        assert "Přehled areálu" in title(pilot)         # the system default
