"""Issue 18 item 8: on every page, the key bar, the help screen and the bindings agree, and
``?`` shows the page's own keys first, then the keys that work everywhere.

The walk opens every page an admin can reach (dashboards, device list, a device view,
every management section, a settings form), reads the key bar as drawn, presses ``?``
and reads the help as drawn, and compares both with the page's ``BINDINGS`` and the
active binding chain.
"""

from __future__ import annotations

from typing import Any

from textual.binding import Binding

from enerteg_tui.screens.help import HelpScreen, current_page, help_groups
from enerteg_tui.screens.keybar import KeyBar
from enerteg_tui.screens.sections import SECTIONS
from enerteg_tui.screens.tree import Place
from tests.helpers import wait_for

from .conftest import make_app, settle

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


async def check_page(pilot: Any, place: Place) -> None:
    app = pilot.app
    await app.open_place(place)
    await settle(pilot)
    page = current_page(app)
    assert page is not None, place
    bar = app.main.query_one(KeyBar)
    await wait_for(lambda: bar._text.plain.strip() != "")
    text = bar._text.plain
    assert "…" not in text, f"key bar cut at {WIDE}: {text!r}"
    active = app.screen.active_bindings

    # every key drawn on the bar is bound now, with the words the bar shows
    for start, end, key in bar._spans:
        assert key in active, (place, key)
        binding = active[key].binding
        drawn = text[start:end].strip()
        assert drawn.startswith(app.get_key_display(binding)), (place, drawn)
        if binding.action not in ("help",) and binding.key != app.COMMAND_PALETTE_BINDING:
            assert drawn.endswith(binding.description), (place, drawn, binding)
    # every shown, enabled binding of the page is on the bar
    shown_actions = {active[k].binding.action for _s, _e, k in bar._spans}
    for b in described(type(page).BINDINGS):
        if b.show and any(ab.binding.action == b.action and ab.enabled
                          for ab in active.values()):
            assert b.action in shown_actions, (place, b)

    # help: the page first, with exactly its bindings' words; then "Everywhere"
    groups = help_groups(app)
    first_keys = dict(groups[0][1])
    assert groups[1][0] == "Everywhere", (place, [g[0] for g in groups[:3]])
    for b in described(type(page).BINDINGS):
        assert first_keys.get(b.key) == b.description, (place, b, first_keys)
    chain = {k: bm.binding for k, bm in active.items()}
    for key, what in groups[0][1]:
        bound = [b for node in app.main.focused.ancestors_with_self
                 for b in described(getattr(type(node), "BINDINGS", []))] if app.main.focused else []
        assert any(b.key == key and b.description == what for b in
                   [*bound, *described(type(page).BINDINGS)]), (place, key, what)
    everywhere = dict(groups[1][1])
    for _s, _e, key in bar._spans:
        b = chain[key]
        if b.action == "help" or key == app.COMMAND_PALETTE_BINDING:
            continue
        assert first_keys.get(key) == b.description or everywhere.get(key) == b.description, (
            place, key, b.description)

    # and the help screen as drawn starts with this page
    await pilot.press("question_mark")
    await wait_for(lambda: isinstance(app.screen, HelpScreen))
    await settle(pilot)
    drawn = [strip.text for strip in app.screen._compositor.render_strips()]
    first = f"{groups[0][0]}: this page"
    rows = {label: next((y for y, line in enumerate(drawn) if label in line), None)
            for label in (first, "Everywhere")}
    assert rows[first] is not None and rows["Everywhere"] is not None, (place, rows)
    assert rows[first] < rows["Everywhere"], (place, rows)
    await pilot.press("escape")
    await wait_for(lambda: app.screen is app.main)


async def test_key_bar_help_and_bindings_agree_on_every_page(frozen):
    async with make_app(frozen).run_test(size=WIDE) as pilot:
        await settle(pilot)
        for place in places(frozen):
            await check_page(pilot, place)


async def test_help_shows_the_device_page_keys_first(frozen):
    hex_id = frozen.live.ordered()[1].hex_id
    async with make_app(frozen).run_test(size=(80, 24)) as pilot:
        await pilot.app.open_place(Place("device", hex_id))
        await settle(pilot)
        await pilot.press("question_mark")
        await wait_for(lambda: isinstance(pilot.app.screen, HelpScreen))
        groups = help_groups(pilot.app)
        assert groups[0][0] == "Device view"
        words = [what for _k, what in groups[0][1]]
        assert words[:3] == ["Identify", "Switch", "Chart"]
        assert "Page down" in words          # the focused table's keys come with the page
