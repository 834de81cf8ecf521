"""The line-API table repaints only the rows that changed (issue 5, item 6)."""

from __future__ import annotations

from textual.app import App, ComposeResult

from enerteg_tui.screens.livetable import Column, LiveTable, Row

COLS = [Column("n", "#", 3), Column("v", "Value", 8)]


class TableApp(App[None]):
    def compose(self) -> ComposeResult:
        yield LiveTable(COLS, cell_cursor=True)


def rows(values):
    return [Row(key=i, cells={"n": str(i), "v": f"{v:.2f}"}, channels={"v": ("ch", i)})
            for i, v in enumerate(values)]


async def test_update_repaints_one_row_only():
    app = TableApp()
    async with app.run_test(size=(40, 30)) as pilot:
        table = app.query_one(LiveTable)
        table.set_rows(rows(range(20)))
        await pilot.pause()
        before = table.repaints
        assert table.update_row(rows([0, 99.5])[1]) is True
        assert table.update_row(rows([0, 0, 2])[2]) is False  # unchanged: nothing to do
        await pilot.pause()
        assert table.repaints - before == 1
        assert table.row(1).cells["v"] == "99.50"


async def test_cursor_and_select_message():
    app = TableApp()
    selected = []
    async with app.run_test(size=(40, 30)) as pilot:
        table = app.query_one(LiveTable)
        table.set_rows(rows(range(5)))
        table.focus()
        app.on_live_table_selected = lambda ev: selected.append((ev.row.key, ev.column))  # type: ignore[attr-defined]
        await pilot.press("down", "down", "right", "right", "enter")
        await pilot.pause()
        assert table.cursor_row == 2 and table.columns[table.cursor_col].key == "v"
        await pilot.press("end", "down", "home", "up")
        assert table.cursor_row == 0
