"""Issue 18 item 2: Tab moves between fields and tables, page keys scroll, letters typed in
any form stay in the form, enter on the outlet table charts (switching stays on u).

Every form of the console is walked field by field: each field gets the focus and every
letter, digit, ``?`` and ``/`` is pressed on it; no action of a page, the frame or the
App may run (the App's ``run_action`` is recorded) and no screen may open or close.
"""

from __future__ import annotations

from typing import Any

from textual.keys import key_to_character
from textual.widget import Widget
from textual.widgets import Button, Input, Select, TextArea

from enerteg_tui.core.quantities import Component
from enerteg_tui.screens.chart import ChartScreen
from enerteg_tui.screens.device_view import DevicePage
from enerteg_tui.screens.forms import FormDialog
from enerteg_tui.screens.help import HelpScreen
from enerteg_tui.screens.livetable import LiveTable
from enerteg_tui.screens.rule_form import RuleForm
from enerteg_tui.screens.structure_dialogs import NameDialog
from enerteg_tui.screens.switching import SwitchDialog
from enerteg_tui.screens.tree import Place
from enerteg_tui.screens.typing import ALWAYS, is_field
from tests.helpers import wait_for

from .conftest import settle
from .pilots import console, open_place, open_screen, page, press


def bound_single_keys(widget: Widget) -> list[str]:
    """Every printable key bound by the widget, its page, the frame or the App, but ``?``
    (help) and a form's declared own keys (``FORM_KEYS``) on a non-text field."""
    keys = {"e", "x", "i", "t"}
    for node in widget.ancestors_with_self:
        for key in node._bindings.key_to_bindings:
            char = key_to_character(key)
            if char and len(char) == 1 and char.isprintable() and not char.isspace():
                keys.add(key)
    keys -= ALWAYS
    if not isinstance(widget, (Input, TextArea)):
        for node in widget.ancestors:
            keys -= set(getattr(node, "FORM_KEYS", ()))
    return sorted(keys)


def record_actions(app: Any) -> list[str]:
    """Record every action the App runs from now on (bindings run through run_action)."""
    ran: list[str] = []
    original = app.run_action

    async def run_action(action: Any, default_namespace: Any = None) -> bool:
        ran.append(str(action))
        return await original(action, default_namespace)

    app.run_action = run_action
    return ran


async def type_into_every_field(pilot: Any, root: Widget) -> int:
    """Focus each field under ``root`` and type every key on it; returns the fields typed
    into. Fails on the first action run or screen change."""
    app = pilot.app
    screen = app.screen
    fields = [w for w in root.query("*") if is_field(w) and w.focusable]
    assert fields, f"no form fields under {root!r}"
    taken: dict[type, int] = {}
    chosen = []
    for w in fields:                    # two of each kind of field: enough, and quick
        if taken.get(type(w), 0) < 2:
            taken[type(w)] = taken.get(type(w), 0) + 1
            chosen.append(w)
    ran = record_actions(app)
    for field in chosen:
        field.focus()
        await pilot.pause()
        await pilot.press(*bound_single_keys(field))
        await pilot.pause()
        assert ran == [], f"{ran} ran while typing into {field!r}"
        assert app.screen is screen, f"{app.screen!r} opened while typing into {field!r}"
    del app.run_action
    return len(chosen)


async def test_tab_and_shift_tab_move_between_the_device_tables(frozen):
    hex_id = next(d.hex_id for d in frozen.live.ordered()
                  if d.info.model.outlets and d.info.model.branches and d.info.sensors)
    async with console(frozen) as pilot:
        await open_place(pilot, Place("device", hex_id))
        seen = [pilot.app.focused.id]
        for _ in range(3):
            await pilot.press("tab")
            seen.append(pilot.app.focused.id)
        assert seen == ["inputs", "outlets", "branches", "sensors"]
        for _ in range(3):
            await pilot.press("shift+tab")
        assert pilot.app.focused.id == "inputs"


async def test_tab_moves_through_the_configuration_form(frozen):
    hex_id = frozen.live.ordered()[1].hex_id
    async with console(frozen) as pilot:
        await open_place(pilot, Place("device", hex_id))
        await press(pilot, "3")
        ids = [pilot.app.focused.id]
        for _ in range(5):
            await pilot.press("tab")
            ids.append(pilot.app.focused.id)
        assert ids[:4] == ["f-name", "f-extraInfo", "f-location", "f-feed"]
        await pilot.press("shift+tab")
        assert pilot.app.focused.id == ids[-2]


