"""Pilot test of the device view's Diagnostics tab (issue 19 item 6): key 4 shows the bus
statistics of ``sensor/<hexid>/diag`` and keeps them current while shown."""

from __future__ import annotations

from enerteg_tui.screens.livetable import LiveTable
from enerteg_tui.screens.tree import Place
from tests.helpers import wait_for

from .conftest import make_app, settle
from .pilots import page


async def test_diagnostics_tab_shows_live_bus_statistics(ticking):
    c = ticking
    dev = c.live.ordered()[2]
    app = make_app(c)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        await app.open_place(Place("device", dev.hex_id))
        await settle(pilot)
        await pilot.press("4")
        await settle(pilot)
        table = page(app).query_one("#diag-table", LiveTable)
        assert table.has_focus

        def cell(name: str) -> str:
            return str(table.row(name).cells["value"])

        assert cell("Ring position") == str(dev.info.position)
        assert dev.info.identification.firmware_version in cell("Firmware")
        assert " d " in cell("Uptime")                       # running for days
        first = dev.diag.queries
        await wait_for(lambda: dev.diag.queries >= first + 3, timeout=30)
        await wait_for(lambda: cell("Queries / answers").startswith(f"{dev.diag.queries} /")
                       or int(cell("Queries / answers").split()[0]) > first, timeout=30)
        assert cell("Answer time p50").endswith(" ms")
        assert cell("Last error") == "none" and cell("Retries") == "0"
