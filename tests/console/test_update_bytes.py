"""A live value that changes goes to the terminal alone, not with its whole line (issue 18
item 5: a 115200-baud serial line stays legible). Counts what the compositor writes for
one changed cell; the screen result is checked by tests/console/test_compositor.py."""

from __future__ import annotations

import re
from typing import Any

from textual.app import App, ComposeResult
from textual.screen import Screen

from enerteg_tui.screens.compositor import CullingCompositor
from enerteg_tui.screens.livetable import Column, LiveTable, Row
from tests.helpers import wait_for

COLS = [Column("name", "Name", 20, "left"), Column("v", "Current", 8), Column("p", "Power", 9)]


class TableScreen(Screen[None]):
    def __init__(self) -> None:
        super().__init__()
        self._compositor = CullingCompositor()

    def compose(self) -> ComposeResult:
        yield LiveTable(COLS)


class TableApp(App[None]):
    def on_mount(self) -> None:
        self.push_screen(TableScreen())


def row(i: int, amps: float) -> Row:
    return Row(key=i, cells={"name": f"web-server-{i:02d}", "v": f"{amps:.2f} A",
                             "p": f"{amps * 230:.1f} W"})


async def test_one_changed_value_is_written_alone() -> None:
    app = TableApp()
    async with app.run_test(size=(60, 12)) as pilot:
        await pilot.pause()
        table = app.screen.query_one(LiveTable)
        table.set_rows([row(i, 1.0 + i) for i in range(5)])
        await pilot.pause()
        written: list[str] = []
        comp: Any = app.screen._compositor
        partial = comp.render_partial_update

        def record() -> Any:
            update = partial()
            if update is not None:
                written.append(update.render_segments(app.console))
            return update

        comp.render_partial_update = record
        changed = Row(key=2, cells={**row(2, 3.0).cells, "v": "3.25 A"})
        assert table.update_row(changed)
        await wait_for(lambda: any("3.25 A" in w for w in written))
        frame = next(w for w in written if "3.25 A" in w)
        # what went to the line of row 2 (terminal line 4: the header, rows 0 and 1 above it)
        line = "".join(m.group(1) for m in re.finditer(r"\x1b\[4;\d+H(.*?)(?=\x1b\[\d+;\d+H|\n|$)",
                                                          frame, re.S))
        assert frame.count("\x1b[4;") == 1 and "\x1b[4;22H" in frame   # from column 22 only
        text = re.sub(r"\x1b\[[0-9;]*m", "", line)
        assert text == "  3.25 A "                        # the value and its gap, nothing else
        assert "web-server-02" not in frame and "690.0 W" not in frame