async def test_page_keys_scroll_the_outlet_table_and_the_page(frozen):
    hex_id = max(frozen.live.ordered(), key=lambda d: d.info.model.outlets).hex_id
    async with console(frozen, (80, 24)) as pilot:
        await open_place(pilot, Place("device", hex_id))
        await pilot.press("tab")
        outlets = pilot.app.focused
        assert isinstance(outlets, LiveTable) and outlets.id == "outlets"
        scroll = page(pilot.app).query_one("#info-scroll")
        await press(pilot, "pagedown")
        assert outlets.cursor_row > 1
        await press(pilot, "end")
        assert outlets.cursor_row == len(outlets.rows) - 1
        assert scroll.scroll_y > 0               # the page followed the cursor
        await press(pilot, "home")
        assert outlets.cursor_row == 0


async def test_enter_on_the_outlet_table_charts_and_u_switches(frozen):
    hex_id = next(d.hex_id for d in frozen.live.ordered()
                  if d.info.model.outlets and d.info.model.metered_outlets
                  and d.info.model.switchable)
    async with console(frozen) as pilot:
        await open_place(pilot, Place("device", hex_id))
        await pilot.press("tab")
        assert pilot.app.focused.id == "outlets"
        await pilot.press("enter")                # on the number column: the current
        await wait_for(lambda: isinstance(pilot.app.screen, ChartScreen))
        assert pilot.app.screen.channel.quantity == "current"
        assert pilot.app.screen.channel.component is Component.OUTLET
        await press(pilot, "escape")
        await pilot.press("u")
        await wait_for(lambda: isinstance(pilot.app.screen, SwitchDialog))


async def test_typing_in_the_device_configuration_runs_no_key(frozen):
    hex_id = frozen.live.ordered()[1].hex_id
    async with console(frozen) as pilot:
        await open_place(pilot, Place("device", hex_id))
        await press(pilot, "3")
        p = page(pilot.app)
        assert isinstance(p, DevicePage)
        assert await type_into_every_field(pilot, p.query_one("#config")) >= 4
        assert not frozen.driver.fault_injector().device_document(hex_id).blinking


async def test_typing_in_every_settings_form_runs_no_key(frozen):
    async with console(frozen) as pilot:
        for topic in ("syslog", "email", "snmp_agent"):
            # the typing leaves edits; moving on drops them without asking
            await open_place(pilot, Place("settings", topic), discard_edits=True)
            assert pilot.app.screen is pilot.app.main and page(pilot.app).topic == topic
            assert await type_into_every_field(pilot, page(pilot.app)) >= 2


async def test_typing_in_the_reports_form_runs_no_key(frozen):
    async with console(frozen) as pilot:
        await press(pilot, "f8")
        p = page(pilot.app)
        assert await type_into_every_field(pilot, p) >= 2
        # its own keys, printed on its buttons, work from its select and buttons
        ran = record_actions(pilot.app)
        p.query_one("#scope", Select).focus()
        await pilot.press("r")
        p.query_one("#run", Button).focus()
        await pilot.press("q", "question_mark")
        await wait_for(lambda: isinstance(pilot.app.screen, HelpScreen))
        assert ran == ["run", "help"], ran


async def test_typing_in_the_rule_form_runs_no_key(frozen):
    async with console(frozen) as pilot:
        await press(pilot, "f6")
        await open_screen(pilot, "n", RuleForm)
        assert await type_into_every_field(pilot, pilot.app.screen) >= 5


async def test_typing_in_the_dialogs_runs_no_key(frozen):
    async with console(frozen) as pilot:
        await press(pilot, "f10")
        await open_screen(pilot, "n", FormDialog)
        assert await type_into_every_field(pilot, pilot.app.screen) >= 3
        pilot.app.screen.dismiss(False)
        await settle(pilot)
        await press(pilot, "f7")
        await open_screen(pilot, "n", NameDialog)
        assert await type_into_every_field(pilot, pilot.app.screen) >= 1
