"""Issue 18 item 8: on every page, the key bar, the help screen and the bindings agree, and
``?`` shows the page's own keys first, then the keys that work everywhere.

The walk opens every page an admin can reach (dashboards, device list, a device view,
every management section, a settings form), reads the key bar as drawn, presses ``?``
and reads the help as drawn, and compares both with the page's ``BINDINGS`` and the
active binding chain. A key named on a button ("Save (ctrl+s)", "Quit (y)", "r Run") is
bound, on every page and in the dialogs.
"""

from __future__ import annotations

import re
from typing import Any

from textual.binding import Binding
from textual.widgets import Button

from enerteg_tui.screens.help import HelpScreen, current_page, help_groups
from enerteg_tui.screens.keybar import KeyBar
from enerteg_tui.screens.sections import SECTIONS
from enerteg_tui.screens.tree import Place
from tests.helpers import wait_for

from .conftest import settle
from .pilots import console, open_place, open_screen

WIDE = (320, 60)
"""Wide enough that the key bar shows every key without cutting."""


def places(c: Any) -> list[Place]:
    rack = next(e for e in c.structure.elements() if e.kind.value == "rack")
    device = max(c.live.ordered(), key=lambda d: d.info.model.outlets).hex_id
    return [Place("site"), Place("element", rack.id), Place("devices"), Place("unassigned"),
            Place("device", device), *(Place(s.kind) for s in SECTIONS),
            Place("settings", "syslog")]


def described(bindings: Any) -> list[Binding]:
    out = []
    for b in bindings:
        b = b if isinstance(b, Binding) else Binding(*b)
        if b.description:
            out.extend(Binding(k.strip(), b.action, b.description, show=b.show)
                       for k in b.key.split(","))
    return out


KEY_WORDS = {"esc": "escape", "enter": "enter"}
"""Key names as button labels write them, as Textual names them."""


def hinted_key(label: str) -> str | None:
    """The key a button names in its label: ``Save (ctrl+s)``, ``Apply (^s)``,
    ``Quit (y)``, or a leading single key ``r Run``; None when it names none."""
    m = re.search(r"\(([^()]+)\)$", label)
    if m:
        key = m.group(1).strip()
        key = KEY_WORDS.get(key, key)
        return "ctrl+" + key[1:] if key.startswith("^") else key
    m = re.match(r"^(\w) \S", label)
    return m.group(1) if m and not label[0].isdigit() else None


async def check_button_hints(pilot: Any, where: object) -> int:
    """Every button that names a key in its label: with the button focused, that key is
    bound in the active chain (or is enter, which presses the button itself)."""
    app = pilot.app
    checked = 0
    for button in app.screen.query(Button):
        key = hinted_key(str(button.label))
        if key is None or not button.display or button.disabled or not button.focusable:
            continue
        button.focus()
        await pilot.pause()
        if key != "enter":
            assert key in app.screen.active_bindings, (where, str(button.label), key)
        checked += 1
    return checked


