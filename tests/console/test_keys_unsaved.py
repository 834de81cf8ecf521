"""Issue 18 item 9: Escape on a form with unsaved changes asks before discarding them.

Every form (and the audit comment) is tried twice with the real keys: untouched, escape leaves at once; after
typing, escape asks ("Unsaved changes"), ``n`` keeps the form and the typed text, and
escape then ``y`` discards.
"""

from __future__ import annotations

from typing import Any

from textual.widgets import Input

from enerteg_tui.screens.dialogs import ConfirmDialog
from enerteg_tui.screens.forms import FormDialog
from enerteg_tui.screens.rule_form import RuleForm
from enerteg_tui.screens.structure_dialogs import NameDialog
from enerteg_tui.screens.tree import Place
from tests.helpers import wait_for

from .conftest import settle
from .pilots import console, open_place, open_screen, page, press


async def asks_then_discards(pilot: Any, still_there: Any, field: Input, typed: str) -> None:
    """Escape asks; n keeps the text; escape + y discards (``still_there()`` says whether
    the form is still shown)."""
    app = pilot.app
    await pilot.press("escape")
    await wait_for(lambda: isinstance(app.screen, ConfirmDialog))
    assert app.screen.title_text == "Unsaved changes"
    assert "1 field changed" in app.screen.question
    await pilot.press("n")
    await wait_for(lambda: not isinstance(app.screen, ConfirmDialog))
    await settle(pilot)
    assert still_there() and field.value.endswith(typed)
    await pilot.press("escape")
    await wait_for(lambda: isinstance(app.screen, ConfirmDialog))
    await pilot.press("y")
    await wait_for(lambda: not still_there())


async def test_device_configuration_asks_before_escape_discards(frozen):
    hex_id = frozen.live.ordered()[1].hex_id
    async with console(frozen) as pilot:
        app = pilot.app
        await open_place(pilot, Place("device", hex_id))
        await press(pilot, "3")
        await pilot.press("escape")                       # untouched: back at once
        await wait_for(lambda: app.main.current.name == "Dashboard")
        assert app.screen is app.main
        await open_place(pilot, Place("device", hex_id))
        await press(pilot, "3")
        name = page(app).query_one("#f-name", Input)
        assert app.focused is name
        await pilot.press("end", *"-x")
        await asks_then_discards(
            pilot, lambda: app.main.current.name == f"Device {hex_id}", name, "-x")
        assert app.main.current.name == "Dashboard"
        assert not frozen.live.get(hex_id).info.settings.name.endswith("-x")


async def test_settings_form_asks_before_escape_discards(frozen):
    async with console(frozen) as pilot:
        app = pilot.app
        await open_place(pilot, Place("settings", "syslog"))
        host = page(app).query_one("#f-serverAddress", Input)
        host.focus()
        await pilot.press(*"logs.example")
        await asks_then_discards(
            pilot, lambda: app.main.current.place == Place("settings", "syslog"), host,
            "logs.example")
        assert frozen.config.get("syslog").serverAddress != "logs.example"


async def test_user_dialog_asks_before_escape_discards(frozen):
    async with console(frozen) as pilot:
        app = pilot.app
        await press(pilot, "f10")
        await open_screen(pilot, "n", FormDialog)
        await pilot.press("escape")                       # untouched: closes at once
        await wait_for(lambda: app.screen is app.main)
        dialog = await open_screen(pilot, "n", FormDialog)
        name = dialog.query_one("#f-name", Input)
        assert app.focused is name
        await pilot.press(*"newbie")
        await asks_then_discards(pilot, lambda: dialog.is_attached, name, "newbie")
        assert app.screen is app.main


async def test_rule_form_asks_before_escape_discards(frozen):
    async with console(frozen) as pilot:
        app = pilot.app
        await press(pilot, "f6")
        await open_screen(pilot, "n", RuleForm)
        await pilot.press("escape")                       # untouched: closes at once
        await wait_for(lambda: app.screen is app.main)
        form = await open_screen(pilot, "n", RuleForm)
        name = form.query_one("#f-name", Input)
        name.focus()
        await pilot.press(*"hot aisle")
        await asks_then_discards(pilot, lambda: form.is_attached, name, "hot aisle")


async def test_name_dialog_asks_before_escape_discards(frozen):
    async with console(frozen) as pilot:
        await press(pilot, "f7")
        dialog = await open_screen(pilot, "n", NameDialog)
        name = dialog.query_one("#name", Input)
        await pilot.press(*"Hall B")
        await asks_then_discards(pilot, lambda: dialog.is_attached, name, "Hall B")
        assert "Hall B" not in [e.name for e in frozen.structure.elements()]


async def test_audit_comment_asks_before_escape_discards(frozen):
    from enerteg_tui.screens.audit_page import AuditDetail

    async with console(frozen) as pilot:
        app = pilot.app
        await press(pilot, "f5")
        await open_screen(pilot, "enter", AuditDetail)
        await pilot.press("escape")                       # nothing typed: closes at once
        await wait_for(lambda: app.screen is app.main)
        detail = await open_screen(pilot, "enter", AuditDetail)
        await pilot.press("c")                            # the comment field
        comment = detail.query_one("#comment", Input)
        assert app.focused is comment
        await pilot.press(*"checked")
        await asks_then_discards(pilot, lambda: detail.is_attached, comment, "checked")


async def test_tab_moves_through_the_dialog_fields(frozen):
    async with console(frozen) as pilot:
        app = pilot.app
        await press(pilot, "f10")
        await open_screen(pilot, "n", FormDialog)
        ids = [app.focused.id]
        for _ in range(4):
            await pilot.press("tab")
            ids.append(app.focused.id)
        assert ids == ["f-name", "f-password", "f-again", "f-roles", "ok"]
        await pilot.press("shift+tab")
        assert app.focused.id == "f-roles"
        app.screen.dismiss(False)
        await settle(pilot)
        await press(pilot, "f6")
        await open_screen(pilot, "n", RuleForm)
        seen = [app.focused.id]
        for _ in range(3):
            await pilot.press("tab")
            seen.append(app.focused.id)
        assert seen[0] == "f-scope" and len(set(seen)) == 4, seen


async def test_a_section_key_asks_too_before_leaving_unsaved_edits(frozen):
    hex_id = frozen.live.ordered()[1].hex_id
    async with console(frozen) as pilot:
        app = pilot.app
        await open_place(pilot, Place("device", hex_id))
        await press(pilot, "3")
        await pilot.press("end", *"zz")
        await pilot.press("f3")                           # the device list
        await wait_for(lambda: isinstance(app.screen, ConfirmDialog))
        await pilot.press("n")
        await wait_for(lambda: app.screen is app.main)
        assert app.main.current.name == f"Device {hex_id}"
        assert page(app).query_one("#f-name", Input).value.endswith("zz")
        await pilot.press("f3")
        await wait_for(lambda: isinstance(app.screen, ConfirmDialog))
        await pilot.press("y")
        await wait_for(lambda: app.main.current.name == "Devices")
