"""Sort by any column and ``/`` filter on every list, through the real keys and mouse
(issue 18, item 3): the device list by load then power, header clicks, the arrow in the
header, outlet names found by ``/``, and at 80×24 the load column and every section key."""

from __future__ import annotations

from textual.app import App, ComposeResult
from textual.widgets import Input

from enerteg_tui.screens.keybar import KeyBar
from enerteg_tui.screens.listtable import FilterBar, ListTable
from enerteg_tui.screens.livetable import Column, Row
from enerteg_tui.screens.sections import SECTIONS
from tests.conftest import ADMIN

from .conftest import make_app, settle
from .pilots import page


def header(table: ListTable) -> str:
    return "".join(seg.text for seg in table._header())


async def open_devices(pilot) -> ListTable:
    await settle(pilot)
    await pilot.press("f3")
    await settle(pilot)
    return page(pilot.app).query_one("#devices", ListTable)


async def test_device_list_sorts_by_load_then_power_with_keys(frozen):
    app = make_app(frozen)
    async with app.run_test(size=(80, 24)) as pilot:
        table = await open_devices(pilot)
        page_order = [r.key for r in table.rows]
        await pilot.press("greater_than_sign")                  # > : load first
        loads = [r.sort["load"] for r in table.rows]
        assert loads == sorted(loads, reverse=True) and len(set(loads)) > 1
        assert "Load▼" in header(table)
        await pilot.press("greater_than_sign")                  # then power
        powers = [r.sort["power"] for r in table.rows]
        assert powers == sorted(powers, reverse=True)
        assert "Power▼" in header(table) and "Load▼" not in header(table)
        await pilot.press("exclamation_mark")                   # ! reverses
        assert [r.sort["power"] for r in table.rows] == sorted(powers)
        assert "Power▲" in header(table)
        await pilot.press("less_than_sign", "less_than_sign")   # back to the page's order
        assert [r.key for r in table.rows] == page_order
        assert "▲" not in header(table) and "▼" not in header(table)


async def test_a_click_on_a_header_sorts_and_a_second_reverses(frozen):
    app = make_app(frozen)
    async with app.run_test(size=(160, 48)) as pilot:
        table = await open_devices(pilot)
        x = sum(c.width + 1 for c in table.columns[:6]) + 1     # inside "Type"
        assert table.columns[6].key == "type"
        await pilot.click(table, offset=(x, 0))
        await settle(pilot)
        types = [frozen.live.get(r.key).info.model.type_name for r in table.rows]
        assert types == sorted(types) and table.sort_column == "type"
        assert "Type▲" in header(table)
        await pilot.click(table, offset=(x, 0))
        await settle(pilot)
        types = [frozen.live.get(r.key).info.model.type_name for r in table.rows]
        assert types == sorted(types, reverse=True) and "Type▼" in header(table)


async def test_slash_finds_a_pdu_by_an_outlet_name_and_escape_clears(frozen):
    hex_id = frozen.live.ordered()[2].hex_id
    outlets = frozen.live.get(hex_id).info.settings.model_dump(mode="json", by_alias=True)["outlets"]
    outlets[1]["name"] = "web-01 frontend"
    await frozen.devices.update_settings(ADMIN, hex_id, {"outlets": outlets})
    app = make_app(frozen)
    async with app.run_test(size=(80, 24)) as pilot:
        table = await open_devices(pilot)
        await pilot.press("slash", *"web-01")
        await settle(pilot)
        assert [r.key for r in table.rows] == [hex_id]
        bar = app.screen.query_one(FilterBar)
        assert "1 of 8" in str(bar.query_one("#filter-count").render())
        await pilot.press("enter")                              # keep it, back to the list
        assert table.has_focus and len(table.rows) == 1
        await pilot.press("slash", "escape")                    # clear and close
        await settle(pilot)
        assert len(table.rows) == 8 and not app.screen.query(FilterBar)


async def test_slash_filters_every_list_page(frozen):
    """Devices, alarms, audit, rules and users: ``/`` opens the filter line over the
    page's table; typing keeps only the rows containing the words."""
    app = make_app(frozen)
    async with app.run_test(size=(160, 48)) as pilot:
        await settle(pilot)
        for key, table_id in (("f3", "devices"), ("f4", "alarms"), ("f5", "entries"),
                              ("f6", "rules"), ("f10", "users")):
            await pilot.press(key)
            await settle(pilot)
            table = page(app).query_one(f"#{table_id}", ListTable)
            assert table.has_focus, key                         # each page focuses its list
            if not table.total:
                continue
            first = table.rows[0]
            word = next(w for c in first.cells.values()
                        for w in (c.plain if hasattr(c, "plain") else str(c)).split() if len(w) > 2)
            await pilot.press("slash", *word)
            await settle(pilot)
            bar = page(app).query_one(FilterBar)
            assert bar.query_one(Input).value == word, key
            assert 1 <= len(table.rows) <= table.total, key
            assert all(word.casefold() in (" ".join(
                (c.plain if hasattr(c, "plain") else str(c)) for c in r.cells.values())
                + " " + r.search).casefold() for r in table.rows), key
            await pilot.press("escape")
            await settle(pilot)


async def test_at_80x24_the_load_column_and_every_section_key_are_visible(frozen):
    app = make_app(frozen)
    async with app.run_test(size=(80, 24)) as pilot:
        table = await open_devices(pilot)
        upto_power = sum(c.width + 1 for c in table.columns[:4])
        assert [c.key for c in table.columns[:4]] == ["state", "name", "load", "power"]
        assert table.size.width >= upto_power
        bar = app.screen.query_one(KeyBar)
        text = bar._text.plain
        for sec in SECTIONS:
            assert f"{sec.key} {sec.short}" in text, (sec.key, text)
        assert "f2 Site" in text and "f3 PDUs" in text
        assert bar.size.height == 2 and all(len(line) <= 80 for line in text.splitlines())
        # a click on the second row opens the section under it
        line = text.splitlines()[1]
        await pilot.click(bar, offset=(line.index("f6 Rules") + 1, 1))
        await settle(pilot)
        assert type(page(app)).__name__ == "RulesPage"


class _App(App[None]):
    def compose(self) -> ComposeResult:
        yield ListTable([Column("n", "Name", 6, "left"), Column("v", "Load", 6)], id="t")


def _rows(values: dict[str, float]) -> list[Row]:
    return [Row(key=k, cells={"n": k, "v": f"{v:.1f} A"}) for k, v in values.items()]


async def test_a_live_change_re_sorts_once_and_keeps_the_filter():
    app = _App()
    async with app.run_test(size=(40, 12)) as pilot:
        table = app.query_one(ListTable)
        table.set_rows(_rows({"a": 1.0, "b": 5.0, "c": 3.0, "d": 10.0}))
        table.focus()
        await pilot.press("greater_than_sign", "greater_than_sign")     # Load, high first
        assert [r.key for r in table.rows] == ["d", "b", "c", "a"]
        assert table.update_row(_rows({"a": 7.0})[0]) is True           # a rises past b
        await pilot.pause()
        assert [r.key for r in table.rows] == ["d", "a", "b", "c"]
        before = table.repaints
        table.update_row(_rows({"c": 4.0})[0])                           # stays in place
        await pilot.pause()
        assert [r.key for r in table.rows] == ["d", "a", "b", "c"]
        assert table.repaints - before == 1                              # its own line only
        table.filter_text = "d"
        assert [r.key for r in table.rows] == ["d"]
        table.update_row(_rows({"b": 99.0})[0])                          # hidden: kept current
        table.filter_text = ""
        assert [r.key for r in table.rows] == ["b", "d", "a", "c"]
