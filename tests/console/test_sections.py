"""Management sections: keys, palette, help screen and role checks agree (issue 8 navigation)."""

from __future__ import annotations

from enerteg_tui.core.permissions import Action
from enerteg_tui.screens.help import HelpScreen, help_groups
from enerteg_tui.screens.keybar import KeyBar
from enerteg_tui.screens.page import Page
from enerteg_tui.screens.palette import palette_entries
from enerteg_tui.screens.sections import PLANNED, SECTIONS, page_class, section

from .conftest import make_app, settle


def test_every_built_section_is_a_page_with_its_own_key() -> None:
    keys = [s.key for s in PLANNED]
    assert len(set(keys)) == len(keys)
    assert {s.kind for s in SECTIONS} >= {"rules", "structure"}
    for sec in SECTIONS:
        assert issubclass(page_class(sec), Page)
        assert section(sec.kind) is sec
    assert section("device") is None


async def test_section_keys_palette_and_help_follow_the_role(frozen) -> None:
    admin_only = [s for s in SECTIONS if s.needs is Action.ADMINISTER]
    for who in ("admin", "readonly"):
        app = make_app(frozen, who)
        async with app.run_test(size=(160, 48)) as pilot:
            await settle(pilot)
            bar = app.screen.query_one(KeyBar).render().plain
            titles = {text for text, _help, _place in palette_entries(app)}
            groups = dict(help_groups(app))
            for sec in SECTIONS:
                may = who == "admin" or sec.needs is not Action.ADMINISTER
                assert (f"{sec.key} {sec.short}" in bar) is may, (who, sec.title, bar)
                assert (sec.title in titles) is may
                assert (sec.title in groups) is may
            if who == "readonly":
                assert all(s.title not in titles for s in admin_only)


async def test_a_section_key_opens_its_page_and_escape_comes_back(frozen) -> None:
    app = make_app(frozen)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        rules = section("rules")
        assert rules is not None
        await pilot.press(rules.key)
        await settle(pilot)
        assert isinstance(app.main.current and app.main.current.build(), page_class(rules))
        assert app.main.current.name == "Rules"
        await pilot.press("escape")
        await settle(pilot)
        assert app.main.current.name == "Dashboard"


async def test_help_screen_lists_the_keys_and_closes(frozen) -> None:
    app = make_app(frozen)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        await pilot.press("question_mark")
        await settle(pilot)
        assert isinstance(app.screen, HelpScreen)
        text = "\n".join(strip.text for strip in app.screen._compositor.render_strips())
        for must in ("Dashboard: this page", "Everywhere"):
            assert must in text, must
        assert text.index("Dashboard: this page") < text.index("Everywhere")
        groups = dict(help_groups(app))            # further down (the screen scrolls)
        assert any(what.startswith("Command palette") for _k, what in groups["Everywhere"])
        assert "Identify" in [what for _k, what in groups["Device view"]]
        await pilot.press("escape")
        await settle(pilot)
        assert not isinstance(app.screen, HelpScreen)
