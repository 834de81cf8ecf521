"""Changed live values are marked as the user chose (issue 18 item 5): off / subtle / flash,
never as a solid block; colours off per user; both applied at once and kept for the user."""

from __future__ import annotations

from typing import Any

from rich.segment import Segment
from textual.filter import Monochrome

from enerteg_tui.protocols.terminal_caps import apply_terminal_caps
from enerteg_tui.screens.display import DisplayDialog
from enerteg_tui.screens.livetable import LiveTable, change_direction
from enerteg_tui.screens.tree import Place
from tests.helpers import wait_for

from .conftest import make_app, settle
from .pilots import page


async def open_display_dialog(pilot: Any) -> DisplayDialog:
    """ctrl+p, "Display", enter: the way an operator finds it."""
    await pilot.press("ctrl+p")
    await settle(pilot)
    await pilot.press(*"Display pref")
    await pilot.pause(0.3)
    await pilot.press("enter")
    await wait_for(lambda: isinstance(pilot.app.screen, DisplayDialog), timeout=10)
    await settle(pilot)
    return pilot.app.screen


def marked_segments(table: LiveTable) -> list[Segment]:
    """The segments of rows whose cells are marked just now (bold or underlined)."""
    segs: list[Segment] = []
    for key in list(table._flash):
        i = table._index.get(key)
        if i is not None:
            segs += [s for s in table._render_row(i)._segments
                     if s.style is not None and (s.style.bold or s.style.underline)]
    return segs


def test_change_direction_reads_the_first_number() -> None:
    assert change_direction("1.20 A", "1.31 A") == 1
    assert change_direction("230.4 V", "229.9 V") == -1
    assert change_direction("—", "1.0 A") == 0
    assert change_direction("● on", "○ off") == 0


async def test_marks_subtle_flash_off_through_the_palette(ticking) -> None:
    hex_id = ticking.live.ordered()[0].hex_id
    app = make_app(ticking)
    async with app.run_test(size=(160, 48)) as pilot:
        await settle(pilot)
        assert app.change_marks == "subtle"             # the default
        await app.open_place(Place("device", hex_id))
        await settle(pilot)
        table = page(app).query_one("#outlets", LiveTable)
        await wait_for(lambda: marked_segments(table), timeout=10)
        segs = marked_segments(table)
        assert all(s.style.bold and not s.style.reverse and not s.style.underline for s in segs)
        assert not any(s.text in ("↑", "↓") for s in segs)

        dialog = await open_display_dialog(pilot)
        await pilot.press("m")                           # subtle → flash
        await wait_for(lambda: app.change_marks == "flash")
        assert (await ticking.users.prefs.get("admin")).changeMarks == "flash"
        assert "↑/↓" in str(dialog.query_one("#explain").render())
        await pilot.press("escape")
        await settle(pilot)
        await wait_for(lambda: any(s.text in ("↑", "↓") for s in marked_segments(table)),
                       timeout=10)
        segs = marked_segments(table)
        assert all(s.style.bold and s.style.underline and not s.style.reverse for s in segs)

        await open_display_dialog(pilot)
        await pilot.press("m")                           # flash → off
        await wait_for(lambda: app.change_marks == "off")
        await pilot.press("escape")
        await settle(pilot)
        before = dict(table.row(1).cells)
        await wait_for(lambda: not table._flash and table.row(1).cells != before, timeout=10)
        assert not marked_segments(table)
    # a new session of the same user starts with the saved choice
    app2 = make_app(ticking)
    async with app2.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        assert app2.change_marks == "off"


async def test_colours_off_per_user_at_once_and_kept(frozen) -> None:
    app = make_app(frozen)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        assert not app.no_color
        await open_display_dialog(pilot)
        await pilot.press("c")
        await wait_for(lambda: app.no_color)
        assert any(isinstance(f, Monochrome) for f in app._filters)
        assert (await frozen.users.prefs.get("admin")).noColor
        await pilot.press("c")
        await wait_for(lambda: not app.no_color)
        assert not any(isinstance(f, Monochrome) for f in app._filters)
        await pilot.press("c")
        await wait_for(lambda: app.no_color)
    app2 = make_app(frozen)
    async with app2.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        assert app2.no_color and any(isinstance(f, Monochrome) for f in app2._filters)


async def test_terminal_without_colours_stays_grey_whatever_the_preference(frozen) -> None:
    app = make_app(frozen)
    apply_terminal_caps(app, "xterm-256color", {"NO_COLOR": "1"})
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        dialog = await open_display_dialog(pilot)
        assert "NO_COLOR" in str(dialog.query_one("#explain").render())
        await pilot.press("c", "c")                     # off, then on again
        await wait_for(lambda: not (frozen.users.prefs._cache["admin"].noColor))
        await settle(pilot)
        assert app.no_color and any(isinstance(f, Monochrome) for f in app._filters)
