"""Issue 18 item 10: roles are ticked in a list, never typed; a rack's dashboard shows feed
A and B per phase side by side; report files are named after what they hold."""

from __future__ import annotations

import re
from pathlib import Path

from textual.widgets import Input, SelectionList

from enerteg_tui.core.model import Feed
from enerteg_tui.core.quantities import Component
from enerteg_tui.core.reports import report_filename
from enerteg_tui.screens.forms import FormDialog
from enerteg_tui.screens.livetable import LiveTable
from enerteg_tui.screens.tree import Place
from tests.conftest import ADMIN
from tests.helpers import wait_for

from .conftest import settle
from .pilots import console, open_place, open_screen, page, press


async def test_roles_are_ticked_in_a_list_with_the_keys(frozen):
    async with console(frozen, (120, 40)) as pilot:
        app = pilot.app
        await press(pilot, "f10")
        form = await open_screen(pilot, "n", FormDialog)
        await pilot.press(*"dora", "tab", *"Dora-pass-12", "tab", *"Dora-pass-12", "tab")
        roles = app.focused
        assert isinstance(roles, SelectionList) and roles.id == "f-roles"
        assert not form.query(f"#f-roles {Input.__name__}")        # nothing to type into
        assert roles.selected == ["readonly"]
        await pilot.press(*"admin")               # typing does nothing in a list
        await settle(pilot)
        assert roles.selected == ["readonly"] and app.screen is form
        order = [roles.get_option_at_index(i).value for i in range(roles.option_count)]
        roles.highlighted = 0
        for _ in range(order.index("power")):
            await pilot.press("down")
        await pilot.press("space")                # tick "power"
        await settle(pilot)
        assert set(roles.selected) == {"readonly", "power"}
        # the box shows X only when ticked (not colour alone)
        drawn = [roles.render_line(y).text for y in range(roles.option_count)]
        assert [("X" in line, line.split()[-1]) for line in drawn] == [
            (r in ("readonly", "power"), r) for r in order]
        await pilot.press("tab")                  # to the OK button
        await pilot.press("enter")
        await wait_for(lambda: app.screen is app.main, timeout=15)   # argon2 in a thread
        user = await frozen.users.get("dora")
        assert {r.value for r in user.roles} == {"readonly", "power"}
        # editing roles: the same list, with the user's roles ticked
        table = page(app).table
        table.cursor_row = [r.key for r in table.rows].index("dora")
        await open_screen(pilot, "e", FormDialog)
        roles = app.screen.query_one("#f-roles", SelectionList)
        assert set(roles.selected) == {"readonly", "power"}


async def test_rack_dashboard_shows_feed_a_and_b_per_phase_side_by_side(frozen):
    rack = next(e for e in frozen.structure.elements() if e.name == "Rack 1")
    ids = frozen.structure.devices_in(rack.id)
    assert len(ids) == 2
    feeds = {h: frozen.live.get(h).info.settings.feed for h in ids}
    assert set(feeds.values()) == {Feed.A, Feed.B}, feeds       # the seeded ring: one each
    async with console(frozen, (80, 24)) as pilot:
        await open_place(pilot, Place("element", rack.id))
        table = page(pilot.app).query_one("#feeds", LiveTable)
        assert [c.label for c in table.columns][:5] == ["Phase", "Feed A", "kW", "Feed B", "kW"]
        assert [r.key for r in table.rows] == [1, 2, 3, "total"]
        for feed in (Feed.A, Feed.B):
            hexes = [h for h, f in feeds.items() if f is feed]
            live = frozen.live.get(hexes[0])
            for p in (1, 2, 3):
                v = live.value(Component.INPUT, p, "current")
                cell = str(table.rows[p - 1].cells[f"{feed.value}-A"])
                assert cell == (f"{v:.2f} A" if v is not None else "—"), (feed, p, cell)
        # only racks: the site dashboard has no feed table
        await open_place(pilot, Place("site"))
        assert not page(pilot.app).query("#feeds")


def test_report_file_names_say_what_they_hold_in_safe_characters():
    day = 1_767_225_600                                  # 2026-01-01 00:00 UTC
    assert report_filename("rack", "Hall_A.Row_1.Rack_1", day, day + 86400, "xlsx") == \
        "rack-Hall_A.Row_1.Rack_1-20260101-20260102.xlsx"
    assert report_filename("site", "", day + 3600, day + 5400, "csv") == \
        "site-20260101T0100Z-20260101T0130Z.csv"
    assert report_filename("device", "web-01-4ec27", day + 1, day + 2, "csv") == \
        "pdu-web-01-4ec27-20260101T000001Z-20260101T000002Z.csv"


async def test_reports_page_writes_files_named_after_the_rack(frozen):
    rack = next(e for e in frozen.structure.elements() if e.name == "Rack 1")
    await frozen.structure.rename(ADMIN, rack.id, "Räck *1?")
    async with console(frozen, (120, 40)) as pilot:
        await press(pilot, "f8")
        p = page(pilot.app)
        p.query_one("#scope").value = "rack"
        await settle(pilot)
        p.query_one("#name", Input).value = "Räck *1?"
        p.query_one("#scope").focus()
        await pilot.press("x")                    # the form's own key, from its select
        folder = Path(frozen.data_dir) / "reports"
        await wait_for(lambda: folder.is_dir() and any(folder.glob("*.xlsx")), timeout=30)
        [path] = list(folder.glob("*.xlsx"))
        assert re.fullmatch(r"rack-Hall_A\.Row_1\.R_ck_1-\d{8}T\d{6}Z-\d{8}T\d{6}Z\.xlsx",
                            path.name), path.name