async def check_page(pilot: Any, place: Place) -> None:
    app = pilot.app
    await open_place(pilot, place)
    page = current_page(app)
    assert page is not None, place
    bar = app.main.query_one(KeyBar)
    await wait_for(lambda: bar._text.plain.strip() != "")
    text = bar._text.plain
    assert "…" not in text, f"key bar cut at {WIDE}: {text!r}"
    lines = text.split("\n")                   # one row, or two (the sections below)
    active = app.screen.active_bindings

    # every key drawn on the bar is bound now, with the words the bar shows
    for row, start, end, key in bar._spans:
        assert key in active, (place, key)
        binding = active[key].binding
        drawn = lines[row][start:end].strip()
        assert drawn.startswith(app.get_key_display(binding)), (place, drawn)
        if binding.action not in ("help",) and binding.key != app.COMMAND_PALETTE_BINDING:
            assert drawn.endswith(binding.description), (place, drawn, binding)
    # every shown, enabled binding of the page is on the bar
    shown_actions = {active[k].binding.action for _r, _s, _e, k in bar._spans}
    for b in described(type(page).BINDINGS):
        if b.show and any(ab.binding.action == b.action and ab.enabled
                          for ab in active.values()):
            assert b.action in shown_actions, (place, b)

    # help: the page first, with exactly its bindings' words; then "Everywhere"
    groups = help_groups(app)
    first_keys = dict(groups[0][1])
    after = [g for g in groups[1:] if not g[0].endswith(": words")]   # a page's terms
    assert after[0][0] == "Everywhere", (place, [g[0] for g in groups[:3]])
    for b in described(type(page).BINDINGS):
        assert first_keys.get(b.key) == b.description, (place, b, first_keys)
    chain = {k: bm.binding for k, bm in active.items()}
    for key, what in groups[0][1]:
        bound = [b for node in app.main.focused.ancestors_with_self
                 for b in described(getattr(type(node), "BINDINGS", []))] if app.main.focused else []
        assert any(b.key == key and b.description == what for b in
                   [*bound, *described(type(page).BINDINGS)]), (place, key, what)
    everywhere = dict(after[0][1])
    for _r, _s, _e, key in bar._spans:
        b = chain[key]
        if b.action == "help" or key == app.COMMAND_PALETTE_BINDING:
            continue
        assert first_keys.get(key) == b.description or everywhere.get(key) == b.description, (
            place, key, b.description)

    await check_button_hints(pilot, place)

    # and the help screen as drawn starts with this page
    await open_screen(pilot, "question_mark", HelpScreen)
    drawn = [strip.text for strip in app.screen._compositor.render_strips()]
    first = f"{groups[0][0]}: this page"
    rows = {label: next((y for y, line in enumerate(drawn) if label in line), None)
            for label in (first, "Everywhere")}
    assert rows[first] is not None and rows["Everywhere"] is not None, (place, rows)
    assert rows[first] < rows["Everywhere"], (place, rows)
    await pilot.press("escape")
    await wait_for(lambda: app.screen is app.main)


async def test_key_bar_help_and_bindings_agree_on_every_page(frozen):
    async with console(frozen, WIDE) as pilot:
        for place in places(frozen):
            await check_page(pilot, place)


async def test_help_shows_the_device_page_keys_first(frozen):
    hex_id = frozen.live.ordered()[1].hex_id
    async with console(frozen, (80, 24)) as pilot:
        await open_place(pilot, Place("device", hex_id))
        await pilot.press("question_mark")
        await wait_for(lambda: isinstance(pilot.app.screen, HelpScreen))
        groups = help_groups(pilot.app)
        assert groups[0][0] == "Device view"
        words = [what for _k, what in groups[0][1]]
        assert words[:3] == ["Identify", "Switch", "Chart"]
        assert "Page down" in words          # the focused table's keys come with the page


async def test_keys_named_on_dialog_buttons_are_bound(frozen):
    """The key in a button's label works: the quit confirmation, the user form, the rule
    form, the structure name dialog, the switch dialog, an audit entry."""
    from enerteg_tui.screens.audit_page import AuditDetail
    from enerteg_tui.screens.dialogs import ConfirmDialog
    from enerteg_tui.screens.forms import FormDialog
    from enerteg_tui.screens.rule_form import RuleForm
    from enerteg_tui.screens.structure_dialogs import NameDialog
    from enerteg_tui.screens.switching import SwitchDialog

    hex_id = next(d.hex_id for d in frozen.live.ordered()
                  if d.info.model.outlets and d.info.model.switchable)
    opened = [
        (None, "q", ConfirmDialog), ("users", "n", FormDialog), ("rules", "n", RuleForm),
        ("structure", "n", NameDialog), ("audit", "enter", AuditDetail),
    ]
    async with console(frozen) as pilot:
        app = pilot.app
        total = 0
        for kind, key, cls in opened:
            if kind is not None:
                await open_place(pilot, Place(kind))
            await open_screen(pilot, key, cls)
            total += await check_button_hints(pilot, cls.__name__)
            app.screen.dismiss(None)
            await wait_for(lambda: app.screen is app.main)
        await open_place(pilot, Place("device", hex_id))
        await pilot.press("tab", "u")
        await wait_for(lambda: isinstance(app.screen, SwitchDialog))
        await settle(pilot)
        total += await check_button_hints(pilot, "SwitchDialog")
        assert total >= 12
